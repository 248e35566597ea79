"""The capped line buffer between log reader threads and whoever shows the lines.

Reader threads (one per container stream) append raw lines as bytes; the log pane and
``opsui logs`` read them by sequence number. Nothing is decoded or sanitised here: a
chatty container can write 100,000 lines a second, and most are never looked at, so
that work happens when a line is shown (see :mod:`opsui.domain.logview`).

Entries are ``(source, kind, raw)`` tuples, the cheapest thing Python can keep 200,000
of: ``source`` indexes :attr:`LogBuffer.sources`, ``kind`` is a :class:`LineKind`, and
``raw`` is the line without its newline, still carrying the engine's timestamp prefix
when it had one. Sequence numbers only grow: line ``n`` is the ``n``-th ever appended,
so a reader that remembers ``total`` knows exactly what is new and what was dropped.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass

DEFAULT_CAPACITY = 200_000
DEFAULT_MAX_BYTES = 128 * 1024 * 1024
"""Also bounded by size: 200,000 lines of 16 KiB would otherwise hold 3 GB."""

LogEntry = tuple[int, int, bytes]
"""(source index, :class:`LineKind` value, raw line). Plain ints only: a tuple of ints
and bytes is untracked by the garbage collector after its first pass, so 200,000 of them
cost full collections nothing; an enum member inside would keep each one tracked."""


class LineKind(enum.IntEnum):
    """Where a line came from: the container's two streams, or opsui itself."""

    STDOUT = 1
    STDERR = 2
    MARKER = 3
    """A line opsui wrote: restarted, replaced by a release, exited with code N, ..."""


@dataclass(frozen=True)
class LogSource:
    """One container whose lines are in the buffer; ``name`` is already sanitised."""

    index: int
    name: str
    container_id: str = ""


class LogBuffer:
    """A ring of the newest ``capacity`` lines (and at most ``max_bytes`` of them);
    thread-safe, appends in batches.

    Readers call :meth:`entries` with sequence numbers; lines older than :attr:`first`
    are gone, and :attr:`dropped` says how many that is.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if capacity < 1:
            raise ValueError("a log buffer holds at least one line")
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._bytes = 0
        self._floor = 0
        """Lines below this were dropped to keep within ``max_bytes``."""
        self._ring: list[LogEntry | None] = [None] * capacity
        self._total = 0
        self._lock = threading.Lock()
        self._sources: list[LogSource] = []
        self._changed = threading.Condition(self._lock)

    @property
    def total(self) -> int:
        """How many lines were ever appended; the next line's sequence number."""
        return self._total

    @property
    def first(self) -> int:
        """Sequence number of the oldest line still held."""
        return max(self._floor, self._total - self.capacity)

    @property
    def dropped(self) -> int:
        """How many of the oldest lines made room for newer ones."""
        return self.first

    @property
    def sources(self) -> list[LogSource]:
        """Every source registered so far, by index (a copy)."""
        with self._lock:
            return list(self._sources)

    def source(self, index: int) -> LogSource:
        return self._sources[index]

    def add_source(self, name: str, container_id: str = "") -> LogSource:
        """Register a container (or a replacement under the same name); its index."""
        with self._lock:
            source = LogSource(len(self._sources), name, container_id)
            self._sources.append(source)
            return source

    def append(self, source: int, kind: int, lines: list[bytes]) -> None:
        """Append lines of one source and kind, in order, under one lock."""
        kind = int(kind)  # not the enum member: see LogEntry
        if lines:
            self.append_mixed([(source, kind, raw) for raw in lines])

    def append_mixed(self, entries: list[LogEntry]) -> None:
        """Append entries (a demultiplexed chunk, several kinds), in order, under one lock."""
        if not entries:
            return
        with self._lock:
            ring, capacity, total, size = self._ring, self.capacity, self._total, self._bytes
            if len(entries) > capacity:
                total += len(entries) - capacity  # the skipped ones count as dropped
                entries = entries[-capacity:]
            for entry in entries:
                slot = total % capacity
                old = ring[slot]
                if old is not None:
                    size -= len(old[2])
                ring[slot] = entry
                size += len(entry[2])
                total += 1
            self._total = total
            floor = max(self._floor, total - capacity)
            while size > self.max_bytes and floor < total - 1:
                slot = floor % capacity
                old = ring[slot]
                if old is not None:
                    size -= len(old[2])
                    ring[slot] = None
                floor += 1
            self._floor, self._bytes = floor, size
            self._changed.notify_all()

    def entries(self, start: int, stop: int | None = None) -> list[tuple[int, LogEntry]]:
        """``(sequence, entry)`` pairs for ``start <= sequence < stop`` still held."""
        with self._lock:
            total, capacity, ring = self._total, self.capacity, self._ring
            begin = max(start, total - capacity, self._floor, 0)
            end = total if stop is None else min(stop, total)
            out: list[tuple[int, LogEntry]] = []
            for seq in range(begin, end):
                entry = ring[seq % capacity]
                if entry is not None:
                    out.append((seq, entry))
            return out

    def get(self, seq: int) -> LogEntry | None:
        """One line by sequence number; None when dropped or not yet written."""
        with self._lock:
            if seq < max(self._floor, self._total - self.capacity) or seq >= self._total:
                return None
            return self._ring[seq % self.capacity]

    def wait_beyond(self, seq: int, timeout: float) -> bool:
        """Block until a line numbered ``seq`` or later exists (for headless followers)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._total > seq, timeout)
