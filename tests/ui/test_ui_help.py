"""The help screen (? / F1): the keys of the screen the operator is on, with their ids."""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

from textual.command import CommandPalette
from textual.pilot import Pilot

from opsui.ui.app import OpsuiApp
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.screens.help import HelpScreen
from opsui.ui.screens.logs import LogsScreen
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import make_app, screen_text, until
from fakes import FakeConnection, FakeEngine, shop_containers

SIZE = (160, 50)


async def _dashboard(pilot: Pilot[Any], app: OpsuiApp) -> None:
    await until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                and app.screen.query_one(ContainerTable).row_count == 6, "six rows")


def _row(key: str, binding_id: str, text: str) -> re.Pattern[str]:
    """One line of the help: the key, its id, then what it does, in columns."""
    return re.compile(rf"(^|\s){re.escape(key)}\s+{re.escape(binding_id)}\s+"
                      rf"{re.escape(text)}", re.MULTILINE)


async def test_question_mark_lists_the_dashboards_keys_with_ids_and_esc_closes() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=SIZE) as pilot:
        await _dashboard(pilot, app)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        await until(pilot, lambda: bool(_row("R", "release.rollback", "Roll the selected")
                                        .search(screen_text(app))), "the rollback key")
        text = screen_text(app)
        assert _row("r", "container.restart", "Restart the selected").search(text)
        await pilot.press("end")  # the app-wide keys come last, below the fold
        await until(pilot, lambda: bool(_row("?", "app.help", "The keys of this screen")
                                        .search(screen_text(app))), "the help key itself")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "help closed")
        assert "release.rollback" not in screen_text(app)
        await pilot.press("f1")  # F1 opens it too; ? and q close it (q does not quit)
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help via F1")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "closed by ?")
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help again")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "closed by q")
        assert app.is_running


async def test_a_remapped_key_is_shown_as_remapped() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())),
                   keys=MappingProxyType({"release.rollback": "ctrl+b", "app.help": "f2"}))
    async with app.run_test(size=SIZE) as pilot:
        await _dashboard(pilot, app)
        await pilot.press("f1")  # app.help moved to f2: F1 no longer opens it
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help via f2")
        await until(pilot, lambda: bool(_row("ctrl+b (was R)", "release.rollback",
                                             "remapped in [keys]. Roll the selected")
                                        .search(screen_text(app))), "the remapped key")
        assert not _row("R", "release.rollback", "Roll").search(screen_text(app))


async def test_f1_on_the_log_pane_shows_the_log_keys() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        await _dashboard(pilot, app)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "the log pane")
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        await until(pilot, lambda: bool(_row("f", "logs.follow", "Follow the newest lines")
                                        .search(screen_text(app))), "the follow key")
        text = screen_text(app)
        assert _row("&", "logs.filter", "Keep only matching lines").search(text)
        assert "This screen (Logs)" in text
        assert "dashboard.filter" not in text  # the dashboard's keys do not work here
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "back on the logs")


async def test_the_palettes_keys_command_opens_the_help_and_esc_closes_it() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=SIZE) as pilot:
        await _dashboard(pilot, app)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"keys")
        await until(pilot, lambda: "(? or F1)" in screen_text(app), "the Keys command")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        assert "dashboard.filter" in screen_text(app)  # the keys of the screen underneath
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "help closed")
        assert "dashboard.filter" not in screen_text(app)
