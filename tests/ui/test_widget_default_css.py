"""Reusable widgets bring their own look: mounted in a bare app, without opsui.tcss,
they are drawn as on the dashboard and the log screen.

Their styles used to live only in opsui.tcss, keyed by the ids the dashboard gives
them, so a widget reused elsewhere (or under another id) came out as a plain Textual
widget: a three-line bordered input for the filter, no warning colours on the lock
banner. Their CSS uses theme variables only, so every bundled or user theme styles them.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.widget import Widget

from opsui.domain.logbuffer import LogBuffer
from opsui.ui.themes import DEFAULT_THEME, load_themes, theme_sources
from opsui.ui.widgets import (
    container_table,
    filter_bar,
    history_sparkline,
    host_panel,
    host_sidebar,
    lock_banner,
    log_query_bar,
    log_view,
    no_engine,
    status_bar,
)
from opsui.ui.widgets.filter_bar import FilterBar
from opsui.ui.widgets.host_panel import HostPanel
from opsui.ui.widgets.host_sidebar import HostSidebar
from opsui.ui.widgets.lock_banner import LockBanner
from opsui.ui.widgets.log_query_bar import LogQueryBar
from opsui.ui.widgets.log_view import LogView
from opsui.ui.widgets.no_engine import NoEnginePanel
from opsui.ui.widgets.status_bar import StatusBar

from .helpers import NO_USER_THEMES

WIDGET_MODULES = (container_table, filter_bar, history_sparkline, host_panel, host_sidebar,
                  lock_banner, log_query_bar, log_view, no_engine, status_bar)


class BareApp(App[None]):
    """One widget, opsui's theme, and none of opsui's stylesheet."""

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def on_load(self) -> None:
        for theme in load_themes(theme_sources(NO_USER_THEMES)).themes:
            self.register_theme(theme)
        self.theme = DEFAULT_THEME

    def compose(self) -> ComposeResult:
        yield self.widget

    def variable(self, name: str) -> Color:
        return Color.parse(self.theme_variables[name])


def _looks(widget: Widget) -> dict[str, Any]:
    styles = widget.styles
    return {"background": styles.background, "color": styles.color,
            "height": styles.height and str(styles.height), "padding": tuple(styles.padding),
            "border": styles.border_top[0]}


CASES: list[tuple[str, Callable[[], Widget], str, Callable[[BareApp], dict[str, Any]]]] = [
    ("lock banner", LockBanner, "", lambda app: {
        "background": app.variable("warning-muted"), "padding": (0, 1, 0, 1)}),
    ("filter bar", FilterBar, "", lambda app: {
        "height": "1", "border": "", "padding": (0, 1, 0, 1)}),
    ("status bar", StatusBar, "", lambda app: {
        "background": app.variable("panel"), "height": "1"}),
    ("read-only badge", StatusBar, "#read-only-badge", lambda app: {
        "background": app.variable("warning")}),
    ("host panel", HostPanel, "", lambda app: {
        "background": app.variable("surface"), "height": "3"}),
    ("host list", HostSidebar, "#host-list", lambda app: {
        "background": app.variable("surface"), "border": ""}),
    ("no-engine panel", NoEnginePanel, "", lambda app: {"padding": (2, 4, 2, 4)}),
    ("log view", lambda: LogView(LogBuffer(10)), "", lambda app: {
        "background": app.variable("background")}),
    ("log query box", LogQueryBar, "#logs-query-input", lambda app: {
        "height": "1", "border": "", "padding": (0, 1, 0, 1)}),
]


@pytest.mark.parametrize(("make", "part", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
async def test_a_widget_in_a_bare_app_looks_as_in_opsui(
        make: Callable[[], Widget], part: str,
        expected: Callable[[BareApp], dict[str, Any]]) -> None:
    app = BareApp(make())
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        shown = app.widget if not part else app.widget.query_one(part)
        want = expected(app)
        assert {key: _looks(shown)[key] for key in want} == want


COLOUR_PROPERTY = re.compile(r"^\s*((?:[\w-]*-)?(?:color|background|tint)|border[\w-]*)"
                             r"\s*:\s*([^;]+);", re.MULTILINE)
BORDER_TYPES = {"none", "hidden", "blank", "round", "solid", "double", "dashed", "heavy",
                "inner", "outer", "hkey", "vkey", "tall", "wide", "thick", "panel", "ascii"}


@pytest.mark.parametrize("module", WIDGET_MODULES, ids=lambda m: m.__name__.rpartition(".")[2])
def test_widget_css_uses_theme_variables_only(module: Any) -> None:
    """A literal colour would look wrong in some theme (light, or the user's own)."""
    found = [vars(cls)["DEFAULT_CSS"] for _name, cls in inspect.getmembers(module, inspect.isclass)
             if cls.__module__ == module.__name__ and "DEFAULT_CSS" in vars(cls)]
    assert found, f"{module.__name__} has no widget with DEFAULT_CSS"
    literal = [f"{prop}: {value}" for css in found
               for prop, value in COLOUR_PROPERTY.findall(css)
               for token in value.split()
               if not (token.startswith("$") or token in BORDER_TYPES
                       or re.fullmatch(r"\d+%", token)
                       or (prop.endswith("-style") and token.isalpha()))]
    assert literal == []


def test_the_app_stylesheet_leaves_the_widgets_parts_to_them() -> None:
    """opsui.tcss places widgets (and hides them for a screen's state, as
    ``#host-detail`` without an engine); the parts a widget builds are styled by it."""
    stylesheet = (Path(host_panel.__file__).parents[1] / "opsui.tcss").read_text()
    own_parts = ["#status-text", "#read-only-badge", "#host-list", "#logs-query-label",
                 "#logs-query-input", ".gauge", "Sparkline"]
    assert [part for part in own_parts if part in stylesheet] == []
