"""The UI's picture of every host, fed by monitor messages and read by widgets.

Monitor threads never touch this: the app applies each message on the event loop,
then hands the accumulated :class:`Changes` to the widgets in one batch. Keeping
the picture here (and not in widgets) lets a hidden screen catch up when it is
shown again, and lets tests check the bookkeeping without a terminal.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from opsui.config import AppConfig
from opsui.domain.apps import app_matches, is_release_copy
from opsui.domain.models import (
    Container,
    ContainerStats,
    Health,
    HostMetrics,
    HostStatus,
    HttpHealth,
    LinkState,
)
from opsui.domain.operations.release_marks import ReleaseMark

AppHealth = tuple[str, tuple[HttpHealth, ...]]
"""(app name, results of its health URLs), as shown for a container."""

HISTORY_POINTS = 60
"""How many metric samples each sparkline keeps (about two minutes at 2 s)."""


@dataclass
class Changes:
    """What changed since the widgets last looked: they redraw only this."""

    statuses: set[str] = field(default_factory=set)
    """Hosts whose link status changed."""
    snapshots: set[str] = field(default_factory=set)
    """Hosts that delivered a full container list."""
    containers: dict[str, set[str]] = field(default_factory=dict)
    """Per host: ids of containers added or changed (rows to update or insert)."""
    removed: dict[str, set[str]] = field(default_factory=dict)
    """Per host: ids of containers that are gone (rows to remove)."""
    stats: dict[str, set[str]] = field(default_factory=dict)
    """Per host: ids whose resource sample changed (CPU and memory cells)."""
    metrics: set[str] = field(default_factory=set)
    """Hosts with a new host metrics sample (the host panel)."""

    def __bool__(self) -> bool:
        return bool(self.statuses or self.snapshots or self.containers or self.removed
                    or self.stats or self.metrics)


@dataclass
class HostView:
    """Everything the UI knows about one host."""

    status: HostStatus
    containers: dict[str, Container] = field(default_factory=dict)
    """Containers by id, as last reported."""
    stats: dict[str, ContainerStats] = field(default_factory=dict)
    """Latest resource sample per container id (only for watched rows)."""
    metrics: HostMetrics | None = None
    """Latest host metrics sample."""
    cpu: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY_POINTS))
    memory: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY_POINTS))
    disk: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY_POINTS))
    load: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY_POINTS))
    app_health: dict[str, tuple[HttpHealth, ...]] = field(default_factory=dict)
    """HTTP health results per configured app name."""
    listed: bool = False
    """True once a full container list arrived (an empty table then means "none")."""
    release_marks: dict[str, ReleaseMark] = field(default_factory=dict)
    """Per serving container id: what its app's release and compose say (drift,
    replaced...), from the dashboard's compose watch (:mod:`opsui.ui.widgets.release_watch`)."""

    @property
    def name(self) -> str:
        return self.status.name

    @property
    def unhealthy_count(self) -> int:
        """Unhealthy containers, without opsui's kept release copies: those are stopped
        on purpose (or a failed release's leftovers), and counting them would make a
        host with a few releases look broken."""
        return sum(1 for c in self.containers.values()
                   if c.health is Health.UNHEALTHY and not is_release_copy(c.name))

    @property
    def kept_count(self) -> int:
        """Release copies opsui kept (``NAME.before-r…``), folded under their app."""
        return sum(1 for c in self.containers.values() if is_release_copy(c.name))


def _figures(sample: ContainerStats) -> tuple[float, int, int]:
    """What the table shows of a sample (its time is not shown)."""
    return sample.cpu_percent, sample.memory_bytes, sample.memory_limit_bytes


class UiState:
    """Per-host containers, stats, metrics history and app health, plus pending changes."""

    def __init__(self, host_names: Iterable[str] = (), apps: Iterable[AppConfig] = ()) -> None:
        self.hosts: dict[str, HostView] = {}
        """Host views in configuration order (the sidebar order)."""
        self.apps: tuple[AppConfig, ...] = tuple(apps)
        """Configured apps, for matching containers to HTTP health results."""
        self._changes = Changes()
        for name in host_names:
            self.host(name)

    def host(self, name: str) -> HostView:
        """The view of ``name``, created (connecting) on first mention."""
        view = self.hosts.get(name)
        if view is None:
            view = self.hosts[name] = HostView(HostStatus(name, LinkState.CONNECTING))
        return view

    def take_changes(self) -> Changes:
        """Hand the pending changes to the widgets and start collecting anew."""
        changes, self._changes = self._changes, Changes()
        return changes

    @property
    def pending(self) -> bool:
        return bool(self._changes)

    # -- applying monitor updates ------------------------------------------------------

    def apply_status(self, status: HostStatus) -> None:
        view = self.host(status.name)
        if view.status != status:
            view.status = status
            self._changes.statuses.add(status.name)

    def apply_snapshot(self, host: str, containers: Iterable[Container]) -> None:
        """A full list: rows not in it are removed, new or different ones updated."""
        view = self.host(host)
        fresh = {c.id: c for c in containers}
        for gone in set(view.containers) - set(fresh):
            self._remove(view, gone)
        for container in fresh.values():
            self._put(view, container)
        view.listed = True
        self._changes.snapshots.add(host)

    def apply_changed(self, host: str, container: Container) -> None:
        self._put(self.host(host), container)

    def apply_removed(self, host: str, container_id: str) -> None:
        self._remove(self.host(host), container_id)

    def apply_metrics(self, host: str, metrics: HostMetrics) -> None:
        view = self.host(host)
        view.metrics = metrics
        view.cpu.append(metrics.cpu_percent)
        view.memory.append(metrics.memory_percent)
        view.disk.append(metrics.disk_percent)
        view.load.append(metrics.load1)
        self._changes.metrics.add(host)

    def apply_stats(self, host: str, samples: Iterable[ContainerStats]) -> None:
        view = self.host(host)
        touched = self._changes.stats.setdefault(host, set())
        for sample in samples:
            if sample.container_id not in view.containers:
                continue  # a late sample for a container that is already gone
            old = view.stats.get(sample.container_id)
            view.stats[sample.container_id] = sample
            if old is None or _figures(old) != _figures(sample):  # not just a new time
                touched.add(sample.container_id)

    def apply_app_health(self, host: str, app: str, results: tuple[HttpHealth, ...]) -> None:
        view = self.host(host)
        if view.app_health.get(app) == results:
            return
        view.app_health[app] = results
        config = next((a for a in self.apps if a.name == app), None)
        if config is None:
            return
        touched = self._changes.containers.setdefault(host, set())
        touched.update(cid for cid, c in view.containers.items() if app_matches(config, c))

    def _put(self, view: HostView, container: Container) -> None:
        if view.containers.get(container.id) == container:
            return
        view.containers[container.id] = container
        self._changes.containers.setdefault(view.name, set()).add(container.id)
        self._changes.removed.get(view.name, set()).discard(container.id)

    def _remove(self, view: HostView, container_id: str) -> None:
        if view.containers.pop(container_id, None) is None:
            return
        view.stats.pop(container_id, None)
        view.release_marks.pop(container_id, None)
        self._changes.removed.setdefault(view.name, set()).add(container_id)
        self._changes.containers.get(view.name, set()).discard(container_id)
        self._changes.stats.get(view.name, set()).discard(container_id)

    # -- questions widgets ask -------------------------------------------------------------

    def http_health_for(self, host: str, container: Container) -> list[AppHealth]:
        """(app name, results) for every configured app on ``host`` this container serves."""
        view = self.hosts.get(host)
        if view is None:
            return []
        return [
            (app.name, view.app_health[app.name])
            for app in self.apps
            if app.runs_on(host) and app.name in view.app_health and app_matches(app, container)
        ]

    @property
    def all_without_engine(self) -> bool:
        """Every host answers but none has a Docker engine: show the "no engine" panel."""
        return bool(self.hosts) and all(
            v.status.state is LinkState.NO_ENGINE for v in self.hosts.values()
        )
