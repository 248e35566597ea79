"""A stats feed read now and then takes the newest whole frame from what the engine
sent meanwhile, however the bytes were cut into chunks and reads (issue 14)."""

from __future__ import annotations

import pytest

from opsui.backends.docker_stats import ChunkedLines


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_the_newest_of_several_frames_is_taken_and_older_ones_dropped() -> None:
    lines = ChunkedLines(chunked=True)
    lines.feed(_chunk(b'{"n": 1}\n') + _chunk(b'{"n": 2}\n') + _chunk(b'{"n": 3}\n'))
    assert lines.newest() == b'{"n": 3}'
    assert lines.newest() is None  # nothing new since


def test_a_frame_split_across_chunks_and_reads_waits_for_its_end() -> None:
    lines = ChunkedLines(chunked=True)
    wire = _chunk(b'{"n": 1}\n{"n"') + _chunk(b': 2}\n')
    for cut in range(len(wire)):  # every way the socket may cut it
        lines = ChunkedLines(chunked=True)
        lines.feed(wire[:cut])
        first = lines.newest()
        lines.feed(wire[cut:])
        later = lines.newest()
        assert (first, later) in {(None, b'{"n": 2}'), (b'{"n": 1}', b'{"n": 2}')}


def test_the_last_chunk_ends_the_stream() -> None:
    lines = ChunkedLines(chunked=True)
    lines.feed(_chunk(b'{"n": 1}\n') + b"0\r\n\r\n")
    assert lines.ended
    assert lines.newest() == b'{"n": 1}'


def test_a_plain_body_is_read_as_is() -> None:
    lines = ChunkedLines(chunked=False)
    lines.feed(b'{"n": 1}\n\n{"n": 2}\n\n')
    assert lines.newest() == b'{"n": 2}'


def test_garbled_chunk_coding_is_an_error() -> None:
    with pytest.raises(ValueError):
        ChunkedLines(chunked=True).feed(b"zz\r\nabc\r\n")
