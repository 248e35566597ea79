"""Container CPU and memory samples: the arithmetic and the streaming feeds.

``stats_from_dict`` applies ``docker stats``' own formulas to one engine frame, so the
numbers match what the operator sees in the CLI. :class:`StatsFeed` keeps one
container's stream open, because the engine answers any stats request, one-shot
included, only on its next 1 s tick; :class:`opsui.backends.docker_engine.DockerEngine`
decides when to open feeds and when to ask once instead.

A feed has no reader thread (issue 14): the engine writes a frame a second into the
socket and the kernel keeps them; a sample reads what is there and decodes only the
newest. A thread per feed woke on every frame though a row is sampled every 3 s, and
those wake-ups were the largest share of an idle dashboard's CPU. The stream is spoken
on a plain socket of its own (HTTP/1.1, chunked), since the SDK's response object
cannot be read without blocking.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from opsui.backends.docker_fields import int_or_none, mapping_or_empty, parse_time
from opsui.backends.engine_socket import EngineAddress, open_engine_socket
from opsui.domain.models import ContainerStats

FIRST_FRAME_WAIT = 2.0  # the engine's stats tick is 1 s
STALE_FEED_SECONDS = 5.0  # no frame for this long: the feed is replaced


def _cpu_counters(stats: Mapping[str, Any]) -> tuple[int, int, int] | None:
    """(container total, system total, online cpus) from a ``cpu_stats`` block."""
    usage = mapping_or_empty(stats.get("cpu_usage"))
    total = int_or_none(usage.get("total_usage"))
    system = int_or_none(stats.get("system_cpu_usage"))
    if not total or not system:
        return None
    cpus = int_or_none(stats.get("online_cpus")) or len(usage.get("percpu_usage") or ()) or 1
    return total, system, cpus


def cpu_percent(
    current: tuple[int, int, int], previous: tuple[int, int, int] | None
) -> float:
    """``docker stats``' formula: container delta over system delta, times online CPUs."""
    if previous is None:
        return 0.0
    cpu_delta = current[0] - previous[0]
    system_delta = current[1] - previous[1]
    if cpu_delta <= 0 or system_delta <= 0:
        return 0.0
    return round(cpu_delta / system_delta * current[2] * 100.0, 2)


def memory_used(memory: Mapping[str, Any]) -> int:
    """Usage minus reclaimable page cache, as ``docker stats`` shows it.

    cgroup v2 reports ``inactive_file``; cgroup v1 ``total_inactive_file`` (what the
    docker CLI subtracts today), with ``cache`` as the older fallback.
    """
    usage = int_or_none(memory.get("usage")) or 0
    detail = mapping_or_empty(memory.get("stats"))
    for key in ("inactive_file", "total_inactive_file", "cache"):
        reclaimable = int_or_none(detail.get(key))
        if reclaimable is not None and reclaimable < usage:
            return usage - reclaimable
    return usage


def stats_from_dict(
    container_id: str, raw: Mapping[str, Any], previous: tuple[int, int, int] | None
) -> tuple[ContainerStats, tuple[int, int, int]] | None:
    """A sample plus the CPU counters to cache for the next one; None when not running."""
    memory = mapping_or_empty(raw.get("memory_stats"))
    current = _cpu_counters(mapping_or_empty(raw.get("cpu_stats")))
    if not memory or current is None:
        return None
    if previous is None:
        previous = _cpu_counters(mapping_or_empty(raw.get("precpu_stats")))
    sample = ContainerStats(
        container_id=container_id,
        cpu_percent=cpu_percent(current, previous),
        memory_bytes=memory_used(memory),
        memory_limit_bytes=int_or_none(memory.get("limit")) or 0,
        sampled_at=parse_time(raw.get("read")) or datetime.now(UTC),
    )
    return sample, current


FeedAddress = EngineAddress
"""Where a feed connects: a unix socket's path, or a plain-HTTP engine's host and port."""
MAX_HEAD = 65536
"""An answer's head (status line and headers) longer than this is not the engine's."""


class FeedRefused(Exception):
    """The engine answered the stats request with an error (``reason`` says which)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ChunkedLines:
    """The newest complete line of an HTTP body, fed bytes as they arrive.

    ``chunked``: the body is in chunked transfer coding (what the engine sends on a
    stream); otherwise the bytes are the body itself. Only a partial chunk and a
    partial line are kept, so a feed read rarely holds no more than one frame.
    """

    def __init__(self, chunked: bool) -> None:
        self._chunked = chunked
        self._raw = bytearray()
        self._body = bytearray()
        self.ended = False
        """The last chunk came: the engine ended the stream."""

    def feed(self, data: bytes) -> None:
        """Take more of the body; ValueError when the chunk coding is garbled."""
        if not self._chunked:
            self._body += data
            return
        self._raw += data
        while not self.ended:
            head_end = self._raw.find(b"\r\n")
            if head_end < 0:
                if len(self._raw) > 1024:
                    raise ValueError("a chunk size line too long")
                return
            size = int(bytes(self._raw[:head_end]).split(b";")[0].strip(), 16)
            if size == 0:
                self.ended = True
                return
            end = head_end + 2 + size
            if len(self._raw) < end + 2:
                return
            self._body += self._raw[head_end + 2 : end]
            del self._raw[: end + 2]

    def newest(self) -> bytes | None:
        """The newest complete non-empty line since the last call, or None; older
        complete lines are dropped unread."""
        found: bytes | None = None
        while (cut := self._body.rfind(b"\n")) >= 0:
            start = self._body.rfind(b"\n", 0, cut) + 1
            line = bytes(self._body[start:cut]).strip()
            if found is None and line:
                found = line
            if found is not None:
                del self._body[: cut + 1]
                return found
            del self._body[start:]  # an empty last line: look at the one before
        return None


def _read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, the body's first bytes) of the answer on ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            raise ConnectionError("the engine closed the connection before answering")
        data += more
        if len(data) > MAX_HEAD:
            raise ConnectionError("the engine's answer has no end of headers")
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError(f"not an HTTP answer: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers, rest


def _error_reason(status: int, body: bytes) -> str:
    """The engine's ``message`` of an error answer, else its status."""
    with contextlib.suppress(ValueError, AttributeError):
        message = json.loads(body.strip().split(b"\n")[-1] or b"{}").get("message")
        if isinstance(message, str) and message:
            return message
    return f"HTTP {status}"


def open_feed(address: FeedAddress, api_version: str, container_id: str,
              timeout: float, idle_seconds: float) -> StatsFeed:
    """A feed of ``container_id``'s frames on a connection of its own.

    ``timeout`` bounds connecting and the engine's answer (it sends the head at once and
    the first frame on its next tick). Raises :class:`FeedRefused` for an error answer
    (404: no such container, 409: not running) and OSError when the engine is away.
    """
    sock = open_engine_socket(address, timeout)
    try:
        path = f"/v{api_version}/containers/{quote(container_id, safe='')}/stats"
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: opsui\r\n"
                     f"Accept: application/json\r\n\r\n".encode("ascii"))
        status, headers, rest = _read_head(sock)
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if status >= 400:
            body = ChunkedLines(chunked)
            with contextlib.suppress(OSError, ValueError):
                body.feed(rest)
                if not chunked or not body.ended:
                    sock.settimeout(min(timeout, 2.0))
                    body.feed(sock.recv(65536))
            raise FeedRefused(status, _error_reason(status, bytes(body._body)))
        sock.setblocking(False)
        return StatsFeed(container_id, sock, chunked, rest, idle_seconds)
    except BaseException:
        sock.close()
        raise


class StatsFeed:
    """One container's stats stream, read when a sample is asked for, kept while it is.

    The engine sends a frame per tick; each carries the previous frame's CPU counters
    (``precpu_stats``), so CPU% needs only the newest frame: :meth:`sample` reads what
    the socket holds and decodes the last whole frame. A feed is finished when the
    stream ends or breaks (the container was removed, the engine went away), when no
    frame came for several ticks (a hung stream is replaced, not trusted), or when
    nobody asked for ``idle_seconds`` (the engine would keep writing into a socket
    nobody reads); the engine then opens a new one on demand.
    """

    def __init__(self, container_id: str, sock: socket.socket, chunked: bool,
                 first_bytes: bytes, idle_seconds: float) -> None:
        self.container_id = container_id
        self._sock = sock
        self._lines = ChunkedLines(chunked)
        self._idle = idle_seconds
        self._asked = time.monotonic()
        self._frame_at = time.monotonic()
        self._frame: bytes | None = None
        """The newest frame, not decoded yet."""
        self._latest: ContainerStats | None = None
        self._ended = False
        self._lock = threading.Lock()
        self._take(first_bytes)

    def _take(self, data: bytes) -> None:
        try:
            self._lines.feed(data)
        except ValueError:  # garbled: end the feed, the next call opens a new one
            self._end()
            return
        frame = self._lines.newest()
        if frame is not None:
            self._frame, self._frame_at = frame, time.monotonic()
        if self._lines.ended:
            self._end()

    def _drain(self) -> None:
        """Read everything the socket holds now, without waiting."""
        while not self._ended:
            try:
                data = self._sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._end()
                return
            if not data:
                self._end()
                return
            self._take(data)

    def _end(self) -> None:
        self._ended = True
        with contextlib.suppress(OSError):
            self._sock.close()

    def finished(self) -> bool:
        """Ended, silent for several ticks, or not asked about for ``idle_seconds``."""
        with self._lock:
            self._drain()
            now = time.monotonic()
            if now - self._frame_at > STALE_FEED_SECONDS or now - self._asked > self._idle:
                self._end()
            return self._ended

    def ready(self) -> bool:
        """A frame came: :meth:`sample` answers without waiting."""
        return self._frame is not None or self._latest is not None

    def sample(self, first_wait: float) -> ContainerStats | None:
        """The newest sample; waits up to ``first_wait`` for the first frame."""
        with self._lock:
            self._asked = time.monotonic()
            self._drain()
            deadline = time.monotonic() + first_wait
            while self._frame is None and self._latest is None and not self._ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                with contextlib.suppress(OSError, ValueError):
                    select.select([self._sock], [], [], left)
                self._drain()
            frame, self._frame = self._frame, None
            if frame is None:
                return self._latest
            try:
                raw = json.loads(frame)
            except ValueError:  # a garbled frame: end the feed, the next call opens a new one
                self._end()
                return None
            result = stats_from_dict(self.container_id, mapping_or_empty(raw), None)
            self._latest = result[0] if result else None  # None: the container is not running
            return self._latest

    def close(self) -> None:
        with self._lock:
            self._end()
