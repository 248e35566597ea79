"""A remote host over SSH, as one :class:`opsui.domain.ports.HostConnection`.

Everything for the host shares one :class:`SshConnection`: the Docker client (one
channel per HTTP connection, :mod:`opsui.backends.ssh_docker`), container stats (one
``docker stats`` exec per tick), the /proc metrics (one exec per sample), the command
runner, the state files (one kept shell session, :mod:`opsui.backends.host_shell`), and
HTTP (health probes, registry reads) through direct-tcpip channels
(:mod:`opsui.backends.ssh_http`).

At launch the dashboard first asks :meth:`SshHost.glance` for the container list over a
single channel with the standard library; the docker SDK, httpx and the rest load in
:meth:`SshHost.connect`, after the first frame, on the connection the glance opened.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opsui.backends.ssh import SshConnection, SshTarget, resolve_target
from opsui.backends.ssh_engine_channel import DEFAULT_TIMEOUT
from opsui.domain.errors import HostError, HostUnreachable, OpsuiError
from opsui.domain.sanitize import clean

if TYPE_CHECKING:
    from opsui.backends.docker_engine import DockerEngine
    from opsui.backends.engine_socket_memory import EngineSocketMemory
    from opsui.backends.host_files import ShellHostFiles
    from opsui.backends.host_shell import PersistentShell
    from opsui.backends.lazy_prober import LazyProber
    from opsui.backends.procfs import RemoteMetrics
    from opsui.backends.registry import RegistryTags
    from opsui.backends.ssh_engine_channel import EngineEndpoint
    from opsui.domain.models import Container

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Glanced:
    """What the launch's glance leaves for :meth:`SshHost.connect`: the SSH connection
    it opened and the engine endpoint its channel named, or the error it met."""

    conn: SshConnection | None = None
    endpoint: EngineEndpoint | None = None
    error: HostError | None = None
    remembered: str | None = None
    """The socket the rows came from when it was remembered, not asked this launch."""


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
                 docker_config: str | None = None,
                 socket_memory: EngineSocketMemory | None = None) -> None:
        """``socket_memory``: where the engine's socket is kept between launches, so a
        dashboard's first list needs no shell on the host (see engine_socket_memory)."""
        self.name = name
        self._docker_config = docker_config
        self._spec = target_spec
        self._known_hosts = known_hosts
        self._ssh_config = ssh_config
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive
        self._docker_timeout = docker_timeout
        self._memory = socket_memory
        self._parts: _Parts | None = None
        self._glanced: _Glanced | None = None
        self._lock = threading.Lock()

    @property
    def target(self) -> SshTarget:
        """Where this host resolves to now (ssh_config is read again each time)."""
        return resolve_target(self._spec, self._ssh_config)

    def glance(self) -> list[Container] | None:
        """The host's containers over the SSH connection :meth:`connect` will use, before
        the docker SDK loads (see :mod:`opsui.backends.ssh_glance`); None when this
        path cannot tell. A connection that failed is not tried twice: ``connect()``
        raises its error."""
        from opsui.backends.ssh_glance import glance_over

        try:
            target = self.target
        except OpsuiError:  # a bad ssh_config: connect() says so, as it always did
            return None
        conn = SshConnection(target, self._known_hosts, self._connect_timeout,
                             self._keepalive)
        try:
            conn.connect()
        except HostError as exc:
            self._keep_glanced(_Glanced(error=exc))
            return None
        remembered = self._memory.get(_route(target)) if self._memory else None
        found = glance_over(conn, remembered)
        if found is None:
            self._keep_glanced(_Glanced(conn=conn))
            return None
        rows, endpoint = found
        self._keep_glanced(_Glanced(conn=conn, endpoint=endpoint,
                                    remembered=endpoint.path if endpoint.path == remembered
                                    else None))
        return rows

    def _ask_socket(self, conn: SshConnection, remembered: str) -> EngineEndpoint | None:
        """The host's engine socket as its docker CLI names it now; None: the client
        asks on its first channel, as without a glance."""
        from opsui.backends.ssh_engine_channel import EngineEndpoint, ask_engine_socket

        asked = ask_engine_socket(conn, self._docker_timeout)
        if asked != remembered:
            log.warning("%s: the docker CLI on the host now dials %s, not the remembered "
                        "unix://%s: the first rows came from the latter; the session lists "
                        "the engine the CLI names", self.name,
                        f"unix://{asked}" if asked else "no Unix socket", remembered)
        return EngineEndpoint(asked) if asked is not None else None

    def _keep_glanced(self, glanced: _Glanced) -> None:
        with self._lock:
            old, self._glanced = self._glanced, glanced
        _give_up(old)

    def connect(self) -> None:
        from opsui.backends.docker_cli_stats import CliStats
        from opsui.backends.docker_credentials import (
            DockerCredentials,
            LoginPlace,
            remote_reader,
        )
        from opsui.backends.docker_engine import DockerEngine
        from opsui.backends.health import HttpHealthProber
        from opsui.backends.host_files import ShellHostFiles
        from opsui.backends.host_shell import PersistentShell
        from opsui.backends.lazy_prober import LazyProber
        from opsui.backends.procfs import RemoteMetrics
        from opsui.backends.registry import RegistryTags
        from opsui.backends.ssh_docker import ssh_docker_client
        from opsui.backends.ssh_http import SshHttpTransport

        with self._lock:
            glanced, self._glanced = self._glanced, None
        if glanced is not None and glanced.error is not None:
            raise glanced.error
        target = self.target
        endpoint = None
        if glanced is not None and glanced.conn is not None and glanced.conn.is_alive():
            conn, endpoint = glanced.conn, glanced.endpoint
            if glanced.remembered is not None:
                try:  # only the glance's list trusted the memory: ask before anything else
                    endpoint = self._ask_socket(conn, glanced.remembered)
                except BaseException:
                    conn.close()
                    raise
        else:
            _give_up(glanced)
            conn = SshConnection(target, self._known_hosts, self._connect_timeout,
                                 self._keepalive)
            conn.connect()
        try:
            client = ssh_docker_client(conn, timeout=self._docker_timeout,
                                       endpoint=endpoint)
            if endpoint is not None and self._memory is not None:  # read by now
                self._memory.put(_route(target), endpoint.path)
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
            # The host's /proc read every couple of seconds through the same kept shell:
            # an exec each would start the user's login shell on the host every time.
            parts = _Parts(conn, engine, RemoteMetrics(shell),
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
            glanced, self._glanced = self._glanced, None
        _give_up(glanced)
        if parts is not None:
            _close(parts)


def _route(target: SshTarget) -> str:
    """The host as the socket memory knows it: every hop, so the same address behind
    two jump hosts is two hosts."""
    return " > ".join(hop.label for hop in target.route)


def _give_up(glanced: _Glanced | None) -> None:
    """Close what a glance opened and nobody took over."""
    if glanced is None:
        return
    if glanced.endpoint is not None:
        glanced.endpoint.discard()
    if glanced.conn is not None:
        glanced.conn.close()


def _close(parts: _Parts) -> None:
    """Streams and clients first, then the transport under them."""
    parts.engine.close()
    parts.prober.close()
    parts.shell.close()
    parts.conn.close()
