"""What opsui shows when hosts answer but no Docker engine does.

Typical first run: ``opsui`` on a laptop where dockerd is not started. An empty
table would look like "no containers", and a traceback would look like a bug;
this panel says what is missing, where, and how to start it. The monitors keep
retrying, and the dashboard replaces this panel by itself once an engine answers.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import Static

from opsui.ui.palette import Palette
from opsui.ui.state import HostView


def no_engine_text(views: Iterable[HostView], palette: Palette) -> Text:
    """The panel's text: one paragraph per host with its message and hint."""
    text = Text("No Docker engine answers\n\n", style=palette.bad)
    for view in views:
        status = view.status
        message = status.message or "the Docker engine is not reachable"
        if not message.startswith(f"{status.name}:"):  # backends usually name the host
            text.append(status.name, style=palette.strong)
            text.append(": ")
        text.append(message, style=palette.strong)
        text.append("\n")
        if status.hint:
            text.append(status.hint, style=palette.accent)
            text.append("\n")
        text.append("\n")
    text.append("opsui keeps trying and shows the dashboard as soon as an engine answers.",
                style=palette.muted)
    return text


class NoEnginePanel(Static):
    """Fills the main area while every host is in the "no engine" state."""

    DEFAULT_CSS = """
    NoEnginePanel {
        padding: 2 4;
    }
    """

    def show(self, views: Iterable[HostView]) -> None:
        self.update(no_engine_text(views, Palette.of(self.app)))
