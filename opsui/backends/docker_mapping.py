"""Pure mapping from the engine's container dicts to domain models.

``container_from_list`` reads one entry of ``GET /containers/json`` (the whole table in
one round trip); ``container_from_inspect`` and ``detail_from_inspect`` read
``GET /containers/{id}/json``. No I/O here, so these are unit-tested with recorded
dicts. Every string from the engine goes through :mod:`opsui.domain.sanitize` on the
way in, and env values are masked by :mod:`opsui.backends.docker_secrets`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from opsui.backends.docker_fields import (
    int_or_none,
    mapping_or_empty,
    parse_time,
    time_from_epoch,
)
from opsui.backends.docker_secrets import mask_env
from opsui.domain.models import (
    Container,
    ContainerDetail,
    ContainerState,
    Health,
    HealthLogEntry,
    Mount,
    NetworkAttachment,
    PortBinding,
)
from opsui.domain.sanitize import clean, clean_block

_HEALTH_IN_STATUS = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_EXITED_CODE = re.compile(r"^Exited \((-?\d+)\)")
_WILDCARD_IPS = {"": "0.0.0.0", "0.0.0.0": "0.0.0.0", "::": "0.0.0.0"}
_LOOPBACK_IPS = {"127.0.0.1": "127.0.0.1", "::1": "127.0.0.1"}


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


def _port(
    container_port: object, protocol: object, host_ip: object, host_port: object
) -> tuple[tuple[int, str, str, int | None], PortBinding] | None:
    """One binding plus the key that makes its IPv4 and IPv6 twins equal."""
    private = int_or_none(container_port)
    if private is None:
        return None
    proto = clean(str(protocol or "tcp"), 8)
    public = int_or_none(host_port) if host_port not in (None, "") else None
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
        created_at=time_from_epoch(entry.get("Created")),
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
    code = int_or_none(state.get("ExitCode")) or 0
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


def container_from_inspect(data: Mapping[str, Any], now: datetime | None = None) -> Container:
    """``GET /containers/{id}/json`` as a table row, with restart count and start time."""
    state = mapping_or_empty(data.get("State"))
    config = mapping_or_empty(data.get("Config"))
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
        restart_count=int_or_none(data.get("RestartCount")),
        compose_project=labels.get("com.docker.compose.project"),
        compose_service=labels.get("com.docker.compose.service"),
        ports=ports_from_inspect(mapping_or_empty(data.get("NetworkSettings")).get("Ports")),
        labels=MappingProxyType(labels),
        exit_code=int_or_none(state.get("ExitCode")) if exited else None,
    )


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
    for name, item in sorted(mapping_or_empty(raw).items()):
        settings = mapping_or_empty(item)
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
                exit_code=int_or_none(item.get("ExitCode")) or 0,
                output=clean_block(str(item.get("Output") or "")),
            ))
    return tuple(entries)


def _restart_policy(raw: object) -> str:
    policy = mapping_or_empty(raw)
    name = clean(str(policy.get("Name") or "no"), 32)
    retries = int_or_none(policy.get("MaximumRetryCount")) or 0
    return f"{name}:{retries}" if name == "on-failure" and retries else name


def detail_from_inspect(data: Mapping[str, Any], now: datetime | None = None) -> ContainerDetail:
    """Everything the detail view shows, sanitised, with secrets in env masked."""
    container = container_from_inspect(data, now)
    config = mapping_or_empty(data.get("Config"))
    health = _health_block(mapping_or_empty(data.get("State")))
    return ContainerDetail(
        container=container,
        command=_argv(config.get("Cmd")),
        entrypoint=_argv(config.get("Entrypoint")),
        env=mask_env(config.get("Env")),
        mounts=_mounts(data.get("Mounts")),
        networks=_networks(mapping_or_empty(data.get("NetworkSettings")).get("Networks")),
        labels=tuple(sorted(container.labels.items())),
        health_log=_health_log(health.get("Log")),
        health_failing_streak=int_or_none(health.get("FailingStreak")) or 0,
        restart_policy=_restart_policy(mapping_or_empty(data.get("HostConfig")).get("RestartPolicy")),
        image_id=clean(str(data.get("Image") or "")),
        fixed_host_ports=_fixed_host_ports(
            mapping_or_empty(data.get("HostConfig")).get("PortBindings")),
    )


def _fixed_host_ports(bindings: object) -> tuple[str, ...]:
    """``8080/tcp -> 127.0.0.1:8000`` for each binding to a chosen host port (not the
    engine's pick): a second container could not bind those alongside."""
    fixed: list[str] = []
    for port, entries in (bindings.items() if isinstance(bindings, dict) else ()):
        for entry in entries or ():
            host_port = str(mapping_or_empty(entry).get("HostPort") or "")
            if host_port and host_port != "0":
                ip = str(mapping_or_empty(entry).get("HostIp") or "")
                fixed.append(clean(f"{port} -> {ip + ':' if ip else ''}{host_port}", 80))
    return tuple(fixed)
