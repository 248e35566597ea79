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

    DEFAULT_CSS = """
    Gauge {
        width: 1fr;
        height: 3;
        padding-right: 3;
    }

    Gauge .gauge-label {
        height: 1;
    }

    Gauge .gauge-spark {
        height: 2;
    }
    """

    def __init__(self, title: str, *, id: str, ceiling: float | None = 100.0) -> None:
        super().__init__(id=id, classes="gauge")
        self.metric = title
        """What is measured (shown before the value)."""
        self.ceiling = ceiling
        """Top of the sparkline's scale (100 for percentages; None: the data's maximum)."""
        self._label: Text | None = None
        self._text = Static(Text(self.metric), classes="gauge-label")
        self._spark = HistorySparkline([], classes="gauge-spark")
        self._spark.ceiling = ceiling

    def compose(self) -> ComposeResult:
        yield self._text
        yield self._spark

    def show(self, value: Text, history: Iterable[float]) -> None:
        """New value and history; repaints only this gauge, never the screen's layout."""
        label = Text(f"{self.metric} ", style="bold")
        label.append_text(value)
        if self._label is None or not same_text(self._label, label):
            self._label = label
            self._text.update(label, layout=False)  # one line: no layout needed
        self._spark.data = list(history)  # no repaint when equal


class HostPanel(Horizontal):
    """Four gauges for the selected host; blank (dim) until the first sample."""

    DEFAULT_CSS = """
    HostPanel {
        height: 3;
        padding: 0 1;
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._gauges = {gauge.id: gauge for gauge in (
            Gauge("CPU", id="gauge-cpu"), Gauge("Mem", id="gauge-memory"),
            Gauge("Disk", id="gauge-disk"), Gauge("Load", id="gauge-load", ceiling=None))}
        """By id; kept, so a sample every two seconds needs no DOM query."""

    def compose(self) -> ComposeResult:
        yield from self._gauges.values()

    def show(self, view: HostView | None) -> None:
        palette = Palette.of(self.app)
        metrics = view.metrics if view else None
        gauges = self._gauges
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
