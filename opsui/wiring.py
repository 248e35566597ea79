"""Builds host connections and monitors from config: the one place backends meet the domain.

The CLI and the TUI both come through here, so a headless ``opsui restart`` uses the
same connections, gate and audit as the key in the dashboard.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from opsui.config import LOCAL_HOST_NAME, Config, HostConfig
from opsui.domain.errors import ConfigError
from opsui.domain.host_pace import ConnectQueue
from opsui.domain.models import Container
from opsui.domain.monitor import HostMonitor, MonitorListener, MonitorSettings
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import HostConnection, ImageTags

if TYPE_CHECKING:  # the operations load when an app is first acted on, after the rows
    from opsui.backends.engine_socket_memory import EngineSocketMemory
    from opsui.backends.ssh_host import SshHost
    from opsui.domain.operations.app_backups import AppBackups
    from opsui.domain.operations.app_releases import AppReleases


def select_hosts(config: Config, requested: Sequence[str]) -> list[HostConfig]:
    """Hosts named on the command line (config names or ssh:// URLs), else all configured."""
    if not requested:
        return list(config.hosts)
    hosts: list[HostConfig] = []
    for spec in requested:
        known = config.host(spec)
        if known is not None:
            hosts.append(known)
        elif spec == LOCAL_HOST_NAME:
            hosts.append(HostConfig(LOCAL_HOST_NAME))
        elif spec.startswith("ssh://") or "@" in spec:
            hosts.append(HostConfig(name=spec.removeprefix("ssh://"), ssh=spec))
        elif spec.startswith(("unix://", "tcp://")):
            hosts.append(HostConfig(name=spec, docker_host=spec))
        else:
            # A bare name not in opsui.toml may still be a Host alias in ~/.ssh/config.
            hosts.append(HostConfig(name=spec, ssh=spec))
    return hosts


def build_gate(config: Config, hosts: Sequence[HostConfig], read_only: bool) -> ActionGate:
    return ActionGate(
        confirm=config.confirm,
        read_only=read_only or config.read_only,
        read_only_hosts=frozenset(h.name for h in hosts if h.read_only),
        app_confirm={app.name: app.confirm for app in config.apps if app.confirm},
    )


def build_connection(config: Config, host: HostConfig,
                     socket_memory: EngineSocketMemory | None = None) -> HostConnection:
    """``socket_memory``: the SSH hosts' engine sockets kept between launches, for a
    dashboard's first lists (see engine_socket_memory)."""
    if host.ssh is None:
        from opsui.backends.local import LocalHost

        return LocalHost(host.name, host.docker_host, docker_config=host.docker_config)
    from opsui.backends.ssh_host import SshHost

    return SshHost(host.name, host.ssh, known_hosts=config.known_hosts,
                   ssh_config=config.ssh_config, docker_config=host.docker_config,
                   socket_memory=socket_memory)


def _socket_memory(hosts: Sequence[HostConfig]) -> EngineSocketMemory | None:
    """One memory for the process's SSH hosts (it is one file); None without any."""
    if all(host.ssh is None for host in hosts):
        return None
    from opsui.backends.engine_socket_memory import FILE_NAME, EngineSocketMemory
    from opsui.backends.state_folder import user_state_folder

    return EngineSocketMemory(user_state_folder() / FILE_NAME)


def monitor_settings(config: Config) -> MonitorSettings:
    return MonitorSettings(
        refresh_seconds=config.refresh_seconds,
        stats_seconds=config.stats_seconds,
        metrics_seconds=config.metrics_seconds,
        health_seconds=config.health_seconds,
        log_buffer_lines=config.log_buffer_lines,
        log_tail_lines=config.log_tail_lines,
    )


def check_app_hosts(config: Config, hosts: Sequence[HostConfig]) -> None:
    names = {h.name for h in config.hosts} | {h.name for h in hosts}
    for app in config.apps:
        for host in app.every_host:
            if host not in names:
                key = "hosts" if app.hosts else "host"
                raise ConfigError(config.source, f"apps.{app.name}.{key}",
                                  f"a host defined under [hosts] "
                                  f"({', '.join(sorted(names))})", host)


def _backups_for(connection: HostConnection, *, gate: ActionGate, config: Config,
                 docker_host: str | None) -> AppBackups:
    return build_backups(connection, gate, config, docker_host)


def _releases_for(connection: HostConnection, *, gate: ActionGate, config: Config,
                  docker_host: str | None) -> AppReleases:
    return build_releases(connection, gate, config, docker_host)


UI_ENRICH_WAIT_SECONDS = 2.0
"""With a UI: how long a monitor waits for the rows on screen before re-reading every
listed container (see :attr:`MonitorSettings.enrich_wait_seconds`)."""


def build_monitor_factory(
    config: Config, gate: ActionGate, hosts: Sequence[HostConfig], *, ui: bool = False
) -> Callable[[MonitorListener], list[HostMonitor]]:
    """Monitors for ``hosts``, given the listener to report to (``ui``: for the dashboard,
    whose local hosts show a first list before connecting, see engine_glance)."""
    settings = monitor_settings(config)
    if ui:
        settings = dataclasses.replace(settings, enrich_wait_seconds=UI_ENRICH_WAIT_SECONDS)

    def factory(listener: MonitorListener) -> list[HostMonitor]:
        # A dashboard's hosts connect a few at a time, the shown one first (issue 15).
        queue = ConnectQueue() if ui and len(hosts) > 1 else None
        memory = _socket_memory(hosts) if ui else None
        connections = [build_connection(config, host, memory) for host in hosts]
        return [
            HostMonitor(
                connection,
                listener,
                gate,
                settings,
                apps=[app for app in config.apps if app.runs_on(host.name)],
                config=config,
                backups_for=functools.partial(_backups_for, gate=gate, config=config,
                                              docker_host=host.docker_host),
                releases_for=functools.partial(_releases_for, gate=gate, config=config,
                                               docker_host=host.docker_host),
                connect_queue=queue,
                glance=_glance_for(host, connection) if ui else None,
            )
            for host, connection in zip(hosts, connections, strict=True)
        ]

    return factory


def _glance_for(host: HostConfig, connection: HostConnection
                ) -> Callable[[], list[Container] | None] | None:
    """A host's first list without the docker SDK (see engine_glance, ssh_glance)."""
    if host.ssh is not None:
        from opsui.backends.ssh_host import SshHost

        return connection.glance if isinstance(connection, SshHost) else None
    from opsui.backends.engine_glance import glance_containers

    return functools.partial(glance_containers, host.docker_host)


def build_backups(connection: HostConnection, gate: ActionGate, config: Config,
                  docker_host: str | None = None) -> AppBackups:
    """Backups, restores and migrations of the apps on ``connection``'s host: dumps run
    on the host through its command runner (``docker -H docker_host`` when its engine
    is not the default), downloads copy locally or come over the host's SFTP, one-off
    migration containers go through its engine, leased by a watcher on the host."""
    from opsui.backends.backup_download import Downloader, SftpDownloader, copy_local
    from opsui.backends.docker_engine import DockerEngine
    from opsui.backends.host_backups import ShellBackupStore
    from opsui.backends.host_lease import HostLeases
    from opsui.domain.operations.app_backups import AppBackups

    engine = connection.engine
    if not isinstance(engine, DockerEngine):
        raise ConfigError(config.source, "hosts", "a Docker engine for backups")
    ssh = _as_ssh_host(connection)
    downloader: Downloader = SftpDownloader(ssh.connection) if ssh else copy_local
    polls = ssh.shell if ssh else None
    docker = ("docker", "-H", docker_host) if docker_host else ("docker",)
    return AppBackups(connection.name, engine, connection.files, gate, config,
                      store=ShellBackupStore(connection.runner, connection.name, downloader,
                                             poll_runner=polls),
                      jobs=engine.jobs.leased(HostLeases(connection.runner, polls, docker)),
                      docker=docker)


def _as_ssh_host(connection: HostConnection) -> SshHost | None:
    """``connection`` as an SSH host, without importing the SSH backend (and paramiko)
    for a local one: an SshHost exists only once that module was loaded to build it."""
    module = sys.modules.get("opsui.backends.ssh_host")
    if module is not None and isinstance(connection, module.SshHost):
        return cast("SshHost", connection)
    return None


def build_releases(connection: HostConnection, gate: ActionGate, config: Config,
                   docker_host: str | None = None, *,
                   tags: ImageTags | None = None) -> AppReleases:
    """Deploy, rollback, history and lock of the apps on ``connection``'s host, with the
    backup and migrate steps of apps that have a migration: the one builder for
    ``opsui deploy`` (and its siblings) and the dashboard's monitors, so both run the
    same facade. ``tags``: the registry's tags as read (default: the connection's)."""
    from opsui.backends.compose_host import ShellComposeHost
    from opsui.domain.operations.app_releases import AppReleases

    backups = build_backups(connection, gate, config, docker_host)
    return AppReleases(connection.name, connection.engine, connection.prober,
                       connection.files, gate, config,
                       connection.image_tags if tags is None else tags, backups=backups,
                       compose=ShellComposeHost(connection.runner, connection.name,
                                                docker_host))
