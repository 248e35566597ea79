"""Styles of the log pane, from the active theme: source colours, marks, highlights.

Log lines are drawn as Rich ``Text`` through the line API, which cannot use CSS
variables, so the colours are read from the theme's colour system (as
:mod:`opsui.ui.palette` does for the table) and rebuilt when the theme changes.
Each source gets a hue picked by a stable hash of its name, so ``web-1`` has the same
colour in every session and after a restart; when two names of one view hash to the
same hue, the later one takes the next free hue (:meth:`LogStyles.assign`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from textual.app import App
from textual.color import Color
from textual.theme import Theme

SOURCE_HUES = (200, 130, 35, 290, 170, 330, 60, 250, 0, 95, 310, 185)
"""Hues (degrees) for source names: spread out, none reserved for a meaning."""


@dataclass(frozen=True)
class LogStyles:
    """What each part of a log line looks like in the current theme."""

    muted: Style
    """Timestamps, "(dropped)" placeholders."""
    stderr: Style
    """The gutter mark of a stderr line."""
    marker: Style
    """Lines opsui wrote (restarted, replaced, exited)."""
    match: Style
    """A search match inside a line."""
    current: Style
    """The whole line of the current search hit."""
    sources: tuple[Style, ...]

    @classmethod
    def from_theme(cls, theme: Theme) -> LogStyles:
        colors = theme.to_color_system().generate()
        background = Color.parse(colors["background"])

        def color(name: str) -> Color:
            return background + Color.parse(colors[name])  # themes may carry alpha

        lightness = 0.68 if theme.dark else 0.36
        return cls(
            muted=Style(color=color("foreground-muted").rich_color),
            stderr=Style(color=color("text-error").rich_color, bold=True),
            marker=Style(color=color("text-warning").rich_color, bold=True, italic=True),
            match=Style(color=background.rich_color, bgcolor=color("warning").rich_color),
            current=Style(bgcolor=color("primary-background").rich_color),
            sources=tuple(Style(color=Color.from_hsl(hue / 360, 0.6, lightness).rich_color)
                          for hue in SOURCE_HUES),
        )

    @classmethod
    def of(cls, app: App[Any]) -> LogStyles:
        """The styles of ``app``'s current theme (cached per theme)."""
        theme = app.current_theme
        cached = _CACHE.get(theme.name)
        if cached is None or cached[0] is not theme:
            cached = _CACHE[theme.name] = (theme, cls.from_theme(theme))
        return cached[1]

    def source(self, name: str) -> Style:
        """The stable colour of a source name (ignoring other names in view)."""
        return self.sources[source_hue(name, len(self.sources))]

    def assign(self, names: list[str]) -> dict[str, Style]:
        """Colours for the names of one view, in order: distinct while hues last."""
        taken: dict[int, str] = {}
        chosen: dict[str, Style] = {}
        count = len(self.sources)
        for name in names:
            if name in chosen:
                continue
            hue = source_hue(name, count)
            for step in range(count):
                probe = (hue + step) % count
                if probe not in taken:
                    hue = probe
                    break
            taken.setdefault(hue, name)
            chosen[name] = self.sources[hue]
        return chosen


def source_hue(name: str, count: int) -> int:
    """Index of a name's hue: crc32, not ``hash()``, which changes every run."""
    return zlib.crc32(name.encode()) % count


_CACHE: dict[str, tuple[Theme, LogStyles]] = {}
