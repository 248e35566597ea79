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

from opsui.domain.apps import app_matches, app_of
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
    """The configured app the container belongs to, else its ad hoc app."""
    for app in configured:
        if app_matches(app, container):
            return app.name
    return app_of(container)


def app_shown(target: LogTarget, containers: Iterable[Container],
              configured: Iterable[AppConfig] = ()) -> AppShown:
    apps = tuple(configured)
    matching = [c for c in containers if target.matches(c)]
    names = tuple(sorted({app_name(c, apps) for c in matching}))
    if len(names) != 1:
        return AppShown(names, None)
    matching.sort(key=lambda c: c.state is not ContainerState.RUNNING)
    return AppShown(names, matching[0])
