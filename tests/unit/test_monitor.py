"""HostMonitor against in-memory hosts: supervision, events, merging, the gate."""

from __future__ import annotations

import dataclasses
import threading

from opsui.domain.errors import AuthFailed, HostKeyUnknown, HostUnreachable
from opsui.domain.models import (
    Container,
    ContainerStats,
    Health,
    HostMetrics,
    HostStatus,
    HttpHealth,
    LinkState,
)
from opsui.domain.monitor import HostMonitor, MonitorSettings, wait_for
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.policy import Action

from fakes import FakeConnection, FakeEngine, container

FAST = MonitorSettings(refresh_seconds=0.2, stats_seconds=0.05, metrics_seconds=0.05,
                       health_seconds=0.05, link_check_seconds=0.05,
                       backoff_initial=0.01, backoff_maximum=0.05)


class ListingEngine(FakeEngine):
    """Like Docker: the list call omits restart counts; only a re-read has them."""

    def list_containers(self) -> list[Container]:
        return [dataclasses.replace(c, restart_count=None) for c in super().list_containers()]


class Recorder:
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


def start(connection: FakeConnection) -> tuple[HostMonitor, Recorder]:
    recorder = Recorder()
    monitor = HostMonitor(connection, recorder, ActionGate(), FAST)
    monitor.start()
    return monitor, recorder


A, B = container("a", restarts=2), container("b", restarts=2)


def test_snapshot_then_reread_fills_restart_counts() -> None:
    monitor, rec = start(FakeConnection("prod", ListingEngine([A, B])))
    try:
        assert wait_for(lambda: set(rec.rows) == {A.id, B.id}, 5)
        assert wait_for(lambda: all(c.restart_count == 2 for c in rec.rows.values()), 5)
        assert rec.states()[:2] == [LinkState.CONNECTING, LinkState.CONNECTED]
    finally:
        monitor.stop()


def test_event_turning_unhealthy_reaches_listener_without_poll() -> None:
    engine = FakeEngine([A])
    monitor, rec = start(FakeConnection("prod", engine))
    try:
        assert wait_for(lambda: A.id in rec.rows and bool(engine.streams), 5)
        engine.put(dataclasses.replace(A, health=Health.UNHEALTHY))
        assert wait_for(lambda: rec.rows[A.id].health is Health.UNHEALTHY, 5)
        engine.remove(A.id)
        assert wait_for(lambda: A.id not in rec.rows, 5)
    finally:
        monitor.stop()


def test_lost_link_is_noticed_and_rebuilt() -> None:
    connection = FakeConnection("prod", FakeEngine([A]))
    monitor, rec = start(connection)
    try:
        assert wait_for(lambda: monitor.connected, 5)
        connection.failure = HostUnreachable("prod: connection reset")
        assert wait_for(lambda: LinkState.RECONNECTING in rec.states(), 5)
        assert wait_for(lambda: LinkState.UNREACHABLE in rec.states(), 5)
        connection.failure = None
        assert wait_for(lambda: monitor.connected, 5)
    finally:
        monitor.stop()


def test_connect_failures_are_named_and_retried() -> None:
    connection = FakeConnection("prod", FakeEngine(),
                                failure=HostKeyUnknown("prod", "ssh-ed25519", "SHA256:abc"))
    monitor, rec = start(connection)
    try:
        assert wait_for(lambda: LinkState.HOST_KEY_UNKNOWN in rec.states(), 5)
        unknown = next(s for s in rec.statuses if s.state is LinkState.HOST_KEY_UNKNOWN)
        assert "SHA256:abc" in unknown.message and "trust-host" in unknown.hint
        connection.failure = AuthFailed("root@prod: denied")
        assert wait_for(lambda: LinkState.AUTH_FAILED in rec.states(), 5)
        connection.failure = None
        assert wait_for(lambda: monitor.connected, 5)
    finally:
        monitor.stop()


def test_stats_only_for_watched_and_metrics_flow() -> None:
    monitor, rec = start(FakeConnection("prod", FakeEngine([A, B])))
    try:
        monitor.watch_stats([B.id])
        assert wait_for(lambda: bool(rec.stats) and bool(rec.metrics), 5)
        assert {s.container_id for s in rec.stats} == {B.id}
    finally:
        monitor.stop()


def test_actions_go_through_the_gate() -> None:
    engine = FakeEngine([A])
    monitor, _ = start(FakeConnection("prod", engine))
    try:
        assert wait_for(lambda: monitor.connected, 5)
        monitor.perform(monitor.request_for(Action.RESTART, A), True)
        assert engine.calls == [("restart", A.id)]
    finally:
        monitor.stop()
