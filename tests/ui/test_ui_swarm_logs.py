"""``l`` on the Swarm screen (W): the selected task's service's logs, every task on
every node, each line under ``service.slot@node`` (issue 15).

Pure UI over a fake manager whose service-logs stream the test scripts; the real
stream is tested on the three-node swarm (tests/integration/test_swarm_service_logs.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from opsui.domain.logbuffer import LineKind, LogEntry
from opsui.domain.swarm_cluster import SwarmCluster
from opsui.ui.screens.logs import LogsScreen
from opsui.ui.screens.swarm import SwarmScreen

from .helpers import make_app, screen_text, until
from .test_ui_swarm import SIZE, FakeManager, ManagerEngine, _cluster, _open, _task
from fakes import FakeConnection

STAMP = b"2026-12-07T14:26:10.%09dZ "


def _line(n: int, task: str, node: str, text: str) -> bytes:
    return STAMP % n + (f"com.docker.swarm.node.id={node},com.docker.swarm.task.id={task} "
                        f"{text}").encode()


class HeldStream:
    """Lines, then open until closed (a followed stream)."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.closed = threading.Event()
        self.completed = False

    def __iter__(self) -> Iterator[list[LogEntry]]:
        yield [(0, int(LineKind.STDOUT), raw) for raw in self.lines]
        self.closed.wait(30)

    def close(self) -> None:
        self.closed.set()


class ServiceLogsManager(FakeManager):
    def __init__(self, cluster: SwarmCluster | None) -> None:
        super().__init__(cluster)
        self.asked: list[str] = []
        self.streams: list[HeldStream] = []

    def open(self, service: str, *, tag: int, since: str | None, tail: int | None,
             follow: bool) -> HeldStream:
        self.asked.append(service)
        stream = HeldStream([_line(1, "t1-1-1", "id1", "hello from sw1 [b]not markup[/b]"),
                             _line(2, "t2-2-1", "id2", "hello from sw2"),
                             _line(3, "t3-3-1", "id3", "hello from sw3")])
        self.streams.append(stream)
        return stream


class LogsEngine(ManagerEngine):
    @property
    def service_logs(self) -> ServiceLogsManager:
        assert isinstance(self.manager, ServiceLogsManager)
        return self.manager


async def test_l_follows_the_selected_tasks_service_across_nodes() -> None:
    manager = ServiceLogsManager(_cluster([_task(1, 1), _task(2, 2), _task(3, 3)]))
    app = make_app(FakeConnection("local", LogsEngine(manager)))
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, app)
        await until(pilot, lambda: "web.3" in screen_text(app), "the tasks")
        await pilot.press("down", "l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "the log pane")
        await until(pilot, lambda: "hello from sw3" in screen_text(app), "the lines")
        text = screen_text(app)
        assert "swarm service web" in text
        for slot in (1, 2, 3):
            assert f"web.{slot}@sw{slot}" in text
        assert "[b]not markup[/b]" in text  # engine text drawn as text
        assert manager.asked == ["web"]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SwarmScreen), "back")
        await until(pilot, lambda: manager.streams[0].closed.is_set(), "the stream closed")
