"""The time on a host, from its engine's clock: the one clock every operator shares.

Durations that decide anything (a release known good, ``--since 5m``, a container's
uptime) compare the engine's own timestamps with *now*. Taking *now* from the machine
running opsui goes wrong by however far that machine drifted: a laptop two hours ahead
marks a release known good seconds after its deploy. A :class:`HostClock` holds the
measured offset of one host's engine (engine time minus local time, with half the
request's round trip added to the local reading) and answers *now* in the host's time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from opsui.domain.errors import OpsuiError

SKEW_SHOWN_SECONDS = 5.0
"""An offset beyond this is shown to the operator (sidebar, ``ps --json``); below it,
the round trip and the engine's own rounding make the number noise."""
TRUSTED_FOR_SECONDS = 300.0
"""A measurement younger than this is used without asking again: clocks drift by
parts per million, so minutes change the offset by well under a millisecond."""

EngineTime = Callable[[], datetime]
"""Reads the engine's clock once (``GET /info`` ``SystemTime``); raises OpsuiError."""


class HostClock:
    """One host's time: local time plus the last measured offset. Thread-safe."""

    def __init__(self, read: EngineTime, *, wall: Callable[[], float] = time.time,
                 ticks: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._wall = wall
        self._ticks = ticks
        self._lock = threading.Lock()
        self._offset: float | None = None
        self._measured_at = 0.0
        """``ticks()`` of the last measurement (monotonic: a wall-clock step does not
        make an old measurement look fresh)."""

    def measure(self) -> float:
        """Ask the engine its time now; the offset in seconds. Raises OpsuiError."""
        started_wall, started = self._wall(), self._ticks()
        engine = self._read()
        ended = self._ticks()
        if engine.tzinfo is None:
            engine = engine.replace(tzinfo=UTC)
        local = started_wall + (ended - started) / 2  # the engine read its clock mid-way
        offset = engine.timestamp() - local
        with self._lock:
            self._offset, self._measured_at = offset, ended
        return offset

    @property
    def skew(self) -> float | None:
        """Engine time minus local time in seconds; None until measured once."""
        return self._offset

    @property
    def shown_skew(self) -> float | None:
        """The skew when it is worth telling the operator about, else None."""
        skew = self._offset
        return skew if skew is not None and abs(skew) > SKEW_SHOWN_SECONDS else None

    def timestamp(self) -> float:
        """Host time as UNIX seconds: local time when never measured (no I/O here)."""
        return self._wall() + (self._offset or 0.0)

    def now(self) -> datetime:
        """Host time, aware UTC; local time when never measured. Never blocks."""
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def trusted_now(self) -> datetime | None:
        """Host time for a decision: measured now unless a recent measurement exists;
        None when the engine's clock cannot be read (the caller must not decide)."""
        with self._lock:
            fresh = (self._offset is not None
                     and self._ticks() - self._measured_at < TRUSTED_FOR_SECONDS)
        if not fresh:
            try:
                self.measure()
            except OpsuiError:
                return None
        return self.now()


def measured_skew(clock: HostClock) -> float | None:
    """The skew for a report (``ps --json``), measured unless measured recently; None
    when the engine's clock cannot be read."""
    if clock.trusted_now() is None:
        return None
    skew = clock.skew
    return None if skew is None else round(skew, 1) + 0.0  # never "-0.0"


class FixedClock(HostClock):
    """A host whose clock is exactly ``offset`` seconds from this machine's (fakes and
    tests: a measured offset carries microseconds of noise, which moves an uptime that
    sits on a minute's edge)."""

    def __init__(self, offset: float = 0.0) -> None:
        super().__init__(lambda: datetime.now(UTC) + timedelta(seconds=offset))
        self._fixed = offset

    def measure(self) -> float:
        with self._lock:
            self._offset, self._measured_at = self._fixed, self._ticks()
        return self._fixed


def fixed_clock(offset: float = 0.0) -> HostClock:
    """A clock whose engine is exactly ``offset`` seconds from this machine (fakes)."""
    return FixedClock(offset)


def skew_text(skew: float) -> str:
    """``clock 2h 0m behind`` / ``clock 12s ahead``: the host's clock against this
    machine's (short: it sits under the host's name in the sidebar)."""
    seconds = abs(round(skew))
    if seconds >= 3600:
        amount = f"{seconds // 3600}h {seconds % 3600 // 60}m"
    elif seconds >= 60:
        amount = f"{seconds // 60}m {seconds % 60}s"
    else:
        amount = f"{seconds}s"
    return f"clock {amount} {'ahead' if skew > 0 else 'behind'}"
