"""In-memory hosts for UI tests: a real HostMonitor drives these without any I/O.

``FakeEngine`` records every call, so a test can prove that "n" in the confirm
dialog did not restart anything. ``FakeEngine.put`` changes a container and emits
an event, so the monitor re-reads it and the UI hears ``container_changed`` exactly
as it would from Docker. ``ScriptedMonitor`` skips the threads altogether and
feeds fixed data, for snapshots that must not depend on timing.

For deploys and rollbacks the engine also keeps images (on the host and in a fake
registry), pulls, clones, renames and removes containers; ``FakeHostFiles`` is the
host's state folder (journal and lock) in a dict.

For backups, ``FakeBackupStore`` keeps the dump files in a dict (a dump reports its
bytes as it goes; ``corrupt`` flips a byte) and ``FakeJobs`` runs a migration by
writing scripted output lines; every fake connection's monitor gets a real
:class:`~opsui.domain.operations.app_backups.AppBackups` over them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta

from opsui.config import DEFAULT_STATE_DIR, AppConfig, BackupConfig, Config, MigrateConfig
from opsui.domain.errors import ActionFailed, HostError
from opsui.domain.history import encode_record
from opsui.domain.host_clock import HostClock, fixed_clock
from opsui.domain.models import (
    Container,
    ContainerDetail,
    ContainerEvent,
    ContainerState,
    ContainerStats,
    EventKind,
    Health,
    HealthLogEntry,
    HostMetrics,
    HostStatus,
    HttpHealth,
    LinkState,
    Mount,
    NetworkAttachment,
    PortBinding,
    SubCheck,
    split_image,
)
from opsui.domain.monitor import HostMonitor, MonitorListener, MonitorSettings
from opsui.domain.operations.app_backups import AppBackups
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import (
    Cancellation,
    CommandResult,
    ContainerEngine,
    DumpCheck,
    DumpResult,
    HealthProber,
    HostConnection,
    HostFiles,
    ImageTags,
    JobResult,
    LineSink,
    LocalImage,
    MetricsSource,
    Progress,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
"""The frozen "now" of every UI test."""

FAST = MonitorSettings(refresh_seconds=1.0, stats_seconds=0.5, metrics_seconds=0.5,
                       health_seconds=0.1, link_check_seconds=0.05,
                       backoff_initial=0.02, backoff_maximum=0.05)


def frozen_clock() -> datetime:
    return NOW


def container(
    cid: str,
    name: str | None = None,
    *,
    image: str = "opsui-test/app:1.0.0",
    state: ContainerState = ContainerState.RUNNING,
    health: Health = Health.HEALTHY,
    project: str | None = None,
    service: str | None = None,
    started_minutes_ago: int = 90,
    restarts: int | None = 0,
    ports: tuple[PortBinding, ...] = (),
) -> Container:
    return Container(
        id=cid.ljust(64, "0"),
        name=name or cid,
        image=image,
        state=state,
        health=health,
        status_text="Exited (1) 2 hours ago" if state is ContainerState.EXITED else "Up",
        created_at=NOW - timedelta(days=2),
        started_at=NOW - timedelta(minutes=started_minutes_ago),
        restart_count=restarts,
        compose_project=project,
        compose_service=service,
        ports=ports,
        exit_code=1 if state is ContainerState.EXITED else None,
    )


def detail_for(c: Container) -> ContainerDetail:
    """A plausible inspect result; unhealthy containers carry a failing health log."""
    failing = c.health is Health.UNHEALTHY
    log = tuple(
        HealthLogEntry(
            started_at=NOW - timedelta(seconds=30 * (5 - i)),
            ended_at=NOW - timedelta(seconds=30 * (5 - i)) + timedelta(milliseconds=120),
            exit_code=1 if failing else 0,
            output=("wget: can't connect to remote host (127.0.0.1): Connection refused\n"
                    if failing else "ok\n"),
        )
        for i in range(5)
    ) if c.health is not Health.NONE else ()
    return ContainerDetail(
        container=c,
        command="/bin/httpd -f -p 8080",
        entrypoint="",
        env=(("APP_VERSION", "1.0.0"), ("DATABASE_PASSWORD", "********")),
        mounts=(Mount("volume", "shop_data", "/data"),),
        networks=(NetworkAttachment("shop_default", "172.18.0.3", ("web", c.name)),),
        labels=(("com.docker.compose.project", c.compose_project or ""),
                ("opsui.test", "1")),
        health_log=log,
        health_failing_streak=5 if failing else 0,
        restart_policy="unless-stopped",
        image_id="sha256:" + "ab" * 32,
    )


class FakeEvents:
    """An event stream fed by the engine; ``close`` ends the iteration."""

    def __init__(self) -> None:
        self.queue: queue.Queue[ContainerEvent | None] = queue.Queue()

    def __iter__(self) -> Iterator[ContainerEvent]:
        while (event := self.queue.get()) is not None:
            yield event

    def close(self) -> None:
        self.queue.put(None)


class FakeLogStream:
    """A finished log stream: one batch, then the end (the container stopped)."""

    def __init__(self, entries: list[tuple[int, int, bytes]]) -> None:
        self._entries = entries
        self.completed = True

    def __iter__(self) -> Iterator[list[tuple[int, int, bytes]]]:
        if self._entries:
            yield self._entries

    def close(self) -> None:
        self._entries = []


def image_id_of(ref: str) -> str:
    return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()


def digest_of(ref: str) -> str:
    return "sha256:" + hashlib.sha256(f"manifest {ref}".encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class FakeImage:
    """An image (``repo:tag``) on the host or in the fake registry."""

    ref: str
    created: datetime | None = None

    @property
    def image_id(self) -> str:
        return image_id_of(self.ref)


class FakeEngine:
    """A Docker engine in a dict. Thread-safe; records actions in ``calls``."""

    def __init__(self, containers: Iterable[Container] = ()) -> None:
        self._lock = threading.Lock()
        self.containers = {c.id: c for c in containers}
        self.log_lines: dict[str, list[bytes]] = {}
        """Raw log lines (with engine timestamps) per container id, for ``logs``."""
        self.calls: list[tuple[str, str]] = []
        """(action, container id) of every start/stop/restart; (action, image or name)
        of pulls, creates, renames and removes."""
        self.streams: list[FakeEvents] = []
        self.images: dict[str, FakeImage] = {}
        """Images on the host by ``repo:tag``."""
        self.registry: dict[str, FakeImage] = {}
        """Images the fake registry serves, by ``repo:tag``."""
        self.env: dict[str, tuple[tuple[str, str], ...]] = {}
        """Inspect env per container id (default: :func:`detail_for`'s)."""
        self.unhealthy_images: set[str] = set()
        """Containers of these images turn unhealthy when started (a failing gate)."""
        self.pull_gate: threading.Event | None = None
        """While set to an unset event, ``pull`` waits on it (at most 10 s): a step that
        is still running."""
        self.pulling = threading.Event()
        """Set when a pull began."""
        self.start_gate: threading.Event | None = None
        """While set to an unset event, starting a container waits on it (at most 10 s):
        a rollback's start step that is still running."""
        self.starting = threading.Event()
        """Set when a start began."""
        self._created = 0
        self.clock: HostClock = fixed_clock()
        """The host's time: this machine's unless a test gives it a skew."""

    def add_image(self, ref: str, created: datetime | None = None, *, on_host: bool = True,
                  in_registry: bool = True) -> None:
        image = FakeImage(ref, created)
        if on_host:
            self.images[ref] = image
        if in_registry:
            self.registry[ref] = image

    def ping(self) -> float:
        return 2.0

    def list_containers(self) -> list[Container]:
        with self._lock:
            return list(self.containers.values())

    def get_container(self, container_id: str) -> Container | None:
        with self._lock:
            return self.containers.get(container_id)

    def inspect(self, container_id: str) -> ContainerDetail:
        with self._lock:
            found = self.containers.get(container_id)
            env = self.env.get(container_id)
            image = self.images.get(found.image) if found is not None else None
        if found is None:
            raise HostError(f"no such container {container_id[:12]}")
        detail = detail_for(found)
        fixed = tuple(f"{p.host_ip or '0.0.0.0'}:{p.host_port}" for p in found.ports
                      if p.host_port)
        if fixed:
            detail = dataclasses.replace(detail, fixed_host_ports=fixed)
        if env is not None:
            detail = dataclasses.replace(detail, env=env)
        if image is not None:
            detail = dataclasses.replace(detail, image_id=image.image_id)
        return detail

    def stats(self, container_id: str) -> ContainerStats | None:
        with self._lock:
            found = self.containers.get(container_id)
        if found is None or found.state is not ContainerState.RUNNING:
            return None
        return ContainerStats(container_id, 12.5, 48 * 1024 * 1024, 512 * 1024 * 1024, NOW)

    def stats_many(self, container_ids: Iterable[str]) -> dict[str, ContainerStats]:
        return {cid: s for cid in container_ids if (s := self.stats(cid)) is not None}

    def events(self) -> FakeEvents:
        stream = FakeEvents()
        self.streams.append(stream)
        return stream

    def _emit(self, kind: EventKind, container_id: str, action: str) -> None:
        for stream in self.streams:
            stream.queue.put(ContainerEvent(kind, container_id, action))

    def put(self, c: Container) -> None:
        """Add or change a container, as ``docker`` would, and emit its event."""
        with self._lock:
            self.containers[c.id] = c
        self._emit(EventKind.CHANGED, c.id, "health_status")

    def remove(self, container_id: str) -> None:
        with self._lock:
            self.calls.append(("remove", container_id))
            self.containers.pop(container_id, None)
        self._emit(EventKind.REMOVED, container_id, "destroy")

    def _act(self, action: str, container_id: str) -> None:
        if action == "start":
            self.starting.set()
            if self.start_gate is not None:
                self.start_gate.wait(10.0)
        with self._lock:
            self.calls.append((action, container_id))
            found = self.containers.get(container_id)
            if found is not None:
                changes: dict[str, object] = {"state": ContainerState.EXITED
                                              if action == "stop" else ContainerState.RUNNING}
                if action != "stop" and found.state is not ContainerState.RUNNING:
                    changes["started_at"] = datetime.now(UTC)
                    if found.health is not Health.NONE:
                        changes["health"] = (Health.UNHEALTHY
                                             if found.image in self.unhealthy_images
                                             else Health.HEALTHY)
                self.containers[container_id] = dataclasses.replace(
                    found, **changes)  # type: ignore[arg-type]
        if found is not None:
            self._emit(EventKind.CHANGED, container_id, action)

    # -- what deploys and rollbacks use ----------------------------------------------

    def pull(self, image: str, timeout: float = 600.0) -> str:
        with self._lock:
            self.calls.append(("pull", image))
        self.pulling.set()
        gate = self.pull_gate
        if gate is not None:
            gate.wait(10.0)
        with self._lock:
            found = self.registry.get(image)
            if found is None:
                raise ActionFailed(f"pull {image}: manifest unknown",
                                   hint="Check the tag exists in the registry.")
            self.images[image] = found
        return digest_of(image)

    def create_like(self, container_id: str, image: str, name: str,
                    labels: dict[str, str]) -> str:
        with self._lock:
            old = self.containers.get(container_id)
            if old is None:
                raise ActionFailed(f"no such container {container_id[:12]}")
            ref = next((i.ref for i in self.images.values() if i.image_id == image), image)
            self._created += 1
            new_id = f"n{self._created}".ljust(64, "0")
            self.calls.append(("create", name))
            self.containers[new_id] = dataclasses.replace(
                old, id=new_id, name=name, image=ref, state=ContainerState.CREATED,
                health=Health.STARTING, started_at=None, labels={**old.labels, **labels})
            env = dict(self.env.get(container_id, detail_for(old).env))
            env["APP_VERSION"] = split_image(ref)[1]
            self.env[new_id] = tuple(env.items())
        self._emit(EventKind.CHANGED, new_id, "create")
        return new_id

    def rename(self, container_id: str, name: str) -> None:
        with self._lock:
            self.calls.append(("rename", name))
            found = self.containers.get(container_id)
            if found is None:
                raise ActionFailed(f"no such container {container_id[:12]}")
            self.containers[container_id] = dataclasses.replace(found, name=name)
        self._emit(EventKind.CHANGED, container_id, "rename")

    def image_digest(self, image: str) -> str:
        """Fake images were never pushed: no registry digest, as for a local build."""
        return ""

    def image_exists(self, ref: str) -> bool:
        with self._lock:
            return ref in self.images or any(i.image_id == ref for i in self.images.values())

    def local_tags(self, repository: str) -> list[LocalImage]:
        with self._lock:
            found = [LocalImage(split_image(i.ref)[1], i.image_id, i.created)
                     for i in self.images.values() if split_image(i.ref)[0] == repository]
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(found, key=lambda i: i.created or epoch, reverse=True)

    def logs(self, container_id: str, *, tag: int, since: str | None = None,
             tail: int | None = None, follow: bool = True) -> FakeLogStream:
        """The lines in ``log_lines`` for that container, then the end of the stream."""
        lines = self.log_lines.get(container_id, [])
        return FakeLogStream([(tag, 1, raw) for raw in (lines if tail is None
                                                         else lines[-tail:] if tail else [])])

    def start(self, container_id: str) -> None:
        self._act("start", container_id)

    def stop(self, container_id: str, timeout: int = 10) -> None:
        self._act("stop", container_id)

    def restart(self, container_id: str, timeout: int = 10) -> None:
        self._act("restart", container_id)

    def close(self) -> None:
        pass


class FakeMetrics:
    def sample(self) -> HostMetrics:
        return metrics_sample(23.0)


def metrics_sample(cpu: float) -> HostMetrics:
    gib = 1024**3
    return HostMetrics(cpu, 3 * gib, 8 * gib, 40 * gib, 100 * gib, 0.52, 0.4, 0.33, NOW)


class FakeProber:
    def __init__(self, results: dict[str, HttpHealth] | None = None) -> None:
        self.results = results or {}

    def probe(self, url: str, timeout: float = 5.0) -> HttpHealth:
        return self.results.get(url, HttpHealth(url, True, 200, 3.0))


class FakeRunner:
    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        return CommandResult(0, b"", b"")


class FakeRegistryTags:
    """The tags of the engine's fake registry, as a registry client reads them."""

    def __init__(self, engine: FakeEngine) -> None:
        self._engine = engine
        self.failure: ActionFailed | None = None
        """Raised by ``tags`` while set (a registry that is down)."""

    def tags(self, image: str) -> list[LocalImage]:
        if self.failure is not None:
            raise self.failure
        repository = split_image(image)[0]
        found = [LocalImage(split_image(i.ref)[1], i.image_id, i.created)
                 for i in self._engine.registry.values() if split_image(i.ref)[0] == repository]
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(found, key=lambda i: i.created or epoch, reverse=True)


class FakeHostFiles:
    """The host's state folder in a dict: the journal and the lock of every app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = set()

    def read(self, path: str) -> bytes | None:
        with self._lock:
            return self.files.get(path)

    def append_record(self, path: str, record: bytes) -> None:
        with self._lock:
            self.files[path] = self.files.get(path, b"") + record

    def create_dir_with(self, path: str, name: str, content: bytes) -> bool:
        with self._lock:
            if path in self.dirs:
                return False
            self.dirs.add(path)
            self.files[f"{path}/{name}"] = content
            return True

    def exists(self, path: str) -> bool:
        with self._lock:
            return path in self.dirs or path in self.files

    def remove_dir(self, path: str) -> None:
        with self._lock:
            self.dirs.discard(path)
            for key in [k for k in self.files if k.startswith(f"{path}/")]:
                del self.files[key]


PG_LIST = b";\n; Archive created at 2026-11-23\n;\n215; 1259 16390 TABLE public orders\n" \
    b"3360; 0 16390 TABLE DATA public orders\n"
"""What ``pg_restore --list`` prints for a whole dump."""


class FakeBackupStore:
    """Backup files on the "host" in a dict. A dump writes ``dump_bytes`` in
    ``chunks`` steps, reporting progress after each (waiting on ``dump_gate`` first
    while it is an unset event); ``failure`` makes the next dumps fail."""

    def __init__(self, dump_bytes: bytes = b"PGDMP" + bytes(range(256)) * 40) -> None:
        self._lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.dump_bytes = dump_bytes
        self.chunks = 4
        self.dump_gate: threading.Event | None = None
        self.dumping = threading.Event()
        self.failure: ActionFailed | None = None
        self.calls: list[tuple[str, str]] = []
        """(what, path): dump, feed (verify / restore), remove, download."""

    def dump(self, argv: list[str], folder: str, name: str, *, timeout: float,
             progress: Progress | None = None, cancelled: Cancellation | None = None,
             stop: list[str] | None = None, stall_seconds: float = 120.0,
             check: DumpCheck | None = None) -> DumpResult:
        path = f"{folder}/{name}"
        with self._lock:
            self.calls.append(("dump", path))
        self.dumping.set()
        data = self.dump_bytes
        step = max(1, len(data) // self.chunks)
        for done in range(step, len(data) + step, step):
            if progress is not None:
                progress(min(done, len(data)), 2.5 * 1024 * 1024)
            if self.dump_gate is not None and done == step:
                self.dump_gate.wait(10.0)
        if self.failure is not None:
            raise self.failure
        with self._lock:
            self.files[path] = data  # checked under its final name: the fake has no rename
        if check is not None and not (verdict := check(path))[0]:
            with self._lock:
                del self.files[path]
            raise ActionFailed(f"the fresh dump failed its check: {verdict[1]}")
        return DumpResult(path, len(data), hashlib.sha256(data).hexdigest(), 1.5)

    def feed(self, argv: list[str], path: str, timeout: float) -> CommandResult:
        with self._lock:
            data = self.files.get(path)
            self.calls.append(("restore" if "--single-transaction" in argv else "verify",
                               path))
        if data is None:
            return CommandResult(1, b"", b"pg_restore: error: could not open input file")
        if "--list" in argv:
            if not data.startswith(b"PGDMP"):
                return CommandResult(1, b"", b"pg_restore: error: input file does not "
                                     b"appear to be a valid archive")
            return CommandResult(0, PG_LIST, b"")
        return CommandResult(0, b"", b"")

    def checksum(self, path: str) -> tuple[int, str] | None:
        with self._lock:
            data = self.files.get(path)
        return None if data is None else (len(data), hashlib.sha256(data).hexdigest())

    def remove(self, path: str) -> None:
        with self._lock:
            self.calls.append(("remove", path))
            self.files.pop(path, None)

    def download(self, path: str, local_path: str,
                 progress: Progress | None = None) -> tuple[int, str]:
        with self._lock:
            data = self.files.get(path)
            self.calls.append(("download", path))
        if data is None:
            raise ActionFailed(f"download {path}: no such file")
        with open(local_path, "wb") as handle:
            handle.write(data)
        if progress is not None:
            progress(len(data), 1024.0 * 1024)
        return len(data), hashlib.sha256(data).hexdigest()

    def corrupt(self, path: str) -> None:
        """One flipped byte, as a bad disk would."""
        with self._lock:
            data = bytearray(self.files[path])
            data[len(data) // 2] ^= 0xFF
            self.files[path] = bytes(data)


class FakeJobs:
    """One-off migration runs: writes ``lines`` (``gate``, while an unset event, is
    waited on after the first ``hold_after`` lines), then exits with ``exit_code``."""

    def __init__(self) -> None:
        self.lines: list[str] = ["INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.",
                                 "INFO  [alembic.runtime.migration] Running upgrade  -> 3f2a1b"]
        self.exit_code = 0
        self.gate: threading.Event | None = None
        self.hold_after = 1
        self.running = threading.Event()
        self.runs: list[tuple[str, tuple[str, ...]]] = []
        """(image or container id, command) of every run."""

    def _run(self, what: str, command: list[str], output: LineSink,
             cancelled: Cancellation) -> JobResult:
        self.runs.append((what, tuple(command)))
        self.running.set()
        for index, line in enumerate(self.lines):
            if index == self.hold_after and self.gate is not None:
                self.gate.wait(10.0)
            if cancelled.is_set():
                return JobResult(None, "m1".ljust(64, "0"), "cancelled")
            output(line)
        return JobResult(self.exit_code, "m1".ljust(64, "0"))

    def run_like(self, like_id: str, image: str, command: list[str], name: str,
                 labels: dict[str, str], output: LineSink, timeout: float,
                 cancelled: Cancellation) -> JobResult:
        return self._run(image, command, output, cancelled)

    def exec_in(self, container_id: str, command: list[str], output: LineSink,
                timeout: float, cancelled: Cancellation) -> JobResult:
        return self._run(container_id, command, output, cancelled)

    def remove(self, container_id: str) -> None:
        pass


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


def shop_containers() -> list[Container]:
    """A small but realistic host: a compose project, a broken service, a loner."""
    web_ports = (PortBinding(8080, "tcp", "0.0.0.0", 18080),)
    return [
        container("a1", "shop-web-1", project="shop", service="web", ports=web_ports,
                  started_minutes_ago=185),
        container("a2", "shop-web-2", project="shop", service="web", started_minutes_ago=185,
                  ports=(PortBinding(8080, "tcp", "0.0.0.0", 18081),)),
        container("a3", "shop-worker-1", project="shop", service="worker",
                  image="opsui-test/app:3.0.0", health=Health.UNHEALTHY, restarts=4,
                  started_minutes_ago=7),
        container("a4", "shop-db-1", project="shop", service="db", image="opsui-test/pg:15",
                  started_minutes_ago=4000, ports=(PortBinding(5432),)),
        container("b1", "billing-api-1", project="billing", service="api",
                  health=Health.STARTING, started_minutes_ago=1),
        container("c1", "scratchpad", image="busybox:latest", health=Health.NONE,
                  state=ContainerState.EXITED, restarts=None),
    ]


SHOP_APP = AppConfig("shop", service="shop/web", health_urls=("http://127.0.0.1:18080/health",))
SHOP_HEALTH = (HttpHealth("http://127.0.0.1:18080/health", False, 503, 12.0,
                          (SubCheck("database", True, "4 ms"),
                           SubCheck("cache", False, "connection refused")),
                          checked_at=NOW),)


def config(**changes: object) -> Config:
    return dataclasses.replace(Config(), **changes)  # type: ignore[arg-type]


# -- backups ----------------------------------------------------------------------------

SHOP_BACKED_UP = AppConfig(
    "shop", service="shop/web",
    backup=BackupConfig("postgres", container="shop-db-1", database="shop"),
    migrate=MigrateConfig(("alembic", "upgrade", "head")))
"""The app "shop" with PostgreSQL backups and an alembic migration."""
FOLDER = f"{DEFAULT_STATE_DIR}/shop/backups"
GOOD = b"PGDMP" + b"\x01" * 4000
OLD, PRE, UNCHECKED, FAILED_DUMP, BAD = (
    "b20261123090000-aaaa", "b20261123100000-bbbb", "b20261123110000-cccc",
    "b20261123113000-dddd", "b20261123114500-eeee")


def seed_backups(conn: FakeConnection) -> None:
    """Five backups of SHOP_BACKED_UP in the host's journal (oldest first): a verified
    manual one, a verified one before a migration, one never checked, a failed dump,
    and one whose check failed; the files of the good ones in the store."""
    files = conn.fake_files
    journal = f"{DEFAULT_STATE_DIR}/shop/journal.jsonl"
    sha = hashlib.sha256(GOOD).hexdigest()

    def backup(bid: str, at: str, why: str = "manual", release: str = "",
               verify: dict[str, object] | None = None, outcome: str = "ok") -> None:
        path = f"{FOLDER}/shop-{bid}.dump"
        record: dict[str, object] = {
            "type": "backup", "id": bid, "app": "shop", "engine": "postgres",
            "who": "ada@desk", "at": at, "why": why, "release": release, "path": path,
            "outcome": outcome}
        if outcome == "ok":
            conn.fake_store.files[path] = GOOD
            record.update(size=len(GOOD), sha256=sha, seconds=1.2)
            if verify is not None:
                record["verify"] = verify
        else:
            record["error"] = "pg_dump: error: connection to server failed"
        files.append_record(journal, encode_record(record))

    good = {"ok": True, "detail": "pg_restore --list: 3 entries"}
    backup(OLD, "2026-11-23T09:00:00+00:00", verify=good)
    backup(PRE, "2026-11-23T10:00:00+00:00", "before-migration", "r20261123100000-1234",
           verify=good)
    backup(UNCHECKED, "2026-11-23T11:00:00+00:00")
    backup(FAILED_DUMP, "2026-11-23T11:30:00+00:00", outcome="failed")
    backup(BAD, "2026-11-23T11:45:00+00:00",
           verify={"ok": False, "detail": "pg_restore --list found no entries"})
