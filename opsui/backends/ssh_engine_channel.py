"""One channel to the engine on an SSH host, as the socket HTTP clients expect.

A channel is either a ``docker system dial-stdio`` session (the host's docker CLI bridges
it to the engine) or a streamlocal channel straight to the engine's socket. The first
dial-stdio session also names, on its stderr, the endpoint the host's CLI uses
(:class:`EngineEndpoint`), so that later channels can be streamlocal ones.

Nothing here loads the docker SDK: a launch lists the containers over such a channel
with the standard library (:mod:`opsui.backends.ssh_glance`) before the SDK's client
(:mod:`opsui.backends.ssh_docker`) is built on the same SSH connection.
"""

from __future__ import annotations

import io
import logging
import shlex
import socket
import threading
import time
from typing import Any

import paramiko
from paramiko.buffered_pipe import PipeTimeout

from opsui.backends.ssh import DIAL_STDIO, SshConnection
from opsui.domain.errors import HostUnreachable
from opsui.domain.sanitize import clean, clean_block

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15
"""Seconds for each non-streaming engine request over SSH."""
ENDPOINT_MARK = b"opsui-docker-endpoint="
DISCOVER_AND_DIAL = "sh -c " + shlex.quote(
    # In the background, so the first request does not wait for a second docker CLI.
    '(printf "opsui-docker-endpoint=%s\\n" "$(docker context inspect --format '
    '"{{.Endpoints.docker.Host}}" 2>/dev/null)" >&2 &); exec docker system dial-stdio')
"""The first connection: ``docker system dial-stdio``, which also names on stderr the
endpoint the CLI dials (a POSIX sh whatever the user's login shell is)."""
ENDPOINT_WAIT_SECONDS = 2.0
"""How long a second connection waits for the first one's endpoint line."""


class DialStdioSocket:
    """The socket http.client and docker-py expect, backed by one channel: a
    dial-stdio session, or (``command`` None) a streamlocal channel to the engine."""

    def __init__(self, conn: SshConnection, timeout: float | None,
                 command: str | None = DIAL_STDIO,
                 channel: paramiko.Channel | None = None) -> None:
        self._conn = conn
        self._command = command
        self._closed_here = False
        self.stderr_head = b""
        """stderr read before the endpoint line (said again when dial-stdio fails)."""
        if channel is None:
            channel = conn.exec_channel(command or DIAL_STDIO)
        self.channel = channel
        self.channel.settimeout(timeout)

    # socket API used by http.client, urllib3 and docker-py
    def settimeout(self, timeout: float | None) -> None:
        self.channel.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self.channel.gettimeout()

    def sendall(self, data: bytes) -> None:
        self.channel.sendall(data)

    def send(self, data: bytes) -> int:
        return self.channel.send(data)

    def recv(self, size: int) -> bytes:
        data = self.channel.recv(size)
        if not data:
            self._raise_if_failed()
        return data

    def fileno(self) -> int:
        return self.channel.fileno()

    def makefile(self, mode: str = "rb", *args: Any,
                 **kwargs: Any) -> io.BufferedReader[_ChannelIO]:
        if "w" in mode:
            raise io.UnsupportedOperation("dial-stdio sockets are written with sendall()")
        reader = io.BufferedReader(_ChannelIO(self), buffer_size=65536)
        # docker-py finds the raw socket of a stream as ``response.raw._fp.fp.channel``
        reader.channel = self  # type: ignore[attr-defined]
        return reader

    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        self.close()

    def close(self) -> None:
        self._closed_here = True
        self.channel.close()

    @property
    def dead(self) -> bool:
        """Closed, or the remote end finished: not reusable for another request."""
        return bool(self.channel.closed or self.channel.eof_received)

    def _raise_if_failed(self) -> None:
        """At EOF: say why, when dial-stdio itself failed (no docker, no engine...)."""
        if self._closed_here:
            return
        if not self._conn.is_alive():
            # An opsui error passes through urllib3 and requests untouched.
            raise HostUnreachable(f"{self._conn.label}: SSH connection lost")
        if self._command is None:  # a socket channel: the engine closed it, no process
            return
        if self.channel.status_event.wait(1.0) and self.channel.exit_status_ready():
            status = self.channel.recv_exit_status()
            if status not in (0, -1):
                self.channel.settimeout(1.0)  # stderr is complete once the channel closes
                detail = " ".join(  # without the endpoint line, if nobody read it
                    line for line in _stderr(self.channel.recv_stderr, 2000).splitlines()
                    if not line.startswith(ENDPOINT_MARK.decode()))
                if self.stderr_head:  # what came before the endpoint line
                    head = clean_block(self.stderr_head, max_chars=1000).strip()
                    detail = f"{head} {detail}".strip()
                raise ConnectionError(
                    f"{self._conn.label}: `{clean(self._command, 200)}` exited {status}: "
                    f"{detail or 'no error output'}"
                )


def _stderr(read: Any, limit: int) -> str:
    chunks = []
    total = 0
    while total < limit * 4:
        try:
            chunk = read(4096)
        except (OSError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return clean_block(b"".join(chunks), max_chars=limit).strip()


class _ChannelIO(io.RawIOBase):
    """Raw reader over the wrapper; ``_sock`` lets CancellableStream.close() find it."""

    def __init__(self, sock: DialStdioSocket) -> None:
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._sock.recv(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def socket_path(endpoint: str) -> str | None:
    """The socket of a ``unix://`` endpoint; None for any other kind (tcp, ssh...)."""
    if not endpoint.startswith("unix://"):
        return None
    path = endpoint.removeprefix("unix://")
    return path if path.startswith("/") and "\x00" not in path else None


class EngineEndpoint:
    """The engine socket the host's docker CLI dials, read from the first connection's
    stderr (:data:`DISCOVER_AND_DIAL`) once, then kept for the client's connections."""

    def __init__(self, path: str | None = None) -> None:
        """``path``: the socket, already known (asked of the host by other means)."""
        self._lock = threading.Lock()
        self._first: DialStdioSocket | None = None
        self._close_first = False
        self._known = path is not None
        self.path: str | None = path
        """The socket to open streamlocal channels to; None: dial-stdio for each."""

    def watch(self, first: DialStdioSocket, *, close_after: bool = False) -> None:
        """Read the endpoint from ``first`` when asked; ``close_after``: the channel
        served its purpose (a launch's glance) and is closed once the line is read."""
        with self._lock:
            if self._first is None and not self._known:
                self._first = first
                self._close_first = close_after

    def discard(self) -> None:
        """Close a channel this endpoint was given to close (a host given up on)."""
        with self._lock:
            first, self._first = self._first, None
            if first is not None and self._close_first:
                first.close()

    def refused(self) -> None:
        """sshd would not open a channel to the socket: dial-stdio from now on."""
        with self._lock:
            self.path = None
            self._known = True

    def socket(self, wait: float = ENDPOINT_WAIT_SECONDS) -> str | None:
        """The socket path, reading the first connection's stderr for at most ``wait``."""
        with self._lock:
            if self._known:
                return self.path
            first = self._first
            if first is None:
                return None
            self._known = True  # looked for once: a missing line means dial-stdio
            self.path = _read_endpoint(first, wait)
            if self._close_first:
                self._first = None
                first.close()
            return self.path


def _read_endpoint(first: DialStdioSocket, wait: float) -> str | None:
    pipe = first.channel.in_stderr_buffer
    deadline = time.monotonic() + wait
    seen = b""
    while ENDPOINT_MARK not in seen or not seen.split(ENDPOINT_MARK, 1)[1].count(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            first.stderr_head = seen
            return None
        try:
            chunk = pipe.read(4096, remaining)
        except PipeTimeout:
            chunk = b""
            continue
        if not chunk:  # EOF: the command ended
            first.stderr_head = seen
            return None
        seen += chunk
    head, _, rest = seen.partition(ENDPOINT_MARK)
    line, _, tail = rest.partition(b"\n")
    first.stderr_head = head + tail
    path = socket_path(line.decode("utf-8", "replace").strip())
    log.debug("engine endpoint on the host: %r -> socket %r", line, path)
    return path


ASK_ENDPOINT = ["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"]
"""The endpoint the host's docker CLI dials, by itself (DISCOVER_AND_DIAL's question)."""


def ask_engine_socket(conn: SshConnection, timeout: float) -> str | None:
    """The socket the host's docker CLI dials now (one exec: the user's shell and the
    CLI start); None when it dials no Unix socket or could not say."""
    result = conn.run(ASK_ENDPOINT, timeout=timeout)
    if result.exit_code != 0:
        log.info("%s: `docker context inspect` exited %d", conn.label, result.exit_code)
        return None
    return socket_path(result.stdout.decode("utf-8", "replace").strip())
