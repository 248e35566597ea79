"""The key bar is rebuilt once per frame, not once per change of the keys (issue 14).

Textual queues a rebuild of the whole footer (~20 keys, each styled) for every change of
the bindings, and opening the dashboard changes them several times before the next
frame: four rebuilds in a row right after the first frame, while the operator's first
key waited behind them. The footer still shows the keys of where the focus ends up.
"""

from __future__ import annotations

import pytest

from opsui.ui.widgets.container_table import ContainerTable
from opsui.ui.widgets.footer import Footer

from .helpers import make_app, screen_text, until
from fakes import FakeConnection, FakeEngine, shop_containers


async def test_opening_the_dashboard_rebuilds_its_footer_once_per_frame(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rebuilds: list[int] = []
    original = Footer.recompose

    async def counted(self: Footer) -> None:
        rebuilds.append(1)
        await original(self)

    monkeypatch.setattr(Footer, "recompose", counted)
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        await until(pilot, lambda: "Logs" in screen_text(app), "the footer's keys")
        await pilot.pause()
        # its first frame and the focus settling on the table; Textual's footer: four
        assert len(rebuilds) <= 2


async def test_the_footer_shows_the_keys_where_the_focus_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        await pilot.press("slash")  # the filter bar takes the focus: its keys
        await until(pilot, lambda: "Logs" not in screen_text(app), "the filter's keys")
        await pilot.press("escape")  # back to the table, in the same burst of changes
        await until(pilot, lambda: "Logs" in screen_text(app), "the table's keys again")


async def test_switching_hosts_keeps_the_same_keys_without_a_rebuild() -> None:
    """``]`` through twenty hosts: each switch asked for the keys again and rebuilt ~20
    styled keys and the layout, though they had not changed (a third of a switch's
    time); a host whose keys differ still gets its own."""
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())),
                   FakeConnection("web1", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        await until(pilot, lambda: "Logs" in screen_text(app), "the footer's keys")
        footer = app.screen.query_one(Footer)
        keys_before = list(footer.children)
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: "web1 │" in screen_text(app), "web1 shown")
        await pilot.pause()
        assert list(footer.children) == keys_before  # the very same key widgets
        await pilot.press("slash")  # keys that do change are still rebuilt
        await until(pilot, lambda: "Logs" not in screen_text(app), "the filter's keys")
