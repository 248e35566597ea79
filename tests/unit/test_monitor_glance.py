"""The monitor's glance (issue 14): a local launch's rows come from one list read before
the connection is built, and the connection follows once the UI has drawn them.

The glance itself reads the real engine (tests/integration/test_launch_glance.py);
here is the order around it: rows first and the host connected, the connection built
only once the UI says which rows it shows (or something needs the engine: it is told
"still connecting" and the connection starts at once), and no glance, no change.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from opsui.domain.errors import HostError
from opsui.domain.logbuffer import LineKind
from opsui.domain.logfeed import LogTarget, LogWindow, TargetKind
from opsui.domain.models import Container, LinkState
from opsui.domain.monitor import HostMonitor, wait_for
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import ContainerEngine

from fakes import FAST, FakeConnection, FakeEngine, container

STAMP = b"2026-11-23T16:58:50.000000001Z "
SETTINGS = dataclasses.replace(FAST, enrich_wait_seconds=30.0)  # a UI's patience, held long


class _CountingConnection(FakeConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connects = threading.Event()

    def connect(self) -> None:
        self.connects.set()
        super().connect()


class _Listener:
    def __init__(self) -> None:
        self.snapshots: list[list[str]] = []
        self.states: list[LinkState] = []

    def containers_snapshot(self, host: str, containers: list[Container]) -> None:
        self.snapshots.append([c.name for c in containers])

    def host_status(self, status: Any) -> None:
        self.states.append(status.state)

    def __getattr__(self, name: str) -> Any:
        return lambda *args: None


def _monitor(rows: list[Container] | None) -> tuple[HostMonitor, _CountingConnection, _Listener]:
    connection = _CountingConnection("local", FakeEngine([container("a1", "web")]))
    listener = _Listener()
    monitor = HostMonitor(connection, listener, ActionGate(), SETTINGS,
                          glance=lambda: rows)
    return monitor, connection, listener


def test_the_rows_come_first_and_the_connection_after_the_first_frame() -> None:
    monitor, connection, listener = _monitor([container("a1", "web")])
    monitor.start()
    try:
        assert wait_for(lambda: listener.snapshots == [["web"]], 5)
        assert listener.states == [LinkState.CONNECTED]  # never shown "connecting"
        assert not connection.connects.wait(0.3)  # the first frame is drawn first
        monitor.watch_stats(["a1"])  # the UI drew it and says which rows it shows
        assert connection.connects.wait(5)
        assert wait_for(lambda: len(listener.snapshots) >= 2, 5)  # the session's own list
    finally:
        monitor.stop(timeout=2)


def test_the_engine_asked_for_early_says_still_connecting_and_connects() -> None:
    monitor, connection, listener = _monitor([container("a1", "web")])
    monitor.start()
    try:
        assert wait_for(lambda: bool(listener.snapshots), 5)
        with pytest.raises(HostError, match="still connecting"):
            monitor.engine()
        assert connection.connects.wait(5)  # asked for: no waiting for the first frame
        assert wait_for(lambda: _engine_or_none(monitor) is not None, 5)
    finally:
        monitor.stop(timeout=2)


def test_a_log_feed_opened_on_the_glances_rows_waits_for_the_connection() -> None:
    """``opsui --open``: the pane opens on the glance's rows; its feed starts the
    connection and gets the lines, with no failed try ("still connecting") before."""
    monitor, connection, listener = _monitor([container("a1", "web")])
    connection.fake_engine.log_lines[container("a1", "web").id] = [STAMP + b"first line"]
    try:
        kinds = [kind for _, (_, kind, _) in _first_feed_entries(monitor, listener)]
        assert LineKind.MARKER not in kinds, "the feed failed before it connected"
        assert connection.connects.is_set()
    finally:
        monitor.stop(timeout=2)


def _first_feed_entries(monitor: HostMonitor, listener: _Listener) -> list[Any]:
    """Start ``monitor``, open a log feed on its first rows (as ``opsui --open`` does),
    and what that feed holds once it has a line."""
    monitor.start()
    assert wait_for(lambda: bool(listener.snapshots), 5)
    tail = monitor.open_logs(LogTarget(TargetKind.CONTAINER, ("web",)), LogWindow(tail=10))
    try:
        assert wait_for(lambda: tail.buffer.total >= 1, 10)
        return list(tail.buffer.entries(0))
    finally:
        tail.close()


def test_a_feed_waiting_for_the_connection_stops_waiting_when_the_monitor_stops() -> None:
    """Quitting in the glance's moment: the feed's wait ends with the monitor, not after
    its 30-s bound (the connection never comes: connecting is held up here)."""
    held = threading.Event()

    class Held(_CountingConnection):
        def connect(self) -> None:
            self.connects.set()
            held.wait(10)
            FakeConnection.connect(self)

    connection = Held("local", FakeEngine([container("a1", "web")]))
    listener = _Listener()
    monitor = HostMonitor(connection, listener, ActionGate(), SETTINGS,
                          glance=lambda: [container("a1", "web")])
    monitor.start()
    asked: list[str] = []

    def ask() -> None:
        try:
            monitor._engine_for_feed()
        except HostError as exc:
            asked.append(str(exc))

    feed = threading.Thread(target=ask, daemon=True)
    try:
        assert wait_for(lambda: bool(listener.snapshots), 5)
        feed.start()
        assert connection.connects.wait(5)  # the feed started the connection, and waits
        assert feed.is_alive()
    finally:
        monitor.stop(timeout=0)
        feed.join(5)
        held.set()
    assert not feed.is_alive()
    assert asked and "still connecting" in asked[0]


def test_without_a_glance_the_host_connects_as_always() -> None:
    monitor, connection, listener = _monitor(None)
    monitor.start()
    try:
        assert connection.connects.wait(5)
        assert listener.states[0] is LinkState.CONNECTING
    finally:
        monitor.stop(timeout=2)


def _engine_or_none(monitor: HostMonitor) -> object | None:
    try:
        return monitor.engine()
    except HostError:
        return None


def test_the_log_says_when_each_host_listed_and_how(caplog: pytest.LogCaptureFixture) -> None:
    """With twenty hosts the log names the one slow to list (the fleet bench reads it)."""
    caplog.set_level("INFO", logger="opsui.domain.monitor")
    monitor, _, listener = _monitor([container("a1", "web"), container("b2", "db")])
    monitor.start()
    try:
        assert wait_for(lambda: bool(listener.snapshots), 5)
        monitor.watch_stats(["a1"])
        assert wait_for(lambda: len(listener.snapshots) >= 2, 5)
    finally:
        monitor.stop(timeout=2)
    said = [r.getMessage() for r in caplog.records if "containers listed" in r.getMessage()]
    assert len(said) == 2, said
    assert said[0].startswith("local: 2 containers listed ")
    assert said[0].endswith(" s after start (before the docker SDK)")
    assert said[1].startswith("local: 1 containers listed ")
    assert said[1].endswith(" s after start (the session's list)")

class _EarlyConnection(_CountingConnection):
    """``opsui --open`` on a local plain endpoint: its connect() is held until
    ``released``, and its early engine for log feeds (``LocalHost.feed_engine``, the
    standard library on sockets of its own: tests/integration/test_engine_logs.py) has
    the lines, so the feed opened on the glance's rows reads them meanwhile."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.released = threading.Event()
        self.early = FakeEngine([container("a1", "web")])
        self.early.log_lines[container("a1", "web").id] = [STAMP + b"first line"]

    def feed_engine(self) -> ContainerEngine:
        return self.early

    def connect(self) -> None:
        self.connects.set()
        self.released.wait(10)
        super().connect()


def test_the_feed_reads_through_the_early_engine_while_the_connection_is_built() -> None:
    connection = _EarlyConnection("local", FakeEngine([container("a1", "web")]))
    listener = _Listener()
    monitor = HostMonitor(connection, listener, ActionGate(), SETTINGS,
                          glance=lambda: [container("a1", "web")])
    monitor.connect_now()  # what ``opsui --open`` asks
    try:
        assert [raw for _, (_, _, raw) in _first_feed_entries(monitor, listener)] == [
            STAMP + b"first line"]  # no "still connecting", no "lost the engine"
        assert connection.connects.is_set()  # still connecting
    finally:
        connection.released.set()
        monitor.stop(timeout=2)
