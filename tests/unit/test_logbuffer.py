"""The capped log buffer: sequence numbers, dropping the oldest, and its byte bound."""

from __future__ import annotations

import threading

import pytest

from opsui.domain.logbuffer import LineKind, LogBuffer


def texts(buffer: LogBuffer, start: int = 0) -> list[bytes]:
    return [raw for _, (_, _, raw) in buffer.entries(start)]


def test_lines_keep_their_sequence_numbers_and_the_oldest_are_dropped_and_counted() -> None:
    buffer = LogBuffer(capacity=5)
    source = buffer.add_source("web-1", "abc").index
    buffer.append(source, LineKind.STDOUT, [b"a", b"b", b"c"])
    buffer.append(source, LineKind.STDERR, [b"d", b"e", b"f", b"g"])
    assert buffer.total == 7
    assert buffer.dropped == buffer.first == 2
    assert texts(buffer) == [b"c", b"d", b"e", b"f", b"g"]
    assert [seq for seq, _ in buffer.entries(5)] == [5, 6]
    assert buffer.get(1) is None and buffer.get(7) is None
    assert buffer.get(3) == (source, LineKind.STDERR, b"d")


def test_a_batch_larger_than_the_buffer_keeps_its_newest_lines() -> None:
    buffer = LogBuffer(capacity=3)
    buffer.append_mixed([(0, LineKind.STDOUT, str(i).encode()) for i in range(10)])
    assert buffer.total == 10 and buffer.dropped == 7
    assert texts(buffer) == [b"7", b"8", b"9"]


def test_the_byte_bound_drops_old_lines_before_the_line_count_does() -> None:
    buffer = LogBuffer(capacity=1000, max_bytes=10_000)
    buffer.append(0, LineKind.STDOUT, [b"x" * 4000] * 5)
    assert buffer.total == 5
    assert buffer.dropped == 3
    assert len(texts(buffer)) == 2


def test_a_waiting_reader_wakes_when_lines_arrive() -> None:
    buffer = LogBuffer(capacity=10)
    woke = threading.Event()

    def wait() -> None:
        if buffer.wait_beyond(0, timeout=10):
            woke.set()

    thread = threading.Thread(target=wait)
    thread.start()
    buffer.append(0, LineKind.STDOUT, [b"hello"])
    thread.join(10)
    assert woke.is_set()


def test_an_empty_buffer_is_refused() -> None:
    with pytest.raises(ValueError):
        LogBuffer(capacity=0)
