"""No Docker engine: a clear explanation, then the dashboard by itself once one answers."""

from __future__ import annotations

from opsui.domain.errors import EngineUnavailable
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.widgets.container_table import ContainerTable
from opsui.ui.widgets.no_engine import NoEnginePanel

from .helpers import make_app, screen_text, until
from fakes import FakeConnection, FakeEngine, shop_containers

SOCKET_MESSAGE = "local: no Docker engine answers at unix:///var/run/docker.sock"


async def test_no_engine_panel_shows_where_and_how_then_gives_way_to_the_table() -> None:
    connection = FakeConnection("local", FakeEngine(shop_containers()),
                                failure=EngineUnavailable(SOCKET_MESSAGE))
    app = make_app(connection)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: "No Docker engine answers" in screen_text(app), "the panel")
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.query_one(NoEnginePanel).display
        assert not screen.query_one(ContainerTable).display
        text = " ".join(screen_text(app).split())
        assert "unix:///var/run/docker.sock" in text
        assert "systemctl start docker" in text  # the hint from EngineUnavailable

        connection.failure = None  # dockerd started

        table = screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "the table after connecting")
        assert not screen.query_one(NoEnginePanel).display
        assert table.display
        # The rows may arrive a frame before the screen is laid out again.
        await until(pilot, lambda: "No Docker engine" not in screen_text(app), "the panel gone")


async def test_panel_only_when_every_host_lacks_an_engine() -> None:
    app = make_app(
        FakeConnection("local", failure=EngineUnavailable(SOCKET_MESSAGE)),
        FakeConnection("prod", FakeEngine(shop_containers())),
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: "no engine" in screen_text(app), "local's sidebar state")
        assert not app.screen.query_one(NoEnginePanel).display
        assert "No Docker engine answers" not in screen_text(app)
