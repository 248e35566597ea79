"""A resumed stream repeats the lines at its ``since`` instant; they are skipped once."""

from __future__ import annotations

from opsui.domain.logbuffer import LineKind
from opsui.domain.logtail import _Resume

A = b"2026-11-23T16:58:50.000000001Z "
B = b"2026-11-23T16:58:50.000000002Z "


def entries(*raws: bytes) -> list[tuple[int, int, bytes]]:
    return [(0, LineKind.STDOUT, raw) for raw in raws]


def test_lines_already_read_at_the_last_stamp_are_skipped_across_batches() -> None:
    resume = _Resume(B[:-1], count=2)  # two lines stamped B were read before the break
    assert resume.drop_seen(entries(A + b"old", B + b"one")) == []
    kept = resume.drop_seen(entries(B + b"two", B + b"three", B + b"four"))
    assert [raw for _, _, raw in kept] == [B + b"three", B + b"four"]
    assert not resume.pending


def test_a_newer_line_ends_the_overlap_even_if_fewer_repeats_arrived() -> None:
    resume = _Resume(A[:-1], count=3)
    kept = resume.drop_seen(entries(A + b"one", B + b"new"))
    assert [raw for _, _, raw in kept] == [B + b"new"]
