"""A Docker engine in a dict (:class:`~opsui.domain.ports.ContainerEngine`) and the
registry it pulls from (:class:`~opsui.domain.ports.ImageTags`).

``FakeEngine`` records every call, so a test can prove that "n" in the confirm
dialog did not restart anything. ``FakeEngine.put`` changes a container and emits
an event, so the monitor re-reads it and the UI hears ``container_changed`` exactly
as it would from Docker. For deploys and rollbacks the engine also keeps images (on
the host and in a fake registry), pulls, clones, renames and removes containers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import queue
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from opsui.domain.errors import ActionFailed, HostError
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
    Mount,
    NetworkAttachment,
    split_image,
)
from opsui.domain.ports import LocalImage, SwarmEngine

from .common import NOW


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

    @property
    def swarm(self) -> SwarmEngine:
        """The fake engine is no Swarm manager: no UI test deploys a service."""
        raise ActionFailed("the fake engine has no Swarm services")

    def close(self) -> None:
        pass


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
