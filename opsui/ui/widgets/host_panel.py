"""CPU, memory, disk and load of the selected host: numbers plus a short history."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from opsui.ui.format import human_bytes, percent, same_text
from opsui.ui.palette import Palette
from opsui.ui.state import HostView
from opsui.ui.widgets.history_sparkline import HistorySparkline


class Gauge(Vertical):
    """One metric: a label line with the current value, and its sparkline."""

    def __init__(self, title: str, *, id: str, ceiling: float | None = 100.0) -> None:
        super().__init__(id=id, classes="gauge")
        self.metric = title
        """What is measured (shown before the value)."""
        self.ceiling = ceiling
        """Top of the sparkline's scale (100 for percentages; None: the data's maximum)."""
        self._label: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(self.metric), classes="gauge-label")
        spark = HistorySparkline([], classes="gauge-spark")
        spark.ceiling = self.ceiling
        yield spark

    def show(self, value: Text, history: Iterable[float]) -> None:
        """New value and history; repaints only this gauge, never the screen's layout."""
        label = Text(f"{self.metric} ", style="bold")
        label.append_text(value)
        if self._label is None or not same_text(self._label, label):
            self._label = label
            self.query_one(".gauge-label", Static).update(label, layout=False)  # one line
        self.query_one(HistorySparkline).data = list(history)  # no repaint when equal


class HostPanel(Horizontal):
    """Four gauges for the selected host; blank (dim) until the first sample."""

    def compose(self) -> ComposeResult:
        yield Gauge("CPU", id="gauge-cpu")
        yield Gauge("Mem", id="gauge-memory")
        yield Gauge("Disk", id="gauge-disk")
        yield Gauge("Load", id="gauge-load", ceiling=None)

    def show(self, view: HostView | None) -> None:
        palette = Palette.of(self.app)
        metrics = view.metrics if view else None
        gauges = {g.id: g for g in self.query(Gauge)}
        if view is None or metrics is None:
            for gauge in gauges.values():
                gauge.show(Text("…", style=palette.muted), [])
            return

        def level(value: float) -> Text:
            style = palette.bad if value >= 90 else palette.warn if value >= 75 else palette.ok
            return Text(percent(value), style=style)

        memory = level(metrics.memory_percent)
        memory.append(f" of {human_bytes(metrics.memory_total_bytes)}", style=palette.muted)
        disk = level(metrics.disk_percent)
        disk.append(f" of {human_bytes(metrics.disk_total_bytes)}", style=palette.muted)
        load = Text(f"{metrics.load1:.2f}")
        load.append(f" {metrics.load5:.2f} {metrics.load15:.2f}", style=palette.muted)
        gauges["gauge-cpu"].show(level(metrics.cpu_percent), view.cpu)
        gauges["gauge-memory"].show(memory, view.memory)
        gauges["gauge-disk"].show(disk, view.disk)
        gauges["gauge-load"].show(load, view.load)
