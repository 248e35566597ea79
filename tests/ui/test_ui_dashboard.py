"""The dashboard as an operator sees it: rows appear, change colour, filter and sort."""

from __future__ import annotations

import dataclasses

from textual.app import App

from opsui.domain.errors import HostKeyUnknown, HostUnreachable
from opsui.domain.models import Health
from opsui.ui.palette import Palette
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import make_app, screen_text, until
from fakes import SHOP_APP, FakeConnection, FakeEngine, container, shop_containers


def _table(app: App[None]) -> ContainerTable:
    return app.screen.query_one(ContainerTable)


def _words(text: str) -> str:
    """Screen text with wrapping undone, for messages that span lines in the sidebar."""
    lines = [line.strip(" ▕▏│") for line in text.splitlines()]
    return " ".join(" ".join(lines).split())


def _names(table: ContainerTable) -> list[str]:
    return [table.get_row_at(i)[0].plain for i in range(table.row_count)]


async def test_table_populates_with_every_container_grouped_by_project() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        # billing before shop (project name order), the loner without project last.
        assert _names(table) == ["billing-api-1", "shop-db-1", "shop-web-1", "shop-web-2",
                                 "shop-worker-1", "scratchpad"]
        text = screen_text(app)
        assert "6 containers" in text
        assert "1 unhealthy" in text
        assert "shop/worker" in text
        assert "3h 05m" in text  # uptime from started_at and the frozen clock


async def test_container_turning_unhealthy_recolours_its_row_without_a_keypress() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        web = next(c for c in engine.containers.values() if c.name == "shop-web-1")
        bad = Palette.of(app).bad
        assert table.get_cell(web.id, "health").style != bad

        engine.put(dataclasses.replace(web, health=Health.UNHEALTHY))  # docker event

        await until(pilot, lambda: table.get_cell(web.id, "health").plain == "✗ unhealthy",
                    "health cell to say unhealthy")
        assert table.get_cell(web.id, "health").style == bad
        assert table.get_cell(web.id, "name").style == bad
        await until(pilot, lambda: "2 unhealthy" in screen_text(app), "status line count")


async def test_removed_container_disappears_and_new_one_appears() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        gone = next(c for c in engine.containers.values() if c.name == "scratchpad")
        engine.remove(gone.id)
        engine.put(container("d1", "shop-cache-1", project="shop", service="cache"))
        await until(pilot, lambda: "scratchpad" not in _names(table)
                    and "shop-cache-1" in _names(table), "row swap")
        assert _names(table).index("shop-cache-1") < _names(table).index("shop-db-1")


async def test_filter_narrows_rows_and_escape_clears_it() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        await pilot.press("slash", *"web")
        await until(pilot, lambda: table.row_count == 2, "two web rows")
        assert _names(table) == ["shop-web-1", "shop-web-2"]
        assert "2 of 6 containers" in screen_text(app)

        await pilot.press("escape")
        await until(pilot, lambda: table.row_count == 6, "all rows back")
        assert table.has_focus


async def test_filter_matches_state_and_health() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        await pilot.press("slash", *"unhealthy", "enter")
        await until(pilot, lambda: _names(table) == ["shop-worker-1"], "the unhealthy row")
        assert table.has_focus  # Enter keeps the filter and returns to the table
        assert "filter: unhealthy" in screen_text(app)


async def test_escape_in_the_table_clears_a_kept_filter() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        assert "Clear filter" not in screen_text(app)
        await pilot.press("slash", *"web", "enter")
        await until(pilot, lambda: table.row_count == 2, "two web rows")
        assert table.has_focus
        assert "esc Clear filter" in screen_text(app)  # the footer offers the way back
        await pilot.press("escape")
        await until(pilot, lambda: table.row_count == 6, "all rows back")
        assert "filter:" not in screen_text(app)


async def test_sort_key_cycles_columns_and_reverse_flips_within_projects() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        await pilot.press("g")  # sort across projects
        # name -> project -> state -> health
        await pilot.press("s", "s", "s")
        assert table.sort_column.key == "health"
        assert _names(table)[:2] == ["shop-worker-1", "billing-api-1"]  # unhealthy, starting
        assert "Health ▼" in screen_text(app)
        await pilot.press("S")
        await pilot.pause()
        assert _names(table)[-2:] == ["billing-api-1", "shop-worker-1"]
        assert "Health ▲" in screen_text(app)


async def test_cursor_stays_on_the_same_container_when_rows_reorder() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        table = _table(app)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        await pilot.press("ctrl+home", "down", "down")  # it starts on the first in trouble
        chosen = table.selected
        assert chosen is not None and chosen.name == "shop-web-1"
        engine.put(container("a0", "shop-aaa-1", project="shop", service="aaa"))
        await until(pilot, lambda: table.row_count == 7, "new row above the cursor")
        assert table.selected is not None and table.selected.name == "shop-web-1"


async def test_http_health_column_shows_failing_sub_check() -> None:
    from fakes import SHOP_HEALTH, FakeProber

    prober = FakeProber({SHOP_HEALTH[0].url: SHOP_HEALTH[0]})
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine, prober=prober), apps=(SHOP_APP,))
    async with app.run_test(size=(200, 40)) as pilot:
        table = _table(app)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        web = next(c for c in engine.containers.values() if c.name == "shop-web-1")
        db = next(c for c in engine.containers.values() if c.name == "shop-db-1")
        await until(pilot, lambda: table.get_cell(web.id, "http").plain == "✗ cache",
                    "HTTP verdict on the web rows")
        assert table.get_cell(web.id, "http").style == Palette.of(app).bad
        assert table.get_cell(db.id, "http").plain == ""  # db is not part of the app


async def test_sidebar_shows_unreachable_and_unknown_host_key_with_fingerprint() -> None:
    fingerprint = "SHA256:Zm9vYmFyYmF6cXV4"
    app = make_app(
        FakeConnection("local", FakeEngine(shop_containers())),
        FakeConnection("prod", failure=HostKeyUnknown("prod", "ssh-ed25519", fingerprint)),
        FakeConnection("staging", failure=HostUnreachable("staging: connection refused")),
    )
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: "host key unknown" in screen_text(app)
                    and "unreachable" in screen_text(app), "prod's and staging's states")
        await pilot.press("right_square_bracket")  # select prod: its message shows
        await until(pilot, lambda: fingerprint in _words(screen_text(app)), "the fingerprint")
        assert "trust-host prod" in _words(screen_text(app))
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: "connection refused" in _words(screen_text(app)),
                    "staging message")
