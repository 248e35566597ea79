"""A tail of a Swarm service's logs, merged across nodes by its manager (issue 15).

Connected to one manager, opsui cannot open each task's container (they run on other
nodes' engines); the manager's service-logs API streams every task's lines, on any
node, in one stream, and when followed it takes in the tasks started later: a task
rescheduled to another node after its node died keeps appearing in the same stream.
:mod:`opsui.domain.swarm_logs` cuts each line's task out of it; here each task becomes a
source of the :class:`~opsui.domain.logbuffer.LogBuffer`, named ``web.2@node``.

The stream does not say when a node dies (its task's lines just stop), so the
supervisor reads the cluster every few seconds and writes what changed as marker
lines: a node down or back, a task replaced by one on another node. The manager itself
going away ends or breaks the stream: the badge says reconnecting, the stream is
reopened from the last timestamp seen (lines at that instant already read are
skipped), and a headless caller may give up after ``give_up_seconds`` with
:attr:`ServiceTail.error` saying why.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from opsui.domain.backoff import Backoff
from opsui.domain.errors import ActionRefused, HostError, OpsuiError
from opsui.domain.logbuffer import DEFAULT_CAPACITY, LineKind, LogBuffer, LogEntry
from opsui.domain.logfeed import FeedState, FeedStatus, LogTarget, LogWindow
from opsui.domain.logtime import since_argument, since_seconds_ago, stamp_at, stamp_of
from opsui.domain.ports import LogStream
from opsui.domain.sanitize import clean
from opsui.domain.swarm_cluster import ServiceTasks, SwarmCluster, SwarmTask
from opsui.domain.swarm_logs import split_line, task_label
from opsui.domain.threaded_feed import ThreadedFeed

QUICK_BREAK_SECONDS = 2.0
"""A stream that ends sooner than this after opening is reopened with backoff."""


class ServiceLogs(Protocol):
    """What a Swarm manager's engine offers for service logs (the backend's
    ``DockerServiceLogs``). Raises :mod:`opsui.domain.errors` types."""

    def open(self, service: str, *, tag: int, since: str | None, tail: int | None,
             follow: bool) -> LogStream:
        """Every task's lines, timestamps and details on, as entries tagged ``tag``."""
        ...

    def cluster(self) -> SwarmCluster | None:
        """The manager's view of nodes and tasks; None when it is no manager."""
        ...


@runtime_checkable
class HasServiceLogs(Protocol):
    """An engine that can read Swarm service logs (the Docker engine backend)."""

    @property
    def service_logs(self) -> ServiceLogs: ...


def service_logs_of(engine: object) -> ServiceLogs:
    """The service logs of ``engine``; refused for an engine that has none."""
    if isinstance(engine, HasServiceLogs):
        return engine.service_logs
    raise ActionRefused("this host's engine cannot read Swarm service logs")


ServiceLogsProvider = Callable[[], ServiceLogs]
"""The manager's service logs as of now; raises HostError while it is unreachable."""


class ServiceTail(ThreadedFeed):
    """:class:`opsui.domain.logfeed.LogFeed` of one Swarm service (``target.names[0]``)."""

    def __init__(self, logs: ServiceLogsProvider, target: LogTarget, window: LogWindow, *,
                 follow: bool = True, capacity: int = DEFAULT_CAPACITY,
                 poll_seconds: float = 2.0, give_up_seconds: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._logs = logs
        self._target = target
        self._service = target.names[0]
        self._window = window
        self._follow = follow
        self._poll = poll_seconds
        self._give_up = give_up_seconds
        self._clock = clock
        self._buffer = LogBuffer(capacity)
        self._own = self._buffer.add_source(clean(self._service, 200)).index
        """The service's own source: opsui's markers, and engine lines of no task."""
        self._sources: dict[str, int] = {}
        """Task id -> buffer source."""
        self._cluster: SwarmCluster | None = None
        self._tasks: dict[str, SwarmTask] = {}
        """The service's current tasks at the last cluster read, by id."""
        self._down: set[str] = set()
        self._status = FeedStatus(FeedState.RECONNECTING, "connecting")
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._backoff = Backoff(initial=0.5, maximum=10.0)
        self._lost_since: float | None = None
        self._stream: LogStream | None = None
        self._reader: threading.Thread | None = None
        self._opened_at = 0.0
        self._first_opened: float | None = None
        """When the first stream opened (host time): a reopen before any line was read
        asks for what came since then."""
        self._retry_at = 0.0
        self._quick_breaks = 0
        self._last_stamp: bytes | None = None
        self._at_last: set[bytes] = set()
        """Lines (as sent) carrying ``_last_stamp``: a resumed stream repeats them."""
        self._skip_stamp: bytes | None = None
        self._skip: set[bytes] = set()
        self.error: OpsuiError | None = None
        """Why the tail ended early: the service or the manager could not be read."""
        self._thread = threading.Thread(target=self._supervise, daemon=True,
                                        name=f"opsui-service-logs-{self._service[:20]}")

    # -- LogFeed (the rest in ThreadedFeed) ------------------------------------------

    def wait_closed(self, timeout: float) -> bool:
        """True once the tail has nothing more to read (or gave up: see ``error``)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _stop_reading(self) -> None:
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()

    # -- supervisor --------------------------------------------------------------------

    def _supervise(self) -> None:
        first = True
        while not self._closed.is_set():
            try:
                logs = self._logs()
                cluster = logs.cluster()
            except OpsuiError as exc:
                if self._lost(exc):
                    return
                continue
            if cluster is None:
                self._end(ActionRefused("the host is not a Swarm manager: service logs "
                                        "come from a manager node"))
                return
            service = cluster.service(self._service)
            if service is None:
                if not self._follow or first:
                    self._end(OpsuiError(f"no Swarm service named {clean(self._service, 200)!r}"))
                    return
                self._status = FeedStatus(FeedState.STALE,
                                          f"no Swarm service {clean(self._service, 200)}")
                self._pause()
                continue
            self._lost_since = None
            self._backoff.reset()
            self._note_cluster(cluster, service, first)
            if not self._reading() and time.monotonic() >= self._retry_at:
                try:
                    self._open(logs, first)
                except OpsuiError as exc:
                    if self._lost(exc):
                        return
                    continue
            first = False
            if not self._follow:
                reader = self._reader
                while reader is not None and reader.is_alive() and not self._closed.is_set():
                    reader.join(0.2)
                self._status = FeedStatus(FeedState.ENDED, "read to the end of the window")
                return
            self._update_status()
            self._pause()

    def _pause(self) -> None:
        self._wake.wait(self._poll)
        self._wake.clear()

    def _end(self, error: OpsuiError) -> None:
        self.error = error
        self._mark(str(error))
        self._status = FeedStatus(FeedState.ENDED, str(error))

    def _lost(self, exc: OpsuiError) -> bool:
        """The manager could not be read: retry with backoff; True when giving up."""
        now = time.monotonic()
        if self._lost_since is None:
            self._lost_since = now
            self._mark(f"lost the manager: {exc}")
        if not self._follow or (self._give_up is not None
                                and now - self._lost_since >= self._give_up):
            lost = HostError if isinstance(exc, HostError) else OpsuiError  # exit 3 vs 1
            self.error = lost(f"lost the Swarm manager: {exc}",
                              hint="Any other manager node serves the same logs: point "
                              "opsui at it.") if self._follow else exc
            self._status = FeedStatus(FeedState.ENDED, str(self.error))
            return True
        delay = self._backoff.next_delay()
        self._status = FeedStatus(FeedState.RECONNECTING, f"{exc}; retrying in {delay:.0f} s")
        self._stop_reading()
        self._closed.wait(delay)
        return False

    def _note_cluster(self, cluster: SwarmCluster, service: ServiceTasks, first: bool) -> None:
        """Keep task names, and say what changed since the last read: nodes down or
        back, tasks replaced (their node died, they failed) or new."""
        self._cluster = cluster
        down = {n.hostname for n in cluster.nodes if n.down}
        # A task not yet placed (no node) is noted once it is: it writes nothing before.
        current = {t.id: t for t in service.current if t.node_id}
        if not first:
            for node in sorted(down - self._down):
                self._mark(f"node {node} is down: its tasks' lines stop until the swarm "
                           "reschedules them")
            for node in sorted(self._down - down):
                self._mark(f"node {node} is ready again")
            for task in current.values():
                if task.id in self._tasks:
                    continue
                old = next((t for t in self._tasks.values() if t.name == task.name
                            and t.id not in current), None)
                if old is not None:
                    self._mark(f"{old.name}@{old.node} replaced by {task.name}@{task.node}",
                               source=self._sources.get(old.id, self._own))
                else:
                    self._mark(f"{task.name}@{task.node} started")
        self._down, self._tasks = down, current

    def _open(self, logs: ServiceLogs, first: bool) -> None:
        since, tail = self._start_point(first)
        if self._last_stamp is not None and self._quick_breaks <= 1:
            after = self._last_stamp.decode()[11:].rstrip("Z")
            self._mark(f"service log stream ended; resumed after {after}")
        stream = logs.open(self._service, tag=self._own, since=since, tail=tail,
                           follow=self._follow)
        self._skip_stamp, self._skip = self._last_stamp, set(self._at_last)
        with self._lock:
            self._stream = stream
        self._opened_at = time.monotonic()
        if self._first_opened is None:
            self._first_opened = self._clock()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True,
                                        name=f"opsui-service-log-{self._service[:20]}")
        self._reader.start()

    def _start_point(self, first: bool) -> tuple[str | None, int | None]:
        if self._last_stamp is not None:
            return since_argument(self._last_stamp), None
        if not first and self._first_opened is not None:
            return since_seconds_ago(0, self._first_opened), None
        if self._window.since_seconds is not None:
            return since_seconds_ago(self._window.since_seconds, self._clock()), \
                self._window.tail
        return None, self._window.tail

    def _reading(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def _update_status(self) -> None:
        if not self._reading():
            self._status = FeedStatus(FeedState.RECONNECTING, "service log stream ended; "
                                      "reopening")
            return
        running = sum(1 for t in self._tasks.values() if t.state == "running")
        text = f"following {self._target.title}: {running} task(s) running"
        if self._down:
            text += f"; node(s) down: {', '.join(sorted(self._down))}"
        self._status = FeedStatus(FeedState.LIVE, text)

    # -- reader ------------------------------------------------------------------------

    def _read(self, stream: LogStream) -> None:
        try:
            for batch in stream:
                entries = self._retag(batch)
                if entries:
                    self._buffer.append_mixed(entries)
        except Exception:  # the link broke under the stream; the supervisor reopens it
            pass
        finally:
            stream.close()
            with self._lock:
                if self._stream is stream:
                    self._stream = None
        self._pace()
        self._wake.set()

    def _pace(self) -> None:
        """Back off from a stream that keeps ending at once (no marker storm)."""
        now = time.monotonic()
        if now - self._opened_at < QUICK_BREAK_SECONDS:
            self._quick_breaks += 1
            self._retry_at = now + min(10.0, 0.25 * 2 ** self._quick_breaks)
        else:
            self._quick_breaks = 0

    def _retag(self, batch: list[LogEntry]) -> list[LogEntry]:
        """Each line under its task's source, details cut; what a resume repeats
        dropped; engine lines of no task (its errors) as markers of the service."""
        out: list[LogEntry] = []
        for _tag, kind, raw in batch:
            stamp = stamp_of(raw)
            if self._skip_stamp is not None:
                if stamp is not None and stamp < self._skip_stamp:
                    continue
                if stamp == self._skip_stamp and raw in self._skip:
                    continue
            if stamp is not None:
                if stamp == self._last_stamp:
                    self._at_last.add(raw)
                elif self._last_stamp is None or stamp > self._last_stamp:
                    self._last_stamp, self._at_last = stamp, {raw}
            line = split_line(raw)
            if not line.task_id:
                text = line.raw.decode("utf-8", "replace")
                out.append((self._own, int(LineKind.MARKER),
                            stamp_at(self._clock()) + b" " + clean(text, 400).encode()))
                continue
            out.append((self._source(line.task_id, line.node_id), kind, line.raw))
        return out

    def _source(self, task_id: str, node_id: str) -> int:
        source = self._sources.get(task_id)
        if source is None:
            if task_id not in self._tasks:  # started since the last read: ask now
                with contextlib.suppress(OpsuiError):
                    self._cluster = self._logs().cluster()
            name = task_label(self._cluster, self._service, task_id, node_id)
            source = self._buffer.add_source(name, task_id).index
            self._sources[task_id] = source
        return source

    # -- markers -----------------------------------------------------------------------

    def _mark(self, text: str, source: int | None = None) -> None:
        line = stamp_at(self._clock()) + b" " + clean(text, 400).encode()
        self._buffer.append(self._own if source is None else source, LineKind.MARKER, [line])
