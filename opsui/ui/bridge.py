"""The MonitorListener the app hands to its monitors: thread to event-loop hand-off.

Monitor threads call these methods. Each call becomes one Textual message posted
to the app (``post_message`` is thread-safe), so no widget or state is touched from
a monitor thread. The app applies the messages to :class:`~opsui.ui.state.UiState`
in arrival order and redraws once per burst.

A call made on the app's own thread (updates a :class:`~opsui.domain.monitor.BufferedListener`
held while the UI loaded, replayed when the app mounts) is applied at once instead:
the state is then complete before the first frame, which shows it without a message
round trip per update.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message
from textual.message_pump import MessagePump

from opsui.domain.models import Container, ContainerStats, HostMetrics, HostStatus, HttpHealth


class MonitorBridge:
    """Implements :class:`opsui.domain.monitor.MonitorListener` by posting messages."""

    @dataclass
    class Update(Message):
        """Base of every monitor update; the app handles them all in one place."""

        host: str
        """Which host the update is about."""

    @dataclass
    class Status(Update):
        status: HostStatus

    @dataclass
    class Snapshot(Update):
        containers: list[Container]

    @dataclass
    class Changed(Update):
        container: Container

    @dataclass
    class Removed(Update):
        container_id: str

    @dataclass
    class Metrics(Update):
        metrics: HostMetrics

    @dataclass
    class Stats(Update):
        stats: list[ContainerStats]

    @dataclass
    class AppHealth(Update):
        app: str
        results: tuple[HttpHealth, ...]

    def __init__(self, target: MessagePump,
                 apply_now: Callable[[MonitorBridge.Update], None] | None = None) -> None:
        self.target = target
        """Where messages go (the app); it outlives every monitor."""
        self.apply_now = apply_now
        """Handles an update made on the thread that built the bridge (the app's)."""
        self._home = threading.get_ident()

    def _post(self, message: MonitorBridge.Update) -> None:
        if self.apply_now is not None and threading.get_ident() == self._home:
            self.apply_now(message)
            return
        # RuntimeError: the app's event loop closed while a monitor job was finishing;
        # the update has no one to show it to, and the monitor is being stopped.
        with contextlib.suppress(RuntimeError):
            self.target.post_message(message)

    def host_status(self, status: HostStatus) -> None:
        self._post(self.Status(status.name, status))

    def containers_snapshot(self, host: str, containers: list[Container]) -> None:
        self._post(self.Snapshot(host, list(containers)))

    def container_changed(self, host: str, container: Container) -> None:
        self._post(self.Changed(host, container))

    def container_removed(self, host: str, container_id: str) -> None:
        self._post(self.Removed(host, container_id))

    def host_metrics(self, host: str, metrics: HostMetrics) -> None:
        self._post(self.Metrics(host, metrics))

    def container_stats(self, host: str, stats: list[ContainerStats]) -> None:
        self._post(self.Stats(host, list(stats)))

    def app_health(self, host: str, app: str, results: tuple[HttpHealth, ...]) -> None:
        self._post(self.AppHealth(host, app, tuple(results)))
