"""Which buffered lines pass the pane's filter, learned a bounded batch at a time.

A chatty container adds 100,000 lines a second; a filter must look at each once.
:meth:`FilteredIndex.advance` scans at most ``budget`` new sequence numbers per call
(the pane calls it on every tick), so the event loop never stalls behind a burst: the
view simply catches up over a few ticks and says so (:attr:`FilteredIndex.pending`).
Lines the buffer dropped fall out of the index, and when the scan is so far behind
that its next line was dropped, it skips to the oldest line still held.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable

from opsui.domain.logbuffer import LineKind, LogBuffer, LogEntry
from opsui.domain.loglevel import LEVEL_HEAD, Level, detect_level
from opsui.domain.logquery import LogQuery
from opsui.domain.logview import LogLine, body_offset
from opsui.domain.sanitize import DEFAULT_LINE_CHARS

DEFAULT_BUDGET = 20_000
"""Lines scanned per tick: about 20-40 ms of work at 20 ticks a second."""

_PLAIN_ASCII = re.compile(rb"[ -~]*")


def raw_level(raw: bytes, start: int) -> tuple[bool, Level | None]:
    """``(True, level)`` when the head of the body is printable ASCII, which reads the
    same as its sanitised text; ``(False, None)`` when only that text can tell."""
    head = raw[start : start + LEVEL_HEAD]
    if _PLAIN_ASCII.fullmatch(head) is None:
        return False, None
    return True, detect_level(head.decode("ascii"))


Render = Callable[[int, LogEntry], LogLine]
"""Turns an entry into its display record; the pane passes its caching renderer."""


class FilteredIndex:
    """Sequence numbers of the lines that pass ``query`` and ``min_level``, in order."""

    def __init__(self, buffer: LogBuffer, query: LogQuery, min_level: Level | None,
                 render: Render) -> None:
        self.buffer = buffer
        self.query = query
        """Kept lines match this (or, inverted, do not)."""
        self.min_level = min_level
        """Kept lines are at least this severe. A line without a level of its own takes
        the level of the line before it from the same container: the traceback under an
        ERROR line stays with it; lines before any levelled line are dropped."""
        self._last_level: dict[int, Level | None] = {}
        self._render = render
        self.seqs: list[int] = []
        """Matching sequence numbers, ascending; the view's rows."""
        self.scanned = buffer.first
        """The next sequence number to look at."""

    @property
    def pending(self) -> int:
        """Lines added to the buffer that the scan has not reached yet."""
        return max(0, self.buffer.total - max(self.scanned, self.buffer.first))

    def keeps(self, seq: int, entry: LogEntry) -> bool:
        """Whether one entry passes; markers always do (they explain gaps).

        Most lines are decided on their raw bytes; only lines whose bytes sanitising
        would change are decoded and sanitised first.
        """
        if entry[1] == LineKind.MARKER:
            return True
        query, raw = self.query, entry[2]
        start = body_offset(raw)
        if self.min_level is not None:
            decided, level = raw_level(raw, start)
            if not decided:
                return self._slow(seq, entry)
            level = self._carried(entry[0], level)
            if level is None or level < self.min_level:
                return False
        if not query.active:
            return True
        found = query.found_in_raw(raw, start, DEFAULT_LINE_CHARS)
        if found is None:
            return self._slow(seq, entry)
        return found != query.invert

    def _slow(self, seq: int, entry: LogEntry) -> bool:
        line = self._render(seq, entry)
        if self.min_level is not None:
            level = self._carried(entry[0], line.level)
            if level is None or level < self.min_level:
                return False
        return self.query.matches(line.text)

    def _carried(self, source: int, level: Level | None) -> Level | None:
        """``level``, or for a line without one, that of the source's previous line."""
        if level is None:
            return self._last_level.get(source)
        self._last_level[source] = level
        return level

    def advance(self, budget: int = DEFAULT_BUDGET) -> int:
        """Scan up to ``budget`` new lines; how many matching lines were added."""
        buffer = self.buffer
        first = buffer.first
        self._trim(first)
        start = max(self.scanned, first)
        stop = min(buffer.total, start + budget)
        if stop <= start:
            self.scanned = start
            return 0
        added = 0
        keeps, seqs = self.keeps, self.seqs
        for seq, entry in buffer.entries(start, stop):
            if keeps(seq, entry):
                seqs.append(seq)
                added += 1
        self.scanned = stop
        return added

    def _trim(self, first: int) -> None:
        """Forget lines the buffer dropped."""
        seqs = self.seqs
        if seqs and seqs[0] < first:
            del seqs[: bisect_left(seqs, first)]
