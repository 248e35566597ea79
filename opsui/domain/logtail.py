"""A tail that follows a service, not a container, and survives what happens to it.

One supervisor thread per :class:`LogTail` finds the containers that match the target
(by listing them: cheap, and right after any outage), and keeps one reader thread per
running match. Each reader owns its engine stream and appends raw lines to the shared
:class:`~opsui.domain.logbuffer.LogBuffer`; nothing here touches a widget.

What the operator sees in the buffer, as marker lines:

* a container stops: "exited with code N"; it runs again: "restarted";
* a new container takes over the identity: "replaced by NAME (release R)";
* a deploy or rollback of the app starts or ends (from its journal on the host);
* the engine or the SSH link goes away: the badge says reconnecting; once back, each
  stream resumes from the last timestamp it saw. Lines at that very instant that were
  already read are skipped, so nothing is lost or shown twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from opsui.domain.backoff import Backoff
from opsui.domain.errors import ContainerGone, HostError, OpsuiError
from opsui.domain.host_clock import HostClock
from opsui.domain.logbuffer import DEFAULT_CAPACITY, LineKind, LogBuffer, LogEntry
from opsui.domain.logfeed import RELEASE_LABEL, FeedState, FeedStatus, LogTarget, LogWindow
from opsui.domain.logtime import since_argument, since_seconds_ago, stamp_at, stamp_of
from opsui.domain.models import Container, ContainerState
from opsui.domain.ports import ContainerEngine, LogStream
from opsui.domain.release_markers import ReleaseMarkers
from opsui.domain.sanitize import clean
from opsui.domain.threaded_feed import ThreadedFeed

EngineProvider = Callable[[], ContainerEngine]
"""Returns the host's engine as of now; raises HostError while it is unreachable."""

RUNNING = (ContainerState.RUNNING, ContainerState.PAUSED)
"""States whose log stream stays open. A restarting container's stream ends at once."""
KEPT_GONE = 4
"""Removed containers of the target remembered (for "X replaced by Y"): a pane left open
on an app deployed all night would otherwise keep one member per release (issue 16)."""
QUICK_BREAK_SECONDS = 2.0
"""A stream that ends sooner than this while its container runs is retried with backoff."""


@dataclass
class _Member:
    """One container of the target, and where its stream stands."""

    container: Container
    source: int
    reader: threading.Thread | None = None
    stream: LogStream | None = None
    last_stamp: bytes | None = None
    at_last_stamp: int = 0
    """How many lines carrying ``last_stamp`` were read: a resume skips that many."""
    opened: bool = False
    """A stream was open once: a new one is a resumption (restart, reconnect)."""
    ended: bool = False
    """Its stream ended because the container stopped (not a broken link)."""
    broken: bool = False
    exit_noted: bool = False
    removed: bool = False
    failures: int = field(default=0)
    opened_at: float = 0.0
    quick_breaks: int = 0
    """Streams in a row that ended at once while the container ran."""
    retry_at: float = 0.0
    """Monotonic time before which the stream is not reopened."""


class LogTail(ThreadedFeed):
    """:class:`opsui.domain.logfeed.LogFeed` for one target on one host."""

    def __init__(self, engine: EngineProvider, target: LogTarget, window: LogWindow, *,
                 follow: bool = True, capacity: int = DEFAULT_CAPACITY,
                 poll_seconds: float = 1.0, clock: Callable[[], float] | None = None,
                 markers: ReleaseMarkers | None = None, marker_seconds: float = 3.0) -> None:
        self._engine = engine
        self._markers = markers
        self._marker_seconds = marker_seconds
        self._markers_due = 0.0
        self._target = target
        self._window = window
        self._follow = follow
        self._buffer = LogBuffer(capacity)
        self._poll = poll_seconds
        self._clock = clock
        """Now in UNIX seconds for the window's start and marker stamps; None: the
        host's time, from its engine's clock (both are compared with engine stamps)."""
        self._host_clock: HostClock | None = None
        self._members: dict[str, _Member] = {}
        self._status = FeedStatus(FeedState.RECONNECTING, "connecting")
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._backoff = Backoff(initial=0.5, maximum=10.0)
        self.error: OpsuiError | None = None
        """Why a tail that does not follow ended early (the host could not be read)."""
        self._thread = threading.Thread(target=self._supervise, daemon=True,
                                        name=f"opsui-logs-{target.names[0][:20]}")

    # -- LogFeed (the rest in ThreadedFeed) ------------------------------------------

    def _stop_reading(self) -> None:
        """Close every open stream, waking its reader (from any thread)."""
        with self._lock:
            streams = [m.stream for m in self._members.values() if m.stream is not None]
        for stream in streams:
            stream.close()

    def wait_closed(self, timeout: float) -> bool:
        """For headless callers: True once the tail has nothing more to read."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- supervisor ------------------------------------------------------------------

    def _supervise(self) -> None:
        first = True
        while not self._closed.is_set():
            try:
                engine = self._engine()
                self._host_clock = engine.clock
                present = engine.list_containers()
                matches = [c for c in present if self._target.matches(c)]
            except OpsuiError as exc:
                if not self._follow:
                    self.error = exc
                    self._status = FeedStatus(FeedState.ENDED, str(exc))
                    return
                self._lost(exc)
                continue
            self._backoff.reset()
            self._reconcile(engine, matches, present, first)
            first = False
            if not self._follow:
                self._finish_window()
                return
            self._update_status()
            self._mark_releases()
            self._wake.wait(self._poll)
            self._wake.clear()

    def _mark_releases(self) -> None:
        """Deploy/rollback markers from the journal, read every few seconds."""
        now = time.monotonic()
        if self._markers is None or now < self._markers_due:
            return
        self._markers_due = now + self._marker_seconds
        try:
            texts = self._markers.poll()
        except OpsuiError:
            return  # the tail matters more than its markers; the next read may work
        for text in texts:
            self._mark_feed(text)

    def _lost(self, exc: OpsuiError) -> None:
        delay = self._backoff.next_delay()
        message = f"{exc}; retrying in {delay:.0f} s"
        if self._status.state is not FeedState.RECONNECTING:
            self._mark_feed(f"lost the engine: {exc}")
        self._status = FeedStatus(FeedState.RECONNECTING, message)
        self._stop_reading()  # half-dead streams would block their readers for long
        self._closed.wait(delay)

    def _reconcile(self, engine: ContainerEngine, matches: list[Container],
                   present: list[Container], first: bool) -> None:
        seen = {c.id for c in matches}
        for container in matches:
            member = self._members.get(container.id)
            if member is None:
                member = self._adopt(container, first)
            elif member.removed:  # back under the target's name: a rollback to it
                member.container = container
                member.exit_noted = False  # "replaced by" says it; not also "restarted"
                self._took_over(member)
            member.container = container
            member.removed = False
            if not self._reading(member) and time.monotonic() >= member.retry_at and (
                    container.state in RUNNING or not self._follow or not member.opened):
                self._open(engine, member, first)
        names = {c.id: c.name for c in present}
        for member in self._members.values():
            if member.container.id not in seen and not member.removed:
                member.removed = True
                now = names.get(member.container.id)
                if now is None:
                    self._mark(member, f"{member.container.name} was removed")
                else:  # a release renamed it (kept as NAME.before-r…): it serves no more
                    self._mark(member, f"{member.container.name} renamed to {now}; "
                               "no longer followed")
        self._forget_gone(names)

    def _forget_gone(self, present: dict[str, str]) -> None:
        """Forget all but the ``KEPT_GONE`` newest members whose container no longer
        exists and whose reader has ended (their lines stay in the buffer)."""
        with self._lock:
            gone = [cid for cid, m in self._members.items()
                    if m.removed and cid not in present and not self._reading(m)]
            for cid in gone[:-KEPT_GONE]:
                del self._members[cid]

    def _adopt(self, container: Container, first: bool) -> _Member:
        source = self._buffer.add_source(container.name, container.id)
        member = _Member(container, source.index)
        with self._lock:
            self._members[container.id] = member
        if not first:
            self._took_over(member)
        return member

    def _took_over(self, member: _Member) -> None:
        """A container joined the target after the start (a release's new container, or
        a kept one a rollback brought back): say whom it replaces, on their lines."""
        container = member.container
        with self._lock:
            predecessors = [m for m in self._members.values() if m is not member
                            and (m.removed or m.container.state not in RUNNING)]
        release = container.labels.get(RELEASE_LABEL)
        what = f"release {release}" if release else f"image {container.image}"
        if predecessors:
            names = ", ".join(sorted({m.container.name for m in predecessors}))
            for old in predecessors:
                self._mark(old, f"{names} replaced by {container.name} ({what})")
        else:
            self._mark(member, f"{container.name} appeared ({what})")

    def _reading(self, member: _Member) -> bool:
        return member.reader is not None and member.reader.is_alive()

    def _open(self, engine: ContainerEngine, member: _Member, first: bool) -> None:
        since, tail = self._start_point(member, first)
        resumed = member.opened
        if resumed and member.exit_noted and member.container.state in RUNNING:
            self._mark(member, f"{member.container.name} restarted")
        elif resumed and member.broken and member.last_stamp is not None \
                and member.quick_breaks <= 1:
            after = member.last_stamp.decode()[11:].rstrip("Z")
            self._mark(member, f"{member.container.name}: stream broke; resumed after {after}")
        try:
            stream = engine.logs(member.container.id, tag=member.source, since=since,
                                 tail=tail, follow=self._follow)
        except ContainerGone:
            return
        except HostError:
            raise
        except OpsuiError as exc:
            member.failures += 1
            if member.failures in (1, 10):
                self._mark(member, f"cannot read logs of {member.container.name}: {exc}")
            return
        member.stream, member.opened, member.opened_at = stream, True, time.monotonic()
        member.ended = member.broken = member.exit_noted = False
        member.reader = threading.Thread(target=self._read, args=(engine, member, stream),
                                         daemon=True, name=f"opsui-log-{member.source}")
        member.reader.start()

    def _now(self, *, trusted: bool = False) -> float:
        """Now on the host's clock (``trusted``: measured first unless measured recently;
        the last offset, or none, when the engine's clock cannot be read)."""
        if self._clock is not None:
            return self._clock()
        host = self._host_clock
        if host is None:
            return time.time()
        if trusted:
            host.trusted_now()
        return host.timestamp()

    def _start_point(self, member: _Member, first: bool) -> tuple[str | None, int | None]:
        """(since, tail) for the member's next stream."""
        if member.last_stamp is not None:
            return since_argument(member.last_stamp), None
        if member.opened or not first:
            return None, None  # a new container: everything it said
        if self._window.since_seconds is not None:
            start = self._now(trusted=True)  # "the last 5 minutes" of the host's clock
            return since_seconds_ago(self._window.since_seconds, start), self._window.tail
        return None, self._window.tail

    # -- readers ---------------------------------------------------------------------

    def _read(self, engine: ContainerEngine, member: _Member, stream: LogStream) -> None:
        resume = _Resume(member.last_stamp, member.at_last_stamp)
        try:
            for batch in stream:
                if resume.pending:
                    batch = resume.drop_seen(batch)
                if batch:
                    self._note_last(member, batch)
                    self._buffer.append_mixed(batch)
        except Exception:  # the link broke under the stream; the supervisor resumes it
            member.broken = True
        else:
            member.ended = stream.completed
            member.broken = not stream.completed
        finally:
            stream.close()
        if member.ended and self._follow and not self._closed.is_set():
            self._note_exit(engine, member)
        self._pace(member)
        self._wake.set()

    @staticmethod
    def _pace(member: _Member) -> None:
        """Back off from a stream that keeps ending at once while its container runs
        (a log driver that cannot follow, an engine closing it): no marker storm."""
        now = time.monotonic()
        if not member.broken:
            member.quick_breaks = 0
        elif now - member.opened_at < QUICK_BREAK_SECONDS:
            member.quick_breaks += 1
            member.retry_at = now + min(10.0, 0.25 * 2 ** member.quick_breaks)
        else:
            member.quick_breaks = 0

    def _note_last(self, member: _Member, batch: list[LogEntry]) -> None:
        last = stamp_of(batch[-1][2])
        if last is None:
            return
        count = 0
        for entry in reversed(batch):
            if not entry[2].startswith(last):
                break
            count += 1
        if last == member.last_stamp and count == len(batch):
            member.at_last_stamp += count
        else:
            member.last_stamp, member.at_last_stamp = last, count

    def _note_exit(self, engine: ContainerEngine, member: _Member) -> None:
        try:
            current = engine.get_container(member.container.id)
        except OpsuiError:  # the engine went away, not the container: resume later
            member.ended, member.broken = False, True
            return
        if current is None:
            return  # removed: the supervisor says so
        member.container = current
        if current.state not in RUNNING:
            code = "" if current.exit_code is None else f" with code {current.exit_code}"
            again = " (restarting)" if current.state is ContainerState.RESTARTING else ""
            self._mark(member, f"{current.name} exited{code}{again}")
            member.exit_noted = True
        else:  # the stream ended, the container did not: a break, resumed from its stamp
            member.ended, member.broken = False, True

    # -- status and markers ----------------------------------------------------------

    def _update_status(self) -> None:
        with self._lock:
            members = list(self._members.values())
        if any(self._reading(m) for m in members):
            self._status = FeedStatus(FeedState.LIVE, f"following {self._target.title}")
        elif not members:
            self._status = FeedStatus(FeedState.STALE, f"no container matches {self._target.title}")
        else:
            self._status = FeedStatus(
                FeedState.STALE, "nothing running; waiting for a restart or a replacement")

    def _finish_window(self) -> None:
        with self._lock:
            readers = [m.reader for m in self._members.values() if m.reader is not None]
        for reader in readers:
            while reader.is_alive() and not self._closed.is_set():
                reader.join(0.2)
        self._status = FeedStatus(FeedState.ENDED, "read to the end of the window")

    def _mark(self, member: _Member, text: str) -> None:
        line = stamp_at(self._now()) + b" " + clean(text, 400).encode()
        self._buffer.append(member.source, LineKind.MARKER, [line])

    def _mark_feed(self, text: str) -> None:
        """One marker for the whole feed (on its first present container, if any)."""
        with self._lock:
            member = next((m for m in self._members.values() if not m.removed), None)
        if member is not None:
            self._mark(member, text)


class _Resume:
    """Skips what a resumed stream repeats: lines older than the last stamp seen, and
    the ``count`` lines at that stamp already read (the engine's ``since`` includes it)."""

    def __init__(self, stamp: bytes | None, count: int) -> None:
        self.stamp = stamp
        self.count = count

    @property
    def pending(self) -> bool:
        return self.stamp is not None

    def drop_seen(self, batch: list[LogEntry]) -> list[LogEntry]:
        stamp = self.stamp
        assert stamp is not None
        for index, entry in enumerate(batch):
            line_stamp = stamp_of(entry[2])
            if line_stamp is None or line_stamp > stamp or (line_stamp == stamp
                                                            and self.count <= 0):
                self.stamp = None  # past the overlap: keep everything from here on
                return batch[index:]
            if line_stamp == stamp:
                self.count -= 1
        return []
