"""HostMonitor against a scripted connection: supervision, events and merging."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from opsui.domain.errors import AuthFailed, HostError, HostKeyUnknown
from opsui.domain.models import (
    Container,
    ContainerDetail,
    ContainerEvent,
    ContainerState,
    ContainerStats,
    EventKind,
    Health,
    HostMetrics,
    HostStatus,
    HttpHealth,
    LinkState,
)
from opsui.domain.monitor import HostMonitor, MonitorSettings, wait_for
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.policy import Action
from opsui.domain.ports import CommandRunner, ContainerEngine, HealthProber, MetricsSource

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FAST = MonitorSettings(refresh_seconds=0.2, stats_seconds=0.05, metrics_seconds=0.05,
                       health_seconds=0.05, link_check_seconds=0.05,
                       backoff_initial=0.01, backoff_maximum=0.05)


def _container(cid: str, health: Health = Health.HEALTHY, restarts: int | None = None
               ) -> Container:
    return Container(cid, f"name-{cid}", "app:1", ContainerState.RUNNING, health,
                     restart_count=restarts)


class _Events:
    def __init__(self) -> None:
        self.queue: queue.Queue[ContainerEvent | None] = queue.Queue()

    def __iter__(self) -> Iterator[ContainerEvent]:
        while (event := self.queue.get()) is not None:
            yield event

    def close(self) -> None:
        self.queue.put(None)


@dataclass
class _Engine:
    containers: dict[str, Container]
    streams: list[_Events] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    alive: bool = True

    def ping(self) -> float:
        if not self.alive:
            raise HostError("gone")
        return 1.5

    def list_containers(self) -> list[Container]:
        return [c for c in self.containers.values()]

    def get_container(self, container_id: str) -> Container | None:
        c = self.containers.get(container_id)
        return None if c is None else Container(**{**c.__dict__, "restart_count": 2})

    def inspect(self, container_id: str) -> ContainerDetail:
        raise NotImplementedError

    def stats(self, container_id: str) -> ContainerStats | None:
        return ContainerStats(container_id, 12.5, 100, 1000, NOW)

    def stats_many(self, container_ids: Iterable[str]) -> dict[str, ContainerStats]:
        return {cid: s for cid in container_ids if (s := self.stats(cid)) is not None}

    def events(self) -> _Events:
        stream = _Events()
        self.streams.append(stream)
        return stream

    def start(self, container_id: str) -> None: ...

    def stop(self, container_id: str, timeout: int = 10) -> None: ...

    def restart(self, container_id: str, timeout: int = 10) -> None:
        self.restarted.append(container_id)

    def close(self) -> None: ...


class _Metrics:
    def sample(self) -> HostMetrics:
        return HostMetrics(10, 1, 2, 3, 4, 0.1, 0.2, 0.3, NOW)


class _Connection:
    name = "prod"

    def __init__(self, engine: _Engine, failures: list[HostError] | None = None) -> None:
        self._engine = engine
        self.failures = failures or []
        self.connects = 0

    def connect(self) -> None:
        self.connects += 1
        if self.failures:
            raise self.failures.pop(0)
        self._engine.alive = True

    def is_alive(self) -> bool:
        return self._engine.alive

    @property
    def engine(self) -> ContainerEngine:
        return self._engine

    @property
    def metrics(self) -> MetricsSource:
        return _Metrics()

    @property
    def prober(self) -> HealthProber:
        raise NotImplementedError

    @property
    def runner(self) -> CommandRunner:
        raise NotImplementedError

    def close(self) -> None: ...


class _Recorder:
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


def _monitor(engine: _Engine, failures: list[HostError] | None = None
             ) -> tuple[HostMonitor, _Recorder, _Connection]:
    recorder = _Recorder()
    connection = _Connection(engine, failures)
    monitor = HostMonitor(connection, recorder, ActionGate(), FAST)
    monitor.start()
    return monitor, recorder, connection


def test_snapshot_then_inspect_fills_restart_counts() -> None:
    engine = _Engine({"a": _container("a"), "b": _container("b")})
    monitor, rec, _ = _monitor(engine)
    try:
        assert wait_for(lambda: set(rec.rows) == {"a", "b"}, 5)
        assert wait_for(lambda: all(c.restart_count == 2 for c in rec.rows.values()), 5)
        assert rec.states()[:2] == [LinkState.CONNECTING, LinkState.CONNECTED]
    finally:
        monitor.stop()


def test_event_turning_unhealthy_reaches_listener_without_poll() -> None:
    engine = _Engine({"a": _container("a")})
    monitor, rec, _ = _monitor(engine)
    try:
        assert wait_for(lambda: "a" in rec.rows and engine.streams, 5)
        engine.containers["a"] = _container("a", Health.UNHEALTHY)
        engine.streams[-1].queue.put(ContainerEvent(EventKind.CHANGED, "a", "health_status"))
        assert wait_for(lambda: rec.rows["a"].health is Health.UNHEALTHY, 5)
        engine.containers.pop("a")
        engine.streams[-1].queue.put(ContainerEvent(EventKind.REMOVED, "a", "destroy"))
        assert wait_for(lambda: "a" not in rec.rows, 5)
    finally:
        monitor.stop()


def test_lost_link_is_noticed_and_rebuilt() -> None:
    engine = _Engine({"a": _container("a")})
    monitor, rec, connection = _monitor(engine)
    try:
        assert wait_for(lambda: monitor.connected, 5)
        engine.alive = False
        assert wait_for(lambda: LinkState.RECONNECTING in rec.states(), 5)
        assert wait_for(lambda: monitor.connected and connection.connects >= 2, 5)
    finally:
        monitor.stop()


def test_connect_failures_are_named_and_retried() -> None:
    engine = _Engine({})
    failures: list[HostError] = [HostKeyUnknown("prod", "ssh-ed25519", "SHA256:abc"),
                                 AuthFailed("root@prod: denied")]
    monitor, rec, _ = _monitor(engine, failures)
    try:
        assert wait_for(lambda: monitor.connected, 5)
        states = rec.states()
        assert LinkState.HOST_KEY_UNKNOWN in states and LinkState.AUTH_FAILED in states
        unknown = next(s for s in rec.statuses if s.state is LinkState.HOST_KEY_UNKNOWN)
        assert "SHA256:abc" in unknown.message and "trust" in unknown.hint
    finally:
        monitor.stop()


def test_stats_only_for_watched_and_metrics_flow() -> None:
    engine = _Engine({"a": _container("a"), "b": _container("b")})
    monitor, rec, _ = _monitor(engine)
    try:
        monitor.watch_stats(["b"])
        assert wait_for(lambda: bool(rec.stats) and bool(rec.metrics), 5)
        assert {s.container_id for s in rec.stats} == {"b"}
    finally:
        monitor.stop()


def test_actions_go_through_the_gate() -> None:
    engine = _Engine({"a": _container("a")})
    monitor, _, _ = _monitor(engine)
    try:
        assert wait_for(lambda: monitor.connected, 5)
        request = monitor.request_for(Action.RESTART, _container("a"))
        monitor.perform(request, True)
        assert engine.restarted == ["a"]
    finally:
        monitor.stop()
