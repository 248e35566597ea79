"""HTTP from an SSH host: httpx requests whose connections are direct-tcpip channels.

Health probes and registry reads of a host over SSH go through here, so a URL such as
``http://127.0.0.1:8080/health`` means the *remote* loopback, as the design asks
("probed from the host"), and a registry is asked the way the host's engine pulls.

The transport is httpx's own HTTPTransport with the network swapped out: an httpcore
NetworkBackend whose ``connect_tcp`` opens a tunnel, and whose streams run TLS with
``ssl.SSLObject`` over memory BIOs when the URL is https.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
import paramiko

from opsui.backends.ssh import SshConnection
from opsui.domain.errors import HostError

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
