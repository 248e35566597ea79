"""The container table in an incident: kept release copies folded under their app and never
counted, the cursor following the app across a release, every width keeping Name, State
and Health on screen, and a key that jumps to the next container in trouble."""

from __future__ import annotations

import dataclasses
from typing import Any

from textual.app import App
from textual.pilot import Pilot

from opsui.domain.models import Container, ContainerState, Health
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import make_app, screen_text, until
from fakes import FakeConnection, FakeEngine, container, shop_containers

KEPT = "web.before-r20261201123456-abcd"
NEXT = "web.r20261201123456-abcd"


def _table(app: App[None]) -> ContainerTable:
    return app.screen.query_one(ContainerTable)


def _names(table: ContainerTable) -> list[str]:
    return [table.get_row_at(i)[0].plain for i in range(table.row_count)]


def _web(cid: str, name: str, **changes: Any) -> Container:
    base = container(cid, name, image="opsui-test/app:2.0.0")
    return dataclasses.replace(base, labels={"opsui.app": "web"}, **changes)


def _host_with_kept_copies() -> list[Container]:
    """web serves 2.0.0; its 1.0.0 container is kept (exited, unhealthy when it stopped)."""
    kept = _web("k1", KEPT, image="opsui-test/app:1.0.0", state=ContainerState.EXITED,
                health=Health.UNHEALTHY, exit_code=0, status_text="Exited (0) 1 hour ago")
    return [container("a1", "api"), _web("w1", "web"), kept, container("z1", "zeta")]


def _notes(app: App[None]) -> list[str]:
    return [n.message for n in app._notifications]


async def _rows(pilot: Pilot[Any], table: ContainerTable, count: int) -> None:
    await until(pilot, lambda: table.row_count == count, f"{count} rows")


# -- finding 4: kept copies are not trouble ----------------------------------------------------

async def test_kept_release_copies_are_not_counted_unhealthy() -> None:
    app = make_app(FakeConnection("local", FakeEngine(_host_with_kept_copies())))
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: "containers" in screen_text(app), "the status line")
        await until(pilot, lambda: "1 kept" in screen_text(app), "the kept count")
        text = screen_text(app)
        assert "unhealthy" not in text
        assert "✗1" not in text


# -- kept copies folded under their app ----------------------------------------------------------

async def test_kept_copies_are_folded_and_shown_dimmed_under_their_app_on_z() -> None:
    app = make_app(FakeConnection("local", FakeEngine(_host_with_kept_copies())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await _rows(pilot, table, 3)
        assert KEPT not in screen_text(app)
        await pilot.press("z")
        await _rows(pilot, table, 4)
        names = [name.strip("↳ ") for name in _names(table)]
        assert names == ["api", "web", KEPT, "zeta"]
        kept_id = "k1".ljust(64, "0")
        from opsui.ui.palette import Palette
        muted = Palette.of(app).muted
        assert table.get_cell(kept_id, "state").style == muted
        assert table.get_cell(kept_id, "health").style == muted
        assert table.get_cell(kept_id, "health").plain == "· kept"  # not "✗ unhealthy"
        assert KEPT in screen_text(app)
        await pilot.press("z")
        await _rows(pilot, table, 3)


async def test_container_keys_refuse_a_kept_copy_and_release_keys_act_on_its_app() -> None:
    engine = FakeEngine(_host_with_kept_copies())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await _rows(pilot, table, 3)
        await pilot.press("z")
        await _rows(pilot, table, 4)
        table.move_cursor(row=2)
        await until(pilot, lambda: table.selected is not None
                    and table.selected.name == KEPT, "the kept row selected")
        await pilot.press("r")
        await until(pilot, lambda: any("kept release container of web" in n
                                       for n in _notes(app)), "the refusal")
        assert any("roll back with R" in n for n in _notes(app))
        assert not [c for c in engine.calls if c[0] in ("restart", "stop", "start")]
        await pilot.press("R")
        await until(pilot, lambda: any("Planning the rollback of web " in n
                                       for n in _notes(app)), "the rollback of web")
        assert not any(f"rollback of {KEPT}" in n for n in _notes(app))


# -- finding 3: the cursor follows the app --------------------------------------------------------

async def test_cursor_follows_the_app_when_a_release_renames_its_container() -> None:
    engine = FakeEngine([container("a1", "api"), _web("w1", "web"), container("z1", "zeta")])
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await _rows(pilot, table, 3)
        table.move_cursor(row=1)
        await until(pilot, lambda: table.selected is not None
                    and table.selected.name == "web", "web selected")
        old = engine.containers["w1".ljust(64, "0")]
        # A deploy: the new container is made as web.r…, the old one renamed aside, the
        # new one takes the name.
        engine.put(_web("n9", NEXT, image="opsui-test/app:3.0.0"))
        engine.rename(old.id, KEPT)
        engine.rename("n9".ljust(64, "0"), "web")
        await until(pilot, lambda: table.selected is not None
                    and table.selected.id.startswith("n9"), "the cursor on the new web")
        assert table.selected is not None and table.selected.name == "web"


# -- finding 5: a layout for every terminal ------------------------------------------------------

LONG = "shop-" + "very-long-service-name-" * 6 + "1"


def _header(text: str) -> str:
    """The table's header line (the status bar also says "sort: Name ▼")."""
    return next(line for line in text.splitlines()
                if "Name ▼" in line and "sort:" not in line)


async def test_at_80x24_name_state_and_health_are_on_screen_and_no_sidebar() -> None:
    engine = FakeEngine([*shop_containers(), container("l1", LONG, project="shop",
                                                        service="long")])
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(80, 24)) as pilot:
        table = _table(app)
        await _rows(pilot, table, 7)
        await pilot.pause()
        text = screen_text(app)
        header = _header(text)
        assert "State" in header and "Health" in header
        assert "✗ unhealthy" in text and "running" in text
        assert "connected" not in text  # the one-host sidebar is folded away


async def test_sidebar_shows_with_two_hosts_on_a_wide_terminal_only() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())),
                   FakeConnection("prod", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: "prod" in screen_text(app), "the sidebar with prod")
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: "prod" not in screen_text(app), "the sidebar folded")
        await pilot.press("right_square_bracket")  # hosts still switch with the sidebar folded
        await until(pilot, lambda: "prod │ 6 containers" in screen_text(app), "prod shown")
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: "local │ 6 containers" in screen_text(app), "local again")
        await pilot.resize_terminal(160, 40)
        await until(pilot, lambda: "prod" in screen_text(app), "the sidebar back")


async def test_at_160x45_a_long_name_keeps_every_column_on_screen() -> None:
    huge = "x" * 150
    engine = FakeEngine([*shop_containers(), container("l1", huge)])
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 45)) as pilot:
        table = _table(app)
        await _rows(pilot, table, 7)
        await pilot.pause()
        header = _header(screen_text(app))
        for label in ("State", "Health", "Uptime", "Restarts"):
            assert label in header


async def test_columns_shrink_when_a_long_name_leaves() -> None:
    medium = "shop-medium-length-name-1"
    engine = FakeEngine([*shop_containers(), container("l1", medium)])
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await _rows(pilot, table, 7)
        await until(pilot, lambda: medium in screen_text(app), "the long name drawn")
        wide = _header(screen_text(app)).index("State")
        engine.remove("l1".ljust(64, "0"))
        await _rows(pilot, table, 6)
        await until(pilot, lambda: _header(screen_text(app)).index("State") < wide,
                    "State moving left once the long name left")


# -- the next container in trouble -----------------------------------------------------------

def _troubled_host() -> list[Container]:
    return [
        container("a1", "alpha"),
        container("b1", "bravo", health=Health.UNHEALTHY),
        container("c1", "charlie"),
        container("d1", "delta", state=ContainerState.RESTARTING, health=Health.NONE),
        container("e1", "echo", state=ContainerState.EXITED, health=Health.NONE),
        dataclasses.replace(container("f1", "foxtrot", state=ContainerState.EXITED,
                                      health=Health.NONE), exit_code=0),
    ]


async def test_dashboard_starts_on_the_first_container_in_trouble_and_t_jumps_on() -> None:
    engine = FakeEngine(_troubled_host())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await _rows(pilot, table, 6)
        await until(pilot, lambda: table.selected is not None
                    and table.selected.name == "bravo", "the cursor on bravo")
        seen = []
        for _ in range(3):
            await pilot.press("t")
            await pilot.pause()
            assert table.selected is not None
            seen.append(table.selected.name)
        assert seen == ["delta", "echo", "bravo"]  # foxtrot exited 0: not trouble

        # Later trouble never yanks the cursor away from where the operator put it.
        await pilot.press("ctrl+home")
        assert table.selected is not None and table.selected.name == "alpha"
        charlie = engine.containers["c1".ljust(64, "0")]
        engine.put(dataclasses.replace(charlie, health=Health.UNHEALTHY))
        await until(pilot, lambda: "2 unhealthy" in screen_text(app), "charlie unhealthy")
        assert table.selected is not None and table.selected.name == "alpha"
