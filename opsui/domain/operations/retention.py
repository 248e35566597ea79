"""Retention: how many earlier releases' containers stay on the host for a rollback.

Every deploy keeps the container it replaced (stopped), so a rollback boots what is
already there. Without a bound they pile up; with a careless one a rollback finds
nothing. So: the serving container and the rollback target's are never removed, the
``retain`` newest other stopped containers of the app are kept, the rest removed.
Images are left alone (``docker image prune`` is the operator's call).
"""

from __future__ import annotations

from collections.abc import Collection

from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.ports import ContainerEngine
from opsui.domain.releases import Release


def prune_candidates(app: AppSpec, containers: list[Container], releases: list[Release],
                     retain: int, protected: Collection[str]) -> list[Container]:
    """The app's stopped containers beyond the ``retain`` newest, oldest release first."""
    order = {r.container_id: index for index, r in enumerate(releases) if r.container_id}
    for index, release in enumerate(releases):
        replaced = str(release.extra.get("replaces_container") or "")
        order.setdefault(replaced, index - 1)
    kept = [c for c in containers
            if c.state is not ContainerState.RUNNING and c.id not in protected
            and (app.owns(c) or c.id in order)]
    kept.sort(key=lambda c: (order.get(c.id, -2), c.created_at.timestamp()
                             if c.created_at else 0.0), reverse=True)
    return kept[retain:][::-1]


def prune(engine: ContainerEngine, doomed: list[Container]) -> str:
    """Remove them; says what went, for the step log."""
    if not doomed:
        return ""
    for container in doomed:
        engine.remove(container.id)
    return "removed " + ", ".join(c.name for c in doomed)
