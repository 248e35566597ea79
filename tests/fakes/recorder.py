"""A monitor listener that keeps what a real HostMonitor reported, for unit tests of the
monitor; and the quick pace those tests run it at."""

from __future__ import annotations

import threading

from opsui.domain.models import (
    Container,
    ContainerStats,
    HostMetrics,
    HostStatus,
    HttpHealth,
    LinkState,
)
from opsui.domain.monitor import MonitorSettings

QUICK_MONITOR = MonitorSettings(refresh_seconds=0.2, stats_seconds=0.05, metrics_seconds=0.05,
                                health_seconds=0.05, link_check_seconds=0.05,
                                backoff_initial=0.01, backoff_maximum=0.05)
"""Every pace of the monitor a few times a second: tests wait for reports, not ticks."""


class MonitorRecorder:
    """The link states, rows, metrics and stats a host's monitor reported."""

    def __init__(self) -> None:
        self.statuses: list[HostStatus] = []
        self.rows: dict[str, Container] = {}
        self.metrics: list[HostMetrics] = []
        self.stats: list[ContainerStats] = []
        self.lock = threading.Lock()

    def host_status(self, status: HostStatus) -> None:
        self.statuses.append(status)

    def containers_snapshot(self, host: str, containers: list[Container]) -> None:
        with self.lock:
            self.rows = {c.id: c for c in containers}

    def container_changed(self, host: str, container: Container) -> None:
        with self.lock:
            self.rows[container.id] = container

    def container_removed(self, host: str, container_id: str) -> None:
        with self.lock:
            self.rows.pop(container_id, None)

    def host_metrics(self, host: str, metrics: HostMetrics) -> None:
        self.metrics.append(metrics)

    def container_stats(self, host: str, stats: list[ContainerStats]) -> None:
        self.stats.extend(stats)

    def app_health(self, host: str, app: str, results: tuple[HttpHealth, ...]) -> None: ...

    def states(self) -> list[LinkState]:
        return [s.state for s in self.statuses]
