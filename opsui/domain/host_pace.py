"""How much a host is asked, and how many hosts connect at once (issue 15).

With twenty hosts in the sidebar one is shown and nineteen are not. A hidden host
keeps its event stream (the sidebar still hears a container fail at once), but is
re-listed and pinged a few times slower, and its containers are re-read (inspected,
for restart counts and start times only the table shows) when it is first shown;
a host going down is still seen at once, because its event stream ends with the link.

Connecting is bounded: every connect opens an SSH transport and starts a session on
the host; twenty at once on a loaded machine (or a small bastion) share it twenty
ways, and the host on screen waits as long as the last. :class:`ConnectQueue` lets a
few connect at a time, the shown host first, and never lets a slow or dead host hold
a place for longer than ``hold_seconds``.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator

HIDDEN_SLOWER = 4.0
"""A hidden host is re-listed this many times less often than the shown one."""

HIDDEN_PING_SECONDS = 15.0
"""A hidden host's engine is pinged this often (the shown one's every link check)."""

LINK_MISSES = 3
"""Pings in a row the engine may miss, while the SSH link and the event stream are
alive, before the session is rebuilt: under load an answer can take longer than the
ping's deadline, and a reconnect costs far more than waiting."""

CONNECT_LIMIT = 6
"""Hosts connecting at once (see :class:`ConnectQueue`)."""

CONNECT_HOLD_SECONDS = 3.0
"""A connect taking longer than this no longer holds a place in the queue."""


def refresh_seconds(base: float, shown: bool) -> float:
    """Between full re-lists of a host (its events keep it current meanwhile)."""
    return base if shown else base * HIDDEN_SLOWER


def ping_due(since_last: float, shown: bool, link_check: float) -> bool:
    """Whether the link check pings the engine now (it checks the SSH link each time)."""
    return shown or since_last >= max(link_check, HIDDEN_PING_SECONDS)


def latency_news(shown_ms: float | None, new_ms: float, shown: bool) -> bool:
    """Whether a ping time is worth a sidebar update: always for the shown host; for a
    hidden one only a move of half or more (and 5 ms), not every millisecond of noise,
    since each update redraws the sidebar."""
    if shown or shown_ms is None:
        return True
    return abs(new_ms - shown_ms) >= max(5.0, 0.5 * shown_ms)


class ConnectQueue:
    """At most ``limit`` hosts connect at once; the waiting shown host goes first,
    the others in the order they asked. Thread-safe; shared by a dashboard's monitors.
    """

    def __init__(self, limit: int = CONNECT_LIMIT,
                 hold_seconds: float = CONNECT_HOLD_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.hold_seconds = hold_seconds
        self._clock = clock
        self._cond = threading.Condition()
        self._holding: dict[int, float] = {}
        """Ticket -> when its connect began."""
        self._waiting: dict[int, Callable[[], bool]] = {}
        """Ticket -> whether that host is shown now."""
        self._tickets = itertools.count()

    def _busy(self) -> int:
        now = self._clock()
        return sum(1 for began in self._holding.values() if now - began < self.hold_seconds)

    def _next(self) -> int | None:
        if not self._waiting:
            return None
        return min(self._waiting, key=lambda t: (not self._waiting[t](), t))

    def waiting(self) -> int:
        """Hosts waiting for a place now."""
        with self._cond:
            return len(self._waiting)

    def promote(self) -> None:
        """A host became shown: let the queue look again."""
        with self._cond:
            self._cond.notify_all()

    @contextlib.contextmanager
    def slot(self, shown: Callable[[], bool],
             stopped: threading.Event | None = None) -> Iterator[None]:
        """Wait for a place (the shown host first), connect inside, leave."""
        with self._cond:
            ticket = next(self._tickets)
            self._waiting[ticket] = shown
            try:
                while not (stopped is not None and stopped.is_set()):
                    if self._next() == ticket and self._busy() < self.limit:
                        break
                    # Places also free up when a connect outlives hold_seconds.
                    self._cond.wait(min(0.5, self.hold_seconds))
            finally:
                del self._waiting[ticket]
            self._holding[ticket] = self._clock()
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                del self._holding[ticket]
                self._cond.notify_all()
