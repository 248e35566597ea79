"""Which containers a release of an app replaces, and how traffic reaches them.

A compose service scaled to N runs N containers with the same
``com.docker.compose.project``/``service`` labels; a release replaces every one of them,
one at a time (:class:`~opsui.domain.operations.deploy.Deployment`), never only the one
the app resolved to. Kept and not-yet-switched copies (``NAME.before-rID``, ``NAME.rID``)
are no replicas, whatever their labels say; nor is a ``NAME.rID-restored`` copy a switch
back left when it was cut off (it duplicates ``NAME``: issue 13, a plan of 3 for 2).
A replica left running without the aliases its others hold serves nothing:
:func:`heal_aliases` gives them back.
"""

from __future__ import annotations

import re
from typing import cast

from opsui.domain.errors import OpsuiError
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.operations.traffic import Aliases, Handover, TrafficSettings
from opsui.domain.ports import ContainerEngine, TrafficEngine
from opsui.domain.release_copies import is_release_copy
from opsui.domain.settings import AppConfig, DeploySettings

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
_RESTORED_COPY = re.compile(r"\.r\d{14}-[0-9a-f]{4}-restored$")


def is_restored_copy(name: str) -> bool:
    """``NAME.rID-restored``: the old version brought back for ``NAME`` by a switch back
    that was cut off before it took ``NAME``."""
    return bool(_RESTORED_COPY.search(name))


def replicas_of(serving: Container, containers: list[Container],
                services: tuple[str, ...] = ()) -> tuple[Container, ...]:
    """The other running containers of ``serving``'s compose service, by name; then
    those of the app's other ``services`` ("project/service"), service by service."""
    project = serving.labels.get(COMPOSE_PROJECT)
    service = serving.labels.get(COMPOSE_SERVICE)
    if not project or not service:
        return ()
    named = [f"{project}/{service}", *(s for s in services if s != f"{project}/{service}")]
    found: list[Container] = []
    for entry in named:
        want_project, _, want_service = entry.partition("/")
        found += sorted((c for c in containers
                         if c.id != serving.id and c.state is ContainerState.RUNNING
                         and c.labels.get(COMPOSE_PROJECT) == want_project
                         and c.labels.get(COMPOSE_SERVICE) == want_service
                         and not is_release_copy(c.name) and not is_restored_copy(c.name)),
                        key=lambda c: c.name)
    return tuple(found)


def heal_aliases(engine: ContainerEngine, traffic: TrafficEngine | None, handover: Handover,
                 serving: Container) -> list[tuple[Container, str]]:
    """Give every running replica of ``serving``'s service (itself included) the
    network aliases the others hold and it lacks; what each one joined."""
    if traffic is None:
        return []
    group = [serving, *(c for c in replicas_of(serving, engine.list_containers())
                        if c.labels.get(COMPOSE_SERVICE) == serving.labels.get(COMPOSE_SERVICE))]
    held = {c.id: aliases_of(traffic, c) for c in group}
    union: dict[str, set[str]] = {}
    for aliases in held.values():
        for network, names in aliases.items():
            union.setdefault(network, set()).update(names)
    done: list[tuple[Container, str]] = []
    for container in group:
        own = held[container.id]
        lacking = {network: tuple(sorted(names | set(own.get(network, ()))))
                   for network, names in union.items()
                   if not names <= set(own.get(network, ()))}
        if lacking:
            joined = handover.join_like(container.id, lacking)
            if joined:
                done.append((container, joined))
    return done


def services_of(app: AppSpec) -> tuple[str, ...]:
    """The compose services an app's release covers (``[apps.NAME] services``)."""
    return app.config.services if app.config is not None else ()


def traffic_engine(engine: ContainerEngine) -> TrafficEngine | None:
    """The engine's aliases and exec, where it has them (the Docker engine does)."""
    return cast("TrafficEngine | None", getattr(engine, "traffic", None))


def traffic_settings(config: AppConfig | None, settings: DeploySettings) -> TrafficSettings:
    return TrafficSettings(settings.drain_seconds, config.proxy if config else None)


def aliases_of(traffic: TrafficEngine | None, container: Container) -> Aliases:
    """The aliases ``container`` is reached by; none when they cannot be read (the
    switch is then a plain one, and the plan says so)."""
    if traffic is None:
        return {}
    try:
        return traffic.aliases(container.id)
    except OpsuiError:
        return {}
