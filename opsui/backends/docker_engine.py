"""The Docker engine of one host, through the docker SDK's low-level API.

Only the low-level ``client.api`` calls are used: ``containers(all=True)`` is one round
trip for the whole table, where ``client.containers.list()`` would inspect every
container. The pure mapping functions (``container_from_list``, ``container_from_inspect``,
``detail_from_inspect``, ``event_from_dict``, ``mask_env``) turn the engine's dicts into
domain models and are unit-tested with recorded dicts. Every string from the engine goes
through :mod:`opsui.domain.sanitize` here, and every docker/requests exception becomes an
:mod:`opsui.domain.errors` type, so nothing above the backends knows either library.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import quote

import docker
import docker.errors
import requests
import requests.exceptions
from docker.types.daemon import CancellableStream
from docker.utils import version_gte

from opsui.domain.errors import (
    ActionFailed,
    ContainerGone,
    EngineUnavailable,
    HostError,
    OpsuiError,
)
from opsui.domain.models import (
    Container,
    ContainerDetail,
    ContainerEvent,
    ContainerState,
    ContainerStats,
    EventKind,
    Health,
    HealthLogEntry,
    Mount,
    NetworkAttachment,
    PortBinding,
)
from opsui.domain.sanitize import clean, clean_block

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
MASK = "••••••"
_T = TypeVar("_T")

# ---------------------------------------------------------------- connecting


# Room for every stats feed plus the ordinary calls, so urllib3 never discards (and
# logs about) connections while the TUI owns the terminal.
POOL_SIZE = 64


def connect_local(docker_host: str | None, timeout: float = 10) -> docker.DockerClient:
    """A client for the engine at ``docker_host`` (or DOCKER_HOST / the default socket).

    Building the client asks the engine for its API version, so a missing engine fails
    here, with the socket or URL named, rather than on the first refresh.
    """
    endpoint = describe_endpoint(docker_host)
    try:
        if docker_host is None:
            return docker.from_env(
                timeout=_seconds(timeout), version="auto", max_pool_size=POOL_SIZE
            )
        return docker.DockerClient(
            base_url=docker_host, timeout=_seconds(timeout), version="auto",
            max_pool_size=POOL_SIZE,
        )
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise EngineUnavailable(f"no Docker engine answers at {endpoint}: {_reason(exc)}") from None


def _seconds(timeout: float) -> int:
    return max(1, math.ceil(timeout))


def describe_endpoint(docker_host: str | None) -> str:
    """The socket or URL a client built from ``docker_host`` talks to, for messages."""
    return clean(docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET)


def _reason(exc: BaseException) -> str:
    """A short, sanitised explanation of a library exception.

    requests and urllib3 wrap the OS error several layers deep in messages such as
    "Max retries exceeded ... NewConnectionError(...)"; the operator needs its last
    line ("Connection refused"), so that is dug out when there is one.
    """
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return clean(str(exc.explanation), 300)
    os_error = _os_error(exc)
    if os_error is not None:
        return clean(os_error, 300)
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    text = str(exc).replace("Error while fetching server API version: ", "")
    return clean(text or type(exc).__name__, 300)


def _os_error(exc: BaseException) -> str | None:
    """The strerror of the first OSError inside an exception's causes and arguments."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending and len(seen) < 32:
        item = pending.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.strerror:
            return item.strerror
        pending.extend([*item.args, getattr(item, "reason", None), item.__cause__,
                        item.__context__])
    return None


# ------------------------------------------------------------------- mapping

_HEALTH_IN_STATUS = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_EXITED_CODE = re.compile(r"^Exited \((-?\d+)\)")
_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")
_ZERO_TIME = "0001-01-01"
_WILDCARD_IPS = {"": "0.0.0.0", "0.0.0.0": "0.0.0.0", "::": "0.0.0.0"}
_LOOPBACK_IPS = {"127.0.0.1": "127.0.0.1", "::1": "127.0.0.1"}


def parse_time(raw: object) -> datetime | None:
    """Docker's RFC 3339 timestamps (nanoseconds, Z) as aware datetimes; None for 'never'."""
    if not isinstance(raw, str) or not raw or raw.startswith(_ZERO_TIME):
        return None
    match = _TIMESTAMP.match(raw)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    text = base + (f".{fraction[:6]:0<6}" if fraction else "")
    text += "+00:00" if zone in (None, "Z") else zone
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _epoch(raw: object) -> datetime | None:
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
        return datetime.fromtimestamp(raw, UTC)
    return None


def _labels(raw: object) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {clean(str(k)): clean(str(v)) for k, v in raw.items()}


def _name(names: object) -> str:
    """The container's own name: list entries with a second slash are legacy link aliases."""
    candidates = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    own = [n for n in candidates if "/" not in n.lstrip("/")]
    chosen = (own or candidates or [""])[0]
    return clean(chosen.lstrip("/"))


def _int(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    return None


def _port(
    container_port: object, protocol: object, host_ip: object, host_port: object
) -> tuple[tuple[int, str, str, int | None], PortBinding] | None:
    """One binding plus the key that makes its IPv4 and IPv6 twins equal."""
    private = _int(container_port)
    if private is None:
        return None
    proto = clean(str(protocol or "tcp"), 8)
    public = _int(host_port) if host_port not in (None, "") else None
    ip = str(host_ip or "")
    family = _WILDCARD_IPS.get(ip) or _LOOPBACK_IPS.get(ip) or ip
    binding = PortBinding(
        container_port=private,
        protocol=proto,
        host_ip=clean(ip) if public is not None else None,
        host_port=public,
    )
    return (private, proto, family if public is not None else "", public), binding


def _is_ipv6(binding: PortBinding) -> bool:
    return ":" in (binding.host_ip or "")


def _dedupe_ports(
    entries: list[tuple[tuple[int, str, str, int | None], PortBinding]],
) -> tuple[PortBinding, ...]:
    """Docker lists ``0.0.0.0`` and ``::`` separately for one published port; keep one."""
    seen: dict[tuple[int, str, str, int | None], PortBinding] = {}
    for key, binding in entries:
        current = seen.get(key)
        if current is None or (_is_ipv6(current) and not _is_ipv6(binding)):
            seen[key] = binding
    return tuple(
        sorted(seen.values(), key=lambda p: (p.container_port, p.protocol, p.host_port or 0))
    )


def ports_from_list(raw: object) -> tuple[PortBinding, ...]:
    """The list call's ``Ports``: ``[{IP, PrivatePort, PublicPort, Type}]``."""
    entries = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, Mapping):
            entry = _port(item.get("PrivatePort"), item.get("Type"), item.get("IP"),
                          item.get("PublicPort"))
            if entry is not None:
                entries.append(entry)
    return _dedupe_ports(entries)


def ports_from_inspect(raw: object) -> tuple[PortBinding, ...]:
    """Inspect's ``NetworkSettings.Ports``: ``{"8080/tcp": [{HostIp, HostPort}] | None}``."""
    entries = []
    for spec, bindings in raw.items() if isinstance(raw, Mapping) else ():
        port, _, proto = str(spec).partition("/")
        if not bindings:
            entry = _port(port, proto, None, None)
            if entry is not None:
                entries.append(entry)
            continue
        for bound in bindings if isinstance(bindings, list) else []:
            if isinstance(bound, Mapping):
                entry = _port(port, proto, bound.get("HostIp"), bound.get("HostPort"))
                if entry is not None:
                    entries.append(entry)
    return _dedupe_ports(entries)


def health_from_status(status_text: str) -> Health:
    """The list call has no health field; ``docker ps`` puts it in the Status text."""
    match = _HEALTH_IN_STATUS.search(status_text)
    if match is None:
        return Health.NONE
    return Health.STARTING if match.group(1) == "health: starting" else Health.parse(match.group(1))


def exit_code_from_status(status_text: str) -> int | None:
    match = _EXITED_CODE.match(status_text)
    return int(match.group(1)) if match else None


def container_from_list(entry: Mapping[str, Any]) -> Container:
    """One entry of ``GET /containers/json``: everything but the restart count."""
    labels = _labels(entry.get("Labels"))
    status_text = clean(str(entry.get("Status") or ""))
    return Container(
        id=clean(str(entry.get("Id") or ""), 128),
        name=_name(entry.get("Names")),
        image=clean(str(entry.get("Image") or "")),
        state=ContainerState.parse(str(entry.get("State") or "")),
        health=health_from_status(status_text),
        status_text=status_text,
        created_at=_epoch(entry.get("Created")),
        compose_project=labels.get("com.docker.compose.project"),
        compose_service=labels.get("com.docker.compose.service"),
        ports=ports_from_list(entry.get("Ports")),
        labels=MappingProxyType(labels),
        exit_code=exit_code_from_status(status_text),
    )


def human_duration(delta: timedelta) -> str:
    """Docker's ``units.HumanDuration``, so a re-read row reads like a listed one."""
    seconds = int(delta.total_seconds())
    minutes = int(delta.total_seconds() / 60)
    hours = int(delta.total_seconds() / 3600 + 0.5)
    if seconds < 1:
        return "Less than a second"
    if seconds == 1:
        return "1 second"
    if seconds < 60:
        return f"{seconds} seconds"
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // (24 * 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // (24 * 30)} months"
    return f"{hours // (24 * 365)} years"


def status_text_from_inspect(state: Mapping[str, Any], now: datetime | None = None) -> str:
    """What ``docker ps`` would say in its STATUS column, built from inspect's State."""
    now = now or datetime.now(UTC)
    status = ContainerState.parse(str(state.get("Status") or ""))
    started = parse_time(state.get("StartedAt"))
    finished = parse_time(state.get("FinishedAt"))
    code = _int(state.get("ExitCode")) or 0
    if status in (ContainerState.RUNNING, ContainerState.PAUSED):
        text = f"Up {human_duration(now - started)}" if started else "Up"
        if status is ContainerState.PAUSED:
            return text + " (Paused)"
        health = Health.parse(_health_block(state).get("Status"))
        suffix = {Health.HEALTHY: " (healthy)", Health.UNHEALTHY: " (unhealthy)",
                  Health.STARTING: " (health: starting)"}.get(health, "")
        return text + suffix
    ago = f" {human_duration(now - finished)} ago" if finished else ""
    if status is ContainerState.RESTARTING:
        return f"Restarting ({code}){ago}"
    if status is ContainerState.EXITED:
        return f"Exited ({code}){ago}" if finished else "Exited"
    return {ContainerState.CREATED: "Created", ContainerState.REMOVING: "Removal In Progress",
            ContainerState.DEAD: "Dead"}.get(status, "")


def _health_block(state: Mapping[str, Any]) -> Mapping[str, Any]:
    health = state.get("Health")
    return health if isinstance(health, Mapping) else {}


def _mapping(raw: object) -> Mapping[str, Any]:
    return raw if isinstance(raw, Mapping) else {}


def container_from_inspect(data: Mapping[str, Any], now: datetime | None = None) -> Container:
    """``GET /containers/{id}/json`` as a table row, with restart count and start time."""
    state = _mapping(data.get("State"))
    config = _mapping(data.get("Config"))
    labels = _labels(config.get("Labels"))
    status = ContainerState.parse(str(state.get("Status") or ""))
    exited = status in (ContainerState.EXITED, ContainerState.DEAD)
    return Container(
        id=clean(str(data.get("Id") or ""), 128),
        name=_name([data.get("Name")]),
        image=clean(str(config.get("Image") or data.get("Image") or "")),
        state=status,
        health=Health.parse(_health_block(state).get("Status")),
        status_text=clean(status_text_from_inspect(state, now)),
        created_at=parse_time(data.get("Created")),
        started_at=parse_time(state.get("StartedAt")),
        restart_count=_int(data.get("RestartCount")),
        compose_project=labels.get("com.docker.compose.project"),
        compose_service=labels.get("com.docker.compose.service"),
        ports=ports_from_inspect(_mapping(data.get("NetworkSettings")).get("Ports")),
        labels=MappingProxyType(labels),
        exit_code=_int(state.get("ExitCode")) if exited else None,
    )


# Names that hold secrets: whole words anywhere, or a KEY/AUTH/... segment of FOO_BAR names.
_SECRET_WORDS = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|APIKEY|ACCESSKEY|AUTHORIZATION"
)
_SECRET_SEGMENTS = re.compile(
    r"(?:^|[_.-])(?:[A-Z0-9]*KEYS?|O?AUTH|DSN|PASS|PWD|PW|SALT)(?:$|[_.-])"
)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^\s/]*(?=@)")
_KV_PASSWORD = re.compile(r"(?i)(?P<head>\b(?:password|passwd|pwd)=)[^\s;&]+")


def is_secret_name(name: str) -> bool:
    """Whether an env variable's name suggests its value is a credential."""
    upper = name.upper()
    if upper == "PWD":  # the working directory, not a password
        return False
    return bool(_SECRET_WORDS.search(upper) or _SECRET_SEGMENTS.search(upper))


def mask_value(value: str) -> str:
    """Hide passwords inside any value: ``scheme://user:pw@host`` and ``password=...``."""
    value = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, value)
    return _KV_PASSWORD.sub(lambda m: m.group("head") + MASK, value)


def mask_env(env: object) -> tuple[tuple[str, str], ...]:
    """``["K=V", ...]`` as sanitised pairs, secret-looking values replaced by a mask."""
    pairs = []
    for item in env if isinstance(env, list) else []:
        key, _, value = str(item).partition("=")
        shown = MASK if is_secret_name(key) and value else mask_value(value)
        pairs.append((clean(key), clean(shown)))
    return tuple(pairs)


def _argv(raw: object) -> str:
    if isinstance(raw, list):
        return clean(shlex.join(str(part) for part in raw), 4096)
    return clean(str(raw) if raw else "", 4096)


def _mounts(raw: object) -> tuple[Mount, ...]:
    mounts = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping):
            continue
        kind = str(item.get("Type") or "")
        source = item.get("Name") if kind == "volume" and item.get("Name") else item.get("Source")
        mounts.append(Mount(
            kind=clean(kind),
            source=clean(str(source or "")),
            destination=clean(str(item.get("Destination") or "")),
            read_only=item.get("RW") is False,
        ))
    return tuple(mounts)


def _networks(raw: object) -> tuple[NetworkAttachment, ...]:
    networks = []
    for name, item in sorted(_mapping(raw).items()):
        settings = _mapping(item)
        aliases = settings.get("Aliases")
        networks.append(NetworkAttachment(
            name=clean(str(name)),
            ip_address=clean(str(settings.get("IPAddress") or "")),
            aliases=tuple(clean(str(a)) for a in aliases) if isinstance(aliases, list) else (),
        ))
    return tuple(networks)


def _health_log(raw: object) -> tuple[HealthLogEntry, ...]:
    entries = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, Mapping):
            entries.append(HealthLogEntry(
                started_at=parse_time(item.get("Start")),
                ended_at=parse_time(item.get("End")),
                exit_code=_int(item.get("ExitCode")) or 0,
                output=clean_block(str(item.get("Output") or "")),
            ))
    return tuple(entries)


def _restart_policy(raw: object) -> str:
    policy = _mapping(raw)
    name = clean(str(policy.get("Name") or "no"), 32)
    retries = _int(policy.get("MaximumRetryCount")) or 0
    return f"{name}:{retries}" if name == "on-failure" and retries else name


def detail_from_inspect(data: Mapping[str, Any], now: datetime | None = None) -> ContainerDetail:
    """Everything the detail view shows, sanitised, with secrets in env masked."""
    container = container_from_inspect(data, now)
    config = _mapping(data.get("Config"))
    health = _health_block(_mapping(data.get("State")))
    return ContainerDetail(
        container=container,
        command=_argv(config.get("Cmd")),
        entrypoint=_argv(config.get("Entrypoint")),
        env=mask_env(config.get("Env")),
        mounts=_mounts(data.get("Mounts")),
        networks=_networks(_mapping(data.get("NetworkSettings")).get("Networks")),
        labels=tuple(sorted(container.labels.items())),
        health_log=_health_log(health.get("Log")),
        health_failing_streak=_int(health.get("FailingStreak")) or 0,
        restart_policy=_restart_policy(_mapping(data.get("HostConfig")).get("RestartPolicy")),
        image_id=clean(str(data.get("Image") or "")),
    )


# Actions that change what a row shows; others (exec_*, attach, top, resize...) are noise.
_CHANGING_ACTIONS = frozenset({
    "create", "start", "restart", "stop", "die", "kill", "pause", "unpause", "rename",
    "health_status", "oom", "update",
})


# Filtered by the engine too: health checks make exec_* events every interval for every
# container, and decoding those only to drop them costs idle CPU.
_EVENT_FILTERS = {"type": ["container"], "event": sorted(_CHANGING_ACTIONS | {"destroy"})}


def event_from_dict(raw: Mapping[str, Any]) -> ContainerEvent | None:
    """One decoded engine event, or None when the dashboard has nothing to re-read."""
    if raw.get("Type", "container") != "container":
        return None
    action = str(raw.get("Action") or raw.get("status") or "")
    base = action.split(":", 1)[0].strip()
    if base == "destroy":
        kind = EventKind.REMOVED
    elif base in _CHANGING_ACTIONS:
        kind = EventKind.CHANGED
    else:
        return None
    actor = _mapping(raw.get("Actor"))
    container_id = actor.get("ID") or raw.get("id")
    if not container_id:
        return None
    nanos = _int(raw.get("timeNano"))
    when = (datetime.fromtimestamp(nanos / 1e9, UTC) if nanos
            else _epoch(raw.get("time")))
    return ContainerEvent(kind=kind, container_id=clean(str(container_id), 128),
                          action=clean(action, 64), time=when)


# --------------------------------------------------------------------- stats

def _cpu_counters(stats: Mapping[str, Any]) -> tuple[int, int, int] | None:
    """(container total, system total, online cpus) from a ``cpu_stats`` block."""
    usage = _mapping(stats.get("cpu_usage"))
    total = _int(usage.get("total_usage"))
    system = _int(stats.get("system_cpu_usage"))
    if not total or not system:
        return None
    cpus = _int(stats.get("online_cpus")) or len(usage.get("percpu_usage") or ()) or 1
    return total, system, cpus


def cpu_percent(
    current: tuple[int, int, int], previous: tuple[int, int, int] | None
) -> float:
    """``docker stats``' formula: container delta over system delta, times online CPUs."""
    if previous is None:
        return 0.0
    cpu_delta = current[0] - previous[0]
    system_delta = current[1] - previous[1]
    if cpu_delta <= 0 or system_delta <= 0:
        return 0.0
    return round(cpu_delta / system_delta * current[2] * 100.0, 2)


def memory_used(memory: Mapping[str, Any]) -> int:
    """Usage minus reclaimable page cache, as ``docker stats`` shows it.

    cgroup v2 reports ``inactive_file``; cgroup v1 ``total_inactive_file`` (what the
    docker CLI subtracts today), with ``cache`` as the older fallback.
    """
    usage = _int(memory.get("usage")) or 0
    detail = _mapping(memory.get("stats"))
    for key in ("inactive_file", "total_inactive_file", "cache"):
        reclaimable = _int(detail.get(key))
        if reclaimable is not None and reclaimable < usage:
            return usage - reclaimable
    return usage


def stats_from_dict(
    container_id: str, raw: Mapping[str, Any], previous: tuple[int, int, int] | None
) -> tuple[ContainerStats, tuple[int, int, int]] | None:
    """A sample plus the CPU counters to cache for the next one; None when not running."""
    memory = _mapping(raw.get("memory_stats"))
    current = _cpu_counters(_mapping(raw.get("cpu_stats")))
    if not memory or current is None:
        return None
    if previous is None:
        previous = _cpu_counters(_mapping(raw.get("precpu_stats")))
    sample = ContainerStats(
        container_id=container_id,
        cpu_percent=cpu_percent(current, previous),
        memory_bytes=memory_used(memory),
        memory_limit_bytes=_int(memory.get("limit")) or 0,
        sampled_at=parse_time(raw.get("read")) or datetime.now(UTC),
    )
    return sample, current


# -------------------------------------------------------------------- engine

MAX_STATS_FEEDS = 48  # beyond this, stats() makes one-shot requests
FIRST_FRAME_WAIT = 2.0  # the engine's stats tick is 1 s
STALE_FEED_SECONDS = 5.0
_CONNECTION_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    OSError,
)


class DockerEngine:
    """:class:`opsui.domain.ports.ContainerEngine` over a ``docker.DockerClient``.

    Blocking; called from worker threads, and safe to share between them.

    Stats: the engine samples every container on one global 1 s tick, and any stats
    request, one-shot included, waits for the next tick. Asked one container at a time
    that is up to a second each, so by default each container asked about gets a
    streaming feed (one connection and one reader thread) that keeps its newest frame:
    the first ``stats()`` waits for one tick, later ones return at once, and a feed
    nobody asks about for ``stats_idle_seconds`` closes itself. Past ``max_stats_feeds``
    feeds (0 where a held connection is costly, as with one dial-stdio process per
    connection over SSH), a call is a one-shot request with CPU% from the delta to the
    previous call. :meth:`stats_many` overlaps the waits of many containers either way.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        endpoint: str | None = None,
        *,
        max_stats_feeds: int = MAX_STATS_FEEDS,
        stats_idle_seconds: float = 30.0,
    ) -> None:
        self._client = client
        self._api = client.api
        self._endpoint = endpoint or clean(str(client.api.base_url))
        self._one_shot = version_gte(self._api.api_version, "1.41")
        self._max_feeds = max_stats_feeds
        self._stats_idle = stats_idle_seconds
        self._feeds: dict[str, _StatsFeed] = {}
        self._feeds_lock = threading.Lock()
        self._cpu: dict[str, tuple[int, int, int]] = {}
        self._cpu_lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """The socket or URL of this engine, as shown in error messages."""
        return self._endpoint

    def _unavailable(self, exc: BaseException) -> EngineUnavailable:
        return EngineUnavailable(f"no Docker engine answers at {self._endpoint}: {_reason(exc)}")

    def _call(self, what: str, call: Callable[[], _T], container_id: str | None = None) -> _T:
        """Run one SDK call, translating its exceptions for ``what`` the operator asked."""
        try:
            return call()
        except OpsuiError:
            raise
        except docker.errors.NotFound:
            short = clean(container_id or "", 12)
            raise ContainerGone(f"container {short} no longer exists") from None
        except docker.errors.APIError as exc:
            if container_id is None:
                raise HostError(f"{self._endpoint}: {what} failed: {_reason(exc)}") from None
            raise ActionFailed(f"{what} {clean(container_id, 12)}: {_reason(exc)}") from None
        except (*_CONNECTION_ERRORS, docker.errors.DockerException) as exc:
            raise self._unavailable(exc) from None

    def ping(self) -> float:
        started = time.perf_counter()
        self._call("ping", self._api.ping)
        return (time.perf_counter() - started) * 1000.0

    def list_containers(self) -> list[Container]:
        entries = self._call("list containers", lambda: self._api.containers(all=True))
        return [container_from_list(entry) for entry in entries if isinstance(entry, Mapping)]

    def get_container(self, container_id: str) -> Container | None:
        try:
            data = self._call("inspect", lambda: self._api.inspect_container(container_id),
                              container_id)
        except ContainerGone:
            return None
        return container_from_inspect(data)

    def inspect(self, container_id: str) -> ContainerDetail:
        data = self._call("inspect", lambda: self._api.inspect_container(container_id),
                          container_id)
        return detail_from_inspect(data)

    def stats(self, container_id: str) -> ContainerStats | None:
        with self._feeds_lock:
            feed = self._feeds.get(container_id)
            if feed is not None and feed.finished():
                del self._feeds[container_id]
                feed.close()
                feed = None
            crowded = len(self._feeds) >= self._max_feeds
        if feed is None:
            if crowded:
                return self._sample_once(container_id)
            feed = self._open_feed(container_id)
            if feed is None:
                return None
        return feed.sample(FIRST_FRAME_WAIT)

    def stats_many(self, container_ids: Iterable[str]) -> dict[str, ContainerStats]:
        """Samples of many containers at once (None samples left out), in about one tick."""
        ids = list(dict.fromkeys(container_ids))
        if not ids:
            return {}
        with ThreadPoolExecutor(min(16, len(ids)), thread_name_prefix="opsui-stats") as pool:
            samples = list(pool.map(self.stats, ids))
        return {cid: sample for cid, sample in zip(ids, samples, strict=True) if sample}

    def _open_feed(self, container_id: str) -> _StatsFeed | None:
        url = (f"{self._api.base_url}/v{self._api.api_version}"
               f"/containers/{quote(container_id, safe='')}/stats")
        response = self._call(
            "stats",
            lambda: self._api.get(url, stream=True, timeout=(self._api.timeout, None)),
            container_id,
        )
        if response.status_code in (404, 409):  # gone, or not running
            response.close()
            return None
        if response.status_code >= 400:
            reason = _response_reason(response)
            response.close()
            raise ActionFailed(f"stats {clean(container_id, 12)}: {reason}")
        feed = _StatsFeed(container_id, response, self._stats_idle)
        with self._feeds_lock:
            current = self._feeds.get(container_id)
            if current is not None and not current.finished():
                feed.close()
                return current
            self._feeds[container_id] = feed
        feed.start()
        return feed

    def _sample_once(self, container_id: str) -> ContainerStats | None:
        def sample() -> Any:
            try:
                if self._one_shot:
                    return self._api.stats(container_id, stream=False, one_shot=True)
                return self._api.stats(container_id, stream=False)
            except docker.errors.APIError as exc:
                if exc.status_code in (404, 409):  # gone, or not running
                    return None
                raise

        raw = self._call("stats", sample, container_id)
        with self._cpu_lock:
            result = stats_from_dict(container_id, _mapping(raw), self._cpu.get(container_id))
            if result is None:
                self._cpu.pop(container_id, None)
                return None
            fresh, counters = result
            self._cpu[container_id] = counters
        return fresh

    def events(self) -> DockerEventStream:
        raw = self._call(
            "watch events",
            lambda: self._api.events(decode=True, filters=_EVENT_FILTERS),
        )
        return DockerEventStream(raw, self._unavailable)

    def start(self, container_id: str) -> None:
        self._call("start", lambda: self._api.start(container_id), container_id)

    def stop(self, container_id: str, timeout: int = 10) -> None:
        self._call("stop", lambda: self._api.stop(container_id, timeout=timeout), container_id)

    def restart(self, container_id: str, timeout: int = 10) -> None:
        self._call("restart", lambda: self._api.restart(container_id, timeout=timeout),
                   container_id)

    def close(self) -> None:
        with self._feeds_lock:
            feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            feed.close()
        with contextlib.suppress(Exception):
            self._client.close()


def _response_reason(response: requests.Response) -> str:
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    return clean(str(message or f"HTTP {response.status_code}"), 300)


class _StatsFeed:
    """One container's stats stream, read by its own thread, kept while it is asked for.

    The engine sends a frame per tick; each carries the previous frame's CPU counters,
    so CPU% needs no state of ours beyond the newest sample. The reader ends when
    closed, when nobody asked for ``idle_seconds``, or when the stream breaks (the
    container was removed, the engine went away); the engine then opens a new feed.
    """

    def __init__(self, container_id: str, response: requests.Response, idle_seconds: float) -> None:
        self.container_id = container_id
        self._stream: CancellableStream[bytes] = CancellableStream(
            response.iter_lines(chunk_size=65536), response
        )
        self._idle = idle_seconds
        self._asked = time.monotonic()
        self._frame_at = time.monotonic()
        self._latest: ContainerStats | None = None
        self._counters: tuple[int, int, int] | None = None
        self._first = threading.Event()
        self._ended = threading.Event()
        self._thread = threading.Thread(
            target=self._read, name=f"opsui-stats-{container_id[:12]}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def finished(self) -> bool:
        """Ended, or silent for several ticks (a hung stream is replaced, not trusted)."""
        return self._ended.is_set() or time.monotonic() - self._frame_at > STALE_FEED_SECONDS

    def _read(self) -> None:
        try:
            for line in self._stream:
                if line:
                    self._take(json.loads(line))
                if self._ended.is_set() or time.monotonic() - self._asked > self._idle:
                    break
        except Exception:  # closed under us, engine gone, or a garbled frame: the feed ends
            pass
        finally:
            self._ended.set()
            self._first.set()
            cancel_stream(self._stream)

    def _take(self, frame: object) -> None:
        result = stats_from_dict(self.container_id, _mapping(frame), self._counters)
        self._latest, self._counters = result if result else (None, None)
        self._frame_at = time.monotonic()
        self._first.set()

    def sample(self, first_wait: float) -> ContainerStats | None:
        """The newest sample; the first call waits up to ``first_wait`` for one frame."""
        self._asked = time.monotonic()
        self._first.wait(first_wait)
        return self._latest

    def close(self) -> None:
        self._ended.set()
        cancel_stream(self._stream)


class DockerEventStream:
    """:class:`opsui.domain.ports.EventStream` over the SDK's ``CancellableStream``.

    ``close()`` shuts the socket down under the blocked reader, so the iterating thread
    wakes at once. The SDK refuses to cancel SSH (paramiko) streams; there the channel is
    closed directly, which ends the read just the same. Iteration that ends without
    ``close()`` means the engine dropped the stream: subscribe again and reconcile.
    """

    def __init__(
        self, raw: Any, unavailable: Callable[[BaseException], EngineUnavailable]
    ) -> None:
        self._raw = raw
        self._unavailable = unavailable
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[ContainerEvent]:
        try:
            for item in self._raw:
                if self._closed.is_set():
                    return
                if isinstance(item, Mapping):
                    event = event_from_dict(item)
                    if event is not None:
                        yield event
        except Exception as exc:
            if self._closed.is_set():
                return
            raise self._unavailable(exc) from None

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        cancel_stream(self._raw)


def cancel_stream(stream: Any) -> None:
    """Close a ``CancellableStream`` from any thread, waking its blocked reader.

    The SDK shuts the socket down, but refuses when the connection is an SSH channel;
    then the channel itself is closed, which ends the read the same way.
    """
    try:
        stream.close()
        return
    except Exception:
        pass
    response = getattr(stream, "_response", None)
    raw_fp = getattr(getattr(response, "raw", None), "_fp", None)
    channel = getattr(getattr(raw_fp, "fp", None), "channel", None)
    with contextlib.suppress(Exception):
        if channel is not None:
            channel.close()
    with contextlib.suppress(Exception):
        if response is not None:
            response.close()
