"""Undoing HTTP chunking and Docker's stream multiplexing, whatever the read sizes."""

from __future__ import annotations

import struct

import pytest

from opsui.backends.docker_logs import MAX_LINE_BYTES, _Dechunker, _Demuxer
from opsui.domain.logbuffer import LineKind

STAMP = b"2026-11-23T16:58:50.123456789Z "


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(payload)) + payload


def chunked(*bodies: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(b), b) for b in bodies) + b"0\r\n\r\n"


def feed_in_pieces(data: bytes, size: int) -> tuple[list[tuple[int, int, bytes]], bool]:
    dechunk, demux = _Dechunker(), _Demuxer(7, multiplexed=True, timestamps=True)
    out = []
    for start in range(0, len(data), size):
        out += demux.feed(dechunk.feed(data[start:start + size]))
    return out + demux.flush(), dechunk.finished


@pytest.mark.parametrize("piece", [1, 3, 8, 13, 64, 100_000])
def test_lines_come_out_whole_however_the_bytes_are_split(piece: int) -> None:
    frames = [frame(1, STAMP + b"out one\n"), frame(2, STAMP + b"err two\n"),
              frame(1, STAMP + b"three\nfour\n")]
    entries, finished = feed_in_pieces(chunked(*frames), piece)
    assert entries == [(7, LineKind.STDOUT, STAMP + b"out one"),
                       (7, LineKind.STDERR, STAMP + b"err two"),
                       (7, LineKind.STDOUT, STAMP + b"three"),
                       (7, LineKind.STDOUT, b"four")]  # one stamp per message
    assert finished


def test_a_message_split_by_the_engine_is_joined_without_the_inner_timestamps() -> None:
    data = chunked(frame(1, STAMP + b"A" * 10), frame(1, STAMP + b"B" * 10 + b"\n"))
    entries, _ = feed_in_pieces(data, 5)
    assert entries == [(7, LineKind.STDOUT, STAMP + b"A" * 10 + b"B" * 10)]


def test_a_huge_line_is_kept_cut_and_a_missing_final_newline_still_ends_a_line() -> None:
    data = chunked(frame(1, STAMP + b"x" * (MAX_LINE_BYTES * 3) + b"\n"),
                   frame(1, STAMP + b"last words"))
    entries, _ = feed_in_pieces(data, 4096)
    assert len(entries[0][2]) == MAX_LINE_BYTES
    assert entries[1] == (7, LineKind.STDOUT, STAMP + b"last words")


def test_a_tty_stream_is_raw_lines_on_stdout() -> None:
    demux = _Demuxer(0, multiplexed=False, timestamps=True)
    assert demux.feed(STAMP + b"one\n" + STAMP + b"tw") == [(0, LineKind.STDOUT, STAMP + b"one")]
    assert demux.feed(b"o\n") == [(0, LineKind.STDOUT, STAMP + b"two")]
