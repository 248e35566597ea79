"""``opsui --open`` on a connection with an early engine for log feeds (issue 14).

A local plain endpoint's connection offers one (``LocalHost.feed_engine``: the standard
library on sockets of its own, tests/integration/test_engine_logs.py): the feed opened
on the glance's rows reads through it while the connection, which loads the docker SDK,
is still being built, instead of waiting for it.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from opsui.domain.logfeed import LogTarget, LogWindow, TargetKind
from opsui.domain.models import Container
from opsui.domain.monitor import HostMonitor, wait_for
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import ContainerEngine

from fakes import FAST, FakeConnection, FakeEngine, container

STAMP = b"2026-11-23T16:58:50.000000001Z "
SETTINGS = dataclasses.replace(FAST, enrich_wait_seconds=30.0)  # a UI's patience, held long


class _EarlyConnection(FakeConnection):
    """Its connect() is held until ``released``; its early engine has the lines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connects = threading.Event()
        self.released = threading.Event()
        self.early = FakeEngine([container("a1", "web")])
        self.early.log_lines[container("a1", "web").id] = [STAMP + b"first line"]

    def feed_engine(self) -> ContainerEngine:
        return self.early

    def connect(self) -> None:
        self.connects.set()
        self.released.wait(10)
        super().connect()


class _Listener:
    def __init__(self) -> None:
        self.snapshots: list[list[str]] = []

    def containers_snapshot(self, host: str, containers: list[Container]) -> None:
        self.snapshots.append([c.name for c in containers])

    def __getattr__(self, name: str) -> Any:
        return lambda *args: None


def test_the_feed_reads_through_the_early_engine_while_the_connection_is_built() -> None:
    connection = _EarlyConnection("local", FakeEngine([container("a1", "web")]))
    listener = _Listener()
    monitor = HostMonitor(connection, listener, ActionGate(), SETTINGS,
                          glance=lambda: [container("a1", "web")])
    monitor.connect_now()  # what ``opsui --open`` asks
    monitor.start()
    try:
        assert wait_for(lambda: bool(listener.snapshots), 5)
        tail = monitor.open_logs(LogTarget(TargetKind.CONTAINER, ("web",)), LogWindow(tail=10))
        try:
            assert wait_for(lambda: tail.buffer.total >= 1, 10)
            assert [raw for _, (_, _, raw) in tail.buffer.entries(0)] == [
                STAMP + b"first line"]  # no "still connecting", no "lost the engine"
            assert connection.connects.is_set()  # still connecting
        finally:
            tail.close()
    finally:
        connection.released.set()
        monitor.stop(timeout=2)
