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

import logging
import queue
import threading
from typing import Any

import docker
import paramiko
import requests
import urllib3
import urllib3.connection
import urllib3.connectionpool
from docker.transport.basehttpadapter import BaseHTTPAdapter

from opsui.backends.docker_errors import FROZEN_ENGINE_HINT, timed_out
from opsui.backends.ssh import DIAL_STDIO, SshConnection
from opsui.backends.ssh_engine_channel import (
    DEFAULT_TIMEOUT,
    DISCOVER_AND_DIAL,
    DialStdioSocket,
    EngineEndpoint,
)
from opsui.backends.ssh_streamlocal import StreamLocalRefused, open_streamlocal
from opsui.domain.errors import EngineUnavailable, HostError, HostUnreachable
from opsui.domain.sanitize import clean

log = logging.getLogger(__name__)

BASE_URL = "http+docker://ssh"
"""docker-py recognises this prefix as SSH when it looks for the raw stream socket."""
_PLACEHOLDER_URL = "tcp://127.0.0.1:9"  # never dialled: the adapter below replaces it
DEFAULT_POOL_SIZE = 4
"""Idle channels kept per client; each is a dial-stdio process and an sshd session."""

NO_DOCKER_HINT = (
    "opsui runs `docker system dial-stdio` on the host: the docker CLI must be installed "
    "there, the engine running, and the SSH user allowed to use it (docker group)."
)


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
                 command: str, endpoint: EngineEndpoint | None = None) -> None:
        super().__init__("localhost", timeout=timeout, maxsize=maxsize)
        self._ssh = conn
        self._timeout = timeout
        self._command = command
        # Only the default command is known to be the CLI's own dial-stdio (a sudo
        # wrapper's socket may not be ours to open).
        # The first channel asks for the endpoint, unless a launch's glance did already
        # (opsui.backends.ssh_glance) and handed its answer over.
        self._first = command == DIAL_STDIO and endpoint is None
        if command != DIAL_STDIO:
            if endpoint is not None:
                endpoint.discard()
            self.endpoint: EngineEndpoint | None = None
        else:
            self.endpoint = endpoint or EngineEndpoint()

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
                 max_pool_size: int = DEFAULT_POOL_SIZE, command: str = DIAL_STDIO,
                 endpoint: EngineEndpoint | None = None) -> None:
        self._ssh = conn
        self._timeout = timeout
        self._max_pool_size = max_pool_size
        self._command = command
        self._endpoint = endpoint
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
                                            self._command, self._endpoint)
            return self._pool

    def close(self) -> None:
        super().close()
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


def ssh_docker_client(conn: SshConnection, timeout: int = DEFAULT_TIMEOUT,
                      max_pool_size: int = DEFAULT_POOL_SIZE,
                      command: str = DIAL_STDIO,
                      endpoint: EngineEndpoint | None = None) -> docker.DockerClient:
    """A DockerClient over ``conn``, API version agreed with the remote engine.

    ``command`` is what bridges a channel to the engine on the host; the default
    suits a user in the docker group (e.g. ``sudo -n docker system dial-stdio``
    otherwise). ``endpoint``: the engine's socket as a launch's glance found it on
    this connection (its channels are then streamlocal ones from the first).

    ``timeout`` bounds every non-streaming call, so a request on a dying link fails
    instead of hanging; streams disable it (docker-py does) and end when the SSH
    watchdog closes the transport.

    Raises EngineUnavailable when the host answers over SSH but no engine does.
    """
    client = docker.DockerClient(base_url=_PLACEHOLDER_URL, version="1.24", timeout=timeout)
    api = client.api
    adapter = DialStdioAdapter(conn, timeout, max_pool_size, command, endpoint)
    api.mount(BASE_URL, adapter)
    for prefix in ("http://", "https://"):
        api.adapters.pop(prefix, None)  # nothing may fall back to plain TCP
    api.base_url = BASE_URL
    found = adapter.get_connection("").endpoint
    if found is None or (endpoint is not None and found.socket() is None):
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
