"""HostMonitor against in-memory hosts: supervision, events, merging, the gate."""

from __future__ import annotations

import dataclasses

from opsui.domain.errors import AuthFailed, HostKeyUnknown, HostUnreachable
from opsui.domain.models import Container, Health, LinkState
from opsui.domain.monitor import HostMonitor, wait_for
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.policy import Action

from fakes import QUICK_MONITOR, FakeConnection, FakeEngine, MonitorRecorder, container


class ListingEngine(FakeEngine):
    """Like Docker: the list call omits restart counts; only a re-read has them."""

    def list_containers(self) -> list[Container]:
        return [dataclasses.replace(c, restart_count=None) for c in super().list_containers()]


def start(connection: FakeConnection) -> tuple[HostMonitor, MonitorRecorder]:
    recorder = MonitorRecorder()
    monitor = HostMonitor(connection, recorder, ActionGate(), QUICK_MONITOR)
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
