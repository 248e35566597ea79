"""What a log view asks for, and what it gets back: a feed of lines with a state.

A :class:`LogTarget` names *what* to follow by identity (a compose service, an app, a
container name, a project, a chosen set), not by container id, so a restart or a
deploy continues the same tail. A release keeps the container it replaced under
``NAME.before-rID``; such copies serve nothing, so the identities that outlive a
container (app, service, project) never follow them, and a copy's own identity is the
app it was made for. A :class:`LogWindow` says how much history to start
with. Opening both gives a :class:`LogFeed`: a :class:`~opsui.domain.logbuffer.LogBuffer`
that reader threads fill, plus a :class:`FeedStatus` for the badge (live,
reconnecting, stale, ended).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from opsui.domain.logbuffer import LogBuffer
from opsui.domain.models import Container, find_container
from opsui.domain.release_copies import base_name as _base_name
from opsui.domain.release_copies import is_release_copy as _is_release_copy

APP_LABEL = "opsui.app"
RELEASE_LABEL = "opsui.release"


class TargetKind(enum.Enum):
    CONTAINER = "container"
    """By name; a replacement under the same name continues the tail."""
    SERVICE = "service"
    """A compose service: ``project/service``; every replica, merged."""
    PROJECT = "project"
    """Every container of a compose project, merged."""
    APP = "app"
    """Containers labelled ``opsui.app=NAME`` (deployed by opsui), merged."""
    NAMES = "names"
    """A chosen set of container names, merged."""
    SWARM = "swarm service"
    """A Swarm service by name: every task on every node, merged by its manager
    (:mod:`opsui.domain.service_tail`); no container of this engine is it."""


@dataclass(frozen=True)
class LogTarget:
    """What to follow. ``names`` holds one name, ``project/service``, or several names."""

    kind: TargetKind
    names: tuple[str, ...]
    serving_name: str | None = None
    """APP only: the name the app's serving container carries. A first deploy adopts a
    container opsui did not make (it has no ``opsui.app`` label); a rollback to that
    release makes it serve again, and only its name says it is the app's."""

    @classmethod
    def for_container(cls, container: Container) -> LogTarget:
        """The identity that outlives this container: its app, its compose service, or
        its name, in that order. A kept release copy (``web.before-r…``) stands for its
        app: the pane follows what serves, not the copy's dead lines."""
        name = _base_name(container.name)
        app = container.labels.get(APP_LABEL)
        if app:
            return cls(TargetKind.APP, (app,), serving_name=name)
        if container.compose_project and container.compose_service:
            return cls(TargetKind.SERVICE,
                       (f"{container.compose_project}/{container.compose_service}",))
        return cls(TargetKind.CONTAINER, (name,))

    @classmethod
    def parse(cls, refs: list[str], containers: list[Container]) -> LogTarget:
        """What ``opsui logs REF...`` means: ``app:NAME``, ``project:NAME``,
        ``swarm:NAME``, ``PROJECT/SERVICE``, or container names/ids (one: followed by its
        identity, as :meth:`for_container`; several: that set). Raises ValueError naming
        the ref."""
        if len(refs) == 1:
            ref = refs[0]
            if ref.startswith("app:"):
                app = ref[len("app:"):]
                return cls(TargetKind.APP, (app,), serving_name=app)
            if ref.startswith("project:"):
                return cls(TargetKind.PROJECT, (ref[len("project:"):],))
            if ref.startswith("swarm:"):
                return cls(TargetKind.SWARM, (ref[len("swarm:"):],))
            if "/" in ref:
                return cls(TargetKind.SERVICE, (ref,))
            found = _find(containers, ref)
            if _is_release_copy(found.name):  # asked for by its own name: that copy
                return cls(TargetKind.CONTAINER, (found.name,))
            return cls.for_container(found)
        return cls(TargetKind.NAMES, tuple(_find(containers, ref).name for ref in refs))

    def matches(self, container: Container) -> bool:
        if self.kind is TargetKind.SWARM:
            return False  # its tasks run on any node; the manager streams them
        if self.kind is TargetKind.CONTAINER or self.kind is TargetKind.NAMES:
            return container.name in self.names
        if _is_release_copy(container.name):
            return False  # kept or not yet switched: not what serves the app or service
        if self.kind is TargetKind.PROJECT:
            return container.compose_project in self.names
        if self.kind is TargetKind.APP:
            return container.labels.get(APP_LABEL) in self.names or (
                self.serving_name is not None and container.name == self.serving_name)
        service = f"{container.compose_project}/{container.compose_service}"
        return bool(container.compose_service) and service in self.names

    @property
    def title(self) -> str:
        """How the pane and ``opsui logs`` name it (names are already sanitised)."""
        if self.kind is TargetKind.NAMES:
            return ", ".join(self.names)
        return f"{self.kind.value} {self.names[0]}" if self.kind is not TargetKind.CONTAINER \
            else self.names[0]


@dataclass(frozen=True)
class LogWindow:
    """How much history to start with: the last ``tail`` lines, lines newer than
    ``since_seconds`` ago, or everything (both None)."""

    tail: int | None = 1000
    since_seconds: float | None = None

    PRESETS: tuple[str, ...] = ("tail", "5m", "1h", "24h", "all")

    @classmethod
    def preset(cls, name: str, tail: int = 1000) -> LogWindow:
        """``tail``, ``5m``, ``1h``, ``24h`` or ``all``."""
        seconds = {"5m": 300.0, "1h": 3600.0, "24h": 86400.0}
        if name == "tail":
            return cls(tail=tail)
        if name == "all":
            return cls(tail=None)
        if name in seconds:
            return cls(tail=None, since_seconds=seconds[name])
        raise ValueError(f"unknown log window {name!r}; expected one of {', '.join(cls.PRESETS)}")


def _find(containers: list[Container], ref: str) -> Container:
    found = find_container(containers, ref)
    if found is None:
        raise ValueError(f"no container named {ref!r}")
    return found


class FeedState(enum.Enum):
    LIVE = "live"
    """At least one stream is open and reading."""
    RECONNECTING = "reconnecting"
    """The engine or the link went away; retrying with backoff, lines will resume."""
    STALE = "stale"
    """Nothing matching runs: waiting for a restart or a replacement."""
    ENDED = "ended"
    """Not following (the window was read to its end), or the feed was closed."""


@dataclass(frozen=True)
class FeedStatus:
    state: FeedState
    message: str = ""
    """What happened, for the badge's tooltip: e.g. "engine unreachable; retry in 4 s"."""


class LogFeed(Protocol):
    """Lines arriving in ``buffer``; ``status()`` is cheap; ``close()`` from any thread
    stops every stream at once (each owns its own socket or SSH channel)."""

    @property
    def buffer(self) -> LogBuffer: ...

    @property
    def target(self) -> LogTarget: ...

    def status(self) -> FeedStatus: ...

    def close(self) -> None: ...
