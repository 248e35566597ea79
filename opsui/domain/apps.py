"""Which containers belong to a configured app, and which of them serves it.

A release keeps the container it replaced, renamed ``NAME.before-rID`` (and makes its
new one as ``NAME.rID`` until the switch). Those copies belong to their app but serve
nothing: the dashboard folds them under the app, never counts them as trouble, and
acts on the app's serving container instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from opsui.domain.logfeed import APP_LABEL
from opsui.domain.models import Container, ContainerState, Health
from opsui.domain.release_copies import base_name as base_name
from opsui.domain.release_copies import is_release_copy as is_release_copy
from opsui.domain.settings import AppConfig


def app_matches(app: AppConfig, container: Container) -> bool:
    """True when ``container`` is the app's container or a replica of its compose service."""
    if app.container is not None:
        return container.name == app.container
    for named in app.services or ((app.service,) if app.service is not None else ()):
        project, _, service = named.partition("/")
        if container.compose_project == project and container.compose_service == service:
            return True
    if app.service is not None:
        return False
    return container.name == app.name


def app_of(container: Container) -> str:
    """The app a container belongs to: its ``opsui.app`` label, else its base name."""
    return container.labels.get(APP_LABEL) or base_name(container.name)


def serving_for(copy: Container, containers: Iterable[Container]) -> Container | None:
    """The container that serves ``copy``'s app now: not a release copy, of the same app
    (label or base name), running ones first; None while no such container exists."""
    names = {app_of(copy), base_name(copy.name)}
    candidates = [c for c in containers if c.id != copy.id and not is_release_copy(c.name)
                  and (c.name in names or c.labels.get(APP_LABEL) in names)]
    candidates.sort(key=lambda c: c.state is not ContainerState.RUNNING)
    return candidates[0] if candidates else None


def in_trouble(container: Container) -> bool:
    """What an operator in an incident looks at first: unhealthy, restarting, dead or
    exited with an error. Kept release copies are stopped on purpose: never trouble."""
    if is_release_copy(container.name):
        return False
    if container.health is Health.UNHEALTHY:
        return True
    if container.state in (ContainerState.RESTARTING, ContainerState.DEAD):
        return True
    return (container.state is ContainerState.EXITED and container.exit_code is not None
            and container.exit_code != 0)
