"""Snapshot of the help screen (? on the dashboard), from the fixed shop host."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from opsui.ui.screens.help import HelpScreen

from .test_snapshots import SIZE, _populated, shop_app


def test_help_screen(snap_compare: Any) -> None:
    """"?" on the dashboard.

    You should see: the dashboard dimmed behind a dialog with a thick border, headed
    "Keys here — remap any by its id in opsui.toml [keys] · esc closes"; then "This
    screen (Dashboard)" with rows of key, id and tooltip in three columns — "/
    dashboard.filter Filter containers by name...", "r container.restart", "l
    dashboard.logs", "D release.deploy", "R release.rollback Roll the selected
    container's app back..." — long tooltips wrapped in their column; a scroll bar
    on the right.
    """
    async def run_before(pilot: Pilot[Any]) -> None:
        await _populated(pilot)
        await pilot.press("question_mark")
        while not isinstance(pilot.app.screen, HelpScreen):
            await pilot.pause()
        await pilot.pause()

    assert snap_compare(shop_app(), terminal_size=SIZE, run_before=run_before)
