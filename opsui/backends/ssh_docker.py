"""A docker.DockerClient that talks to a remote engine through OUR SSH transport.

Each HTTP connection of the client is one exec channel running ``docker system
dial-stdio`` on the host, which bridges the channel to the engine's socket (the same
trick docker-py's own SSHHTTPAdapter uses). Two reasons not to use docker-py's
``ssh://`` support: it opens a second SSH connection with its own host-key policy,
and its streams cannot be cancelled (CancellableStream.close() raises for SSH).

Here every connection is its own channel behind a small socket-like wrapper, so
closing one streaming response (events, logs, stats) closes exactly that channel,
from any thread, and the client and its other connections carry on.

Only the first connection is a dial-stdio session: it also prints, on its stderr, the
engine endpoint the host's docker CLI uses (DOCKER_HOST or the current context).
When that is a Unix socket, every later connection (the event stream, stats, logs,
a second request) is a streamlocal channel to it (:mod:`opsui.backends.ssh_streamlocal`):
no shell and no docker CLI started on the host per connection, which with twenty hosts
was most of the launch. A host whose sshd refuses such channels gets dial-stdio ones.
"""

from __future__ import annotations

import io
import logging
import queue
import shlex
import socket
import threading
import time
from typing import Any

import docker
import paramiko
import requests
import urllib3
import urllib3.connection
import urllib3.connectionpool
from docker.transport.basehttpadapter import BaseHTTPAdapter
from paramiko.buffered_pipe import PipeTimeout

from opsui.backends.docker_errors import FROZEN_ENGINE_HINT, timed_out
from opsui.backends.ssh import DIAL_STDIO, SshConnection
from opsui.backends.ssh_streamlocal import StreamLocalRefused, open_streamlocal
from opsui.domain.errors import EngineUnavailable, HostError, HostUnreachable
from opsui.domain.sanitize import clean, clean_block

log = logging.getLogger(__name__)

BASE_URL = "http+docker://ssh"
"""docker-py recognises this prefix as SSH when it looks for the raw stream socket."""
_PLACEHOLDER_URL = "tcp://127.0.0.1:9"  # never dialled: the adapter below replaces it
DEFAULT_TIMEOUT = 15
DEFAULT_POOL_SIZE = 4
"""Idle channels kept per client; each is a dial-stdio process and an sshd session."""

NO_DOCKER_HINT = (
    "opsui runs `docker system dial-stdio` on the host: the docker CLI must be installed "
    "there, the engine running, and the SSH user allowed to use it (docker group)."
)


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

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first: DialStdioSocket | None = None
        self._known = False
        self.path: str | None = None
        """The socket to open streamlocal channels to; None: dial-stdio for each."""

    def watch(self, first: DialStdioSocket) -> None:
        with self._lock:
            if self._first is None and not self._known:
                self._first = first

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


class _DialStdioConnection(urllib3.connection.HTTPConnection):
    def __init__(self, conn: SshConnection, timeout: float | None, command: str,
                 endpoint: EngineEndpoint | None = None, discover: bool = False) -> None:
        super().__init__("localhost", timeout=timeout)
        self._ssh = conn
        self._timeout = timeout
        self._command = command
        self._endpoint = endpoint
        self._discover = discover

    def connect(self) -> None:
        endpoint = self._endpoint
        if endpoint is None:
            self.sock = DialStdioSocket(self._ssh, self._timeout, self._command)
            return
        if self._discover:
            first = DialStdioSocket(self._ssh, self._timeout, DISCOVER_AND_DIAL)
            endpoint.watch(first)
            self.sock = first
            return
        path = endpoint.socket()
        if path is not None:
            try:
                channel = open_streamlocal(self._ssh.transport, path,
                                           self._ssh.connect_timeout)
            except StreamLocalRefused as exc:
                log.info("%s: %s; using dial-stdio", self._ssh.label, exc)
                endpoint.refused()
            except (paramiko.SSHException, EOFError, OSError) as exc:
                if not self._ssh.is_alive():
                    raise HostUnreachable(f"{self._ssh.label}: SSH connection lost") from None
                raise HostError(f"{self._ssh.label}: could not open a channel to the "
                                f"engine's socket: {clean(str(exc) or type(exc).__name__)}"
                                ) from None
            else:
                self.sock = DialStdioSocket(self._ssh, self._timeout, None, channel)
                return
        self.sock = DialStdioSocket(self._ssh, self._timeout, self._command)


class _DialStdioPool(urllib3.connectionpool.HTTPConnectionPool):
    def __init__(self, conn: SshConnection, timeout: float | None, maxsize: int,
                 command: str) -> None:
        super().__init__("localhost", timeout=timeout, maxsize=maxsize)
        self._ssh = conn
        self._timeout = timeout
        self._command = command
        # Only the default command is known to be the CLI's own dial-stdio (a sudo
        # wrapper's socket may not be ours to open).
        self.endpoint = EngineEndpoint() if command == DIAL_STDIO else None
        self._first = True

    def _new_conn(self) -> _DialStdioConnection:
        discover, self._first = self._first and self.endpoint is not None, False
        return _DialStdioConnection(self._ssh, self._timeout, self._command,
                                    self.endpoint, discover)

    def open_spare(self) -> None:
        """Open one more channel and keep it idle in the pool.

        Each channel runs its own ``docker system dial-stdio`` on the host, whose start
        (the docker CLI's) costs far more than a request on a running one (0.25-0.45 s
        against ~10 ms under load). At launch the event stream takes one channel for
        good and the first list needs a second: opened while the version is asked,
        the second one's start overlaps the first's instead of following it.
        """
        pool = self.pool
        if pool is None:  # closed
            return
        try:  # a free slot (None), as a request takes one: the pool never grows past maxsize
            slot = pool.get(block=False)
        except queue.Empty:
            return
        if slot is not None:  # an idle channel already: that is the spare
            self._put_conn(slot)
            return
        conn = self._new_conn()
        try:
            conn.connect()
        except Exception:  # only a head start: the request that needs it opens its own
            log.debug("spare dial-stdio channel failed", exc_info=True)
            conn.close()
            self._put_conn(None)  # the slot back
            return
        self._put_conn(conn)  # a closed pool closes it

    def _get_conn(self, timeout: float | None = None) -> Any:
        """Reuse an idle channel unless it finished; never create more than we need.

        urllib3's own staleness check polls ``fileno()``, which costs paramiko a pipe
        per channel; the channel's flags say the same for free.
        """
        if self.pool is None:
            raise urllib3.exceptions.ClosedPoolError(self, "Pool is closed.")
        while True:
            try:
                conn = self.pool.get(block=False)
            except queue.Empty:
                return self._new_conn()
            if conn is None:
                return self._new_conn()
            sock = getattr(conn, "sock", None)
            if isinstance(sock, DialStdioSocket) and sock.dead:
                conn.close()
                continue
            return conn


class DialStdioAdapter(BaseHTTPAdapter):
    """requests adapter: every request goes to the one pool of dial-stdio channels."""

    def __init__(self, conn: SshConnection, timeout: float | None,
                 max_pool_size: int = DEFAULT_POOL_SIZE, command: str = DIAL_STDIO) -> None:
        self._ssh = conn
        self._timeout = timeout
        self._max_pool_size = max_pool_size
        self._command = command
        self._pool: _DialStdioPool | None = None
        self._pool_lock = threading.Lock()
        super().__init__()

    def open_spare(self) -> threading.Thread:
        """Open a spare channel (see :meth:`_DialStdioPool.open_spare`) on a thread."""
        thread = threading.Thread(target=self.get_connection("").open_spare,
                                  name="dial-stdio-spare", daemon=True)
        thread.start()
        return thread

    def get_connection(self, url: str | bytes, proxies: Any = None) -> _DialStdioPool:
        with self._pool_lock:
            if self._pool is None:
                self._pool = _DialStdioPool(self._ssh, self._timeout, self._max_pool_size,
                                            self._command)
            return self._pool

    def close(self) -> None:
        super().close()
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


def ssh_docker_client(conn: SshConnection, timeout: int = DEFAULT_TIMEOUT,
                      max_pool_size: int = DEFAULT_POOL_SIZE,
                      command: str = DIAL_STDIO) -> docker.DockerClient:
    """A DockerClient over ``conn``, API version agreed with the remote engine.

    ``command`` is what bridges a channel to the engine on the host; the default
    suits a user in the docker group (e.g. ``sudo -n docker system dial-stdio``
    otherwise).

    ``timeout`` bounds every non-streaming call, so a request on a dying link fails
    instead of hanging; streams disable it (docker-py does) and end when the SSH
    watchdog closes the transport.

    Raises EngineUnavailable when the host answers over SSH but no engine does.
    """
    client = docker.DockerClient(base_url=_PLACEHOLDER_URL, version="1.24", timeout=timeout)
    api = client.api
    adapter = DialStdioAdapter(conn, timeout, max_pool_size, command)
    api.mount(BASE_URL, adapter)
    for prefix in ("http://", "https://"):
        api.adapters.pop(prefix, None)  # nothing may fall back to plain TCP
    api.base_url = BASE_URL
    if adapter.get_connection("").endpoint is None:
        # Without the engine's socket every connection is a dial-stdio: the second
        # one (for the first list, while the event stream holds the first) is started
        # now. With it, the later connections are streamlocal channels: one round trip.
        adapter.open_spare()
    try:
        server = api.version(api_version=False)
        # The same choice as docker-py's version="auto": the engine's own API version.
        api._version = str(server["ApiVersion"])  # type: ignore[attr-defined]
    except HostError:
        client.close()
        raise
    except (docker.errors.DockerException, requests.exceptions.RequestException,
            KeyError, ValueError) as exc:
        client.close()
        if timed_out(exc):  # dial-stdio reached the engine's socket; nothing answered
            raise EngineUnavailable(
                f"{conn.label}: the Docker engine did not answer within {timeout:g} s",
                hint=FROZEN_ENGINE_HINT) from None
        raise EngineUnavailable(
            f"{conn.label}: no Docker engine answers over SSH: {_reason(exc)}",
            hint=NO_DOCKER_HINT,
        ) from None
    return client


def _reason(exc: BaseException) -> str:
    """The innermost useful message of a requests/urllib3 exception chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    message = str(exc)
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError) and "dial-stdio" in str(current):
            message = str(current)
            break
        args = getattr(current, "args", ())
        inner = next((a for a in args if isinstance(a, BaseException)), None)
        current = inner or current.__cause__ or current.__context__
    return clean(message, 1000)
