"""Plain values that cross the boundary between backends, domain and UI.

Every field that came from a host (names, labels, health output) has already been
through :mod:`opsui.domain.sanitize` when one of these is built, so the UI can show
it as data without further checks. All are frozen: a new sample is a new object,
which lets the UI compare snapshots instead of tracking mutations.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

EMPTY_LABELS: Mapping[str, str] = MappingProxyType({})


class Health(enum.Enum):
    """Docker HEALTHCHECK state, or NONE where the image defines no check."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    STARTING = "starting"
    NONE = "none"

    @classmethod
    def parse(cls, raw: str | None) -> Health:
        try:
            return cls(raw) if raw else cls.NONE
        except ValueError:
            return cls.NONE


class ContainerState(enum.Enum):
    """The engine's container lifecycle state."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, raw: str | None) -> ContainerState:
        try:
            return cls(raw) if raw else cls.UNKNOWN
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True)
class PortBinding:
    """One published (or merely exposed) container port."""

    container_port: int
    protocol: str = "tcp"
    host_ip: str | None = None
    host_port: int | None = None

    def __str__(self) -> str:
        if self.host_port is None:
            return f"{self.container_port}/{self.protocol}"
        ip = self.host_ip if self.host_ip not in (None, "", "0.0.0.0", "::") else ""
        prefix = f"{ip}:" if ip else ""
        return f"{prefix}{self.host_port}->{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class Container:
    """One row of the dashboard: what the engine's list call and inspect say."""

    id: str
    name: str
    image: str
    state: ContainerState
    health: Health = Health.NONE
    status_text: str = ""
    created_at: datetime | None = None
    started_at: datetime | None = None
    restart_count: int | None = None  # None until inspected; the list call omits it
    compose_project: str | None = None
    compose_service: str | None = None
    ports: tuple[PortBinding, ...] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: EMPTY_LABELS, compare=False)
    exit_code: int | None = None

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def group(self) -> str:
        """The compose project, or empty for containers outside any project."""
        return self.compose_project or ""


def split_image(ref: str) -> tuple[str, str]:
    """``[registry/]repo[:tag][@digest]`` -> ``(registry/repo, tag)``; the tag defaults to
    ``latest``. A colon before the last slash is a registry port, not a tag."""
    name = ref.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
        return name, tag
    return name, "latest"


def find_container(containers: list[Container], ref: str) -> Container | None:
    """``ref`` as an operator types it: a name, a full id, or an unambiguous id prefix."""
    exact = [c for c in containers if ref in (c.name, c.id)]
    if exact:
        return exact[0]
    prefixed = [c for c in containers if c.id.startswith(ref)]
    return prefixed[0] if len(prefixed) == 1 else None


@dataclass(frozen=True)
class ContainerStats:
    """One resource sample of one container."""

    container_id: str
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int
    sampled_at: datetime


@dataclass(frozen=True)
class HostMetrics:
    """One sample of the host's own resources (psutil locally, /proc remotely)."""

    cpu_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    disk_used_bytes: int
    disk_total_bytes: int
    load1: float
    load5: float
    load15: float
    sampled_at: datetime

    @property
    def memory_percent(self) -> float:
        if not self.memory_total_bytes:
            return 0.0
        return 100.0 * self.memory_used_bytes / self.memory_total_bytes

    @property
    def disk_percent(self) -> float:
        if not self.disk_total_bytes:
            return 0.0
        return 100.0 * self.disk_used_bytes / self.disk_total_bytes


@dataclass(frozen=True)
class HealthLogEntry:
    """One run of a Docker HEALTHCHECK probe, as kept by the engine (last five)."""

    started_at: datetime | None
    ended_at: datetime | None
    exit_code: int
    output: str


@dataclass(frozen=True)
class Mount:
    kind: str
    source: str
    destination: str
    read_only: bool = False


@dataclass(frozen=True)
class NetworkAttachment:
    name: str
    ip_address: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerDetail:
    """What the detail view shows: inspect data, already sanitised and masked."""

    container: Container
    command: str
    entrypoint: str
    env: tuple[tuple[str, str], ...]
    mounts: tuple[Mount, ...]
    networks: tuple[NetworkAttachment, ...]
    labels: tuple[tuple[str, str], ...]
    health_log: tuple[HealthLogEntry, ...]
    health_failing_streak: int = 0
    restart_policy: str = ""
    image_id: str = ""
    fixed_host_ports: tuple[str, ...] = ()
    """Bindings to a host port the operator chose (not one the engine picked)."""


class EventKind(enum.Enum):
    """The container events the dashboard reacts to, folded from the engine's actions."""

    CHANGED = "changed"  # create, start, stop, die, restart, pause, rename, health...
    REMOVED = "removed"  # destroy


@dataclass(frozen=True)
class ContainerEvent:
    """A container changed; the dashboard re-reads that one container."""

    kind: EventKind
    container_id: str
    action: str
    time: datetime | None = None


@dataclass(frozen=True)
class SubCheck:
    """One named sub-check of an HTTP health endpoint (database, cache, ...)."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class HttpHealth:
    """Result of probing one configured HTTP health URL from the host's side."""

    url: str
    ok: bool
    status_code: int | None
    latency_ms: float | None
    checks: tuple[SubCheck, ...] = ()
    error: str = ""
    checked_at: datetime | None = None


class LinkState(enum.Enum):
    """How opsui's connection to a host is doing, shown in the sidebar."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth failed"
    HOST_KEY_UNKNOWN = "host key unknown"
    HOST_KEY_CHANGED = "host key changed"
    NO_ENGINE = "no engine"


@dataclass(frozen=True)
class HostStatus:
    """The sidebar entry of one host."""

    name: str
    state: LinkState
    latency_ms: float | None = None
    message: str = ""
    hint: str = ""
    clock_skew: float | None = None
    """The host's clock minus this machine's, in seconds (None: not measured)."""
