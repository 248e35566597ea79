"""A Swarm service's logs from its manager, every task on every node (issue 15).

``GET /services/{id}/logs`` with ``timestamps`` and ``details``: the manager gathers the
lines of the service's tasks from the nodes they run on and, when followed, from the
tasks started later (a task rescheduled after its node died). The body is the same
multiplexed stream as a container's, so it is read by the same fast reader
(:class:`~opsui.backends.docker_logs.DockerLogStream`, over a connection of its own,
closable from any thread); :mod:`opsui.domain.service_tail` tells the tasks apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import docker.errors

from opsui.backends.docker_errors import (
    CONNECTION_ERRORS,
    body_reason,
    engine_unavailable,
    error_reason,
)
from opsui.backends.docker_fields import mapping_or_empty
from opsui.backends.docker_logs import DockerLogStream, open_log_stream
from opsui.domain.errors import ActionFailed, HostError, OpsuiError
from opsui.domain.sanitize import clean
from opsui.domain.swarm_cluster import SwarmCluster

_T = TypeVar("_T")

PoolOf = Callable[[str], Any]
"""The engine's own connection pool for a URL when streams may take a plain socket of
it (unix socket, dial-stdio channel); None otherwise."""


class DockerServiceLogs:
    """:class:`opsui.domain.service_tail.ServiceLogs` over docker-py's ``APIClient``."""

    def __init__(self, api: Any, endpoint: str, pool_of: PoolOf,
                 cluster: Callable[[], SwarmCluster | None]) -> None:
        self._api = api
        self._endpoint = endpoint
        self._pool_of = pool_of
        self._cluster = cluster

    def cluster(self) -> SwarmCluster | None:
        return self._cluster()

    def open(self, service: str, *, tag: int, since: str | None, tail: int | None,
             follow: bool) -> DockerLogStream:
        def open_stream() -> DockerLogStream:
            spec = mapping_or_empty(self._api.inspect_service(service).get("Spec"))
            container = mapping_or_empty(mapping_or_empty(spec.get("TaskTemplate"))
                                         .get("ContainerSpec"))
            tty = bool(container.get("TTY"))
            params: dict[str, str | int] = {
                "stdout": 1, "stderr": 1, "timestamps": 1, "details": 1,
                "follow": int(follow), "tail": "all" if tail is None else str(max(0, tail)),
                "since": since or "0"}
            path = (f"/v{self._api.api_version}/services/{quote(service, safe='')}/logs?"
                    f"{urlencode(params)}")
            return open_log_stream(
                self._api, path, self._pool_of(f"{self._api.base_url}{path}"), tag,
                tty=tty, follow=follow,
                refused=lambda status, body: self._refused(service, status, body))

        return self._call(service, open_stream)

    def _refused(self, service: str, status: int, body: bytes) -> None:
        raise ActionFailed(f"logs of service {clean(service, 200)}: {body_reason(status, body)}")

    def _call(self, service: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except OpsuiError:
            raise
        except docker.errors.NotFound:
            raise ActionFailed(f"no Swarm service named {clean(service, 200)!r}") from None
        except docker.errors.APIError as exc:
            raise HostError(f"{self._endpoint}: service logs failed: {error_reason(exc)}") \
                from None
        except (*CONNECTION_ERRORS, docker.errors.DockerException) as exc:
            raise engine_unavailable(self._endpoint, exc, self._api.timeout) from None
