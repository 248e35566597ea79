"""The engine a log feed reads before the docker SDK connection exists (issue 14).

``opsui --open NAME`` opens the container's log pane on the launch's first rows, read
without the SDK (:mod:`~opsui.backends.engine_glance`). The feed needs a few requests
of the engine (the list, to find its containers; one container, when a stream ends;
the logs); on a plain local endpoint :class:`PlainEngine` makes them with the standard
library, so the first lines come while the SDK still loads. The monitor hands it to a
feed only until its connection is built; every other call says "still connecting".
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NoReturn

from opsui.backends.docker_fields import mapping_or_empty, parse_time
from opsui.backends.docker_logs import DockerLogStream
from opsui.backends.docker_mapping import container_from_inspect, container_from_list
from opsui.backends.engine_logs import (
    EngineRefused,
    container_path,
    engine_get,
    open_engine_logs,
)
from opsui.backends.engine_socket import EngineAddress, plain_address
from opsui.domain.errors import EngineUnavailable, HostError
from opsui.domain.host_clock import HostClock
from opsui.domain.models import Container, ContainerDetail, ContainerStats
from opsui.domain.ports import EventStream, LocalImage, SwarmEngine
from opsui.domain.sanitize import clean

DEFAULT_ENDPOINT = "unix:///var/run/docker.sock"
REQUEST_TIMEOUT = 10.0
"""Seconds for connecting and each answer, as the SDK client's (see connect_local)."""
FROZEN_ENGINE_HINT = (
    "The engine accepts connections but answers nothing: it may be frozen, overloaded or "
    "stuck on its storage. Check `docker info` and the engine's log on the host."
)
"""As :mod:`~opsui.backends.docker_errors` words it (that module loads the SDK)."""


def plain_engine(docker_host: str | None) -> PlainEngine | None:
    """A :class:`PlainEngine` for ``docker_host`` (None: DOCKER_HOST or the default
    socket), or None when that endpoint needs the SDK (TLS, SSH)."""
    address = plain_address(docker_host)
    if address is None:
        return None
    endpoint = clean(docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_ENDPOINT)
    return PlainEngine(address, endpoint)


class PlainEngine:
    """:class:`opsui.domain.ports.ContainerEngine` for log feeds, over the standard library.

    Each request is a socket of its own, so it is safe to share between threads. Only
    what a log feed asks is answered; the rest raises HostError (the connection that
    answers it is being built).
    """

    def __init__(self, address: EngineAddress, endpoint: str,
                 timeout: float = REQUEST_TIMEOUT) -> None:
        self._address = address
        self._endpoint = endpoint
        self._timeout = timeout
        self._clock = HostClock(self.system_time)

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def _unavailable(self, exc: OSError) -> EngineUnavailable:
        """Worded as the SDK path's :func:`~opsui.backends.docker_errors.engine_unavailable`."""
        if isinstance(exc, TimeoutError):
            return EngineUnavailable(f"the Docker engine at {self._endpoint} did not answer "
                                     f"within {self._timeout:g} s", hint=FROZEN_ENGINE_HINT)
        reason = clean(exc.strerror or str(exc) or type(exc).__name__, 300)
        return EngineUnavailable(f"no Docker engine answers at {self._endpoint}: {reason}")

    def _get(self, what: str, path: str) -> object:
        try:
            data: object = engine_get(self._address, path, self._timeout)
        except EngineRefused as exc:
            raise HostError(f"{self._endpoint}: {what} failed: {exc.reason}") from None
        except OSError as exc:
            raise self._unavailable(exc) from None
        return data

    def ping(self) -> float:
        started = time.perf_counter()
        self._get("ping", "/version")
        return (time.perf_counter() - started) * 1000.0

    def system_time(self) -> datetime:
        """The engine's clock (``SystemTime`` of ``GET /info``)."""
        when = parse_time(mapping_or_empty(self._get("read the engine's clock", "/info"))
                          .get("SystemTime"))
        if when is None:
            raise HostError(f"{self._endpoint}: the engine did not report its time")
        return when

    @property
    def clock(self) -> HostClock:
        return self._clock

    def list_containers(self) -> list[Container]:
        entries = self._get("list containers", "/containers/json?all=1")
        if not isinstance(entries, list):
            raise HostError(f"{self._endpoint}: list containers failed: not a list")
        return [container_from_list(entry) for entry in entries if isinstance(entry, Mapping)]

    def get_container(self, container_id: str) -> Container | None:
        try:
            data = engine_get(self._address, container_path(container_id, "json"),
                              self._timeout)
        except EngineRefused as exc:
            if exc.status == 404:
                return None
            raise HostError(f"{self._endpoint}: inspect failed: {exc.reason}") from None
        except OSError as exc:
            raise self._unavailable(exc) from None
        return container_from_inspect(mapping_or_empty(data))

    def logs(self, container_id: str, *, tag: int, since: str | None = None,
             tail: int | None = None, follow: bool = True) -> DockerLogStream:
        try:
            return open_engine_logs(self._address, container_id, tag, since=since,
                                    tail=tail, follow=follow, timeout=self._timeout)
        except OSError as exc:
            raise self._unavailable(exc) from None

    def close(self) -> None:
        """Nothing is held: every request and stream has its own socket."""

    # -- not for log feeds: the SDK connection answers these --------------------------

    def _connecting(self) -> NoReturn:
        raise HostError(f"{self._endpoint}: still connecting", hint="Try again in a moment.")

    def inspect(self, container_id: str) -> ContainerDetail:
        self._connecting()

    def stats(self, container_id: str) -> ContainerStats | None:
        self._connecting()

    def stats_many(self, container_ids: Iterable[str]) -> dict[str, ContainerStats]:
        self._connecting()

    def events(self) -> EventStream:
        self._connecting()

    def pull(self, image: str, timeout: float = 600.0) -> str:
        self._connecting()

    def create_like(self, container_id: str, image: str, name: str,
                    labels: dict[str, str]) -> str:
        self._connecting()

    def rename(self, container_id: str, name: str) -> None:
        self._connecting()

    def remove(self, container_id: str) -> None:
        self._connecting()

    def image_digest(self, image: str) -> str:
        self._connecting()

    def image_exists(self, ref: str) -> bool:
        self._connecting()

    def local_tags(self, repository: str) -> list[LocalImage]:
        self._connecting()

    @property
    def swarm(self) -> SwarmEngine:
        self._connecting()

    def start(self, container_id: str) -> None:
        self._connecting()

    def stop(self, container_id: str, timeout: int = 10) -> None:
        self._connecting()

    def restart(self, container_id: str, timeout: int = 10) -> None:
        self._connecting()

