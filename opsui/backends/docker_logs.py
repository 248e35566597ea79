"""One container's log stream, read fast and closable on its own.

docker-py's ``logs(stream=True)`` yields one frame at a time through urllib3's chunk
decoder: several Python calls per line, too slow for a container writing 100,000 lines
a second. Here the reader takes whatever bytes the socket has (``read1``), undoes the
HTTP chunking and Docker's stdout/stderr multiplexing over the whole buffer at once,
and hands the reader thread a batch of lines.

Each stream is its own HTTP connection: a socket opsui opens itself to a plain local
endpoint (see :mod:`~opsui.backends.engine_logs`), a dial-stdio channel over SSH (see
:mod:`opsui.backends.ssh_docker`), so closing one stream, from any thread, ends only
that stream. Nothing here loads the docker SDK or requests: a launch's first log lines
are read with this module before they load (issue 14).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opsui.backends.docker_streams import cancel_stream, keep_reading
from opsui.domain.logbuffer import LineKind, LogEntry
from opsui.domain.logtime import STAMP_WIDTH

MAX_LINE_BYTES = 16 * 1024
"""A longer line is kept cut (the pane shows at most 8,192 characters of it anyway)."""
_READ_SIZE = 256 * 1024
_MAX_HEAD = 8192
_STDOUT, _STDERR = int(LineKind.STDOUT), int(LineKind.STDERR)
"""Plain ints in entries: an enum member would keep every entry tracked by the garbage
collector, and full collections over 200,000 tracked tuples stall the UI."""
_TIMESTAMP_WIDTH = STAMP_WIDTH + 1  # and its space

if TYPE_CHECKING:
    import requests


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
            self._payload(_STDOUT, data, out)
            return out
        buf = self._pending + data if self._pending else data
        if not self._partial:
            lines = self._one_line_frames(buf)
            if lines is not None:
                return lines
        self._frames(buf, out)
        return out

    def _frames(self, buf: bytes, out: list[LogEntry]) -> None:
        """Frame by frame: multi-line frames and long messages split by the engine."""
        pos, end = 0, len(buf)
        tag, partial = self._tag, self._partial
        while end - pos >= 8:
            size = int.from_bytes(buf[pos + 4:pos + 8], "big")
            stop = pos + 8 + size
            if stop > end:
                break
            kind = _STDERR if buf[pos] == 2 else _STDOUT
            if not partial and buf[stop - 1] == 10 and buf.count(b"\n", pos + 8, stop) == 1:
                # the usual case: one line
                out.append((tag, kind, buf[pos + 8:min(stop - 1, pos + 8 + MAX_LINE_BYTES)]))
            else:
                self._payload(kind, buf[pos + 8:stop], out)
            pos = stop
        self._pending = buf[pos:]

    def _one_line_frames(self, buf: bytes) -> list[LogEntry] | None:
        """The common case at C speed: every frame one line, ending at its newline.

        ``buf`` starts at a frame header, so splitting on newlines gives header + line
        pieces; a piece whose header size says it ends exactly at that newline proves the
        next piece starts at a header. None when any piece does not (a frame holding
        several lines, or a newline inside a header): the frame parser takes it all.
        """
        pieces = buf.split(b"\n")
        rest = pieces.pop()
        tag, cap = self._tag, MAX_LINE_BYTES + 8
        out = [(tag, piece[0], piece[8:cap]) for piece in pieces
               if int.from_bytes(piece[4:8], "big") == len(piece) - 7]
        if len(out) != len(pieces):
            return None
        self._pending = rest
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
        out: list[LogEntry] = []
        if self._multiplexed and self._pending:
            self._frames(self._pending, out)  # whole frames the fast path left pending
        out += [(self._tag, kind, raw[:MAX_LINE_BYTES]) for kind, raw in self._partial.items()]
        self._partial.clear()
        return out


class DockerLogStream:
    """:class:`opsui.domain.ports.LogStream` over one ``/containers/{id}/logs`` body.

    ``reader`` is the buffered socket file the body arrives on (http.client's ``fp``),
    ``close`` shuts that socket from any thread. With ``chunked`` the body is in HTTP/1.1
    chunks; the engine sends it plain when asked in HTTP/1.0, which halves the work per
    line. Iterating yields batches of ``(tag, kind, raw)`` entries for a
    :class:`~opsui.domain.logbuffer.LogBuffer`.
    """

    def __init__(self, response: Any, reader: Any, close: Callable[[], None], tag: int, *,
                 tty: bool, timestamps: bool, chunked: bool) -> None:
        self._response = response
        """Held: when the response object is collected, it closes ``reader`` under us."""
        self._reader = reader
        self._close = close
        self._closed = False
        self._demux = _Demuxer(tag, multiplexed=not tty, timestamps=timestamps)
        self._dechunk = _Dechunker() if chunked else None
        self.completed = False
        """The body ended (the container stopped, or the window was read to its end).
        A plain body also ends when the engine dies; the tail tells those apart."""

    def __iter__(self) -> Iterator[list[LogEntry]]:
        fp, demux, dechunk = self._reader, self._demux, self._dechunk
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
        with contextlib.suppress(Exception):
            self._close()


@dataclass
class PlainBody:
    """The status, headers-free body reader and socket of a request made in HTTP/1.0."""

    status: int
    reader: Any
    sock: Any

    def read_error(self, limit: int = 4096) -> bytes:
        with contextlib.suppress(Exception):
            return bytes(self.reader.read(limit))
        return b""


def open_plain_body(pool: Any, path: str, timeout: float, follow: bool) -> PlainBody:
    """``GET path`` in HTTP/1.0 on a new connection of ``pool``.

    HTTP/1.0 makes the engine send the body as it is, ended by closing the connection,
    instead of one HTTP chunk per log line. The request is written and the head read
    here, on the pool's own kind of socket (a unix socket for a Swarm service's logs,
    the dial-stdio channel over SSH), because http.client closes a connection whose
    response will close, and over SSH that would close the channel under the body. The
    socket is never returned to the pool: the stream owns it, and closing the stream
    closes it.
    """
    conn = pool._new_conn()
    conn.timeout = timeout
    conn.connect()
    return request_plain_body(conn.sock, path, timeout, follow)


def request_plain_body(sock: Any, path: str, timeout: float, follow: bool) -> PlainBody:
    """``GET path`` in HTTP/1.0 on the connected ``sock``, which the body then owns
    (closed here on failure). ``timeout`` bounds the answer's head; a followed body
    has none (a quiet container may say nothing for hours)."""
    try:
        sock.settimeout(timeout)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode("ascii"))
        reader = sock.makefile("rb")
        status_line = reader.readline(_MAX_HEAD)
        parts = status_line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            raise ConnectionError(f"not an HTTP answer: {status_line[:80]!r}")
        while reader.readline(_MAX_HEAD) not in (b"\r\n", b"\n", b""):
            pass  # headers: nothing in them is needed
        if follow:
            sock.settimeout(None)
    except BaseException:
        shut(sock)
        raise
    return PlainBody(int(parts[1]), reader, sock)


def shut(sock: Any) -> None:
    """Close a socket from another thread, waking a reader blocked on it."""
    with contextlib.suppress(Exception):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        sock.close()


def cancel_response(response: requests.Response) -> None:
    """Close a requests streaming response from any thread (the chunked fallback)."""
    from docker.types.daemon import CancellableStream

    cancel_stream(CancellableStream(iter(()), response))
    with contextlib.suppress(Exception):
        response.close()


def open_log_stream(api: Any, path: str, pool: Any, tag: int, *, tty: bool, follow: bool,
                    refused: Callable[[int, bytes], None]) -> DockerLogStream:
    """A logs endpoint's stream (a container's or a Swarm service's: the same frames).

    ``pool``: the unix-socket or dial-stdio pool behind the engine, read as a plain body
    on a connection of its own (cheap there); None: through requests, chunked (TCP/TLS
    engines). ``refused(status, body)`` raises the caller's error for a 4xx/5xx answer.
    """
    if pool is not None:
        body = open_plain_body(pool, path, api.timeout, follow)
        if body.status >= 400:
            error = body.read_error()
            shut(body.sock)
            refused(body.status, error)
        return DockerLogStream(body, body.reader, lambda: shut(body.sock), tag,
                               tty=tty, timestamps=True, chunked=False)
    chunked = api.get(f"{api.base_url}{path}", stream=True, timeout=api.timeout)
    if chunked.status_code >= 400:
        message = chunked.content[:4096]
        chunked.close()
        refused(chunked.status_code, message)
    if follow:
        keep_reading(api, chunked)
    return DockerLogStream(chunked, chunked.raw._fp.fp, lambda: cancel_response(chunked),
                           tag, tty=tty, timestamps=True,
                           chunked="chunked" in chunked.headers.get(
                               "Transfer-Encoding", "").lower())
