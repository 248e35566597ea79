"""Which app a log pane shows, so app actions (deploy, rollback, history, backups) can
be started from it.

A pane follows an identity (see :class:`~opsui.domain.logfeed.LogTarget`), not a
container: the container an action is about is looked up when the key is pressed,
because a release switches it. A pane that merges several apps (a compose project, a
set of marked containers) has no one app to act on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from opsui.domain.apps import (
    app_matches,
    app_of,
    base_name,
    compose_services,
    in_compose_services,
)
from opsui.domain.logfeed import LogTarget
from opsui.domain.models import Container, ContainerState
from opsui.domain.settings import AppConfig


@dataclass(frozen=True)
class AppShown:
    """The apps a target's containers belong to, and the one serving when there is one."""

    apps: tuple[str, ...]
    """Sorted app names (empty: nothing matches now)."""
    serving: Container | None
    """With exactly one app: its serving container (running ones first)."""


def app_name(container: Container, configured: Iterable[AppConfig]) -> str:
    """The configured app the container belongs to (a compose app's kept copies by their
    hidden compose labels), else its ad hoc app. An ``opsui.app`` label naming a compose
    app the container is not of (another project's namesake) does not name it: its
    actions would act on that other project."""
    apps = tuple(configured)
    for app in apps:
        if in_compose_services(app, container) if compose_services(app) \
                else app_matches(app, container):
            return app.name
    name = app_of(container)
    if any(app.name == name and compose_services(app) for app in apps):
        return base_name(container.name)
    return name


def app_shown(target: LogTarget, containers: Iterable[Container],
              configured: Iterable[AppConfig] = ()) -> AppShown:
    apps = tuple(configured)
    matching = [c for c in containers if target.matches(c)]
    names = tuple(sorted({app_name(c, apps) for c in matching}))
    if len(names) != 1:
        return AppShown(names, None)
    matching.sort(key=lambda c: c.state is not ContainerState.RUNNING)
    return AppShown(names, matching[0])
