"""The settings the domain runs on: hosts, apps, deploys, backups, migrations.

Plain frozen dataclasses whose field defaults are the only place a default is written:
:mod:`opsui.config` reads ``opsui.toml`` into these types (its loader falls back to
these defaults and derives its known keys from these fields), and the domain reads them
without knowing where they came from, so layers import one way (config -> domain).
``Config()`` is a working zero-config setup: the local engine with defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from opsui.domain.operations.policy import DEFAULT_CONFIRMATIONS, ConfirmPolicy

LOCAL_HOST_NAME = "local"


@dataclass(frozen=True)
class HostConfig:
    """One host: the local engine (``docker_host``) or a remote one over SSH (``ssh``).

    ``ssh`` is ``ssh://user@host:port`` or a Host alias from ``~/.ssh/config``.
    """

    name: str
    ssh: str | None = None
    docker_host: str | None = None
    read_only: bool = False
    docker_config: str | None = None
    """Folder of the docker CLI's config.json ON the host, whose registry credentials
    tags, digests and pulls use; None: ``$DOCKER_CONFIG`` there, else ``~/.docker``
    of the (SSH) user."""

    @property
    def is_local(self) -> bool:
        return self.ssh is None


DEFAULT_STATE_DIR = "/var/lib/opsui"


@dataclass(frozen=True)
class DeploySettings:
    """How deploys and rollbacks of an app run: ``[deploy]``, overridden per app."""

    state_dir: str = DEFAULT_STATE_DIR
    """Folder on the host holding each app's journal and lock (shared by every operator)."""
    retain: int = 3
    """Previous releases whose containers are kept for rollback (a rollback target is
    always kept on top of these)."""
    known_good_seconds: float = 120.0
    """A release that stays up and healthy this long after it took over is known good."""
    gate_timeout: float = 60.0
    """How long a new release may take to become healthy."""
    settle_seconds: float = 5.0
    """Without a health check or URLs: how long it must keep running to pass."""
    drain_seconds: float = 8.0
    """After the old container left the app's network aliases (and a named proxy was
    reloaded), how long it keeps running before it is stopped: a proxy that re-resolves
    names still sends to its cached address for a while, and in-flight requests finish."""


BACKUP_ENGINES = ("postgres", "mysql", "sqlite", "command")


@dataclass(frozen=True)
class BackupConfig:
    """``[apps.NAME.backup]``: how the app's data is dumped, where it is kept, how long.

    ``postgres`` runs ``pg_dump -Fc`` inside ``container``, ``mysql`` ``mysqldump``,
    ``sqlite`` the online ``.backup`` of ``path``; ``command`` runs ``command`` (inside
    ``container`` when given, else on the host) and keeps what it writes to stdout.
    """

    engine: str
    container: str | None = None
    database: str = ""
    user: str = ""
    path: str = ""
    """sqlite: the database file inside the container."""
    command: tuple[str, ...] = ()
    restore_command: tuple[str, ...] = ()
    """command engine: reads a backup on stdin and restores it."""
    dest: str = ""
    """Folder on the host; default STATE_DIR/APP/backups."""
    keep: int = 7
    stall_seconds: float = 120.0
    """A dump whose file has not grown, or a restore that has neither read more of its
    input nor kept its database session busy, for this long is stopped and failed (a
    paused or blocked database), instead of hanging until the six-hour limit."""


MIGRATE_IN = ("new", "running")


@dataclass(frozen=True)
class MigrateConfig:
    """``[apps.NAME.migrate]``: the app's schema migration, e.g. ``alembic upgrade head``.

    ``run_in = "new"`` runs it in a one-off container of the target image with the app's
    env and networks; ``"running"`` execs it in the running container.
    """

    command: tuple[str, ...]
    run_in: str = "new"
    timeout: float = 600.0


NGINX_RELOAD = ("nginx", "-s", "reload")


@dataclass(frozen=True)
class ProxyConfig:
    """``[apps.NAME] proxy = { container = "NAME", reload = [...] }``: the reverse proxy
    in front of the app, which resolves the app's name only when it (re)loads: opsui runs
    ``reload`` in it (engine exec) after the new container joins the app's aliases and
    again after the old one leaves them."""

    container: str
    reload: tuple[str, ...] = NGINX_RELOAD


FRONT_PROXY_KINDS = ("nginx", "haproxy")


@dataclass(frozen=True)
class FrontProxyConfig:
    """``[front_proxy]``: the proxy opsui runs in front of an app that publishes a host
    port (``opsui front APP``), from the operator's own nginx or HAProxy image, so the
    app's releases need not stop it first (see operations/front_proxy.py)."""

    image: str
    kind: str = "nginx"
    """``nginx`` or ``haproxy``: which config file opsui writes; default guessed from
    the image's name (``haproxy`` in it: HAProxy, else nginx)."""
    network: str = "opsui-front"
    """The Docker network the proxy reaches the apps on, by their names as aliases."""


@dataclass(frozen=True)
class AppConfig:
    """An application on a host: which container, compose service or Swarm service, its
    image, health URLs, deploy settings and confirmation policy."""

    name: str
    host: str = LOCAL_HOST_NAME
    """Its host; with ``hosts``, the first of them."""
    hosts: tuple[str, ...] = ()
    """``hosts = ["web1", "web2"]``: the same app on several hosts, released host by host
    as one release (operations/multi_host.py); () for an app on ``host`` only."""
    hosts_at_once: int = 1
    """How many of ``hosts`` are released at the same time, each batch through the gate
    on each host, the first batch with a failure stopping the release."""
    container: str | None = None
    service: str | None = None  # compose "project/service"
    services: tuple[str, ...] = ()
    """Several compose services ("shop/web", "shop/worker") sharing one release: every
    running container of each is released (and rolled back) together, one at a time,
    and the history records one release. ``service`` is then the first of them."""
    swarm_service: str | None = None
    image: str | None = None
    """Image repository deploys pick tags of; default: the running container's."""
    health_urls: tuple[str, ...] = ()
    health_timeout: float = 5.0
    deploy: DeploySettings = DeploySettings()
    confirm: Mapping[str, ConfirmPolicy] = field(default_factory=lambda: MappingProxyType({}))
    """Per-action policies of this app, over the top-level ``[confirm]``."""
    backup: BackupConfig | None = None
    migrate: MigrateConfig | None = None
    proxy: ProxyConfig | None = None
    compose_pin: str | None = None
    """The tag variable of the compose project's env file (``APP_TAG``) a release moves,
    so ``docker compose up -d`` afterwards keeps it (see operations/compose_pin.py)."""

    @property
    def every_host(self) -> tuple[str, ...]:
        """The hosts it runs on: ``hosts``, else its one ``host``."""
        return self.hosts or (self.host,)

    def runs_on(self, host: str) -> bool:
        return host in self.every_host


@dataclass(frozen=True)
class Config:
    """Validated settings; defaults make ``Config()`` a working zero-config setup."""

    source: str = "(defaults)"
    theme: str = "opsui-dark"
    read_only: bool = False
    refresh_seconds: float = 15.0
    stats_seconds: float = 3.0
    metrics_seconds: float = 2.0
    health_seconds: float = 10.0
    confirm: Mapping[str, ConfirmPolicy] = field(
        default_factory=lambda: MappingProxyType(dict(DEFAULT_CONFIRMATIONS))
    )
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    hosts: tuple[HostConfig, ...] = (HostConfig(LOCAL_HOST_NAME),)
    apps: tuple[AppConfig, ...] = ()
    known_hosts: str | None = None
    ssh_config: str | None = None
    log_buffer_lines: int = 200_000
    """[logs] buffer_lines: lines a log pane keeps; older ones are dropped and counted."""
    log_tail_lines: int = 1000
    """[logs] tail_lines: history a log pane opens with (the "tail" window)."""
    deploy: DeploySettings = DeploySettings()
    """[deploy]: defaults for every app, and for ad hoc deploys of any container."""
    front_proxy: FrontProxyConfig | None = None
    """[front_proxy]: None until the operator names an image (``opsui front`` refuses)."""

    def host(self, name: str) -> HostConfig | None:
        return next((h for h in self.hosts if h.name == name), None)

    def app(self, name: str, host: str | None = None) -> AppConfig | None:
        return next((a for a in self.apps if a.name == name
                     and (host is None or a.runs_on(host))), None)
