"""Host metrics are sampled only while shown (issue 15: twenty hosts, one panel).

Over SSH a sample is a shell on the host; every host every 2 s is work nobody sees.
"""

from __future__ import annotations

from opsui.domain.models import HostMetrics
from opsui.domain.monitor import HostMonitor, wait_for
from opsui.domain.operations.gate import ActionGate

from fakes import QUICK_MONITOR, FakeConnection, FakeEngine, MonitorRecorder, container
from fakes.common import metrics_sample

WEB = container("w1", "web")


class CountingMetrics:
    """A host's metrics source that counts the samples taken on it."""

    def __init__(self) -> None:
        self.samples = 0

    def sample(self) -> HostMetrics:
        self.samples += 1
        return metrics_sample(23.0)


class CountedHost(FakeConnection):
    def __init__(self, name: str) -> None:
        super().__init__(name, FakeEngine([WEB]))
        self.counting = CountingMetrics()

    @property
    def metrics(self) -> CountingMetrics:
        return self.counting


def test_a_host_whose_metrics_are_not_shown_is_not_sampled_until_they_are() -> None:
    host = CountedHost("web7")
    recorder = MonitorRecorder()
    monitor = HostMonitor(host, recorder, ActionGate(), QUICK_MONITOR)
    monitor.watch_metrics(False)
    monitor.watch_stats([WEB.id])
    monitor.start()
    try:
        # stats run on the same cadence as metrics: many rounds, no metrics sample
        assert wait_for(lambda: len(recorder.stats) >= 6, 10)
        assert host.counting.samples == 0 and not recorder.metrics
        monitor.watch_metrics(True)
        assert wait_for(lambda: bool(recorder.metrics), 10)
        assert host.counting.samples >= 1
    finally:
        monitor.stop()
