"""Keeps one host's picture current: link supervision, events, and chained polls.

A :class:`HostMonitor` owns plain threads, one per job, so a slow job (stats over a
high-latency link) never delays another (the link check). Every periodic job waits
for its interval *after* it finishes, so a slow host never stacks requests. Results
go to a :class:`MonitorListener`; the UI's listener posts Textual messages, the
benchmarks and tests use their own. Nothing here knows Textual or Docker.

The link is checked every ``link_check_seconds`` and whenever a job hits a
:class:`HostError`; a dead link is closed and rebuilt with backoff, and the listener
hears each state change, so the operator sees "reconnecting" instead of a frozen table.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from opsui.domain.backoff import Backoff
from opsui.domain.errors import (
    ActionRefused,
    AuthFailed,
    EngineUnavailable,
    HostError,
    HostKeyChanged,
    HostKeyUnknown,
    OpsuiError,
)
from opsui.domain.host_pace import (
    LINK_MISSES,
    ConnectQueue,
    latency_news,
    ping_due,
    refresh_seconds,
)
from opsui.domain.logfeed import APP_LABEL, LogTarget, LogWindow, TargetKind
from opsui.domain.logtail import LogTail
from opsui.domain.models import (
    Container,
    ContainerDetail,
    ContainerStats,
    EventKind,
    HostMetrics,
    HostStatus,
    HttpHealth,
    LinkState,
)
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.ports import ContainerEngine, EventStream, HostConnection
from opsui.domain.settings import AppConfig, Config

if TYPE_CHECKING:  # the operations load when first used: a launch shows rows first
    from opsui.domain.operations.app_backups import AppBackups
    from opsui.domain.operations.app_releases import AppReleases
    from opsui.domain.operations.app_spec import AppSpec
    from opsui.domain.operations.policy import Action
    from opsui.domain.release_markers import ReleaseMarkers
    from opsui.domain.releases import Release
    from opsui.domain.service_tail import ServiceTail

log = logging.getLogger(__name__)
T = TypeVar("T")

REREAD_BATCH = 50
"""Listed containers are re-read (inspected) this many at a time, then reported together."""


class MonitorListener(Protocol):
    """Receives a host's updates. Called from monitor threads: implementations hand off."""

    def host_status(self, status: HostStatus) -> None: ...

    def containers_snapshot(self, host: str, containers: list[Container]) -> None: ...

    def container_changed(self, host: str, container: Container) -> None: ...

    def container_removed(self, host: str, container_id: str) -> None: ...

    def host_metrics(self, host: str, metrics: HostMetrics) -> None: ...

    def container_stats(self, host: str, stats: list[ContainerStats]) -> None: ...

    def app_health(self, host: str, app: str, results: tuple[HttpHealth, ...]) -> None: ...


class BufferedListener:
    """A :class:`MonitorListener` that holds updates until the real listener is attached.

    Lets the CLI start monitors, so connecting and listing happen while the UI is still
    loading; the UI attaches its listener once it can take updates and first receives
    every held one, in order. Thread-safe: monitor threads call it at any time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[Callable[[MonitorListener], None]] = []
        self._target: MonitorListener | None = None

    def attach(self, target: MonitorListener) -> None:
        """Deliver the held updates to ``target``, then pass every later one straight on."""
        with self._lock:
            for call in self._held:
                call(target)
            self._held.clear()
            self._target = target

    def _deliver(self, call: Callable[[MonitorListener], None]) -> None:
        with self._lock:
            target = self._target
            if target is None:
                self._held.append(call)
                return
        call(target)

    def host_status(self, status: HostStatus) -> None:
        self._deliver(lambda t: t.host_status(status))

    def containers_snapshot(self, host: str, containers: list[Container]) -> None:
        self._deliver(lambda t: t.containers_snapshot(host, containers))

    def container_changed(self, host: str, container: Container) -> None:
        self._deliver(lambda t: t.container_changed(host, container))

    def container_removed(self, host: str, container_id: str) -> None:
        self._deliver(lambda t: t.container_removed(host, container_id))

    def host_metrics(self, host: str, metrics: HostMetrics) -> None:
        self._deliver(lambda t: t.host_metrics(host, metrics))

    def container_stats(self, host: str, stats: list[ContainerStats]) -> None:
        self._deliver(lambda t: t.container_stats(host, stats))

    def app_health(self, host: str, app: str, results: tuple[HttpHealth, ...]) -> None:
        self._deliver(lambda t: t.app_health(host, app, results))


@dataclass(frozen=True)
class MonitorSettings:
    refresh_seconds: float = 15.0
    stats_seconds: float = 3.0
    metrics_seconds: float = 2.0
    health_seconds: float = 10.0
    link_check_seconds: float = 5.0
    backoff_initial: float = 1.0
    backoff_maximum: float = 30.0
    log_buffer_lines: int = 200_000
    log_tail_lines: int = 1000
    enrich_wait_seconds: float = 0.0
    """How long the first re-read of listed containers waits for :meth:`HostMonitor.watch_stats`
    to say which rows are on screen. A UI reports them right after drawing its first
    frame, so those rows are read first and reading the others does not slow that frame."""


FEED_CONNECT_WAIT_SECONDS = 30.0
"""How long a log feed opened on a glance's rows waits for the connection it started."""


def link_state_for(error: HostError) -> LinkState:
    """The sidebar state that names this kind of failure."""
    if isinstance(error, HostKeyUnknown):
        return LinkState.HOST_KEY_UNKNOWN
    if isinstance(error, HostKeyChanged):
        return LinkState.HOST_KEY_CHANGED
    if isinstance(error, AuthFailed):
        return LinkState.AUTH_FAILED
    if isinstance(error, EngineUnavailable):
        return LinkState.NO_ENGINE
    return LinkState.UNREACHABLE


EVENTS_ATTEMPTS = 3
EVENTS_RETRY_SECONDS = 0.5
"""A failed event subscription is asked again after this, then twice as long."""

FIRST_LIST_WAIT_SECONDS = 5.0
"""How long a session's polls wait for its first list before they start anyway."""


class _Session:
    """The jobs of one successful connection; all end when ``stopped`` is set."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []
        self.events: EventStream | None = None
        self.refresh_now = threading.Event()
        """Set to re-list at once (a key press, or the session ending)."""
        self.listed = threading.Event()
        """The session's first list was reported: the polls begin only then."""
        self.events_ended = threading.Event()
        """The event stream ended: the session must be rebuilt to follow events again."""

    def wake(self) -> None:
        self.refresh_now.set()

    def end(self) -> None:
        self.stopped.set()
        self.listed.set()
        self.wake()
        stream, self.events = self.events, None
        if stream is not None:
            try:
                stream.close()
            except Exception:  # closing a broken stream may fail; it is gone either way
                log.debug("closing event stream failed", exc_info=True)


class HostMonitor:
    """Connects to one host and keeps its containers, metrics and health current."""

    def __init__(
        self,
        connection: HostConnection,
        listener: MonitorListener,
        gate: ActionGate,
        settings: MonitorSettings = MonitorSettings(),
        apps: Iterable[AppConfig] = (),
        config: Config | None = None,
        backups_for: Callable[[HostConnection], AppBackups] | None = None,
        releases_for: Callable[[HostConnection], AppReleases] | None = None,
        connect_queue: ConnectQueue | None = None,
        glance: Callable[[], list[Container] | None] | None = None,
    ) -> None:
        self.connection = connection
        self._glance = glance
        """The first list without connecting (a local engine's socket, read without the
        docker SDK): the first frame's rows before the SDK loads (issue 14)."""
        self._glancing = threading.Event()
        """Set while the glance's rows are shown and the connection is not built yet."""
        self._glance_over = threading.Event()
        """Connect now: the UI drew its first frame, or something needs the engine."""
        self._glance_done = threading.Event()
        """Set when no glance's rows stand in for a connection (none, or it was made)."""
        self._glance_done.set()
        self._connect_queue = connect_queue
        """Shared by the dashboard's monitors: a few connect at once, the shown first."""
        self._backups_for = backups_for
        """Builds the host's AppBackups (its dumps and one-off containers need backends,
        which only the wiring may name)."""
        self._releases_for = releases_for
        """Builds the host's AppReleases: the wiring's one builder, shared with the
        CLI. Without it (tests over fake connections) the facade is built here."""
        self.config = config or Config(apps=tuple(apps))
        """For deploys and rollbacks: [deploy] defaults and [apps] of this host."""
        self.name = connection.name
        self.listener = listener
        self.gate = gate
        self.settings = settings
        self.apps = tuple(apps)
        self.status = HostStatus(self.name, LinkState.CONNECTING)
        self._stopped = threading.Event()
        self._link_suspect = threading.Event()
        self._watched: frozenset[str] = frozenset()
        self._watch_known = threading.Event()
        """Set once the rows on screen are known (or waiting for them is pointless)."""
        self._metrics_watched = True
        """Whether host metrics are sampled (see :meth:`watch_metrics`)."""
        self._shown = threading.Event()
        """The host is on screen (the default, for the CLI and one-host uses); a hidden
        one is asked less (:mod:`opsui.domain.host_pace`)."""
        self._shown.set()
        self._inspected: dict[str, Container] = {}
        self._lock = threading.Lock()
        self._session: _Session | None = None
        self._thread: threading.Thread | None = None
        self._started_at = time.monotonic()
        """When start() was called: the log says how long each host took to list."""

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Start supervising (connect, then the jobs); a second call does nothing."""
        if self._thread is not None:
            return
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._supervise, name=f"monitor-{self.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        self._watch_known.set()
        self._glance_over.set()
        self._glance_done.set()  # a feed waiting for the connection stops waiting too
        self._link_suspect.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def connected(self) -> bool:
        return self.status.state is LinkState.CONNECTED

    @property
    def read_only(self) -> bool:
        return self.gate.is_read_only(self.name)

    def watch_stats(self, container_ids: Iterable[str]) -> None:
        """Sample stats only for these (the rows on screen)."""
        self._watched = frozenset(container_ids)
        self._watch_known.set()
        self._glance_over.set()  # the first frame is drawn: the connection may load

    def watch_metrics(self, watched: bool) -> None:
        """Sample host metrics only while they are shown (the dashboard's shown host):
        over SSH each sample is a shell on the host every 2 s, which with twenty hosts
        is ten shells a second that nobody sees (and on a loaded host each time-out
        sends the link check to ping at once). The link check, the list and the events
        go on for every host.

        The dashboard says this of every host on each switch, so it is also whether the
        host is shown: a hidden one is re-listed and pinged less often, and its listed
        containers are re-read only once it is shown (:mod:`opsui.domain.host_pace`)."""
        self._metrics_watched = watched
        if watched == self._shown.is_set():
            return
        if not watched:
            self._shown.clear()
            return
        self._shown.set()
        if self._connect_queue is not None:
            self._connect_queue.promote()
        session = self._session
        if session is not None:  # re-list now, and read the rows it has not read yet
            session.wake()
            self._link_suspect.set()  # and ping: its latency is shown now

    @property
    def shown(self) -> bool:
        return self._shown.is_set()

    def refresh_now(self) -> None:
        session = self._session
        if session is not None:
            session.wake()

    # -- blocking calls for UI workers and the CLI -----------------------------------

    def engine(self) -> ContainerEngine:
        if self._glancing.is_set():  # the rows are the glance's; the engine comes next
            self._glance_over.set()
            raise HostError(f"{self.name}: still connecting", hint="Try again in a moment.")
        if not self.connected:
            raise HostError(f"{self.name}: not connected ({self.status.state.value})",
                            hint=self.status.hint or "Wait for the link to come back.")
        return self.connection.engine

    def connect_now(self) -> None:
        """Connect right after the glance instead of after the UI's first frame: for a
        launch that needs the engine at once (``opsui --open`` follows logs)."""
        self._glance_over.set()

    def _engine_for_feed(self) -> ContainerEngine:
        """The engine, for a log feed's own thread: while the glance's rows stand in for
        the connection, the connection starts at once, and the feed reads through the
        connection's early engine (a local plain endpoint's, without the docker SDK:
        ``opsui --open``'s first lines come while the SDK loads, issue 14) or, without
        one, waits for the connection (no failed try and back-off)."""
        if self._glancing.is_set():
            self._glance_over.set()
            early = self._early_feed_engine()
            if early is not None:
                return early
            self._glance_done.wait(FEED_CONNECT_WAIT_SECONDS)
        return self.engine()

    def _early_feed_engine(self) -> ContainerEngine | None:
        """The connection's engine for log feeds before ``connect()`` (see
        ``LocalHost.feed_engine``); None when it has none."""
        build = getattr(self.connection, "feed_engine", None)
        if build is None:
            return None
        engine: ContainerEngine | None = build()
        return engine

    def open_logs(self, target: LogTarget, window: LogWindow | None = None) -> LogTail:
        """A started tail of ``target``: returns at once, readers fill its buffer.

        It follows this monitor's connection: when the link drops and the supervisor
        rebuilds it, the tail finds the new engine and resumes.
        """
        window = window or LogWindow(tail=self.settings.log_tail_lines)
        return LogTail(self._engine_for_feed, target, window,
                       capacity=self.settings.log_buffer_lines,
                       markers=self._release_markers(target)).start()

    def open_service_logs(self, target: LogTarget, window: LogWindow | None = None
                          ) -> ServiceTail:
        """A started tail of a Swarm service (``TargetKind.SWARM``) through this host,
        a manager: every task on every node, over this monitor's connection."""
        from opsui.domain.service_tail import ServiceTail, service_logs_of

        window = window or LogWindow(tail=self.settings.log_tail_lines)
        return ServiceTail(lambda: service_logs_of(self._engine_for_feed()), target, window,
                           capacity=self.settings.log_buffer_lines).start()

    def _release_markers(self, target: LogTarget) -> ReleaseMarkers | None:
        """Markers from the journal of the app a container or app target is."""
        if target.kind not in (TargetKind.APP, TargetKind.CONTAINER):
            return None
        from opsui.domain.release_markers import ReleaseMarkers

        found: list[AppSpec] = []

        def history() -> list[Release]:
            releases = self.releases()
            if not found:
                found.append(releases.resolve(target.names[0]))
            return list(releases.status(found[0], mark_good=False).releases)

        return ReleaseMarkers(history)

    def inspect(self, container_id: str) -> ContainerDetail:
        return self._guarded(lambda: self.engine().inspect(container_id))

    def request_for(self, action: Action, container: Container) -> ActionRequest:
        app = container.labels.get(APP_LABEL, "")
        return ActionRequest(action, self.name, container.id, container.name, app=app)

    def releases(self) -> AppReleases:
        """Deploy, rollback, history and lock of this host's apps, over the live link
        (with the backup and migrate steps of apps that have a migration)."""
        engine = self.engine()
        connection = self.connection
        if self._releases_for is not None:
            return self._releases_for(connection)
        from opsui.domain.operations.app_releases import AppReleases

        backups = self.backups() if self._backups_for is not None else None
        return AppReleases(self.name, engine, connection.prober, connection.files, self.gate,
                           self.config, connection.image_tags, backups=backups)

    def backups(self) -> AppBackups:
        """Backups, restores and migrations of this host's apps, over the live link."""
        if self._backups_for is None:
            raise ActionRefused(f"{self.name}: backups are not available here")
        self.engine()  # connected, or HostError
        return self._backups_for(self.connection)

    def perform(self, request: ActionRequest, answer: bool | str | None) -> None:
        """Run a start/stop/restart through the gate, then re-read the container."""
        from opsui.domain.operations.container_actions import container_operation

        def run() -> None:
            operation = container_operation(self.engine(), request.action)
            self._guarded(lambda: operation(request.target_id))

        self.gate.execute(request, answer, run)
        self._reread(request.target_id)

    # -- supervision ------------------------------------------------------------------

    def _set_status(self, state: LinkState, latency_ms: float | None = None,
                    message: str = "", hint: str = "", clock_skew: float | None = None) -> None:
        self.status = HostStatus(self.name, state, latency_ms, message, hint, clock_skew)
        self.listener.host_status(self.status)

    def _measure_clock(self) -> float | None:
        """The host's clock against ours (shown when skewed; the engine's clock object
        keeps the offset for durations). None when the engine cannot tell its time."""
        try:
            return self.connection.engine.clock.measure()
        except OpsuiError as exc:
            log.info("%s: cannot read the engine's clock: %s", self.name, exc)
            return None

    def _supervise(self) -> None:
        backoff = Backoff(self.settings.backoff_initial, self.settings.backoff_maximum)
        was_connected = False
        glanced = self._glance_first()
        while not self._stopped.is_set():
            if was_connected:
                self._set_status(LinkState.RECONNECTING, message="link lost; reconnecting")
            elif not glanced:  # a host that just answered is not shown "connecting"
                self._set_status(LinkState.CONNECTING)
            glanced = False
            try:
                latency = self._connect()
            except HostError as exc:
                self._glancing.clear()
                self._glance_done.set()
                self._close_connection()
                delay = backoff.next_delay()
                self._set_status(link_state_for(exc), message=str(exc),
                                 hint=f"{exc.hint} Retrying in {delay:.0f}s.".strip())
                self._stopped.wait(delay)
                continue
            backoff.reset()
            was_connected = True
            self._glancing.clear()
            self._glance_done.set()
            # The host's clock is read after the first list (see _reconcile): /info
            # answers slowly on a busy engine, and not at all on one with a stuck
            # container, where the list still comes at once.
            self._set_status(LinkState.CONNECTED, latency)
            self._run_session()
        self._close_connection()

    def _glance_first(self) -> bool:
        """Report the glance's rows as connected, then let the UI draw them before the
        connection loads its libraries (they compete with the first frame for the one
        interpreter lock): the wait ends when the UI says which rows it shows, at the
        latest after ``enrich_wait_seconds``. False when there was no glance."""
        if self._glance is None:
            return False
        started = time.monotonic()
        if self._connect_queue is None:
            rows = self._glance()
        else:  # an SSH host's glance is a connection too: in turn, the shown host first
            with self._connect_queue.slot(self._shown.is_set, self._stopped):
                rows = None if self._stopped.is_set() else self._glance()
        if rows is None:
            return False
        self._glance_done.clear()
        self._glancing.set()
        self._set_status(LinkState.CONNECTED, (time.monotonic() - started) * 1000)
        self.listener.containers_snapshot(self.name, rows)
        self._log_first_rows(len(rows), "before the docker SDK")
        self._glance_over.wait(self.settings.enrich_wait_seconds)
        return True

    def _connect(self) -> float:
        """Connect and ping, in turn with the other hosts when a queue is shared."""
        if self._connect_queue is None:
            self.connection.connect()
            return self.connection.engine.ping()
        with self._connect_queue.slot(self._shown.is_set, self._stopped):
            if self._stopped.is_set():
                raise HostError(f"{self.name}: stopped")
            self.connection.connect()
            return self.connection.engine.ping()

    def _run_session(self) -> None:
        session = _Session()
        self._session = session
        self._link_suspect.clear()
        jobs: list[tuple[str, Callable[[_Session], None]]] = [
            ("events", self._follow_events),
            ("metrics", self._every(lambda: self.settings.metrics_seconds, self._sample_metrics)),
            ("stats", self._every(lambda: self.settings.stats_seconds, self._sample_stats)),
        ]
        if any(app.health_urls for app in self.apps):
            jobs.append(("health", self._every(lambda: self.settings.health_seconds,
                                               self._probe_health)))
        for job_name, job in jobs:
            thread = threading.Thread(target=job, args=(session,),
                                      name=f"{job_name}-{self.name}", daemon=True)
            session.threads.append(thread)
            thread.start()
        try:
            self._check_link_until_lost(session)
        finally:
            session.end()
            self._watch_known.set()  # a re-read waiting for the UI gives up with the session
            self._close_connection()
            for thread in session.threads:
                thread.join(2.0)
            self._session = None

    def _check_link_until_lost(self, session: _Session) -> None:
        """Until the link is lost: the SSH link (free to ask) at every check, the
        engine pinged at the host's pace. A ping the engine misses while the link and
        the event stream are alive shows the host as "no engine" and is retried; only
        LINK_MISSES in a row end the session (under load a reconnect costs far more
        than a late answer, and twenty hosts reconnecting at once are a storm)."""
        last_ping = time.monotonic()
        misses = 0
        while not self._stopped.is_set():
            suspect = self._link_suspect.wait(self.settings.link_check_seconds)
            if self._stopped.is_set():
                return
            self._link_suspect.clear()
            if not self.connection.is_alive():
                log.info("link to %s lost: connection closed", self.name)
                return
            if session.events_ended.is_set():
                log.info("%s: event stream ended; reconnecting", self.name)
                return
            now = time.monotonic()
            if not (suspect or misses or ping_due(now - last_ping, self._shown.is_set(),
                                                  self.settings.link_check_seconds)):
                continue
            last_ping = now
            try:
                latency = self.connection.engine.ping()
            except HostError as exc:
                misses += 1
                if misses >= LINK_MISSES or not self.connection.is_alive() \
                        or session.events_ended.is_set():
                    log.info("link to %s lost: %s", self.name, exc)
                    return
                log.info("%s: the engine missed a ping (%d of %d): %s", self.name,
                         misses, LINK_MISSES, exc)
                # Said at once (the sidebar sorts it first), the session kept meanwhile.
                self._set_status(LinkState.NO_ENGINE, message=str(exc),
                                 hint=f"{exc.hint} The SSH link is up; asking again.".strip(),
                                 clock_skew=self.status.clock_skew)
                continue
            misses = 0
            if self.status.state is LinkState.NO_ENGINE:  # it answers again
                self._set_status(LinkState.CONNECTED, latency,
                                 clock_skew=self.status.clock_skew)
            elif latency is not None and self.status.state is LinkState.CONNECTED and \
                    latency_news(self.status.latency_ms, latency, self._shown.is_set()):
                self.status = dataclasses.replace(self.status, latency_ms=latency)
                self.listener.host_status(self.status)

    def _close_connection(self) -> None:
        try:
            self.connection.close()
        except Exception:
            log.debug("closing %s failed", self.name, exc_info=True)

    def _guarded(self, call: Callable[[], T]) -> T:
        """Run a host call; a HostError also tells the supervisor to check the link now."""
        try:
            return call()
        except HostError:
            self._link_suspect.set()
            raise

    # -- jobs -------------------------------------------------------------------------

    def _every(self, interval: Callable[[], float],
               task: Callable[[], None]) -> Callable[[_Session], None]:
        def loop(session: _Session) -> None:
            # The first list alone is on the way to the first frame: metrics, stats and
            # health probes would compete with it for the link, the engine and the CPU.
            session.listed.wait(FIRST_LIST_WAIT_SECONDS)
            while not session.stopped.is_set():
                self._run_job(task)
                session.stopped.wait(interval())
        return loop

    def _run_job(self, task: Callable[[], None]) -> None:
        try:
            task()
        except HostError as exc:
            log.info("%s: %s", self.name, exc)
            self._link_suspect.set()
        except OpsuiError as exc:
            log.warning("%s: %s", self.name, exc)
        except Exception:
            log.exception("%s: unexpected error in a monitor job", self.name)

    def _follow_events(self, session: _Session) -> None:
        """Subscribe first, then list, so no change between the two is missed.

        A subscription that fails while the SSH link lives (an engine slow to answer
        under load) is asked again a few times before the session is given up: a
        reconnect would cost the host a new SSH session and every host a share of
        the machine, and until it subscribes the host is not listed either."""
        engine = self.connection.engine
        delay = EVENTS_RETRY_SECONDS
        for attempt in range(1, EVENTS_ATTEMPTS + 1):
            try:
                session.events = engine.events()
                break
            except HostError as exc:
                if attempt == EVENTS_ATTEMPTS or not self.connection.is_alive() \
                        or session.stopped.wait(delay):
                    session.events_ended.set()
                    self._link_suspect.set()
                    return
                log.info("%s: subscribing to events failed (%d of %d): %s", self.name,
                         attempt, EVENTS_ATTEMPTS, exc)
                delay *= 2
        refresher = threading.Thread(target=self._reconcile_loop, args=(session,),
                                     name=f"reconcile-{self.name}", daemon=True)
        refresher.start()
        session.threads.append(refresher)
        try:
            for event in session.events or ():
                if session.stopped.is_set():
                    return
                if event.kind is EventKind.REMOVED:
                    with self._lock:
                        self._inspected.pop(event.container_id, None)
                    self.listener.container_removed(self.name, event.container_id)
                else:
                    self._run_job(functools.partial(self._reread, event.container_id))
        except HostError as exc:
            log.info("%s: event stream ended: %s", self.name, exc)
        except Exception:
            if not session.stopped.is_set():
                log.exception("%s: event stream failed", self.name)
        if not session.stopped.is_set():
            session.events_ended.set()
            self._link_suspect.set()

    def _reconcile_loop(self, session: _Session) -> None:
        while not session.stopped.is_set():
            self._run_job(lambda: self._reconcile(session))
            session.refresh_now.wait(refresh_seconds(self.settings.refresh_seconds,
                                                     self._shown.is_set()))
            session.refresh_now.clear()

    def _reconcile(self, session: _Session) -> None:
        """Full list (one call), merged with what inspect already told us, then enrich."""
        listed = self.connection.engine.list_containers()
        with self._lock:
            live = {c.id for c in listed}
            self._inspected = {k: v for k, v in self._inspected.items() if k in live}
            merged = [self._merge(c) for c in listed]
            missing = [c.id for c in listed if c.id not in self._inspected]
        self.listener.containers_snapshot(self.name, merged)
        if not session.listed.is_set():
            self._log_first_rows(len(merged), "the session's list")
        session.listed.set()
        self._refresh_clock()  # after the rows: the first frame never waits for /info
        if not self._shown.is_set():
            return  # re-read when shown (watch_metrics wakes this loop then)
        if missing and self.settings.enrich_wait_seconds > 0:
            self._watch_known.wait(self.settings.enrich_wait_seconds)
            if not self._shown.is_set():  # listed before the dashboard said it is hidden
                return
        watched = self._watched
        missing.sort(key=lambda cid: cid not in watched)  # the rows on screen first
        for start in range(0, len(missing), REREAD_BATCH):
            if session.stopped.is_set():
                return
            read: list[tuple[str, Container | None]] = []
            try:
                for container_id in missing[start : start + REREAD_BATCH]:
                    read.append((container_id, self._read(container_id)))
            finally:  # reported together, so a UI redraws once per batch, not per container
                for container_id, container in read:
                    self._report(container_id, container)

    def _log_first_rows(self, count: int, how: str) -> None:
        """When a host's rows came, in the log: with twenty hosts, which one is slow to
        list (and the fleet bench reads the launch's last host from it)."""
        log.info("%s: %d containers listed %.2f s after start (%s)", self.name, count,
                 time.monotonic() - self._started_at, how)

    def _refresh_clock(self) -> None:
        """Re-measure the offset on each reconciliation; tell the sidebar when it moved
        by a second or more (a clock stepped by NTP or by hand)."""
        skew = self._measure_clock()
        shown = self.status.clock_skew
        if skew is None or self.status.state is not LinkState.CONNECTED or (
                shown is not None and abs(skew - shown) < 1.0):
            return
        self.status = dataclasses.replace(self.status, clock_skew=skew)
        self.listener.host_status(self.status)

    def _merge(self, listed: Container) -> Container:
        known = self._inspected.get(listed.id)
        if known is None:
            return listed
        return dataclasses.replace(listed, restart_count=known.restart_count,
                                   started_at=known.started_at)

    def _reread(self, container_id: str) -> None:
        self._report(container_id, self._read(container_id))

    def _read(self, container_id: str) -> Container | None:
        container = self._guarded(lambda: self.connection.engine.get_container(container_id))
        with self._lock:
            if container is None:
                self._inspected.pop(container_id, None)
            else:
                self._inspected[container_id] = container
        return container

    def _report(self, container_id: str, container: Container | None) -> None:
        if container is None:
            self.listener.container_removed(self.name, container_id)
        else:
            self.listener.container_changed(self.name, container)

    def _sample_metrics(self) -> None:
        if not self._metrics_watched:
            return
        self.listener.host_metrics(self.name, self.connection.metrics.sample())

    def _sample_stats(self) -> None:
        samples = self.connection.engine.stats_many(sorted(self._watched))
        if samples:
            self.listener.container_stats(self.name, list(samples.values()))

    def _probe_health(self) -> None:
        prober = self.connection.prober
        for app in self.apps:
            if app.health_urls:
                results = tuple(prober.probe(url, app.health_timeout) for url in app.health_urls)
                self.listener.app_health(self.name, app.name, results)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` passes; for CLI and tests."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
