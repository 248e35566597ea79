"""In-memory hosts for UI and unit tests, one module per port of
:mod:`opsui.domain.ports`: a real HostMonitor drives these without any I/O.

``engine`` (ContainerEngine, ImageTags), ``host`` (MetricsSource, HealthProber,
CommandRunner), ``files`` (HostFiles), ``backups`` (BackupStore, JobEngine),
``connection`` (HostConnection, and monitors over fake hosts), ``logs`` (LogFeed and an
app showing only the log screen); ``common`` and ``scenarios`` hold the shared data.
``tests/unit/test_fakes_satisfy_ports.py`` keeps each fake to its port; mypy checks
this package strictly. Imported as ``fakes`` (pytest's ``pythonpath`` is ``tests``).
"""

from .backups import PG_LIST, FakeBackupStore, FakeJobs
from .common import FAST, NOW, container, frozen_clock, metrics_sample
from .connection import FakeConnection, ScriptedMonitor, backups_for, factory
from .engine import (
    FakeEngine,
    FakeEvents,
    FakeImage,
    FakeLogStream,
    FakeRegistryTags,
    detail_for,
    digest_of,
    image_id_of,
)
from .files import FakeHostFiles
from .host import FakeMetrics, FakeProber, FakeRunner
from .logs import FakeFeed, LogsApp, stamped
from .recorder import QUICK_MONITOR, MonitorRecorder
from .scenarios import (
    BAD,
    FAILED_DUMP,
    FOLDER,
    GOOD,
    OLD,
    PRE,
    SHOP_APP,
    SHOP_BACKED_UP,
    SHOP_HEALTH,
    UNCHECKED,
    config,
    seed_backups,
    shop_containers,
)

__all__ = [
    "BAD", "FAILED_DUMP", "FAST", "FOLDER", "GOOD", "NOW", "OLD", "PG_LIST", "PRE",
    "QUICK_MONITOR",
    "SHOP_APP", "SHOP_BACKED_UP", "SHOP_HEALTH", "UNCHECKED", "FakeBackupStore",
    "FakeConnection", "FakeEngine", "FakeEvents", "FakeFeed", "FakeHostFiles", "FakeImage",
    "FakeJobs", "FakeLogStream", "FakeMetrics", "FakeProber", "FakeRegistryTags",
    "FakeRunner", "LogsApp", "MonitorRecorder", "ScriptedMonitor", "backups_for", "config",
    "container",
    "detail_for", "digest_of", "factory", "frozen_clock", "image_id_of", "metrics_sample",
    "seed_backups", "shop_containers", "stamped",
]
