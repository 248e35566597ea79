"""Kept release containers out of compose's reach, and back in when they serve again.

``docker compose up -d`` counts every container labelled with the project and service
as a replica: a stopped ``NAME.before-rID`` kept for rollback would be started, and
the release opsui made removed (issue 13). Labels cannot change on a container, so a
container of a compose service is kept as a stopped *copy* (same image id, same
config) whose compose labels sit under ``opsui.hidden.``; the original is removed.
A rollback restores a copy with the compose labels back (and the config hash compose
computes now, when the app has a pin), so it boots the exact image, never pulled.
Containers without compose labels, and engines that cannot copy, are renamed as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Protocol, runtime_checkable

from opsui.domain.logfeed import APP_LABEL
from opsui.domain.models import Container
from opsui.domain.ports import ContainerEngine
from opsui.domain.release_copies import (
    KEPT_FROM_LABEL,
    has_compose_labels,
    has_hidden_labels,
    hide_compose_labels,
    restore_compose_labels,
)
from opsui.domain.releases import Release

Relabel = Callable[[dict[str, str]], dict[str, str]]


@runtime_checkable
class CopiesContainers(Protocol):
    """An engine that can make a stopped copy of a container with other labels."""

    def copy_container(self, container_id: str, name: str, relabel: Relabel) -> str:
        """Create (not start) ``name``: ``container_id``'s image id and config, labels
        ``relabel(raw labels)``. Its id."""
        ...


def keep_for_rollback(engine: ContainerEngine, old: Container, kept_name: str,
                      app: str = "") -> str:
    """Keep the stopped ``old`` as ``kept_name``; the id of what is kept."""
    if not (has_compose_labels(old.labels) and isinstance(engine, CopiesContainers)):
        engine.rename(old.id, kept_name)
        return old.id
    done = find_kept_copy(engine, old.id)  # made before an interruption
    if done is None:
        def relabel(labels: dict[str, str]) -> dict[str, str]:
            hidden = hide_compose_labels(labels, old.id)
            if app and APP_LABEL not in hidden:
                hidden[APP_LABEL] = app  # still found as the app's without compose's
            return hidden

        kept_id = engine.copy_container(old.id, kept_name, relabel)
    else:
        kept_id = done.id
    engine.remove(old.id)
    return kept_id


def restore_to_serve(engine: ContainerEngine, kept: Container, name: str,
                     overrides: Mapping[str, str] | None = None) -> str:
    """The container a rollback starts: ``kept`` itself, or, when its compose labels
    were hidden, a copy of it named ``name`` with them back."""
    if not (has_hidden_labels(kept.labels) and isinstance(engine, CopiesContainers)):
        return kept.id
    return engine.copy_container(kept.id, name,
                                 lambda labels: restore_compose_labels(labels, overrides))


def find_kept_copy(engine: ContainerEngine, original_id: str) -> Container | None:
    """The kept copy made of ``original_id`` (the original is removed once it exists)."""
    if not original_id:
        return None
    return next((c for c in engine.list_containers()
                 if c.labels.get(KEPT_FROM_LABEL) == original_id), None)


def with_kept_copies(releases: list[Release], containers: list[Container]) -> list[Release]:
    """Releases whose container was kept as a copy point at the copy (its
    ``opsui.kept-from`` label names the original), so rollback, retention and history
    find it."""
    present = {c.id for c in containers}
    copies = {c.labels.get(KEPT_FROM_LABEL, ""): c.id for c in containers
              if c.labels.get(KEPT_FROM_LABEL)}
    return [replace(r, container_id=copies[r.container_id])
            if r.container_id and r.container_id not in present and r.container_id in copies
            else r for r in releases]
