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

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import Sparkline

BARS = "▁▂▃▄▅▆▇█"


def bar_rows(data: Sequence[float], ceiling: float, width: int, height: int,
             low: Color, high: Color) -> list[list[Segment]]:
    """``data`` scaled to ``0..ceiling``, right-aligned, one bar per sample; top row first."""
    data = list(data)[-width:] if width > 0 else []
    ceiling = ceiling if ceiling > 0 else 1.0
    height = max(1, height)
    steps = len(BARS) * height
    levels = [max(0, min(steps, round(v / ceiling * steps))) for v in data]
    colours = [Style(color=low.blend(high, max(0.0, min(1.0, v / ceiling))).rich_color)
               for v in data]
    floor_style = Style(color=low.rich_color)
    pad = [Segment(" " * (width - len(levels)))] if width > len(levels) else []
    rows = []
    for row in reversed(range(height)):
        floor = row * len(BARS)
        segments = list(pad)
        for level, colour in zip(levels, colours, strict=True):
            if level <= floor:
                segments.append(Segment("▁", floor_style) if row == 0 else Segment(" "))
                continue
            part = level - floor
            segments.append(Segment("█" if part >= len(BARS) else BARS[part - 1], colour))
        rows.append(segments)
    return rows


class HistorySparkline(Sparkline):
    """Textual's Sparkline, drawn on a fixed scale (``ceiling``; None: the data's maximum)."""

    ceiling: reactive[float | None] = reactive(100.0)

    def __init__(self, data: Sequence[float] | None = None, *, classes: str | None = None
                 ) -> None:
        super().__init__(data, classes=classes)
        self._strips: tuple[object, list[Strip]] | None = None
        """(what the strips were drawn from, the strips): redrawn when that changes."""

    def notify_style_update(self) -> None:
        self._strips = None  # the theme or the CSS changed the colours
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        data = list(self.data or [])
        ceiling = self.ceiling if self.ceiling is not None else max([*data, 1.0])
        drawn_from = (data[-width:], ceiling, width, height)
        if self._strips is None or self._strips[0] != drawn_from:
            _, base = self.background_colors
            low = base + self.get_component_styles("sparkline--min-color").color
            high = base + self.get_component_styles("sparkline--max-color").color
            style = self.rich_style
            self._strips = (drawn_from, [
                Strip(Segment.apply_style(row, style), width).simplify()
                for row in bar_rows(data, ceiling, width, height, low, high)
            ])
        strips = self._strips[1]
        return strips[y] if 0 <= y < len(strips) else Strip.blank(width, self.rich_style)
