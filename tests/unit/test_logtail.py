"""The tail's own decisions, against the in-memory engine of the UI tests."""

from __future__ import annotations

import time
from functools import partial

from opsui.domain.logbuffer import LineKind
from opsui.domain.logfeed import FeedState, LogTarget, LogWindow, TargetKind
from opsui.domain.logtail import KEPT_GONE, LogTail
from opsui.domain.models import ContainerState
from opsui.domain.monitor import wait_for

from fakes import FakeEngine, FakeLogStream, container, shop_containers

STAMP = b"2026-11-23T16:58:50.000000001Z "


class CountingEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__(shop_containers())
        self.opened = 0

    def logs(self, container_id: str, *, tag: int, since: str | None = None,
             tail: int | None = None, follow: bool = True) -> FakeLogStream:
        self.opened += 1
        return super().logs(container_id, tag=tag, since=since, tail=tail, follow=follow)


def test_a_stream_that_ends_at_once_while_its_container_runs_backs_off_quietly() -> None:
    engine = CountingEngine()
    running = next(c for c in engine.containers.values() if c.state is ContainerState.RUNNING)
    engine.log_lines[running.id] = [STAMP + b"the only line"]
    tail = LogTail(lambda: engine, LogTarget(TargetKind.CONTAINER, (running.name,)),
                   LogWindow(tail=None), poll_seconds=0.01).start()
    try:
        assert wait_for(lambda: tail.buffer.total >= 1, timeout=5)
        time.sleep(1.5)  # an observation window, not a wait for something to happen
        markers = [raw for _, (_, kind, raw) in tail.buffer.entries(0)
                   if kind == LineKind.MARKER]
        lines = [raw for _, (_, kind, raw) in tail.buffer.entries(0)
                 if kind != LineKind.MARKER]
    finally:
        tail.close()
    assert lines == [STAMP + b"the only line"], "the resumed streams repeated the line"
    assert engine.opened <= 8, f"reopened {engine.opened} times in 1.5 s"
    assert len(markers) <= 1, markers
    assert tail.status().state is FeedState.ENDED


def test_a_pane_left_on_an_app_redeployed_all_night_forgets_its_removed_containers() -> None:
    """One member per container that ever took the name would grow without end (issue 16);
    the newest removed ones are kept for "X replaced by Y"."""
    current = container("c0", "shop-web-1")
    engine = FakeEngine([current])
    tail = LogTail(lambda: engine, LogTarget(TargetKind.CONTAINER, ("shop-web-1",)),
                   LogWindow(tail=None), poll_seconds=0.01).start()
    try:
        for release in range(1, 13):
            engine.remove(current.id)
            current = container(f"c{release}", "shop-web-1")
            engine.put(current)
            assert wait_for(partial(tail._members.__contains__, current.id), timeout=5)
        assert wait_for(lambda: len(tail._members) <= KEPT_GONE + 1, timeout=5), \
            len(tail._members)
        assert current.id in tail._members
    finally:
        tail.close()
