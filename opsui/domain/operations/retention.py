"""Retention: how many earlier releases' containers stay on the host for a rollback.

Every deploy keeps the containers it replaced (stopped), so a rollback boots what is
already there. Without a bound they pile up; with a careless one a rollback finds
nothing. Retention counts *releases*, not containers: a release of a compose service
scaled to N replaces N containers, and its N kept copies (``NAME.before-rID``, one per
replica, all named after the run that kept them) stand or fall together. The journal
records one container per release (:attr:`Release.container_id`), so ordering copies by
it alone left every other replica's copy looking older than any release: the run that
had just kept it removed it, and the next rollback booted that replica from a bare image
id (issue 13). So copies are grouped by the run in their name: the group holding a
protected container (the serving one, the rollback target's) is kept whole, the
``retain`` newest other groups are kept, the rest removed. Only release copies are ever
removed: a stopped container holding an app name (a crashed replica) is compose's or
the operator's business. Images are left alone (``docker image prune`` is the
operator's call).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.ports import ContainerEngine
from opsui.domain.release_copies import is_release_copy
from opsui.domain.releases import Release

_RUN = re.compile(r"\.(?:before-)?(r\d{14}-[0-9a-f]{4})$")


def _run_of(container: Container) -> str:
    """The run that kept (``.before-rID``) or made (``.rID``) a copy: its group."""
    found = _RUN.search(container.name)
    return found.group(1) if found else container.id


def prune_candidates(app: AppSpec, containers: list[Container], releases: list[Release],
                     retain: int, protected: Collection[str]) -> list[Container]:
    """The app's stopped release copies beyond the ``retain`` newest releases' (every
    replica's copy of a release counts once), oldest release first; never a copy kept
    by the run that kept a ``protected`` container."""
    index = {r.id: i for i, r in enumerate(releases)}
    recorded = {r.container_id: i for i, r in enumerate(releases) if r.container_id}
    groups: dict[str, list[Container]] = {}
    for c in containers:
        if (c.state is not ContainerState.RUNNING and is_release_copy(c.name)
                and (app.owns(c) or c.id in recorded)):
            groups.setdefault(_run_of(c), []).append(c)
    shielded = {key for key, group in groups.items()
                if any(c.id in protected for c in group)}

    def age(key: str) -> tuple[int, float]:
        group = groups[key]
        newest = max((recorded.get(c.id, -1) for c in group), default=-1)
        return (max(index.get(key, -1), newest),
                max(c.created_at.timestamp() if c.created_at else 0.0 for c in group))

    others = sorted((key for key in groups if key not in shielded), key=age, reverse=True)
    return [c for key in others[retain:][::-1]
            for c in sorted(groups[key], key=lambda c: c.name)]


def prune(engine: ContainerEngine, doomed: list[Container]) -> str:
    """Remove them; says what went, for the step log."""
    if not doomed:
        return ""
    for container in doomed:
        engine.remove(container.id)
    return "removed " + ", ".join(c.name for c in doomed)
