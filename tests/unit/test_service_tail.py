"""A Swarm service's merged log stream, told apart by task (issue 15): parsing the
service-logs API's lines, naming tasks ``web.2@node``, and the tail over a fake manager
(a node down and a task replaced said as markers, a broken stream resumed without
repeating lines, a lost manager given up on).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from opsui.domain.errors import EngineUnavailable, HostError, OpsuiError
from opsui.domain.logbuffer import LineKind, LogEntry
from opsui.domain.logfeed import FeedState, LogTarget, LogWindow, TargetKind
from opsui.domain.monitor import wait_for
from opsui.domain.service_tail import ServiceTail, service_logs_of
from opsui.domain.swarm_cluster import (
    ServiceTasks,
    SwarmCluster,
    SwarmNode,
    SwarmTask,
    ordered_tasks,
)
from opsui.domain.swarm_logs import split_line, task_label

STAMP = b"2026-12-07T14:26:10.%09dZ"


def line(n: int, task: str, node: str, text: str) -> bytes:
    details = (f"com.docker.swarm.node.id={node},com.docker.swarm.service.id=svc,"
               f"com.docker.swarm.task.id={task}").encode()
    return STAMP % n + b" " + details + b" " + text.encode()


NODES = tuple(SwarmNode(id=f"n{i}", hostname=f"sw{i}", role="manager", state="ready")
              for i in (1, 2, 3))


def task(slot: int, node: int, *, ended: bool = False, minute: int = 1) -> SwarmTask:
    return SwarmTask(id=f"t{slot}{node}", service="web", slot=slot, node_id=f"n{node}",
                     node=f"sw{node}", desired_state="shutdown" if ended else "running",
                     state="running", updated_at=datetime(2026, 1, 1, 12, minute, tzinfo=UTC))


def cluster(tasks: list[SwarmTask], down: int | None = None) -> SwarmCluster:
    nodes = tuple(SwarmNode(n.id, n.hostname, n.role, "down" if n.id == f"n{down}" else "ready")
                  for n in NODES)
    return SwarmCluster("sw1", nodes, (ServiceTasks("svc", "web", "img", "replicated", 3,
                                                    ordered_tasks(tasks)),))


# -- parsing ------------------------------------------------------------------------------

def test_a_line_is_split_into_its_task_and_a_plain_log_line() -> None:
    parsed = split_line(line(5, "t12", "n2", "hello world"))
    assert (parsed.task_id, parsed.node_id) == ("t12", "n2")
    assert parsed.raw == STAMP % 5 + b" hello world"


def test_escaped_details_and_lines_without_a_task() -> None:
    raw = STAMP % 1 + b" com.docker.swarm.task.id=a%2Cb,x=y%3Dz text with = sign"
    parsed = split_line(raw)
    assert parsed.task_id == "a,b"
    assert parsed.raw == STAMP % 1 + b" text with = sign"
    # An engine message of no task (e.g. the broker's error) is left whole.
    error = b"Error grabbing logs: rpc error: broker is not running"
    assert split_line(error).task_id == ""
    assert split_line(error).raw == error
    assert split_line(STAMP % 1 + b" plain=text").task_id == ""


def test_tasks_are_named_as_docker_service_logs_names_them() -> None:
    view = cluster([task(2, 3)])
    assert task_label(view, "web", "t23", "n3") == "web.2@sw3"
    # Not (yet) known to the manager's last answer: short ids, the node by name if known.
    assert task_label(view, "web", "x" * 25, "n1") == "web.xxxxxxxxxxxx@sw1"
    assert task_label(None, "web", "abc", "node9") == "web.abc@node9"


# -- the tail -----------------------------------------------------------------------------

class FakeStream:
    def __init__(self, batches: list[list[bytes]], *, hold: bool) -> None:
        self.batches = batches
        self.hold = hold
        self.closed = threading.Event()
        self.completed = False

    def __iter__(self) -> Iterator[list[LogEntry]]:
        for batch in self.batches:
            yield [(0, int(LineKind.STDOUT), raw) for raw in batch]
        if self.hold:
            self.closed.wait(30)
        self.completed = True

    def close(self) -> None:
        self.closed.set()


class FakeManager:
    """Service logs of a manager the test scripts: its cluster and its streams."""

    def __init__(self, view: SwarmCluster) -> None:
        self.view = view
        self.streams: list[FakeStream] = []
        self.opened: list[tuple[str | None, int | None]] = []
        self.down = False

    def cluster(self) -> SwarmCluster | None:
        if self.down:
            raise EngineUnavailable("the manager's engine does not answer")
        return self.view

    def open(self, service: str, *, tag: int, since: str | None, tail: int | None,
             follow: bool) -> FakeStream:
        assert service == "web"
        self.opened.append((since, tail))
        return self.streams.pop(0)

    @property
    def service_logs(self) -> FakeManager:
        return self


def shown(tail: ServiceTail) -> list[str]:
    """Lines as the pane's sources name them: ``source | text`` (markers too)."""
    buffer = tail.buffer
    return [f"{buffer.source(source).name} | {raw[31:].decode()}"
            for _seq, (source, _kind, raw) in buffer.entries(0)]


TARGET = LogTarget(TargetKind.SWARM, ("web",))


def test_a_window_is_read_with_each_line_under_its_task() -> None:
    manager = FakeManager(cluster([task(1, 1), task(2, 2), task(3, 3)]))
    manager.streams.append(FakeStream([[line(1, "t11", "n1", "a"), line(2, "t22", "n2", "b")],
                                       [line(3, "t33", "n3", "c"), line(4, "t11", "n1", "d")]],
                                      hold=False))
    tail = ServiceTail(lambda: manager, TARGET, LogWindow(tail=50), follow=False).start()
    assert tail.wait_closed(10)
    assert tail.error is None
    assert shown(tail) == ["web.1@sw1 | a", "web.2@sw2 | b", "web.3@sw3 | c", "web.1@sw1 | d"]
    assert manager.opened == [(None, 50)]
    assert tail.status().state is FeedState.ENDED


def test_a_missing_service_or_a_host_that_is_no_manager_ends_saying_so() -> None:
    manager = FakeManager(cluster([]))
    missing = ServiceTail(lambda: manager, LogTarget(TargetKind.SWARM, ("api",)),
                          LogWindow(), follow=False).start()
    assert missing.wait_closed(10)
    assert missing.error is not None and "no Swarm service named 'api'" in str(missing.error)

    class Worker(FakeManager):
        def cluster(self) -> SwarmCluster | None:
            return None

    worker = ServiceTail(lambda: Worker(cluster([])), TARGET, LogWindow()).start()
    assert worker.wait_closed(10)
    assert worker.error is not None and "not a Swarm manager" in str(worker.error)


def test_a_node_down_and_its_task_replaced_are_said_and_the_new_task_followed() -> None:
    manager = FakeManager(cluster([task(1, 1), task(2, 3)]))
    first = FakeStream([[line(1, "t11", "n1", "a"), line(2, "t23", "n3", "b")]], hold=True)
    manager.streams.append(first)
    tail = ServiceTail(lambda: manager, TARGET, LogWindow(), poll_seconds=0.05).start()
    try:
        assert wait_for(lambda: len(shown(tail)) == 2, timeout=15), "the first lines"
        assert wait_for(lambda: tail.status().state is FeedState.LIVE, timeout=15)
        # sw3 dies; the manager replaces web.2 on sw1; the same stream brings its lines.
        manager.view = cluster([task(1, 1), task(2, 3, ended=True), task(2, 1, minute=5)],
                               down=3)
        assert wait_for(lambda: any("replaced by" in text for text in shown(tail)),
                        timeout=15), "the replacement said"
        lines = shown(tail)
        assert "web | node sw3 is down: its tasks' lines stop until the swarm reschedules " \
               "them" in lines
        assert "web.2@sw3 | web.2@sw3 replaced by web.2@sw1" in lines
        assert "node(s) down: sw3" in tail.status().message
    finally:
        tail.close()


def test_a_broken_stream_is_resumed_from_its_last_stamp_without_repeats() -> None:
    manager = FakeManager(cluster([task(1, 1), task(2, 2)]))
    # The stream ends (the manager closed it); the next one repeats the last instant.
    manager.streams.append(FakeStream([[line(1, "t11", "n1", "a"), line(3, "t22", "n2", "b"),
                                        line(3, "t11", "n1", "c")]], hold=False))
    manager.streams.append(FakeStream([[line(3, "t11", "n1", "c"), line(3, "t22", "n2", "b"),
                                        line(4, "t22", "n2", "d")]], hold=True))
    tail = ServiceTail(lambda: manager, TARGET, LogWindow(), poll_seconds=0.05).start()
    try:
        assert wait_for(lambda: any(text.endswith("| d") for text in shown(tail)),
                        timeout=15), "the resumed stream's new line"
        logged = [text for text in shown(tail) if "resumed" not in text]
        assert logged == ["web.1@sw1 | a", "web.2@sw2 | b", "web.1@sw1 | c", "web.2@sw2 | d"]
        assert manager.opened[1] == ("1796653570.000000003", None)
        assert any("service log stream ended; resumed after" in text for text in shown(tail))
    finally:
        tail.close()


def test_a_lost_manager_is_retried_then_given_up_with_a_clear_error() -> None:
    manager = FakeManager(cluster([task(1, 1)]))
    manager.streams.append(FakeStream([[line(1, "t11", "n1", "a")]], hold=False))
    tail = ServiceTail(lambda: manager, TARGET, LogWindow(), poll_seconds=0.05,
                       give_up_seconds=1.0)
    manager.down = False
    tail.start()
    assert wait_for(lambda: len(shown(tail)) >= 1, timeout=15), "the first line"
    manager.down = True
    assert tail.wait_closed(15)
    assert isinstance(tail.error, HostError)  # `opsui logs` exits 3: a host unreachable
    assert "lost the Swarm manager" in str(tail.error)
    assert tail.status().state is FeedState.ENDED
    assert any("lost the manager" in text for text in shown(tail))


def test_an_engine_without_service_logs_is_refused() -> None:
    with pytest.raises(OpsuiError, match="cannot read Swarm service logs"):
        service_logs_of(object())
    manager = FakeManager(cluster([]))
    assert service_logs_of(manager) is manager
