"""What the domain and UI need from a host, as Protocols the backends implement.

All methods block: the UI calls them from worker threads, never from the event loop.
They raise :mod:`opsui.domain.errors` types, never library exceptions. Implementations
live in :mod:`opsui.backends`; tests use small fakes of these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from opsui.domain.host_clock import HostClock
from opsui.domain.logbuffer import LogEntry
from opsui.domain.models import (
    Container,
    ContainerDetail,
    ContainerEvent,
    ContainerStats,
    HostMetrics,
    HttpHealth,
)
from opsui.domain.swarm_cluster import SwarmCluster


class EventStream(Protocol):
    """A live stream of container events. ``close()`` from another thread ends iteration."""

    def __iter__(self) -> Iterator[ContainerEvent]: ...

    def close(self) -> None: ...


class LogStream(Protocol):
    """One container's log lines in batches of buffer entries; ``close()`` from another
    thread ends iteration. ``completed`` says, once iteration ended, whether the engine
    ended the stream (container stopped, window read) rather than the link breaking."""

    completed: bool

    def __iter__(self) -> Iterator[list[LogEntry]]: ...

    def close(self) -> None: ...


class ContainerEngine(Protocol):
    """The Docker engine of one host."""

    def ping(self) -> float:
        """Round trip in milliseconds; raises EngineUnavailable / HostError."""
        ...

    @property
    def clock(self) -> HostClock:
        """The host's time from this engine's clock (``GET /info`` ``SystemTime``):
        what durations against the engine's timestamps are measured with."""
        ...

    def list_containers(self) -> list[Container]:
        """Every container, running or not, with health and restart counts filled in."""
        ...

    def get_container(self, container_id: str) -> Container | None:
        """One container re-read after an event; None when it no longer exists."""
        ...

    def inspect(self, container_id: str) -> ContainerDetail:
        """Everything the detail view shows, with secret-looking env values masked."""
        ...

    def stats(self, container_id: str) -> ContainerStats | None:
        """One resource sample (non-streaming); None when the container is not running."""
        ...

    def stats_many(self, container_ids: Iterable[str]) -> dict[str, ContainerStats]:
        """Samples of several containers, fetched concurrently; missing ones left out.

        The engine answers a stats request only on its next sampling tick (about 1 s),
        so asking one container after another would take a second per row.
        """
        ...

    def events(self) -> EventStream:
        """Container events from now on."""
        ...

    def logs(self, container_id: str, *, tag: int, since: str | None = None,
             tail: int | None = None, follow: bool = True) -> LogStream:
        """Log lines with the engine's timestamps, stdout and stderr told apart.

        ``tag`` goes first in every entry (the buffer's source index); ``since`` is a
        UNIX time as ``seconds.nanoseconds`` text, lines at that instant included;
        ``tail`` None means every line. Raises ContainerGone / EngineUnavailable.
        """
        ...

    def pull(self, image: str, timeout: float = 600.0) -> str:
        """Pull ``repo:tag``; the digest it resolved to. ActionFailed changes nothing."""
        ...

    def create_like(self, container_id: str, image: str, name: str,
                    labels: dict[str, str]) -> str:
        """Create (not start) a container with everything ``container_id`` has but its
        image (and image-given defaults); ``labels`` added. Its id."""
        ...

    def rename(self, container_id: str, name: str) -> None: ...

    def remove(self, container_id: str) -> None:
        """Remove a stopped container (retention of kept releases)."""
        ...

    def image_digest(self, image: str) -> str:
        """The registry digest of a local image, or "" when it has none."""
        ...

    def image_exists(self, ref: str) -> bool:
        """Whether ``ref`` (an image id, ``repo@digest`` or ``repo:tag``) is on the host."""
        ...

    def local_tags(self, repository: str) -> list[LocalImage]:
        """Tags of ``repository`` already on the host, newest first."""
        ...

    @property
    def swarm(self) -> SwarmEngine:
        """The engine's Swarm services (used only for apps that are services)."""
        ...

    def start(self, container_id: str) -> None: ...

    def stop(self, container_id: str, timeout: int = 10) -> None: ...

    def restart(self, container_id: str, timeout: int = 10) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class LocalImage:
    """One tag of an image repository present on a host."""

    tag: str
    image_id: str
    created: datetime | None = None


class ImageTags(Protocol):
    """Tags of an image repository in its registry, read as the host reaches it."""

    def tags(self, image: str) -> list[LocalImage]:
        """Tags of ``image``'s repository (``[registry/]repo[:tag]``), newest first where
        the registry says when each was built. Raises ActionFailed (registry down, auth)."""
        ...


class MetricsSource(Protocol):
    """CPU, memory, disk and load of the host itself."""

    def sample(self) -> HostMetrics: ...


class HealthProber(Protocol):
    """Probes HTTP health URLs as the host sees them (through SSH for remote hosts)."""

    def probe(self, url: str, timeout: float = 5.0) -> HttpHealth: ...


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


class CommandRunner(Protocol):
    """Runs a command on the host (locally, or over an SSH exec channel)."""

    def run(
        self, argv: list[str], timeout: float = 30.0, stdin: bytes | None = None
    ) -> CommandResult: ...


class HostFiles(Protocol):
    """Files on the host (its state folder): the deploy journal and lock live there.

    Raises ActionFailed (permissions, a full disk) or HostError (the link).
    """

    def read(self, path: str) -> bytes | None:
        """The whole file, or None when it does not exist."""
        ...

    def append_record(self, path: str, record: bytes) -> None:
        """Append one line (ending in a newline) in one write, flushed to disk; folders
        are created. A line torn by an earlier crash is closed first."""
        ...

    def create_dir_with(self, path: str, name: str, content: bytes) -> bool:
        """Create folder ``path`` atomically, holding file ``name``; False if it exists."""
        ...

    def exists(self, path: str) -> bool: ...

    def remove_dir(self, path: str) -> None: ...


class HostConnection(Protocol):
    """Everything about one host, opened once and shared by every view of it.

    ``connect()`` raises HostError subclasses; after it returns, ``engine``, ``metrics``,
    ``prober`` and ``runner`` are usable. ``is_alive()`` is cheap and says whether the
    underlying link (SSH transport) still stands, so the supervisor can rebuild it.
    """

    name: str

    def connect(self) -> None: ...

    def is_alive(self) -> bool: ...

    @property
    def engine(self) -> ContainerEngine: ...

    @property
    def metrics(self) -> MetricsSource: ...

    @property
    def prober(self) -> HealthProber: ...

    @property
    def runner(self) -> CommandRunner: ...

    @property
    def files(self) -> HostFiles:
        """The host's state folder (deploy journal and lock), through ``runner``."""
        ...

    @property
    def image_tags(self) -> ImageTags:
        """Registry tags, read from the host's side of the network."""
        ...

    def close(self) -> None: ...


SWARM_SETTLED_STATES = frozenset({"completed", "paused", "rollback_completed",
                                  "rollback_paused"})
"""Update states after which the engine changes nothing more by itself."""


class Cancellation(Protocol):
    """What a long wait needs of a ``threading.Event``: whether it is set, and a wait on
    it that returns as soon as it is (so a cancelled wait never sleeps out its interval)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True)
class SwarmService:
    """One Swarm service as a deploy or a rollback sees it; text already sanitised."""

    id: str
    name: str
    image: str
    """The spec's image, ``repo:tag@digest`` when the spec pins a digest."""
    version: int
    """The spec's version index: an update names it, so two writers never overwrite
    each other's spec without noticing."""
    labels: dict[str, str]
    update_state: str = ""
    """updating, completed, paused, rollback_started, rollback_completed, rollback_paused,
    or "" when the service was never updated or its update has not started yet."""
    update_message: str = ""
    previous_image: str = ""
    """The image of the spec a native rollback goes back to; "" when there is none (a
    new service, or right after the engine rolled a failed update back)."""
    running: int = 0
    """Tasks running the current spec (its image and container labels)."""
    desired: int = 0
    task_errors: tuple[str, ...] = ()
    """Why tasks of the service failed, as the engine said it, newest first."""

    @property
    def settled(self) -> bool:
        """No update is in flight: the last one ended or paused, or (none recorded)
        every task of the current spec runs."""
        if self.update_state:
            return self.update_state in SWARM_SETTLED_STATES
        return self.running >= self.desired

    @property
    def in_rollback(self) -> bool:
        """The engine rolls (or rolled) the last update back, by itself or when asked."""
        return self.update_state.startswith("rollback_")


class SwarmEngine(Protocol):
    """The Swarm services of one host's engine, which must be a manager node.

    Raises ActionRefused (not a manager), ActionFailed (no such service, the engine
    refused the spec) or EngineUnavailable, never library exceptions.
    """

    def service(self, name: str) -> SwarmService | None:
        """The service named (or with the id) ``name``; None when there is none."""
        ...

    def update_image(self, name: str, image: str,
                     labels: dict[str, str] | None = None) -> None:
        """Start a start-first rolling update of ``name`` to ``image`` that the engine
        rolls back by itself when a new task fails; ``labels`` are added to the service
        and its tasks' containers. Returns once the engine took the new spec."""
        ...

    def rollback(self, name: str) -> None:
        """Ask the engine to go back to the service's previous spec (native rollback)."""
        ...

    def wait_update(self, name: str, timeout: float,
                    cancelled: Cancellation) -> SwarmService:
        """Poll until the service is :attr:`~SwarmService.settled`, ``timeout`` seconds
        passed or ``cancelled`` is set, whichever comes first; the state then."""
        ...

    def cluster(self) -> SwarmCluster | None:
        """Every node, service and task (on any node, ended ones included) as this
        manager sees them; None when the engine is no Swarm manager (issue 15)."""
        ...


# -------------------------------------------------------------------- backups (issue 5)

Progress = Callable[[int, float], None]
"""``progress(bytes_done, bytes_per_second)``, called from a worker thread about twice
a second while bytes move (a dump being written, a backup being downloaded)."""

DumpCheck = Callable[[str], tuple[bool, str]]
"""The engine's verdict on a finished dump's temporary file: (ok, what it said)."""

LineSink = Callable[[str], None]
"""Called once per output line (already sanitised), from a worker thread."""


@dataclass(frozen=True)
class DumpResult:
    """A dump that reached its final name: what it holds and how long it took."""

    path: str
    size: int
    sha256: str
    seconds: float


class BackupStore(Protocol):
    """Backup files in a folder on the host, written by commands run *on the host*, so
    a dump's bytes go from the database container to the disk without crossing the
    link to the operator. Raises ActionFailed (with the command's words) or HostError.
    """

    def dump(self, argv: list[str], folder: str, name: str, *, timeout: float,
             progress: Progress | None = None, cancelled: Cancellation | None = None,
             stop: list[str] | None = None, stall_seconds: float = 120.0,
             check: DumpCheck | None = None) -> DumpResult:
        """Run ``argv`` with stdout to ``folder/.name.partial``, check its exit status,
        fsync, run ``check`` on that temporary file, then rename it to ``folder/name``.
        A non-zero exit, a failed check, a kill, a full disk, ``cancelled`` being set,
        no growth for ``stall_seconds``, or the caller gone (the dump is leased to a live
        caller) leaves no file under ``name`` (and nothing else in the folder changes).
        ``stop`` ends the dump's work where it runs (the session in the database) when
        the dump is stopped."""
        ...

    def feed(self, argv: list[str], path: str, timeout: float) -> CommandResult:
        """Run ``argv`` on the host with the file ``path`` on its stdin."""
        ...

    def restore(self, argv: list[str], path: str, *, timeout: float,
                stop: list[str] | None = None, busy: list[str] | None = None,
                stall_seconds: float = 120.0,
                cancelled: Cancellation | None = None) -> CommandResult:
        """:meth:`feed` for a restore, leased to a live caller: a caller gone, ``cancelled``
        being set, or ``stall_seconds`` without progress (no input consumed, and ``busy``
        printing no positive count) stops it, on the host and, through ``stop``, where
        it runs, and raises ActionFailed saying which."""
        ...

    def checksum(self, path: str) -> tuple[int, str] | None:
        """(size, sha256) of the file, or None when it does not exist."""
        ...

    def remove(self, path: str) -> None: ...

    def download(self, path: str, local_path: str,
                 progress: Progress | None = None) -> tuple[int, str]:
        """Copy the host's file to ``local_path`` on the operator's machine (written
        beside it, then renamed); the bytes copied and their sha256."""
        ...


@dataclass(frozen=True)
class JobResult:
    """How a one-off command (a migration) ended."""

    exit_code: int | None
    """None when it was stopped: timed out or cancelled."""
    container_id: str = ""
    """The one-off container, when one was made (kept after a failure)."""
    reason: str = ""


class JobEngine(Protocol):
    """One-off commands of an app: in a new container made like a running one, or
    exec'd in it, with their output streamed line by line."""

    def run_like(self, like_id: str, image: str, command: list[str], name: str,
                 labels: dict[str, str], output: LineSink, timeout: float,
                 cancelled: Cancellation) -> JobResult:
        """Create and start a container of ``image`` with ``like_id``'s env, mounts and
        networks (no published ports, no network aliases, no restart policy) running
        ``command``; stream its output; wait for it to end (killed at ``timeout`` or
        when ``cancelled`` is set). It is not removed here."""
        ...

    def exec_in(self, container_id: str, command: list[str], output: LineSink,
                timeout: float, cancelled: Cancellation) -> JobResult:
        """Run ``command`` in the running container, streaming its output."""
        ...

    def remove(self, container_id: str) -> None:
        """Remove a finished one-off container."""
        ...


# ------------------------------------------------------- switching traffic (issue 13)

class TrafficEngine(Protocol):
    """What a switch with drain needs beyond :class:`ContainerEngine`: the network
    aliases a proxy reaches an app by, and a command run in a proxy container."""

    def aliases(self, container_id: str) -> dict[str, tuple[str, ...]]:
        """The aliases the operator (or compose) gave the container, per user network
        (the engine's own short-id alias left out); networks without any are left out."""
        ...

    def set_aliases(self, container_id: str, network: str,
                    aliases: tuple[str, ...]) -> str:
        """Give the container exactly ``aliases`` on ``network`` (the engine's DNS then
        answers them with its address, or stops doing so), keeping its address where
        the engine allows. A running container keeps running. Says what changed."""
        ...

    def stop_timeout(self, container_id: str) -> int:
        """The container's own stop timeout (compose's ``stop_grace_period``), 10 s
        when it has none."""
        ...

    def exec(self, container_id: str, argv: list[str], timeout: float) -> CommandResult:
        """Run ``argv`` in the running container and wait for it to end."""
        ...


# --------------------------------------------------- the front proxy (issue 13, ports)

@dataclass(frozen=True)
class HostBinding:
    """One published port: ``host_ip:host_port`` on the host -> ``container_port``."""

    container_port: int
    protocol: str
    host_ip: str
    host_port: str

    def __str__(self) -> str:
        host = f"{self.host_ip}:{self.host_port}" if self.host_ip else self.host_port
        return f"{host}->{self.container_port}/{self.protocol}"


class FrontEngine(Protocol):
    """What moving an app behind a front proxy needs beyond :class:`ContainerEngine`:
    its published ports, a network, copies without (or with) them, and a proxy
    container created with its config file inside it before it starts."""

    def bindings(self, container_id: str) -> tuple[HostBinding, ...]:
        """The container's host port bindings to ports the operator chose."""
        ...

    def ensure_network(self, name: str, labels: dict[str, str]) -> str:
        """Create the user network ``name`` (labelled) unless it exists; says which."""
        ...

    def remove_network_if_unused(self, name: str, label: str) -> str:
        """Remove ``name`` if it carries ``label`` and no container is attached to it;
        says what it did or why not."""
        ...

    def copy_as(self, container_id: str, name: str, *, bindings: tuple[HostBinding, ...],
                network: str, alias: str, relabel: Callable[[dict[str, str]],
                                                          dict[str, str]] | None = None
                ) -> str:
        """Create (not start) ``name``: the container's image id and config with exactly
        ``bindings`` as its fixed host ports, its other ports and networks kept; on
        ``network`` with ``alias`` when ``alias`` is given, off it when it is empty.
        Labels ``relabel``-ed when given. Its id."""
        ...

    def create_proxy(self, name: str, image: str, *, ports: dict[int, HostBinding],
                     network: str, labels: dict[str, str], config_dir: str,
                     config_name: str, config: bytes) -> str:
        """Create (not start) the proxy from ``image``, on ``network``, each listen port
        of ``ports`` published as its binding, restarted unless stopped, with ``config``
        written as ``config_dir/config_name`` inside it. Its id."""
        ...
