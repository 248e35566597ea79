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
from opsui.domain.release_copies import COMPOSE_PREFIX, HIDDEN_PREFIX
from opsui.domain.release_copies import base_name as base_name
from opsui.domain.release_copies import is_release_copy as is_release_copy
from opsui.domain.settings import AppConfig


def app_matches(app: AppConfig, container: Container) -> bool:
    """True when ``container`` is the app's container or a replica of its compose service."""
    if app.container is not None:
        return container.name == app.container
    for named in compose_services(app):
        project, _, service = named.partition("/")
        if container.compose_project == project and container.compose_service == service:
            return True
    if app.service is not None:
        return False
    return container.name == app.name


def compose_identity(container: Container) -> tuple[str, str] | None:
    """The compose ``(project, service)`` a container is a replica of, or, for a kept
    release copy whose compose labels are hidden, the one it was made from; None outside
    compose. Two projects on a host often share service names (``shop/app``,
    ``shop-staging/app``), so this, not the ``opsui.app`` label, says whose it is."""
    if container.compose_project and container.compose_service:
        return container.compose_project, container.compose_service
    project = container.labels.get(f"{HIDDEN_PREFIX}{COMPOSE_PREFIX}project")
    service = container.labels.get(f"{HIDDEN_PREFIX}{COMPOSE_PREFIX}service")
    return (project, service) if project and service else None


def compose_services(app: AppConfig) -> tuple[str, ...]:
    """The ``project/service`` entries of a compose app (empty for any other app)."""
    return app.services or ((app.service,) if app.service is not None else ())


def in_compose_services(app: AppConfig, container: Container) -> bool:
    """A compose app's container, live or kept: its compose project and service (the
    hidden originals on a kept copy) are one of the app's. The ``opsui.app`` label alone
    never is enough: another project's container may carry the same app name."""
    identity = compose_identity(container)
    return identity is not None and "/".join(identity) in compose_services(app)


def app_of(container: Container) -> str:
    """The app a container belongs to: its ``opsui.app`` label, else its base name."""
    return container.labels.get(APP_LABEL) or base_name(container.name)


def serving_for(copy: Container, containers: Iterable[Container]) -> Container | None:
    """The container that serves ``copy``'s app now: not a release copy, of the same app
    (label or base name), running ones first; None while no such container exists. A
    copy of a compose service (live or hidden labels) is served only by a container of
    that same project and service: another project's with the same app name is not it."""
    names = {app_of(copy), base_name(copy.name)}
    identity = compose_identity(copy)
    candidates = [c for c in containers if c.id != copy.id and not is_release_copy(c.name)
                  and (c.name in names or c.labels.get(APP_LABEL) in names)
                  and (identity is None or compose_identity(c) == identity)]
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
