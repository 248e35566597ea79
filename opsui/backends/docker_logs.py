"""One container's log stream, read fast and closable on its own.

docker-py's ``logs(stream=True)`` yields one frame at a time through urllib3's chunk
decoder: several Python calls per line, too slow for a container writing 100,000 lines
a second. Here the reader takes whatever bytes the socket has (``read1``), undoes the
HTTP chunking and Docker's stdout/stderr multiplexing over the whole buffer at once,
and hands the reader thread a batch of lines.

Each stream is its own HTTP connection: a unix socket locally, a dial-stdio channel
over SSH (see :mod:`opsui.backends.ssh_docker`), so closing one stream, from any
thread, ends only that stream.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import requests
from docker.types.daemon import CancellableStream

from opsui.backends.docker_streams import cancel_stream
from opsui.domain.logbuffer import LineKind, LogEntry

MAX_LINE_BYTES = 16 * 1024
"""A longer line is kept cut (the pane shows at most 8,192 characters of it anyway)."""
_READ_SIZE = 256 * 1024
_TIMESTAMP_WIDTH = len("2026-11-23T16:58:50.123456789Z ")


class _Dechunker:
    """HTTP/1.1 chunked transfer decoding over arbitrary slices of the byte stream."""

    def __init__(self) -> None:
        self._pending = b""
        self._left = 0
        self._crlf = False
        self.finished = False

    def feed(self, data: bytes) -> bytes:
        buf = self._pending + data if self._pending else data
        pos, end, out = 0, len(buf), []
        while pos < end and not self.finished:
            if self._left:
                take = min(self._left, end - pos)
                out.append(buf[pos:pos + take])
                pos += take
                self._left -= take
                self._crlf = not self._left
            elif self._crlf:
                if end - pos < 2:
                    break
                pos += 2
                self._crlf = False
            else:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(buf[pos:eol].split(b";", 1)[0].strip() or b"0", 16)
                pos = eol + 2
                if size == 0:
                    self.finished = True
                self._left = size
        self._pending = buf[pos:]
        return out[0] if len(out) == 1 else b"".join(out)


class _Demuxer:
    """Docker's multiplexed stream (8-byte header: stream, 0, 0, 0, size) into lines.

    A message longer than the engine's 16 KiB log chunk arrives as several frames, each
    with its own timestamp; the later ones lose theirs when joined.
    """

    def __init__(self, tag: int, multiplexed: bool, timestamps: bool) -> None:
        self._tag = tag
        self._multiplexed = multiplexed
        self._timestamps = timestamps
        self._pending = b""
        self._partial: dict[int, bytes] = {}

    def feed(self, data: bytes) -> list[LogEntry]:
        out: list[LogEntry] = []
        if not self._multiplexed:
            self._payload(LineKind.STDOUT, data, out)
            return out
        buf = self._pending + data if self._pending else data
        pos, end = 0, len(buf)
        tag, partial = self._tag, self._partial
        while end - pos >= 8:
            size = int.from_bytes(buf[pos + 4:pos + 8], "big")
            stop = pos + 8 + size
            if stop > end:
                break
            kind = LineKind.STDERR if buf[pos] == 2 else LineKind.STDOUT
            if not partial and buf[stop - 1] == 10 and buf.count(b"\n", pos + 8, stop) == 1:
                # the usual case: one line
                out.append((tag, kind, buf[pos + 8:min(stop - 1, pos + 8 + MAX_LINE_BYTES)]))
            else:
                self._payload(kind, buf[pos + 8:stop], out)
            pos = stop
        self._pending = buf[pos:]
        return out

    def _payload(self, kind: int, payload: bytes, out: list[LogEntry]) -> None:
        held = self._partial.pop(kind, None)
        if held is not None and self._timestamps and payload[_TIMESTAMP_WIDTH - 1:
                                                             _TIMESTAMP_WIDTH] == b" ":
            payload = payload[_TIMESTAMP_WIDTH:]
        if held is not None:
            payload = held + payload
        lines = payload.split(b"\n")
        rest = lines.pop()
        out.extend((self._tag, kind, line[:MAX_LINE_BYTES]) for line in lines)
        if rest:
            self._partial[kind] = rest[: MAX_LINE_BYTES + _TIMESTAMP_WIDTH]

    def flush(self) -> list[LogEntry]:
        """Lines left without a final newline when the stream ended."""
        out = [(self._tag, kind, raw[:MAX_LINE_BYTES]) for kind, raw in self._partial.items()]
        self._partial.clear()
        return out


class DockerLogStream:
    """:class:`opsui.domain.ports.LogStream` over one ``/containers/{id}/logs`` response.

    Iterating yields batches of ``(tag, kind, raw)`` entries for a
    :class:`~opsui.domain.logbuffer.LogBuffer`; ``close()`` ends it from any thread.
    """

    def __init__(self, response: requests.Response, tag: int, *, tty: bool,
                 timestamps: bool) -> None:
        self._response = response
        self._cancel: CancellableStream[bytes] = CancellableStream(iter(()), response)
        self._closed = False
        self._demux = _Demuxer(tag, multiplexed=not tty, timestamps=timestamps)
        chunked = "chunked" in response.headers.get("Transfer-Encoding", "").lower()
        self._dechunk = _Dechunker() if chunked else None
        self.completed = False
        """The engine ended the response itself (the container stopped, or the window
        was read to its end); False when the connection broke or was closed."""

    def _reader(self) -> Any:
        """The buffered socket file under urllib3 (http.client's ``fp``)."""
        return self._response.raw._fp.fp  # type: ignore[union-attr]

    def __iter__(self) -> Iterator[list[LogEntry]]:
        try:
            fp = self._reader()
        except AttributeError:
            return
        demux, dechunk = self._demux, self._dechunk
        while not self._closed:
            try:
                data = fp.read1(_READ_SIZE)
            except (OSError, ValueError, AttributeError):  # closed under us, link gone
                if self._closed:
                    return
                raise
            if not data:
                self.completed = dechunk is None and not self._closed
                break
            if dechunk is not None:
                data = dechunk.feed(data)
            batch = demux.feed(data) if data else []
            if batch:
                yield batch
            if dechunk is not None and dechunk.finished:
                self.completed = True
                break
        tail = demux.flush()
        if tail:
            yield tail

    def close(self) -> None:
        self._closed = True
        cancel_stream(self._cancel)
        with contextlib.suppress(Exception):
            self._response.close()
