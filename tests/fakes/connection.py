"""A whole host in memory (:class:`~opsui.domain.ports.HostConnection`), and monitors
over such hosts: a real HostMonitor drives these without any I/O.

Every fake connection's monitor gets a real
:class:`~opsui.domain.operations.app_backups.AppBackups` over its fake store and jobs.
``ScriptedMonitor`` skips the threads altogether and feeds fixed data, for snapshots
that must not depend on timing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opsui.config import AppConfig, Config
from opsui.domain.errors import HostError
from opsui.domain.models import HostStatus, HttpHealth, LinkState
from opsui.domain.monitor import HostMonitor, MonitorListener
from opsui.domain.operations.app_backups import AppBackups
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import (
    ContainerEngine,
    HealthProber,
    HostConnection,
    HostFiles,
    ImageTags,
    MetricsSource,
)

from .backups import FakeBackupStore, FakeJobs
from .common import FAST, metrics_sample
from .engine import FakeEngine, FakeRegistryTags
from .files import FakeHostFiles
from .host import FakeMetrics, FakeProber, FakeRunner


class FakeConnection:
    """A host whose ``connect`` fails with ``failure`` until a test clears it."""

    def __init__(self, name: str, engine: FakeEngine | None = None,
                 failure: HostError | None = None, prober: FakeProber | None = None,
                 files: FakeHostFiles | None = None) -> None:
        self.name = name
        self._engine = engine or FakeEngine()
        self.failure = failure
        """Raised by every connect() while set (e.g. EngineUnavailable)."""
        self._prober = prober or FakeProber()
        self.fake_files = files or FakeHostFiles()
        """The host's state folder (journal, lock)."""
        self.fake_tags = FakeRegistryTags(self._engine)
        self.fake_store = FakeBackupStore()
        """The host's backup files."""
        self.fake_jobs = FakeJobs()
        """The host's one-off migration containers."""

    def connect(self) -> None:
        if self.failure is not None:
            raise self.failure

    def is_alive(self) -> bool:
        return self.failure is None

    @property
    def engine(self) -> ContainerEngine:
        return self._engine

    @property
    def fake_engine(self) -> FakeEngine:
        return self._engine

    @property
    def metrics(self) -> MetricsSource:
        return FakeMetrics()

    @property
    def prober(self) -> HealthProber:
        return self._prober

    @property
    def runner(self) -> FakeRunner:
        return FakeRunner()

    @property
    def files(self) -> HostFiles:
        return self.fake_files

    @property
    def image_tags(self) -> ImageTags:
        return self.fake_tags

    def close(self) -> None:
        pass


def backups_for(gate: ActionGate, config: Config
                ) -> Callable[[HostConnection], AppBackups]:
    """What the wiring's ``build_backups`` is for a fake connection: the real facade
    over its fake store and jobs."""
    def build(connection: HostConnection) -> AppBackups:
        assert isinstance(connection, FakeConnection)
        return AppBackups(connection.name, connection.engine, connection.files, gate, config,
                          store=connection.fake_store, jobs=connection.fake_jobs)

    return build


def factory(connections: Iterable[FakeConnection], gate: ActionGate,
            apps: Iterable[AppConfig] = ()) -> Callable[[MonitorListener], list[HostMonitor]]:
    """A monitor_factory running real HostMonitors over fake connections."""
    conns = list(connections)
    app_list = tuple(apps)
    cfg = Config(apps=app_list)

    def build(listener: MonitorListener) -> list[HostMonitor]:
        return [HostMonitor(c, listener, gate, FAST, app_list, config=cfg,
                            backups_for=backups_for(gate, cfg)) for c in conns]

    return build


class ScriptedMonitor(HostMonitor):
    """A monitor without threads: ``start`` delivers a fixed picture synchronously.

    For snapshots: the same data arrives in the same order every run.
    """

    def __init__(self, connection: FakeConnection, listener: MonitorListener, gate: ActionGate,
                 status: HostStatus | None = None,
                 metrics_history: Iterable[float] = (),
                 app_health: dict[str, tuple[HttpHealth, ...]] | None = None,
                 apps: Iterable[AppConfig] = ()) -> None:
        cfg = Config(apps=tuple(apps))
        super().__init__(connection, listener, gate, FAST, apps, config=cfg,
                         backups_for=backups_for(gate, cfg))
        self.fixed_status = status or HostStatus(connection.name, LinkState.CONNECTED, 2.0)
        self.metrics_history = tuple(metrics_history)
        self.fixed_health = app_health or {}
        self.fake_engine = connection.fake_engine

    def start(self) -> None:
        self.status = self.fixed_status
        self.listener.host_status(self.status)
        if self.status.state is not LinkState.CONNECTED:
            return
        containers = self.fake_engine.list_containers()
        self.listener.containers_snapshot(self.name, containers)
        for cpu in self.metrics_history:
            self.listener.host_metrics(self.name, metrics_sample(cpu))
        stats = [s for c in containers if (s := self.fake_engine.stats(c.id)) is not None]
        self.listener.container_stats(self.name, stats)
        for app, results in self.fixed_health.items():
            self.listener.app_health(self.name, app, results)

    def stop(self, timeout: float = 5.0) -> None:
        pass
