"""Load and validate ``opsui.toml`` into the domain's settings types.

The types, and every default, live in :mod:`opsui.domain.settings` (the domain reads
them and never imports this module); this module only finds the file, checks each value
and builds them, falling back to their field defaults and taking each table's known keys
from their fields. The old names stay importable from here.

Where the file is found: ``--config PATH``, else ``./opsui.toml``, else
``$XDG_CONFIG_HOME/opsui/opsui.toml`` (``~/.config/opsui/opsui.toml``). No file at all
is fine: opsui then shows the local engine with defaults. Every mistake raises
:class:`ConfigError` naming the file, the dotted key and what was expected, because an
operator fixing config mid-incident should not have to guess.
"""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from platformdirs import user_config_path

from opsui.domain.errors import ActionRefused, ConfigError
from opsui.domain.history import app_folder
from opsui.domain.operations.policy import DEFAULT_CONFIRMATIONS, ConfirmPolicy

# The settings types live in the domain (it reads them); re-exported here, where they
# always were, for the CLI, the UI, tests and embedders.
from opsui.domain.settings import BACKUP_ENGINES as BACKUP_ENGINES
from opsui.domain.settings import DEFAULT_STATE_DIR as DEFAULT_STATE_DIR
from opsui.domain.settings import FRONT_PROXY_KINDS
from opsui.domain.settings import LOCAL_HOST_NAME as LOCAL_HOST_NAME
from opsui.domain.settings import MIGRATE_IN as MIGRATE_IN
from opsui.domain.settings import AppConfig as AppConfig
from opsui.domain.settings import BackupConfig as BackupConfig
from opsui.domain.settings import Config as Config
from opsui.domain.settings import DeploySettings as DeploySettings
from opsui.domain.settings import FrontProxyConfig as FrontProxyConfig
from opsui.domain.settings import HostConfig as HostConfig
from opsui.domain.settings import MigrateConfig as MigrateConfig
from opsui.domain.settings import ProxyConfig as ProxyConfig

CONFIG_NAME = "opsui.toml"


def find_config(explicit: str | None, cwd: Path | None = None) -> Path | None:
    """The config file to use, or None when there is none (zero-config)."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(str(path), "--config", "an existing file")
        return path
    local = (cwd or Path.cwd()) / CONFIG_NAME
    if local.is_file():
        return local
    # $XDG_CONFIG_HOME/opsui, ~/.config/opsui when unset (platformdirs, on Linux).
    user = user_config_path("opsui", appauthor=False) / CONFIG_NAME
    return user if user.is_file() else None


def load_config(path: Path | None) -> Config:
    """Parse and validate; ``None`` gives the defaults."""
    if path is None:
        return Config()
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "(file)", f"valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "(file)", f"a readable UTF-8 file ({exc})") from None
    return config_from_data(source, data)


def config_from_data(source: str, data: Mapping[str, Any]) -> Config:
    """Validate already-parsed TOML (``source`` names it in errors)."""
    return _Reader(source).config(data)


MIN_INTERVAL = 0.5
"""Sampling and polling intervals below this would keep a core busy re-listing."""
MAX_INTERVAL = 86_400.0
MAX_SECONDS = 7 * 86_400.0
"""No timeout or delay in opsui is meant to be longer than a week; a bigger number is a
typo (and ``1e300`` would overflow the timers)."""
MAX_COUNT = 10_000_000


def _field_names(settings: type[Any], *, skip: tuple[str, ...] = ()) -> set[str]:
    """A table's keys are its settings type's fields: a field added there is a key here."""
    return {f.name for f in fields(settings) if f.name not in skip}


_TOP_KEYS = {
    *_field_names(Config, skip=("source", "known_hosts", "ssh_config", "log_buffer_lines",
                                "log_tail_lines")),
    "ssh", "logs",  # tables: [ssh] known_hosts/config, [logs] buffer_lines/tail_lines
}
_HOST_KEYS = _field_names(HostConfig, skip=("name",))
_DEPLOY_KEYS = _field_names(DeploySettings)
_APP_KEYS = {*_field_names(AppConfig, skip=("name", "deploy")), "health_url", *_DEPLOY_KEYS}
"""An app's deploy settings sit in its own table (``apps.NAME.retain``), and
``health_url`` is a one-URL spelling of ``health_urls``."""
_BACKUP_KEYS = _field_names(BackupConfig)
_MIGRATE_KEYS = _field_names(MigrateConfig)
_PROXY_KEYS = _field_names(ProxyConfig)
_FRONT_PROXY_KEYS = _field_names(FrontProxyConfig)


class _Reader:
    """Walks the parsed TOML, checking types and naming keys by their dotted path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, expected: str, got: object | None = None) -> ConfigError:
        return ConfigError(self.source, key, expected, got)

    def check_keys(self, table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(f"{prefix}{key}", f"one of the known keys ({known})", "unknown key")

    def table(self, value: object, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "a table", type(value).__name__)
        return value

    def boolean(self, table: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(path, "true or false", value)
        return value

    def seconds(self, table: Mapping[str, Any], key: str, default: float,
                path: str | None = None, *, minimum: float = 0.0,
                maximum: float = MAX_SECONDS) -> float:
        """A finite number of seconds in (``minimum``, ``maximum``]: NaN, infinities,
        booleans and absurd values would make a timer spin or never fire."""
        value = table.get(key, default)
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or value <= 0 or value < minimum
                or value > maximum):
            low = f"from {minimum:g}" if minimum else "above 0"
            raise self.fail(path or key, f"a positive number of seconds ({low} to "
                            f"{maximum:,.0f})", value)
        return float(value)

    def count(self, table: Mapping[str, Any], key: str, path: str, default: int,
              minimum: int, maximum: int = MAX_COUNT) -> int:
        value = table.get(key, default)
        if (isinstance(value, bool) or not isinstance(value, int) or value < minimum
                or value > maximum):
            raise self.fail(path, f"a whole number from {minimum:,} to {maximum:,}", value)
        return value

    def text(self, table: Mapping[str, Any], key: str, path: str) -> str | None:
        """A non-empty string without control characters (a newline or an escape in a
        name or a path would reach the terminal, a shell or a file name)."""
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "a non-empty string", value)
        if _has_controls(value):
            raise self.fail(path, "a string without control characters", value)
        return value

    def env_var(self, table: Mapping[str, Any], key: str, path: str) -> str | None:
        """A variable name of an env file (letters, digits, '_'; not starting with a
        digit): it names the one line opsui may rewrite there."""
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise self.fail(path, "the name of a variable of the compose project's .env "
                            "(like APP_TAG)", value)
        return value

    def interval(self, table: Mapping[str, Any], key: str, default: float) -> float:
        return self.seconds(table, key, default, minimum=MIN_INTERVAL, maximum=MAX_INTERVAL)

    def config(self, data: Mapping[str, Any]) -> Config:
        self.check_keys(data, _TOP_KEYS, "")
        theme = self.text(data, "theme", "theme") or Config.theme
        ssh = self.table(data.get("ssh", {}), "ssh")
        self.check_keys(ssh, {"known_hosts", "config"}, "ssh.")
        logs = self.table(data.get("logs", {}), "logs")
        self.check_keys(logs, {"buffer_lines", "tail_lines"}, "logs.")
        deploy_table = self.table(data.get("deploy", {}), "deploy")
        self.check_keys(deploy_table, _DEPLOY_KEYS, "deploy.")
        deploy = self.deploy_settings(deploy_table, "deploy.", DeploySettings())
        return Config(
            source=self.source,
            theme=theme,
            read_only=self.boolean(data, "read_only", "read_only", Config.read_only),
            refresh_seconds=self.interval(data, "refresh_seconds", Config.refresh_seconds),
            stats_seconds=self.interval(data, "stats_seconds", Config.stats_seconds),
            metrics_seconds=self.interval(data, "metrics_seconds", Config.metrics_seconds),
            health_seconds=self.interval(data, "health_seconds", Config.health_seconds),
            confirm=MappingProxyType(self.confirmations(data.get("confirm", {}))),
            keys=MappingProxyType(self.keys(data.get("keys", {}))),
            hosts=self.hosts(data.get("hosts", {})),
            apps=self.apps(data.get("apps", {}), deploy),
            deploy=deploy,
            front_proxy=self.front_proxy(data.get("front_proxy")),
            known_hosts=self.text(ssh, "known_hosts", "ssh.known_hosts"),
            ssh_config=self.text(ssh, "config", "ssh.config"),
            log_buffer_lines=self.count(logs, "buffer_lines", "logs.buffer_lines",
                                        Config.log_buffer_lines, 1000),
            log_tail_lines=self.count(logs, "tail_lines", "logs.tail_lines",
                                      Config.log_tail_lines, 0),
        )

    def deploy_settings(self, table: Mapping[str, Any], prefix: str,
                        defaults: DeploySettings) -> DeploySettings:
        state_dir = self.text(table, "state_dir", f"{prefix}state_dir") or defaults.state_dir
        if not state_dir.startswith("/"):
            raise self.fail(f"{prefix}state_dir", "an absolute path on the host", state_dir)
        return DeploySettings(
            state_dir=state_dir,
            retain=self.count(table, "retain", f"{prefix}retain", defaults.retain, 1, 1000),
            known_good_seconds=self.seconds(table, "known_good_seconds",
                                            defaults.known_good_seconds,
                                            f"{prefix}known_good_seconds"),
            gate_timeout=self.seconds(table, "gate_timeout", defaults.gate_timeout,
                                      f"{prefix}gate_timeout"),
            settle_seconds=self.seconds(table, "settle_seconds", defaults.settle_seconds,
                                        f"{prefix}settle_seconds"),
            drain_seconds=self.seconds(table, "drain_seconds", defaults.drain_seconds,
                                       f"{prefix}drain_seconds", maximum=3600.0),
        )

    def confirmations(self, value: object, prefix: str = "confirm",
                      base: Mapping[str, ConfirmPolicy] = DEFAULT_CONFIRMATIONS
                      ) -> dict[str, ConfirmPolicy]:
        table = self.table(value, prefix)
        policies = dict(base)
        choices = ", ".join(f'"{p.value}"' for p in ConfirmPolicy)
        for action, raw in table.items():
            if action not in DEFAULT_CONFIRMATIONS:
                known = ", ".join(sorted(DEFAULT_CONFIRMATIONS))
                raise self.fail(f"{prefix}.{action}", f"an action name ({known})",
                                "unknown action")
            try:
                policies[action] = ConfirmPolicy(raw)
            except ValueError:
                raise self.fail(f"{prefix}.{action}", f"one of {choices}", raw) from None
        return policies

    def keys(self, value: object) -> dict[str, str]:
        table = self.table(value, "keys")
        keys: dict[str, str] = {}
        for binding_id, raw in table.items():
            if not isinstance(raw, str) or not raw.strip() or _has_controls(raw):
                raise self.fail(f"keys.{binding_id}", 'a key name such as "ctrl+r" or "f5,r"', raw)
            keys[binding_id] = raw
        return keys

    def argv(self, table: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        """A command as a list of words (no shell): ``["alembic", "upgrade", "head"]``."""
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(w, str) and w and "\0" not in w
                                                  for w in value):
            raise self.fail(path, 'a list of words, such as ["alembic", "upgrade", "head"]',
                            value)
        return tuple(value)

    def choice(self, table: Mapping[str, Any], key: str, path: str, choices: tuple[str, ...],
               default: str | None = None) -> str:
        value = table.get(key, default)
        if value not in choices:
            raise self.fail(path, "one of " + ", ".join(f'"{c}"' for c in choices), value)
        return str(value)

    def backup(self, value: object, prefix: str) -> BackupConfig | None:
        if value is None:
            return None
        table = self.table(value, prefix)
        self.check_keys(table, _BACKUP_KEYS, f"{prefix}.")
        engine = self.choice(table, "engine", f"{prefix}.engine", BACKUP_ENGINES)
        container = self.text(table, "container", f"{prefix}.container")
        if engine != "command" and container is None:
            raise self.fail(f"{prefix}.container", "the database container's name")
        command = self.argv(table, "command", f"{prefix}.command")
        if engine == "command" and not command:
            raise self.fail(f"{prefix}.command", "the command whose stdout is the backup")
        database = self.text(table, "database", f"{prefix}.database") or ""
        if engine in ("postgres", "mysql") and not database:
            raise self.fail(f"{prefix}.database", "the database to dump")
        path = self.text(table, "path", f"{prefix}.path") or ""
        if engine == "sqlite" and not path.startswith("/"):
            raise self.fail(f"{prefix}.path", "the database file's absolute path in the "
                            "container", path or None)
        dest = self.text(table, "dest", f"{prefix}.dest") or ""
        if dest and not dest.startswith("/"):
            raise self.fail(f"{prefix}.dest", "an absolute folder on the host", dest)
        return BackupConfig(
            engine=engine, container=container, database=database,
            user=self.text(table, "user", f"{prefix}.user") or "",
            path=path, command=command,
            restore_command=self.argv(table, "restore_command", f"{prefix}.restore_command"),
            dest=dest, keep=self.count(table, "keep", f"{prefix}.keep", BackupConfig.keep, 1,
                                       100_000),
            stall_seconds=self.seconds(table, "stall_seconds", BackupConfig.stall_seconds,
                                       f"{prefix}.stall_seconds", minimum=2.0,
                                       maximum=24 * 3600.0))

    def migrate(self, value: object, prefix: str) -> MigrateConfig | None:
        if value is None:
            return None
        table = self.table(value, prefix)
        self.check_keys(table, _MIGRATE_KEYS, f"{prefix}.")
        command = self.argv(table, "command", f"{prefix}.command")
        if not command:
            raise self.fail(f"{prefix}.command", 'the migration command, such as '
                            '["alembic", "upgrade", "head"]')
        return MigrateConfig(command, self.choice(table, "run_in", f"{prefix}.run_in",
                                                  MIGRATE_IN, MigrateConfig.run_in),
                             self.seconds(table, "timeout", MigrateConfig.timeout,
                                          f"{prefix}.timeout"))

    def services(self, table: Mapping[str, Any], path: str) -> tuple[str, ...]:
        """Compose services sharing one release: ``["shop/web", "shop/worker"]``."""
        value = table.get("services", [])
        if not isinstance(value, list) or not all(
                isinstance(v, str) and v.count("/") == 1 and all(v.split("/"))
                and not _has_controls(v) for v in value) or len(set(value)) != len(value):
            raise self.fail(path, 'a list of distinct compose "project/service" names',
                            value)
        return tuple(value)

    def app_hosts(self, table: Mapping[str, Any], path: str) -> tuple[str, ...]:
        """The hosts of an app on several: ``["web1", "web2"]``, at least one, distinct."""
        if "hosts" not in table:
            return ()
        value = table["hosts"]
        if not isinstance(value, list) or not value or not all(
                isinstance(v, str) and v.strip() and not _has_controls(v) for v in value) \
                or len(set(value)) != len(value):
            raise self.fail(path, 'a non-empty list of distinct host names, such as '
                            '["web1", "web2"]', value)
        return tuple(value)

    def proxy(self, value: object, prefix: str) -> ProxyConfig | None:
        if value is None:
            return None
        table = self.table(value, prefix)
        self.check_keys(table, _PROXY_KEYS, f"{prefix}.")
        container = self.text(table, "container", f"{prefix}.container")
        if container is None:
            raise self.fail(f"{prefix}.container", "the proxy container's name")
        reload = (self.argv(table, "reload", f"{prefix}.reload") if "reload" in table
                  else ProxyConfig.reload)
        if not reload:
            raise self.fail(f"{prefix}.reload", 'the reload command, such as '
                            '["nginx", "-s", "reload"]', [])
        return ProxyConfig(container, reload)

    def front_proxy(self, value: object) -> FrontProxyConfig | None:
        """``[front_proxy]``: the image opsui runs the front proxy from (the operator's
        own: opsui pulls nothing of its own), its kind and its network."""
        if value is None:
            return None
        table = self.table(value, "front_proxy")
        self.check_keys(table, _FRONT_PROXY_KEYS, "front_proxy.")
        image = self.text(table, "image", "front_proxy.image")
        if image is None or any(ch.isspace() for ch in image):
            raise self.fail("front_proxy.image", "the proxy's image, such as nginx:1.27 or "
                            "haproxy:3.0", image)
        kind = self.choice(table, "kind", "front_proxy.kind", FRONT_PROXY_KINDS,
                           "haproxy" if "haproxy" in image.lower() else "nginx")
        network = self.text(table, "network", "front_proxy.network")
        if network is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}",
                                                    network):
            raise self.fail("front_proxy.network", "a Docker network name (letters, digits, "
                            "'_', '.', '-')", network)
        return FrontProxyConfig(image, kind, network or FrontProxyConfig.network)

    def hosts(self, value: object) -> tuple[HostConfig, ...]:
        table = self.table(value, "hosts")
        hosts: list[HostConfig] = []
        for name, raw in table.items():
            entry = self.table(raw, f"hosts.{name}")
            if _has_controls(name):
                raise self.fail(f"hosts.{name}", "a host name without control characters")
            self.check_keys(entry, _HOST_KEYS, f"hosts.{name}.")
            ssh = self.text(entry, "ssh", f"hosts.{name}.ssh")
            docker_host = self.text(entry, "docker_host", f"hosts.{name}.docker_host")
            if ssh and docker_host:
                raise self.fail(f"hosts.{name}", "either 'ssh' or 'docker_host', not both")
            hosts.append(
                HostConfig(
                    name=name,
                    ssh=ssh,
                    docker_host=docker_host,
                    read_only=self.boolean(entry, "read_only", f"hosts.{name}.read_only",
                                           HostConfig.read_only),
                    docker_config=self.text(entry, "docker_config",
                                            f"hosts.{name}.docker_config"),
                )
            )
        if not hosts:
            hosts.append(HostConfig(LOCAL_HOST_NAME))
        return tuple(hosts)

    def apps(self, value: object, deploy: DeploySettings) -> tuple[AppConfig, ...]:
        table = self.table(value, "apps")
        apps: list[AppConfig] = []
        for name, raw in table.items():
            entry = self.table(raw, f"apps.{name}")
            try:
                app_folder(DEFAULT_STATE_DIR, name)  # the rule every app command applies
            except ActionRefused:
                raise self.fail(f"apps.{name}", "an app name of letters, digits, '_', '.' and "
                                "'-' (it names the app's folder on the host)") from None
            self.check_keys(entry, _APP_KEYS, f"apps.{name}.")
            urls = entry.get("health_urls", [])
            if "health_url" in entry and isinstance(urls, list):
                urls = [entry["health_url"], *urls]
            if not isinstance(urls, list) or not all(
                isinstance(u, str) and u.startswith(("http://", "https://"))
                and not _has_controls(u) for u in urls
            ):
                raise self.fail(f"apps.{name}.health_urls",
                                "a list of http:// or https:// URLs", urls)
            service = self.text(entry, "service", f"apps.{name}.service")
            if service is not None and "/" not in service:
                raise self.fail(f"apps.{name}.service", 'a compose "project/service"', service)
            services = self.services(entry, f"apps.{name}.services")
            if services and service is not None:
                raise self.fail(f"apps.{name}", "either 'service' or 'services', not both")
            service = service or (services[0] if services else None)
            container = self.text(entry, "container", f"apps.{name}.container")
            swarm = self.text(entry, "swarm_service", f"apps.{name}.swarm_service")
            if sum(x is not None for x in (container, service, swarm)) > 1:
                raise self.fail(f"apps.{name}",
                                "only one of 'container', 'service' and 'swarm_service'")
            host = self.text(entry, "host", f"apps.{name}.host")
            hosts = self.app_hosts(entry, f"apps.{name}.hosts")
            if host is not None and hosts:
                raise self.fail(f"apps.{name}", "either 'host' or 'hosts', not both")
            if "hosts_at_once" in entry and not hosts:
                raise self.fail(f"apps.{name}.hosts_at_once", "only with 'hosts' (how many "
                                "of them are released at the same time)")
            at_once = self.count(entry, "hosts_at_once", f"apps.{name}.hosts_at_once",
                                 AppConfig.hosts_at_once, 1, max(1, len(hosts)))
            apps.append(
                AppConfig(
                    name=name,
                    host=host or (hosts[0] if hosts else AppConfig.host),
                    hosts=hosts,
                    hosts_at_once=at_once,
                    container=container,
                    service=service,
                    services=services,
                    swarm_service=swarm,
                    image=self.text(entry, "image", f"apps.{name}.image"),
                    health_urls=tuple(urls),
                    health_timeout=self.seconds(entry, "health_timeout",
                                                AppConfig.health_timeout,
                                                f"apps.{name}.health_timeout",
                                                maximum=MAX_INTERVAL),
                    deploy=self.deploy_settings(entry, f"apps.{name}.", deploy),
                    confirm=MappingProxyType(self.confirmations(
                        entry.get("confirm", {}), f"apps.{name}.confirm", {})),
                    backup=self.backup(entry.get("backup"), f"apps.{name}.backup"),
                    migrate=self.migrate(entry.get("migrate"), f"apps.{name}.migrate"),
                    proxy=self.proxy(entry.get("proxy"), f"apps.{name}.proxy"),
                    compose_pin=self.env_var(entry, "compose_pin",
                                             f"apps.{name}.compose_pin"),
                )
            )
        return tuple(apps)


def _has_controls(text: str) -> bool:
    """Any Unicode control, format or separator character (Cc, Cf, Zl, Zp)."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)
