"""Pilot helpers: wait on a condition with a deadline, and read the screen as text."""

from __future__ import annotations

import gc
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from opsui.domain.operations.gate import ActionGate
from opsui.ui.app import OpsuiApp

from fakes import FakeConnection, config, factory, frozen_clock

NO_USER_THEMES = Path("/nonexistent/opsui-themes")
"""Tests must not pick up the machine's own ~/.config/opsui/themes."""


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], what: str,
                timeout: float = 20.0) -> None:
    """Let the app run until ``predicate`` holds; fail naming ``what`` after ``timeout``.

    The deadline is generous because CI machines can be very busy; a passing run
    returns as soon as the condition holds.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}\n--- screen ---\n"
                                 f"{screen_text(pilot.app)}")
        await pilot.pause(0.02)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows right now, as plain text (styles dropped)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


def make_app(*connections: FakeConnection, gate: ActionGate | None = None,
             **config_changes: object) -> OpsuiApp:
    """An OpsuiApp over real HostMonitors on fake connections, with a frozen clock."""
    gate = gate or ActionGate()
    cfg = config(**config_changes)
    return OpsuiApp(cfg, gate, factory(connections, gate, cfg.apps), clock=frozen_clock,
                    theme_dir=NO_USER_THEMES)


def unreachable_strips(showing: Callable[[str], bool] = lambda text: True) -> int:
    """Textual strips the next full collection would free: what reference counting could
    not (a cycle), of those whose text ``showing`` accepts. Collects, so call it when
    nothing should be pending."""
    from textual.strip import Strip

    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return sum(isinstance(o, Strip) and showing(o.text) for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
