"""The top line: which host, how many containers, how many unhealthy, read-only."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from opsui.domain.models import LinkState
from opsui.ui.palette import Palette


@dataclass(frozen=True)
class StatusLine:
    """Everything the top line says; equal lines are not redrawn."""

    host: str
    shown: int
    total: int
    unhealthy: int
    needle: str
    sort: str
    read_only: bool
    listed: bool
    link: LinkState | None = None
    """The host's link state when it is not connected ("no engine", "unreachable"...)."""
    kept: int = 0
    """Release containers opsui keeps for rollback (not in ``total``, never unhealthy)."""
    kept_shown: bool = False
    """Whether the table shows them (z)."""


class StatusBar(Horizontal):
    """A single line docked at the top of the dashboard, with a read-only badge."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
    }

    StatusBar #status-text {
        width: 1fr;
        height: 1;
    }

    StatusBar #read-only-badge {
        width: auto;
        height: 1;
        background: $warning;
        color: $background;
        text-style: bold;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[StatusLine, Palette] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="status-text")
        yield Static(Text(" READ-ONLY "), id="read-only-badge")

    def show(self, line: StatusLine) -> None:
        """Redraw the line, unless it says the same thing in the same colours."""
        palette = Palette.of(self.app)
        if self._shown == (line, palette):
            return
        self._shown = (line, palette)
        text = Text()
        text.append(" opsui ", style=palette.primary)
        text.append("│ ", style=palette.muted)
        text.append(line.host or "no host", style=palette.strong)
        text.append(" │ ", style=palette.muted)
        if line.link is not None:
            text.append(line.link.value, style=palette.link(line.link))
            if line.listed:
                text.append(f" │ {line.total} containers (last known)", style=palette.muted)
        elif not line.listed:
            text.append("waiting for containers…", style=palette.muted)
        elif line.needle:
            text.append(f"{line.shown} of {line.total} containers")
            text.append(" │ filter: ", style=palette.muted)
            text.append(line.needle, style=palette.accent)
        else:
            text.append(f"{line.total} containers")
        if line.unhealthy:
            text.append(" │ ", style=palette.muted)
            text.append(f"✗ {line.unhealthy} unhealthy", style=palette.bad)
        if line.kept and line.link is None and line.listed:
            text.append(f" │ {line.kept} kept ({'z folds' if line.kept_shown else 'z shows'})",
                        style=palette.muted)
        if line.listed:
            text.append(" │ sort: ", style=palette.muted)
            text.append(line.sort, style=palette.muted)
        self.query_one("#status-text", Static).update(text, layout=False)  # always one line
        badge = self.query_one("#read-only-badge")
        if badge.display != line.read_only:
            badge.display = line.read_only
