"""A remote host over SSH, as one :class:`opsui.domain.ports.HostConnection`.

Everything for the host shares one :class:`SshConnection`: the Docker client (one
dial-stdio channel per HTTP connection), container stats (one ``docker stats`` exec per
tick), the /proc metrics (one exec per sample), the command runner, the state files
(one kept shell session, :mod:`opsui.backends.host_shell`), and HTTP: health probes and
registry reads go through direct-tcpip channels, so a URL such as
``http://127.0.0.1:8080/health`` means the *remote* loopback, as the design asks
("probed from the host"), and a registry is asked the way the host's engine pulls.

The health transport is httpx's own HTTPTransport with the network swapped out: an
httpcore NetworkBackend whose ``connect_tcp`` opens a tunnel, and whose streams run
TLS with ``ssl.SSLObject`` over memory BIOs when the URL is https.
"""

from __future__ import annotations

import functools
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
import paramiko

from opsui.backends.docker_cli_stats import CliStats
from opsui.backends.docker_credentials import DockerCredentials, LoginPlace, remote_reader
from opsui.backends.docker_engine import DockerEngine
from opsui.backends.health import HttpHealthProber
from opsui.backends.host_files import ShellHostFiles
from opsui.backends.host_shell import PersistentShell
from opsui.backends.lazy_prober import LazyProber
from opsui.backends.procfs import RemoteMetrics
from opsui.backends.registry import RegistryTags
from opsui.backends.ssh import SshConnection, SshTarget, resolve_target
from opsui.backends.ssh_docker import DEFAULT_TIMEOUT, ssh_docker_client
from opsui.domain.errors import HostError, HostUnreachable
from opsui.domain.sanitize import clean

# ------------------------------------------------------------ HTTP through tunnels

_TLS_RECORD = 16384


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError)


class ChannelStream(httpcore.NetworkStream):
    """httpcore's view of one direct-tcpip channel."""

    def __init__(self, channel: paramiko.Channel, peer: tuple[str, int]) -> None:
        self._channel = channel
        self._peer = peer

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            self._channel.settimeout(timeout)
            return self._channel.recv(max_bytes)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if _is_timeout(exc):
                raise httpcore.ReadTimeout(str(exc) or "read timed out") from exc
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._channel.settimeout(timeout)
            self._channel.sendall(buffer)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if _is_timeout(exc):
                raise httpcore.WriteTimeout(str(exc) or "write timed out") from exc
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        self._channel.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return TlsChannelStream(self, ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle keep-alive connection that became readable was closed by the peer.
            channel = self._channel
            return channel.recv_ready() or channel.closed or channel.eof_received
        if info == "server_addr":
            return self._peer
        return None


class TlsChannelStream(httpcore.NetworkStream):
    """TLS over a channel: an SSLObject pumped through memory BIOs (no socket to wrap)."""

    def __init__(self, raw: ChannelStream, context: ssl.SSLContext,
                 server_hostname: str | None, timeout: float | None) -> None:
        self._raw = raw
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._incoming, self._outgoing,
                                     server_hostname=server_hostname)
        try:
            self._pump(self._ssl.do_handshake, timeout)
        except BaseException as exc:
            raw.close()  # nobody else holds the channel yet: an open one would leak
            if isinstance(exc, ssl.SSLError):
                raise httpcore.ConnectError(f"TLS handshake failed: {exc}") from exc
            raise

    def _pump(self, operation: Any, timeout: float | None) -> Any:
        """Run an SSLObject operation, moving ciphertext until it stops wanting I/O."""
        while True:
            want_read = False
            try:
                result = operation()
            except ssl.SSLWantReadError:
                want_read = True
            pending = self._outgoing.read()
            if pending:
                self._raw.write(pending, timeout)
            if not want_read:
                return result
            data = self._raw.read(_TLS_RECORD, timeout)
            if data:
                self._incoming.write(data)
            else:
                self._incoming.write_eof()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return bytes(self._pump(functools.partial(self._ssl.read, max_bytes), timeout))
        except ssl.SSLZeroReturnError:
            return b""
        except ssl.SSLError as exc:
            raise httpcore.ReadError(f"TLS: {exc}") from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        try:
            while view:
                sent = self._pump(functools.partial(self._ssl.write, view), timeout)
                view = view[sent:]
        except ssl.SSLError as exc:
            raise httpcore.WriteError(f"TLS: {exc}") from exc

    def close(self) -> None:
        self._raw.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("TLS inside TLS over SSH is not supported")

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._ssl
        if info == "is_readable":
            return self._incoming.pending > 0 or self._raw.get_extra_info("is_readable")
        return self._raw.get_extra_info(info)


class SshNetworkBackend(httpcore.NetworkBackend):
    """Opens "TCP connections" as direct-tcpip channels from the remote host."""

    def __init__(self, conn: SshConnection) -> None:
        self._conn = conn

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            channel = self._conn.open_tunnel(host, port, timeout)
        except HostError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        except OSError as exc:
            if _is_timeout(exc):
                raise httpcore.ConnectTimeout(str(exc) or "tunnel timed out") from exc
            raise httpcore.ConnectError(str(exc)) from exc
        return ChannelStream(channel, (host, port))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not reachable through SSH tunnels")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class SshHttpTransport(httpx.HTTPTransport):
    """httpx's HTTP transport whose connections are tunnels through ``conn``.

    Only the connection pool is replaced (httpx offers no public hook for a network
    backend); request building, exception mapping and streaming stay httpx's own.
    """

    def __init__(self, conn: SshConnection, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=10,
            max_keepalive_connections=4,
            keepalive_expiry=30.0,
            network_backend=SshNetworkBackend(conn),
        )


# ------------------------------------------------------------------------- the host


@dataclass(frozen=True)
class _Parts:
    conn: SshConnection
    engine: DockerEngine
    metrics: RemoteMetrics
    prober: LazyProber
    shell: PersistentShell
    files: ShellHostFiles
    image_tags: RegistryTags


class SshHost:
    """:class:`opsui.domain.ports.HostConnection` for a Docker host reached over SSH.

    ``connect()`` may be called again after the link dropped; it rebuilds everything
    on a fresh SSH connection. ``is_alive()`` only asks the transport, so it is cheap
    enough for the supervisor to call on every tick.
    """

    def __init__(self, name: str, target_spec: str, known_hosts: str | None = None,
                 ssh_config: str | None = None, *, connect_timeout: float = 10.0,
                 keepalive: float = 5.0, docker_timeout: int = DEFAULT_TIMEOUT,
                 docker_config: str | None = None) -> None:
        self.name = name
        self._docker_config = docker_config
        self._spec = target_spec
        self._known_hosts = known_hosts
        self._ssh_config = ssh_config
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive
        self._docker_timeout = docker_timeout
        self._parts: _Parts | None = None
        self._lock = threading.Lock()

    @property
    def target(self) -> SshTarget:
        """Where this host resolves to now (ssh_config is read again each time)."""
        return resolve_target(self._spec, self._ssh_config)

    def connect(self) -> None:
        target = self.target
        conn = SshConnection(target, self._known_hosts, self._connect_timeout, self._keepalive)
        conn.connect()
        try:
            client = ssh_docker_client(conn, timeout=self._docker_timeout)
            # The SSH user's docker config, read and its helper run ON the host: one
            # exec each, whose output (a secret) comes back over the channel only. Not
            # the kept shell, whose driver puts a command's output in files on the host.
            credentials = DockerCredentials(
                remote_reader(conn, self.name, self._docker_config), conn,
                LoginPlace(f"{self.name} ({target.hostname})", target.user))
            # Each stats feed would hold a channel and a remote dial-stdio process
            # (sshd allows 10 sessions by default), and a request per row costs a round
            # trip through a channel each: one `docker stats` command per tick samples
            # the rows on screen, with one-shot requests when that fails.
            engine = DockerEngine(client, endpoint=f"ssh://{clean(target.label, 200)}",
                                  max_stats_feeds=0, bulk_stats=CliStats(conn).sample,
                                  credentials=credentials)
            # The state files through one kept shell session: an exec per operation
            # costs ~0.12 s on sshd, and a deploy makes a dozen on its critical path.
            shell = PersistentShell(conn, fallback=conn)
            parts = _Parts(conn, engine, RemoteMetrics(conn),
                           # TLS contexts built when first probing, not on connecting
                           LazyProber(lambda: HttpHealthProber(
                               transport=SshHttpTransport(conn))),
                           shell, ShellHostFiles(shell, self.name),
                           # A transport per lookup: the registry client closes it.
                           RegistryTags(lambda: SshHttpTransport(conn),
                                        credentials=credentials))
        except BaseException:
            conn.close()
            raise
        with self._lock:
            old, self._parts = self._parts, parts
        if old is not None:
            _close(old)

    def is_alive(self) -> bool:
        parts = self._parts
        return parts is not None and parts.conn.is_alive()

    def _require(self) -> _Parts:
        parts = self._parts
        if parts is None:
            raise HostUnreachable(f"{self.name}: not connected",
                                  hint="Connect to the host first.")
        return parts

    @property
    def connection(self) -> SshConnection:
        return self._require().conn

    @property
    def engine(self) -> DockerEngine:
        return self._require().engine

    @property
    def metrics(self) -> RemoteMetrics:
        return self._require().metrics

    @property
    def prober(self) -> LazyProber:
        return self._require().prober

    @property
    def runner(self) -> SshConnection:
        return self._require().conn

    @property
    def shell(self) -> PersistentShell:
        """The kept shell session: for short commands that come often (progress polls)."""
        return self._require().shell

    @property
    def files(self) -> ShellHostFiles:
        """The state folder as shell scripts, run by one kept shell on the host (an exec
        channel per operation when that shell cannot run)."""
        return self._require().files

    @property
    def image_tags(self) -> RegistryTags:
        """Registry tags through tunnels from the host, bound to this connection (a
        reconnect makes new ones)."""
        return self._require().image_tags

    def close(self) -> None:
        with self._lock:
            parts, self._parts = self._parts, None
        if parts is not None:
            _close(parts)


def _close(parts: _Parts) -> None:
    """Streams and clients first, then the transport under them."""
    parts.engine.close()
    parts.prober.close()
    parts.shell.close()
    parts.conn.close()
