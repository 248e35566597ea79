"""A Sparkline on a fixed scale, one column per sample, newest on the right.

Textual's Sparkline stretches the samples over its width and scales them between
their own minimum and maximum, so memory going from 2.30 % to 2.31 % looks like a
spike. An operator reading "is the host filling up" needs the opposite: 0-100 %
on every gauge, and time flowing at a constant rate from the right.

The bars are drawn straight into strips (Textual's line API), not through a Rich
renderable: a new sample every two seconds on four gauges then costs a few hundred
segments, not a trip through the console's render pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import Sparkline

BARS = "▁▂▃▄▅▆▇█"
STYLE_CACHE_LIMIT = 128
"""Bounds a sparkline's per-value style cache (values that scrolled out pile up): twice
the samples a host keeps (60). At 1024, four gauges took half an hour of samples to
fill theirs, about 1 MB: most of the dashboard's residual growth (issue 16)."""


def bar_rows(data: Sequence[float], ceiling: float, width: int, height: int,
             bar_style: Callable[[float], Style], floor: Style, blank: Style,
             ) -> list[list[Segment]]:
    """``data`` scaled to ``0..ceiling``, right-aligned, one bar per sample; top row first.

    ``bar_style`` gives a sample's bar its style, ``floor`` is the bottom row's style
    where the bar is empty, ``blank`` the style of empty cells above it.
    """
    data = list(data)[-width:] if width > 0 else []
    ceiling = ceiling if ceiling > 0 else 1.0
    height = max(1, height)
    steps = len(BARS) * height
    levels = [max(0, min(steps, round(v / ceiling * steps))) for v in data]
    styles = [bar_style(v) for v in data]
    pad = [Segment(" " * (width - len(levels)), blank)] if width > len(levels) else []
    rows = []
    for row in reversed(range(height)):
        bottom = row * len(BARS)
        segments = list(pad)
        for level, style in zip(levels, styles, strict=True):
            if level <= bottom:
                segments.append(Segment("▁", floor) if row == 0 else Segment(" ", blank))
                continue
            part = level - bottom
            segments.append(Segment("█" if part >= len(BARS) else BARS[part - 1], style))
        rows.append(segments)
    return rows


class HistorySparkline(Sparkline):
    """Textual's Sparkline, drawn on a fixed scale (``ceiling``; None: the data's maximum)."""

    DEFAULT_CSS = """
    HistorySparkline > .sparkline--max-color {
        color: $warning;
    }

    HistorySparkline > .sparkline--min-color {
        color: $success;
    }
    """

    ceiling: reactive[float | None] = reactive(100.0)

    def __init__(self, data: Sequence[float] | None = None, *, classes: str | None = None
                 ) -> None:
        super().__init__(data, classes=classes)
        self._strips: tuple[object, list[Strip]] | None = None
        """(what the strips were drawn from, the strips): redrawn when that changes."""
        self._styles: tuple[object, dict[float, Style]] = (None, {})
        """(the colours they were made from, a bar's style per sample value): a new
        sample shifts the others left, their styles are reused."""

    def notify_style_update(self) -> None:
        self._strips = None  # the theme or the CSS changed the colours
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        data = list(self.data or [])[-width:] if width > 0 else []
        ceiling = self.ceiling if self.ceiling is not None else max([*data, 1.0])
        drawn_from = (data, ceiling, width, height)
        if self._strips is None or self._strips[0] != drawn_from:
            self._strips = (drawn_from, self._draw(data, ceiling, width, height))
        strips = self._strips[1]
        return strips[y] if 0 <= y < len(strips) else Strip.blank(width, self.rich_style)

    def _draw(self, data: list[float], ceiling: float, width: int, height: int) -> list[Strip]:
        _, background = self.background_colors
        low = background + self.get_component_styles("sparkline--min-color").color
        high = background + self.get_component_styles("sparkline--max-color").color
        base = self.rich_style
        made_from = (low, high, base, ceiling)
        if self._styles[0] != made_from:
            self._styles = (made_from, {})
        cache = self._styles[1]
        top = ceiling if ceiling > 0 else 1.0

        def bar_style(value: float) -> Style:
            style = cache.get(value)
            if style is None:
                ratio = max(0.0, min(1.0, value / top))
                style = cache[value] = base + Style(color=low.blend(high, ratio).rich_color)
                if len(cache) > STYLE_CACHE_LIMIT:
                    cache.clear()
            return style

        floor = base + Style(color=low.rich_color)
        rows = bar_rows(data, ceiling, width, height, bar_style, floor, base)
        return [Strip(row, width) for row in rows]
