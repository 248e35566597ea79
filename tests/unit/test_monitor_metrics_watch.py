"""Host metrics are sampled only while shown (issue 15: twenty hosts, one panel).

Over SSH a sample is a shell on the host; every host every 2 s is work nobody sees.
"""

from __future__ import annotations

from opsui.domain.models import Container, ContainerStats, HostMetrics, HostStatus, HttpHealth
from opsui.domain.monitor import HostMonitor, MonitorSettings, wait_for
from opsui.domain.operations.gate import ActionGate

from fakes import FakeConnection, FakeEngine, container
from fakes.common import metrics_sample

FAST = MonitorSettings(refresh_seconds=0.2, stats_seconds=0.05, metrics_seconds=0.05,
                       health_seconds=0.05, link_check_seconds=0.05,
                       backoff_initial=0.01, backoff_maximum=0.05)


class Recorder:
    """The listener: keeps the stats and metrics it is given."""

    def __init__(self) -> None:
        self.metrics: list[HostMetrics] = []
        self.stats: list[ContainerStats] = []

    def host_status(self, status: HostStatus) -> None: ...

    def containers_snapshot(self, host: str, containers: list[Container]) -> None: ...

    def container_changed(self, host: str, container: Container) -> None: ...

    def container_removed(self, host: str, container_id: str) -> None: ...

    def host_metrics(self, host: str, metrics: HostMetrics) -> None:
        self.metrics.append(metrics)

    def container_stats(self, host: str, stats: list[ContainerStats]) -> None:
        self.stats.extend(stats)

    def app_health(self, host: str, app: str, results: tuple[HttpHealth, ...]) -> None: ...


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
    recorder = Recorder()
    monitor = HostMonitor(host, recorder, ActionGate(), FAST)
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
