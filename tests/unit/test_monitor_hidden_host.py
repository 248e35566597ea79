"""A hidden host's monitor: rows re-read when shown, a missed ping no reconnect (issue 15)."""

from __future__ import annotations

import dataclasses
import threading

from opsui.domain.errors import EngineUnavailable
from opsui.domain.models import (
    Container,
    LinkState,
)
from opsui.domain.monitor import HostMonitor, MonitorSettings, wait_for
from opsui.domain.operations.gate import ActionGate

from fakes import QUICK_MONITOR, FakeConnection, FakeEngine, FakeEvents, MonitorRecorder, container


class CountingEngine(FakeEngine):
    """Like Docker, the list has no restart counts (a re-read has them); counts calls,
    and misses the pings it is told to."""

    def __init__(self, containers: list[Container]) -> None:
        super().__init__(containers)
        self.lists = 0
        self.reads = 0
        self.pings = 0
        self.missed_pings = 0
        self.miss = threading.Event()
        self.refuse_events = 0

    def list_containers(self) -> list[Container]:
        self.lists += 1
        return [dataclasses.replace(c, restart_count=None) for c in super().list_containers()]

    def get_container(self, container_id: str) -> Container | None:
        self.reads += 1
        return super().get_container(container_id)

    def events(self) -> FakeEvents:
        if self.refuse_events:
            self.refuse_events -= 1
            raise EngineUnavailable("the Docker engine did not answer within 15 s")
        return super().events()

    def ping(self) -> float:
        self.pings += 1
        if self.miss.is_set():
            self.miss.clear()
            self.missed_pings += 1
            raise EngineUnavailable("the Docker engine did not answer within 15 s")
        return 2.0


class CountingConnection(FakeConnection):
    def __init__(self, engine: FakeEngine) -> None:
        super().__init__("web1", engine)
        self.connects = 0

    def connect(self) -> None:
        self.connects += 1
        super().connect()


def started(engine: CountingEngine, *, shown: bool,
            settings: MonitorSettings = QUICK_MONITOR) -> tuple[HostMonitor, MonitorRecorder,
                                                       CountingConnection]:
    recorder = MonitorRecorder()
    connection = CountingConnection(engine)
    monitor = HostMonitor(connection, recorder, ActionGate(), settings)
    monitor.watch_metrics(shown)  # what the dashboard says of a host not on screen
    monitor.start()
    return monitor, recorder, connection


def test_a_hidden_hosts_rows_are_read_when_it_is_shown_not_before() -> None:
    engine = CountingEngine([container("a", restarts=2), container("b", restarts=3)])
    monitor, recorder, _ = started(engine, shown=False)
    try:
        assert wait_for(lambda: engine.lists >= 2, 10)  # listed, and listed again
        assert engine.reads == 0
        assert {c.restart_count for c in recorder.rows.values()} == {None}
        monitor.watch_metrics(True)  # the operator switches to it
        assert wait_for(lambda: {c.restart_count for c in recorder.rows.values()} == {2, 3},
                        10)
    finally:
        monitor.stop()


def test_a_ping_the_engine_misses_keeps_the_session() -> None:
    engine = CountingEngine([container("a")])
    monitor, recorder, connection = started(engine, shown=True)
    try:
        assert wait_for(lambda: bool(recorder.rows) and monitor.connected, 10)
        engine.miss.set()
        assert wait_for(lambda: engine.missed_pings == 1, 10)
        answered = engine.pings
        assert wait_for(lambda: engine.pings > answered + 1, 10)  # answered again since
        assert connection.connects == 1
        assert LinkState.NO_ENGINE in recorder.states()  # the miss was shown
        assert LinkState.RECONNECTING not in recorder.states()
        assert monitor.connected
    finally:
        monitor.stop()


def test_pings_missed_in_a_row_rebuild_the_session() -> None:
    engine = CountingEngine([container("a")])
    monitor, recorder, connection = started(engine, shown=True)
    try:
        assert wait_for(lambda: bool(recorder.rows) and monitor.connected, 10)
        always = threading.Event()

        def ping() -> float:
            engine.pings += 1
            if not always.is_set():
                raise EngineUnavailable("the Docker engine did not answer within 15 s")
            return 2.0

        engine.ping = ping  # type: ignore[method-assign]
        assert wait_for(lambda: LinkState.RECONNECTING in recorder.states(), 10)
        always.set()
        assert wait_for(lambda: connection.connects >= 2 and monitor.connected, 10)
    finally:
        monitor.stop()


def test_an_event_subscription_failing_once_is_asked_again_on_the_same_session() -> None:
    engine = CountingEngine([container("a")])
    engine.refuse_events = 1  # the engine, slow under load, misses the first subscription
    monitor, recorder, connection = started(engine, shown=True)
    try:
        assert wait_for(lambda: bool(recorder.rows), 10)  # subscribed, then listed
        assert connection.connects == 1
        assert LinkState.RECONNECTING not in recorder.states()
    finally:
        monitor.stop()
