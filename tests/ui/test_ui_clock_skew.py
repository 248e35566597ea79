"""A host whose clock is two hours behind this machine's (issue 16, part 2): the table's
uptimes and the detail view's "started ... ago" are measured on the host's clock, and
the host's sidebar entry says how far off it is."""

from __future__ import annotations

from textual.app import App

from opsui.domain.host_clock import fixed_clock
from opsui.ui.screens.detail import DetailScreen
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import make_app, screen_text, until
from fakes import FakeConnection, FakeEngine, shop_containers


def _words(app: App[None]) -> str:
    """Screen text with the sidebar's wrapping undone."""
    lines = [line.strip(" ▕▏│") for line in screen_text(app).splitlines()]
    return " ".join(" ".join(lines).split())


async def test_uptimes_and_the_sidebar_follow_a_host_two_hours_behind() -> None:
    skewed = FakeEngine(shop_containers())  # shop-web-1: started 185 min before our now
    skewed.clock = fixed_clock(-7200.0)
    app = make_app(FakeConnection("local", skewed), FakeConnection("other", FakeEngine()))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        await until(pilot, lambda: "clock 2h 0m behind" in _words(app),
                    "the skew in the sidebar")
        text = screen_text(app)
        assert "1h 05m" in text and "3h 05m" not in text  # 185 min by our clock, 65 by its
        await pilot.press("ctrl+home")
        while table.selected is None or table.selected.name != "shop-web-1":
            await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail screen")
        await until(pilot, lambda: "(1h 05m ago)" in screen_text(app), "started 1h 05m ago")

