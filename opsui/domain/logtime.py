"""The engine's log timestamps: where a tail resumes, and how opsui stamps its markers.

Docker prefixes every line with RFC 3339 time at fixed nanosecond width
(``2026-11-23T16:58:50.123456789Z``), so prefixes order as plain bytes and a resumed
tail can tell the lines it already has by comparing them, without parsing.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime

STAMP_WIDTH = len("2026-11-23T16:58:50.123456789Z")
"""Bytes of the prefix; one space follows it."""


def stamp_of(raw: bytes) -> bytes | None:
    """The timestamp prefix of a raw line, or None when it has none."""
    if len(raw) > STAMP_WIDTH and raw[STAMP_WIDTH] == 32 and raw[STAMP_WIDTH - 1] == 90 \
            and raw[10] == 84:  # ' ', 'Z', 'T'
        return raw[:STAMP_WIDTH]
    return None


def since_argument(stamp: bytes) -> str:
    """``seconds.nanoseconds`` for the engine's ``since``: lines at ``stamp`` included."""
    text = stamp.decode("ascii")
    seconds = calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
    return f"{seconds}.{text[20:29]}"


def since_seconds_ago(seconds: float, now: float) -> str:
    """``since`` for "the last N seconds", from this machine's clock."""
    start = max(0.0, now - seconds)
    whole = int(start)
    return f"{whole}.{int((start - whole) * 1e9):09d}"


def stamp_at(now: float) -> bytes:
    """A prefix in the engine's format for a line opsui writes (a marker)."""
    whole = int(now)
    moment = datetime.fromtimestamp(whole, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{int((now - whole) * 1e9):09d}Z".encode("ascii")
