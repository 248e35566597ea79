"""How much a hidden host is asked, and the queue hosts connect through (issue 15)."""

from __future__ import annotations

import threading

from opsui.domain.host_pace import (
    HIDDEN_PING_SECONDS,
    ConnectQueue,
    latency_news,
    ping_due,
    refresh_seconds,
)
from opsui.domain.monitor import wait_for


def test_a_hidden_host_is_relisted_and_pinged_less_often_than_the_shown_one() -> None:
    assert refresh_seconds(15.0, shown=True) == 15.0
    assert refresh_seconds(15.0, shown=False) > 15.0
    assert ping_due(5.0, shown=True, link_check=5.0)
    assert not ping_due(5.0, shown=False, link_check=5.0)
    assert ping_due(HIDDEN_PING_SECONDS, shown=False, link_check=5.0)


def test_a_hidden_hosts_ping_redraws_the_sidebar_only_when_it_moved() -> None:
    assert latency_news(12.0, 13.0, shown=True)
    assert latency_news(None, 13.0, shown=False)
    assert not latency_news(12.0, 13.0, shown=False)
    assert latency_news(12.0, 40.0, shown=False)


class Entries:
    """Threads connecting through one queue; who got in, in which order."""

    def __init__(self, queue: ConnectQueue) -> None:
        self.queue = queue
        self.order: list[str] = []
        self.leave: dict[str, threading.Event] = {}

    def connect(self, name: str, shown: bool = False,
                stopped: threading.Event | None = None) -> None:
        leave = self.leave[name] = threading.Event()

        def run() -> None:
            with self.queue.slot(lambda: shown, stopped):
                self.order.append(name)
                leave.wait(10)

        threading.Thread(target=run, daemon=True).start()


def test_the_shown_host_connects_before_hidden_ones_that_asked_first() -> None:
    queue = ConnectQueue(limit=1, hold_seconds=60)
    hosts = Entries(queue)
    hosts.connect("first")
    assert wait_for(lambda: hosts.order == ["first"], 5)
    hosts.connect("hidden")
    assert wait_for(lambda: queue.waiting() == 1, 5)
    hosts.connect("shown", shown=True)
    assert wait_for(lambda: queue.waiting() == 2, 5)
    hosts.leave["first"].set()
    assert wait_for(lambda: len(hosts.order) == 2, 5)
    assert hosts.order == ["first", "shown"]  # the hidden host still waits its turn
    hosts.leave["shown"].set()
    assert wait_for(lambda: hosts.order == ["first", "shown", "hidden"], 5)
    hosts.leave["hidden"].set()


def test_a_host_slow_to_connect_does_not_hold_the_others_back() -> None:
    now = [0.0]
    queue = ConnectQueue(limit=1, hold_seconds=3, clock=lambda: now[0])
    hosts = Entries(queue)
    hosts.connect("stuck")
    assert wait_for(lambda: hosts.order == ["stuck"], 5)
    hosts.connect("next")
    assert wait_for(lambda: queue.waiting() == 1, 5)
    now[0] = 3.5  # the stuck connect outlived hold_seconds: its place is free
    assert wait_for(lambda: hosts.order == ["stuck", "next"], 5)
    for leave in hosts.leave.values():
        leave.set()


def test_a_monitor_stopped_while_waiting_leaves_the_queue() -> None:
    queue = ConnectQueue(limit=1, hold_seconds=60)
    hosts = Entries(queue)
    hosts.connect("first")
    assert wait_for(lambda: hosts.order == ["first"], 5)
    stopped = threading.Event()
    hosts.connect("stopping", stopped=stopped)
    assert wait_for(lambda: queue.waiting() == 1, 5)
    stopped.set()
    assert wait_for(lambda: queue.waiting() == 0, 5)
    hosts.leave["first"].set()
    hosts.leave["stopping"].set()
