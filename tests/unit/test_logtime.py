"""Engine timestamps: recognised, turned into ``since``, and written for markers."""

from __future__ import annotations

import calendar
import time

from opsui.domain.logtime import since_argument, since_seconds_ago, stamp_at, stamp_of


def test_a_stamp_is_recognised_only_in_the_engine_format() -> None:
    assert stamp_of(b"2026-11-23T16:58:50.123456789Z hello") == b"2026-11-23T16:58:50.123456789Z"
    assert stamp_of(b"hello world, this is not a timestamp at all") is None
    assert stamp_of(b"2026-11-23T16:58:50.123456789Z") is None  # no line after it


def test_since_keeps_nanoseconds_so_a_resume_starts_at_the_exact_line() -> None:
    seconds = calendar.timegm(time.strptime("2026-11-23T16:58:50", "%Y-%m-%dT%H:%M:%S"))
    assert since_argument(b"2026-11-23T16:58:50.000000042Z") == f"{seconds}.000000042"


def test_marker_stamps_sort_with_engine_stamps() -> None:
    now = calendar.timegm(time.strptime("2026-11-23T16:58:50", "%Y-%m-%dT%H:%M:%S")) + 0.5
    assert stamp_at(now) == b"2026-11-23T16:58:50.500000000Z"
    assert since_seconds_ago(60, now) == f"{int(now) - 60}.500000000"
