"""The incident path from where the operator is looking (issue 10, findings 3 and 8, and
``opsui --open``): the log pane and the detail view act on the app they show, follow it
across a release, and ``--open TARGET`` starts on its logs. Real HostMonitors and the
real release domain over ``FakeEngine``.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from opsui.domain.operations.gate import ActionGate
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.deploy import PlanConfirmModal, ReleaseRunScreen
from opsui.ui.screens.detail import DetailScreen
from opsui.ui.screens.logs import LogsScreen
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import NO_USER_THEMES, screen_text, until
from .test_ui_releases import SIZE, deploy, named, notes, release_engine, select
from fakes import FakeConnection, config, factory, frozen_clock


def palette_titles(screen: LogsScreen | DetailScreen) -> list[str]:
    return [c.title for c in screen.palette_commands()]


async def deployed_2(pilot: Pilot[Any], app: OpsuiApp) -> None:
    """shop-web-1 deployed from 1.0.0 to 2.0.0, back on the dashboard, the table seeing it."""
    await deploy(pilot, app, downs=1)
    await pilot.press("escape")
    await until(pilot, lambda: any(
        c.name == "shop-web-1" and c.image.endswith(":2.0.0")
        for c in app.state.host("local").containers.values()), "the table sees 2.0.0")


async def test_r_in_the_log_pane_rolls_back_the_app_shown() -> None:
    engine = release_engine()
    app = OpsuiApp(config(), ActionGate(), factory([FakeConnection("local", engine)],
                                                  ActionGate()),
                   clock=frozen_clock, theme_dir=NO_USER_THEMES)
    async with app.run_test(size=SIZE) as pilot:
        first = named(engine, "shop-web-1")
        await deployed_2(pilot, app)
        await select(pilot, app, "shop-web-1")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "the log pane")
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        titles = palette_titles(logs)
        assert "Roll back shop-web-1" in titles
        assert not any(".before-" in t for t in titles)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the preview")
        text = screen_text(app)
        assert "Rollback shop-web-1 to 1.0.0 on local?" in text and "target    1.0.0" in text
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen), "the run")
        run = app.screen
        assert isinstance(run, ReleaseRunScreen)
        await until(pilot, lambda: run.outcome is not None, "the outcome")
        assert run.outcome == "ok", screen_text(app)
        assert named(engine, "shop-web-1").id == first.id  # 1.0.0 serves again
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is logs, "back on the log pane")
        await pilot.press("H")  # the history of the same app, from the same pane
        await until(pilot, lambda: "rollback" in screen_text(app) and "Audit" in screen_text(
            app), "the app's history")


async def test_release_keys_on_merged_logs_of_several_apps_say_why_not() -> None:
    engine = release_engine()
    app = OpsuiApp(config(), ActionGate(), factory([FakeConnection("local", engine)],
                                                  ActionGate()),
                   clock=frozen_clock, theme_dir=NO_USER_THEMES)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "shop-web-1")
        await pilot.press("space")
        await select(pilot, app, "shop-db-1")
        await pilot.press("space", "l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "the merged pane")
        await pilot.press("R")
        await until(pilot, lambda: any("merge 2 apps (shop-db-1, shop-web-1)" in n
                                       for n in notes(app)), "the reason")
        assert isinstance(app.screen, LogsScreen)  # nothing was started
        assert not any(call[0] in ("start", "stop") for call in engine.calls)


async def test_the_detail_view_follows_its_app_to_the_new_serving_container() -> None:
    engine = release_engine()
    app = OpsuiApp(config(), ActionGate(), factory([FakeConnection("local", engine)],
                                                  ActionGate()),
                   clock=frozen_clock, theme_dir=NO_USER_THEMES)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "shop-web-1")
        old = named(engine, "shop-web-1")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the detail view")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        await deploy_from(pilot, app)
        new = named(engine, "shop-web-1")
        assert new.id != old.id
        await until(pilot, lambda: app.screen is detail, "back on the detail view")
        await until(pilot, lambda: detail.container.id == new.id, "the serving container")
        assert any("is now a kept release copy: showing shop-web-1" in n for n in notes(app))
        await until(pilot, lambda: detail.detail is not None
                    and detail.detail.container.id == new.id, "its inspect result")
        assert ".before-" not in screen_text(app).splitlines()[0]
        titles = palette_titles(detail)
        assert "Roll back shop-web-1" in titles and "Restart shop-web-1" in titles
        assert not any(".before-" in t for t in titles)


async def deploy_from(pilot: Pilot[Any], app: OpsuiApp) -> None:
    """D on the current screen, 2.0.0, confirmed, run to its end, then Esc."""
    from opsui.ui.screens.deploy import DeployScreen

    await pilot.press("D")
    await until(pilot, lambda: isinstance(app.screen, DeployScreen) and bool(app.screen.choices),
                "the tag list")
    await pilot.press("down", "enter")
    await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the confirmation")
    await pilot.press("y")
    await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen)
                and app.screen.outcome is not None, "the outcome")
    await pilot.press("escape")


def open_app(target: str) -> tuple[OpsuiApp, Any]:
    engine = release_engine()
    engine.log_lines = {c.id: [f"2026-11-23T16:58:5{i}.000000001Z {c.name} says hello"
                               .encode() for i in range(3)]
                        for c in engine.list_containers()}
    gate = ActionGate()
    return OpsuiApp(config(), gate, factory([FakeConnection("local", engine)], gate),
                    clock=frozen_clock, theme_dir=NO_USER_THEMES, open_target=target), engine


async def test_open_selects_the_target_and_follows_its_logs() -> None:
    app, _ = open_app("shop-db-1")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "the log pane")
        await until(pilot, lambda: "shop-db-1 says hello" in screen_text(app), "its lines")
        logs = app.screen
        assert isinstance(logs, LogsScreen) and logs.view.follow
        assert "shop-web-1 says hello" not in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LogsScreen), "the dashboard")
        table = app.screen.query_one(ContainerTable)
        assert table.selected is not None and table.selected.name == "shop-db-1"


async def test_open_an_app_by_name_and_rollback_is_one_key_away() -> None:
    app, _ = open_app("app:shop-worker-1")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "the log pane")
        await until(pilot, lambda: "shop-worker-1 says hello" in screen_text(app), "lines")
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        assert "Roll back shop-worker-1" in palette_titles(logs)


async def test_open_an_unknown_target_opens_the_dashboard_and_says_so() -> None:
    app, _ = open_app("no-such-thing")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("--open no-such-thing: no container, app or service"
                                       in n for n in notes(app)), "the notification")
        table = app.screen.query_one(ContainerTable)
        assert table.row_count >= 6 and not isinstance(app.screen, LogsScreen)
