"""A buffered log line made ready to show: timestamp split off, text sanitised, level read.

The buffer keeps raw bytes (see :mod:`opsui.domain.logbuffer`); this is the one step
between those bytes and the screen, done at render time and only for lines that are
looked at. The body goes through :func:`opsui.domain.sanitize.sanitize_line`, the one
sanitiser: SGR colour survives as spans, every other escape is gone, and the text is
plain ``str`` that the UI passes to widgets as ``Text``/``Content``, never as markup.

The pane's other pure pieces live next door: :mod:`~opsui.domain.loglevel` (severity,
re-exported here), :mod:`~opsui.domain.logquery` (search and filter, re-exported) and
:mod:`~opsui.domain.logindex` (the incremental filtered index, built on this module).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsui.domain.logbuffer import LineKind, LogEntry
from opsui.domain.loglevel import Level, detect_level
from opsui.domain.logquery import LogQuery, QueryError
from opsui.domain.logtime import STAMP_WIDTH, stamp_of
from opsui.domain.sanitize import DEFAULT_LINE_CHARS, StyleSpan, sanitize_line

__all__ = [
    "Level",
    "LogLine",
    "LogQuery",
    "QueryError",
    "body_offset",
    "detect_level",
    "plain_line",
    "render_entry",
    "short_timestamp",
    "split_timestamp",
]

_TIMESTAMP = re.compile(
    rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) "
)


def split_timestamp(raw: bytes) -> tuple[str | None, bytes]:
    """``b"2026-11-23T16:58:50.123456789Z hello"`` -> ``("2026-...Z", b"hello")``.

    Docker prefixes each line with an RFC 3339 time and one space when asked for
    timestamps; a line without that prefix is returned whole.
    """
    if len(raw) < 21 or raw[10:11] != b"T":
        return None, raw
    match = _TIMESTAMP.match(raw)
    if match is None:
        return None, raw
    return match.group(1).decode("ascii"), raw[match.end():]


def body_offset(raw: bytes) -> int:
    """Where the body starts: after Docker's timestamp and its space, else 0.

    The common case (9 fraction digits, ``Z``) is decided on three bytes, so a filter
    scanning 100,000 lines a second does not run a regex per line for it.
    """
    if stamp_of(raw) is not None:
        return STAMP_WIDTH + 1
    if len(raw) < 21 or raw[10] != 0x54:
        return 0
    match = _TIMESTAMP.match(raw)
    return 0 if match is None else match.end()


def short_timestamp(stamp: str) -> str:
    """``2026-11-23T16:58:50.123456789Z`` -> ``2026-11-23 16:58:50.123`` (milliseconds)."""
    date, _, clock = stamp.partition("T")
    clock = clock.rstrip("Z")
    whole, dot, fraction = clock[:8], clock[8:9], clock[9:]
    millis = "".join(ch for ch in fraction[:3] if ch.isdigit()).ljust(3, "0") \
        if dot == "." else "000"
    return f"{date} {whole}.{millis}"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One entry as the pane shows it; built from raw bytes when the line is needed."""

    seq: int
    """Its sequence number in the buffer."""
    source: int
    """Index into the buffer's sources (the name is looked up when drawing)."""
    kind: LineKind
    timestamp: str | None
    """The engine's RFC 3339 time, when the line had one."""
    text: str
    """The sanitised body: no escapes, no controls, capped."""
    spans: tuple[StyleSpan, ...]
    """SGR colours the body asked for, as character ranges."""
    truncated: bool
    level: Level | None

    @property
    def is_marker(self) -> bool:
        return self.kind is LineKind.MARKER


def render_entry(seq: int, entry: LogEntry, max_chars: int = DEFAULT_LINE_CHARS) -> LogLine:
    """Decode, sanitise and classify one buffered entry.

    Work is bounded by ``max_chars`` whatever the raw length, so a 1 MB line costs
    what an 8 KB one does.
    """
    source, kind, raw = entry
    stamp, body = split_timestamp(raw)
    line = sanitize_line(body, max_chars=max_chars)
    line_kind = LineKind(kind) if kind in (1, 2, 3) else LineKind.STDOUT
    level = None if line_kind is LineKind.MARKER else detect_level(line.text)
    return LogLine(seq, source, line_kind, stamp, line.text, line.spans, line.truncated, level)


def plain_line(line: LogLine, source: str, timestamps: bool = True) -> str:
    """The line as saved or copied: ``TIME SOURCE TEXT``, sanitised, on one line."""
    body = line.text.replace("\n", "\u2424")
    if timestamps and line.timestamp:
        return f"{line.timestamp} {source} {body}"
    return f"{source} {body}"
