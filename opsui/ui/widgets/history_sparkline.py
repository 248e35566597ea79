"""A Sparkline on a fixed scale, one column per sample, newest on the right.

Textual's Sparkline stretches the samples over its width and scales them between
their own minimum and maximum, so memory going from 2.30 % to 2.31 % looks like a
spike. An operator reading "is the host filling up" needs the opposite: 0-100 %
on every gauge, and time flowing at a constant rate from the right.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from textual.app import RenderResult as TextualRenderResult
from textual.color import Color
from textual.reactive import reactive
from textual.widgets import Sparkline

BARS = "▁▂▃▄▅▆▇█"


class FixedScaleBars:
    """The renderable: ``data`` scaled to ``0..ceiling``, right-aligned, one bar per sample."""

    def __init__(self, data: Sequence[float], ceiling: float, width: int, height: int,
                 low: Color, high: Color) -> None:
        self.data = list(data)[-width:] if width > 0 else []
        self.ceiling = ceiling if ceiling > 0 else 1.0
        self.width = width
        self.height = max(1, height)
        self.low = low
        self.high = high

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        steps = len(BARS) * self.height
        levels = [max(0, min(steps, round(v / self.ceiling * steps))) for v in self.data]
        pad = self.width - len(levels)
        for row in reversed(range(self.height)):
            floor = row * len(BARS)
            yield Segment(" " * pad)
            for value, level in zip(self.data, levels, strict=True):
                if level <= floor:
                    yield Segment("▁" if row == 0 else " ",
                                  Style(color=self.low.rich_color) if row == 0 else None)
                    continue
                ratio = max(0.0, min(1.0, value / self.ceiling))
                style = Style(color=self.low.blend(self.high, ratio).rich_color)
                part = level - floor
                yield Segment("█" if part >= len(BARS) else BARS[part - 1], style)
            if row:
                yield Segment.line()


class HistorySparkline(Sparkline):
    """Textual's Sparkline, drawn on a fixed scale (``ceiling``; None: the data's maximum)."""

    ceiling: reactive[float | None] = reactive(100.0)

    def render(self) -> TextualRenderResult:
        data = list(self.data or [])
        _, base = self.background_colors
        low = base + self.get_component_styles("sparkline--min-color").color
        high = base + self.get_component_styles("sparkline--max-color").color
        ceiling = self.ceiling if self.ceiling is not None else max([*data, 1.0])
        return FixedScaleBars(data, ceiling, self.size.width, self.size.height, low, high)
