"""The detail view answers "why is it unhealthy" one key away from the table."""

from __future__ import annotations

import dataclasses

from textual.pilot import Pilot

from opsui.domain.models import Health
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.screens.detail import DetailScreen
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import make_app, screen_text, until
from fakes import SHOP_APP, SHOP_HEALTH, FakeConnection, FakeEngine, FakeProber, shop_containers


async def _open(pilot: Pilot[None], app: OpsuiApp, name: str) -> DetailScreen:
    table = app.screen.query_one(ContainerTable)
    await until(pilot, lambda: table.row_count == 6, "six rows")
    await pilot.press("ctrl+home")  # the dashboard starts on the first container in trouble
    while table.selected is None or table.selected.name != name:
        await pilot.press("down")
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail screen")
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    await until(pilot, lambda: screen.detail is not None, "inspect result")
    await pilot.pause()
    return screen


async def test_enter_opens_detail_with_the_failing_health_log_first() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open(pilot, app, "shop-worker-1")
        text = screen_text(app)
        assert "Health check" in text
        assert "failing streak: 5" in text
        assert "last exit code: 1" in text
        assert "exit 1" in text
        assert "Connection refused" in text  # the probe's own output
        # Unhealthy: the health section comes before the overview.
        assert text.index("Health check") < text.index("Overview")
        body = screen.query_one("#detail-body")
        assert body.children[0].id == "section-health"
        screen.query_one("#section-env").scroll_visible(animate=False)
        await pilot.pause()
        text = screen_text(app)
        assert "DATABASE_PASSWORD" in text and "********" in text  # masked by the backend

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "back to table")


async def test_healthy_container_shows_overview_first() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open(pilot, app, "shop-db-1")
        assert screen.query_one("#detail-body").children[0].id == "section-overview"
        text = screen_text(app)
        assert "unless-stopped" in text
        assert "/bin/httpd -f -p 8080" in text


async def test_detail_follows_a_health_transition_without_a_keypress() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _open(pilot, app, "shop-db-1")
        assert "failing streak" not in screen_text(app)
        db = next(c for c in engine.containers.values() if c.name == "shop-db-1")
        engine.put(dataclasses.replace(db, health=Health.UNHEALTHY))
        await until(pilot, lambda: "failing streak: 5" in screen_text(app), "new health log")
        assert screen.query_one("#detail-body").children[0].id == "section-health"


async def test_detail_shows_http_health_sub_checks() -> None:
    prober = FakeProber({SHOP_HEALTH[0].url: SHOP_HEALTH[0]})
    app = make_app(FakeConnection("local", FakeEngine(shop_containers()), prober=prober),
                   apps=(SHOP_APP,))
    async with app.run_test(size=(140, 45)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        web = next(c for c in app.state.hosts["local"].containers.values()
                   if c.name == "shop-web-1")
        await until(pilot, lambda: table.get_cell(web.id, "http").plain != "", "HTTP verdict")
        await _open(pilot, app, "shop-web-1")
        text = screen_text(app)
        assert "HTTP health" in text
        assert "HTTP 503" in text
        assert "database" in text
        assert "cache  connection refused" in text


async def test_inspect_failure_is_a_notification_not_a_traceback() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(140, 45)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        selected = table.selected
        assert selected is not None
        with engine._lock:  # gone from the engine, still on screen (before the event)
            engine.containers.pop(selected.id)
        await pilot.press("enter")
        await until(pilot, lambda: any("no such container" in n.message
                                       for n in app._notifications), "error notification")
        assert "Inspect failed" in screen_text(app)
        assert app.is_running
