"""What the dashboard says on the serving container of each app opsui has released.

The history answers "does the release serve, and does compose agree?" for one app when
asked (:mod:`opsui.domain.compose_drift`). The dashboard asks the same of every app of
the host that opsui released, so an operator sees, on the row, that the next
``docker compose up -d`` would undo a release (drift) or that it already did
(replaced). Apps opsui never released get no mark: compose's own containers are not
opsui's business. Every call blocks (the journal, compose): worker threads only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opsui.domain.apps import app_matches, is_release_copy
from opsui.domain.compose_drift import AGREES, DRIFTS, UNKNOWN
from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.logfeed import APP_LABEL
from opsui.domain.models import Container, ContainerState
from opsui.domain.sanitize import clean
from opsui.domain.settings import AppConfig

if TYPE_CHECKING:  # the dashboard's state module imports this; the facade loads later
    from opsui.domain.operations.app_releases import AppReleases, AppStatus

REPLACED, NOT_SERVING = "replaced", "not serving"
"""Kinds besides compose's AGREES / DRIFTS / UNKNOWN: another container serves the app
than the release the journal names, or nothing of the release runs."""


@dataclass(frozen=True)
class ReleaseMark:
    """One app's mark, drawn on its serving container's row and detail view."""

    app: str
    container_id: str
    """The container the mark is drawn on (the app's serving container)."""
    kind: str
    """AGREES, DRIFTS, UNKNOWN, REPLACED or NOT_SERVING."""
    text: str
    """Why, in a sentence (compose's view, or what serves instead)."""

    @property
    def marker(self) -> str:
        """A few words: "compose drift", "compose unknown", "replaced"..."""
        return {AGREES: "compose agrees", DRIFTS: "compose drift",
                UNKNOWN: "compose unknown"}.get(self.kind, self.kind)

    @property
    def trouble(self) -> bool:
        """The next ``up -d`` undoes the release, or it was undone already: worth a
        jump (``t``). An unknown verdict is no trouble: compose may just be absent."""
        return self.kind in (DRIFTS, REPLACED, NOT_SERVING)


def released_refs(host: str, apps: Iterable[AppConfig], containers: Iterable[Container],
                  known: Iterable[str] = ()) -> list[str]:
    """What to ask about: the host's configured apps that have a container, every
    container opsui made (its ``opsui.app`` label, kept copies too) for ad hoc apps, and
    the apps ``known`` to be released (marked before: compose may have replaced every
    container that carried the label). Whether opsui released them is the journal's
    to say."""
    listed = list(containers)
    refs = [app.name for app in apps
            if app.runs_on(host) and any(app_matches(app, c) for c in listed)]
    refs += known
    labelled: dict[str, str] = {}  # one container per app label: each ref costs a listing
    for c in sorted(listed, key=lambda c: (is_release_copy(c.name), c.name)):
        label = c.labels.get(APP_LABEL)
        if label:
            labelled.setdefault(label, c.name)
    refs += [labelled[label] for label in sorted(labelled)]
    return list(dict.fromkeys(refs))


def mark_of(status: AppStatus, releases: AppReleases) -> ReleaseMark | None:
    """The mark of one app (asks compose: a second or so); None when opsui has not
    released it, nothing of it is listed, or compose did not make it and it serves."""
    serving = status.serving
    if status.current is None or serving is None or status.app.swarm_service:
        return None
    if status.replaced:
        other = serving.state is ContainerState.RUNNING
        return ReleaseMark(status.app.name, serving.id, REPLACED if other else NOT_SERVING,
                           status.replaced)
    check = releases.agreement(status.app).check(serving)
    if check is None:
        return None
    return ReleaseMark(status.app.name, serving.id, check.state, check.text)


def unknown(previous: Mapping[str, ReleaseMark], why: str,
            app: str | None = None) -> dict[str, ReleaseMark]:
    """The ``previous`` marks (of ``app`` only, when given) turned "compose unknown":
    the host or compose could not be asked, so opsui no longer vouches for them."""
    text = clean(why, 300)
    return {cid: ReleaseMark(mark.app, cid, UNKNOWN, text)
            for cid, mark in previous.items() if app is None or mark.app == app}


def release_marks(releases: AppReleases, refs: Sequence[str],
                  previous: Mapping[str, ReleaseMark]) -> dict[str, ReleaseMark]:
    """The marks of the apps ``refs`` name, by container id. An app that cannot be
    read keeps its previous marks as "compose unknown"; a host that cannot be read
    at all raises OpsuiError (the caller says so the same way, with :func:`unknown`)."""
    marks: dict[str, ReleaseMark] = {}
    seen: set[str] = set()
    for ref in refs:
        try:
            app = releases.resolve(ref)
        except ActionRefused:
            continue  # the container vanished since it was listed
        if app.name in seen:
            continue
        seen.add(app.name)
        try:
            mark = mark_of(releases.status(app, mark_good=False), releases)
        except OpsuiError as exc:
            marks.update(unknown(previous, f"{app.name}: {exc}", app.name))
            continue
        if mark is not None:
            marks[mark.container_id] = mark
    return marks
