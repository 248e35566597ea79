"""Swarm services over the engine API: read one, roll it to an image, roll it back.

:class:`DockerSwarm` implements :class:`opsui.domain.ports.SwarmEngine`. Updates post
the service's whole current spec back with only the image, labels and update policy
changed, so nothing else an operator set (mounts, networks, secrets, resources) is lost
the way a partial spec would lose it. The rolling update itself is the engine's: it
pulls on each node, starts a new task before stopping an old one, waits for its health
check, and rolls back by itself when a new task fails within the monitor window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import docker
import docker.auth
import docker.errors

from opsui.backends.docker_cluster import read_cluster
from opsui.backends.docker_credentials import DockerCredentials
from opsui.backends.docker_errors import CONNECTION_ERRORS, error_reason
from opsui.backends.docker_fields import int_or_none, mapping_or_empty
from opsui.backends.docker_swarm_history import DockerSwarmHistory
from opsui.backends.registry import ImageRef
from opsui.backends.registry_pull import PullAuth
from opsui.domain.errors import ActionFailed, ActionRefused, EngineUnavailable, OpsuiError
from opsui.domain.ports import Cancellation, SwarmService
from opsui.domain.sanitize import clean
from opsui.domain.swarm_cluster import SwarmCluster

_T = TypeVar("_T")
_NANOSECONDS = 1_000_000_000
_MAX_TASK_ERRORS = 5


class DockerSwarm:
    """:class:`~opsui.domain.ports.SwarmEngine` over a ``docker.DockerClient``.

    ``monitor_seconds``: how long the engine watches each new task after it started
    (healthy, when it has a health check) before the update counts it as good; a task
    failing within it makes the engine roll the whole update back.
    """

    def __init__(self, client: docker.DockerClient, *, monitor_seconds: float = 5.0,
                 poll_seconds: float = 0.5,
                 credentials: DockerCredentials | None = None) -> None:
        self._api = client.api
        self._credentials = credentials
        self._endpoint = clean(str(client.api.base_url))
        self._monitor = monitor_seconds
        self._poll = poll_seconds
        self._history = DockerSwarmHistory(client.api, self._endpoint)

    def _call(self, what: str, name: str, call: Callable[[], _T]) -> _T:
        """Run one API call, translating docker's exceptions for ``what`` on ``name``."""
        try:
            return call()
        except OpsuiError:
            raise
        except docker.errors.NotFound:
            raise ActionFailed(f"{what} {clean(name, 100)}: no such service",
                               hint="Refresh: it may have been removed.") from None
        except docker.errors.APIError as exc:
            if _not_a_manager(exc):
                raise ActionRefused(f"{self._endpoint} is not a Swarm manager: "
                                    f"{error_reason(exc)}",
                                    hint="Point opsui at a manager node of the swarm.") from None
            raise ActionFailed(f"{what} {clean(name, 100)}: {error_reason(exc)}") from None
        except (*CONNECTION_ERRORS, docker.errors.DockerException) as exc:
            raise EngineUnavailable(f"no Docker engine answers at {self._endpoint}: "
                                    f"{error_reason(exc)}") from None

    def _inspect(self, name: str) -> Mapping[str, Any] | None:
        def inspect() -> Mapping[str, Any] | None:
            try:
                return mapping_or_empty(
                    self._api.inspect_service(name))  # type: ignore[no-untyped-call]
            except docker.errors.NotFound:
                return None

        return self._call("inspect service", name, inspect)

    def _tasks(self, service_id: str) -> list[Mapping[str, Any]]:
        found = self._call("list tasks of", service_id, lambda: self._api.tasks(
            filters={"service": service_id}))  # type: ignore[no-untyped-call]
        return [mapping_or_empty(task) for task in found or []]

    def service(self, name: str) -> SwarmService | None:
        data = self._inspect(name)
        if data is None:
            return None
        return service_from_inspect(data, self._tasks(str(data.get("ID") or name)))

    def _current(self, name: str) -> Mapping[str, Any]:
        data = self._inspect(name)
        if data is None:
            raise ActionFailed(f"service {clean(name, 100)} does not exist",
                               hint="Refresh: it may have been removed.")
        return data

    def update_image(self, name: str, image: str,
                     labels: dict[str, str] | None = None) -> None:
        data = self._current(name)
        spec = updated_spec(mapping_or_empty(data.get("Spec")), image, labels or {},
                            self._monitor)
        self._post_update(name, data, spec, rollback=False)

    def rollback(self, name: str) -> None:
        data = self._current(name)
        if not mapping_or_empty(data.get("PreviousSpec")):
            raise ActionRefused(f"service {clean(name, 100)} has no previous spec to go "
                                f"back to", hint="Deploy the version you want instead.")
        self._post_update(name, data, dict(mapping_or_empty(data.get("Spec"))), rollback=True)

    def _post_update(self, name: str, data: Mapping[str, Any], spec: dict[str, Any], *,
                     rollback: bool) -> None:
        """``POST /services/{id}/update``: docker-py's ``update_service`` rebuilds the
        spec from its own arguments and has no ``rollback`` parameter, so the call is
        made directly, with the registry credentials docker-py would send."""
        service_id = str(data.get("ID") or name)
        version = int_or_none(mapping_or_empty(data.get("Version")).get("Index")) or 0
        params: dict[str, Any] = {"version": version}
        if rollback:
            params["rollback"] = "previous"
        image = str(_container_spec(spec).get("Image") or "")
        what = "roll back" if rollback else "update"

        def post() -> None:
            api: Any = self._api  # the low-level helpers are not in the type stubs
            url = api._url("/services/{0}/update", service_id)
            response = api._post_json(url, data=spec, params=params,
                                      headers=self._auth_headers(image))
            api._raise_for_status(response)

        self._call(what, name, post)

    def _auth_headers(self, image: str) -> dict[str, str]:
        """The registry credentials of the client's config for ``image``, so the nodes
        can pull a private image; none when there are none (a public or open registry).
        With ``credentials`` (the host's docker config, issue 13) those, as for a pull."""
        if self._credentials is not None:
            return PullAuth.lookup(self._credentials, ImageRef.parse(image).registry).headers
        return registry_auth_headers(self._api, image)

    def cluster(self) -> SwarmCluster | None:
        return self._call("read the cluster of", self._endpoint,
                          lambda: read_cluster(self._api))

    def publish_release(self, service: str, release_id: str,
                        records: Sequence[Mapping[str, Any]]) -> None:
        """The release's records into the cluster's configs (domain/swarm_history):
        every manager then has the service's history."""
        self._history.publish_release(service, release_id, records)

    def release_records(self, service: str) -> tuple[Mapping[str, Any], ...]:
        return self._history.release_records(service)

    def wait_update(self, name: str, timeout: float,
                    cancelled: Cancellation) -> SwarmService:
        deadline = time.monotonic() + timeout
        why_rolled_back = ""
        while True:
            current = self.service(name)
            if current is None:
                raise ActionFailed(f"service {clean(name, 100)} vanished during its update")
            if current.update_state == "rollback_started" and not why_rolled_back:
                why_rolled_back = current.update_message
            if (current.settled or time.monotonic() >= deadline
                    or cancelled.wait(self._poll)):
                return with_rollback_reason(current, why_rolled_back)


def registry_auth_headers(api: Any, image: str) -> dict[str, str]:
    """The ``X-Registry-Auth`` header docker-py would send for ``image`` (from the
    client's docker config), or none when there are no credentials for its registry."""
    try:
        registry, _ = docker.auth.resolve_repository_name(image)
        header = docker.auth.get_config_header(api, registry)
    except (docker.errors.DockerException, OSError, ValueError):
        return {}
    if not header:
        return {}
    return {"X-Registry-Auth": header.decode("ascii", "replace")
            if isinstance(header, bytes) else str(header)}


def _not_a_manager(exc: docker.errors.APIError) -> bool:
    text = str(exc.explanation or "").lower()
    return exc.status_code == 503 and ("swarm" in text or "manager" in text)


def _container_spec(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping_or_empty(mapping_or_empty(spec.get("TaskTemplate")).get("ContainerSpec"))


def updated_spec(spec: Mapping[str, Any], image: str, labels: Mapping[str, str],
                 monitor_seconds: float) -> dict[str, Any]:
    """``spec`` with the new image, ``labels`` on the service and on its tasks'
    containers (so a task carries its release the way a plain container does), and a
    start-first update that the engine rolls back on failure. Parallelism stays what
    it was, or one task at a time: the engine's default of 0 would replace them all."""
    task_template = dict(mapping_or_empty(spec.get("TaskTemplate")))
    container_spec = dict(_container_spec(spec))
    container_spec["Image"] = image
    container_spec["Labels"] = {**mapping_or_empty(container_spec.get("Labels")), **labels}
    task_template["ContainerSpec"] = container_spec
    monitor = int(monitor_seconds * _NANOSECONDS)
    update = mapping_or_empty(spec.get("UpdateConfig"))
    rollback = mapping_or_empty(spec.get("RollbackConfig"))
    return {
        **spec,
        "Labels": {**mapping_or_empty(spec.get("Labels")), **labels},
        "TaskTemplate": task_template,
        "UpdateConfig": {**update, "Parallelism": update.get("Parallelism") or 1,
                         "Order": "start-first", "FailureAction": "rollback",
                         "Monitor": monitor},
        "RollbackConfig": {**rollback, "Parallelism": rollback.get("Parallelism") or 1,
                           "Order": "start-first",
                           "FailureAction": rollback.get("FailureAction") or "pause",
                           "Monitor": monitor},
    }


def service_from_inspect(data: Mapping[str, Any],
                         tasks: Sequence[Mapping[str, Any]]) -> SwarmService:
    """A :class:`SwarmService` from ``GET /services/{id}`` and its tasks; engine text is
    sanitised here, once."""
    spec = mapping_or_empty(data.get("Spec"))
    container_spec = _container_spec(spec)
    status = mapping_or_empty(data.get("UpdateStatus"))
    previous = _container_spec(mapping_or_empty(data.get("PreviousSpec")))
    live = [t for t in tasks if t.get("DesiredState") == "running"]
    current = [t for t in live if _runs_spec(t, container_spec)]
    return SwarmService(
        id=clean(str(data.get("ID") or ""), 100),
        name=clean(str(spec.get("Name") or ""), 200),
        image=clean(str(container_spec.get("Image") or ""), 300),
        version=int_or_none(mapping_or_empty(data.get("Version")).get("Index")) or 0,
        labels={clean(str(k), 200): clean(str(v), 500)
                for k, v in mapping_or_empty(spec.get("Labels")).items()},
        update_state=clean(str(status.get("State") or ""), 40),
        update_message=clean(str(status.get("Message") or ""), 500),
        previous_image=clean(str(previous.get("Image") or ""), 300),
        running=len(current),
        desired=_desired(spec, live),
        task_errors=_task_errors(tasks),
    )


def _runs_spec(task: Mapping[str, Any], container_spec: Mapping[str, Any]) -> bool:
    """A running task made from the current spec: same image and container labels, the
    two things an update by opsui changes."""
    own = _container_spec({"TaskTemplate": mapping_or_empty(task.get("Spec"))})
    return (mapping_or_empty(task.get("Status")).get("State") == "running"
            and own.get("Image") == container_spec.get("Image")
            and dict(mapping_or_empty(own.get("Labels")))
            == dict(mapping_or_empty(container_spec.get("Labels"))))


def _desired(spec: Mapping[str, Any], live: Sequence[Mapping[str, Any]]) -> int:
    """Replicas of a replicated service; one per node a global service runs on."""
    mode = mapping_or_empty(spec.get("Mode"))
    if "Global" in mode:
        return len({str(t.get("NodeID") or "") for t in live})
    replicas = int_or_none(mapping_or_empty(mode.get("Replicated")).get("Replicas"))
    return 1 if replicas is None else replicas


def _task_errors(tasks: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The engine's words for failed tasks (``task: non-zero exit (3)``), newest first."""
    stamped = [(str(status.get("Timestamp") or ""), str(status.get("Err") or ""))
               for status in (mapping_or_empty(t.get("Status")) for t in tasks)]
    errors: list[str] = []
    for _, err in sorted(stamped, reverse=True):
        text = clean(err, 300)
        if text and text not in errors:
            errors.append(text)
    return tuple(errors[:_MAX_TASK_ERRORS])


def with_rollback_reason(service: SwarmService, why: str) -> SwarmService:
    """The final state, its message prefixed by why the engine rolled back: once the
    rollback completed the engine's own message says only "rollback completed"."""
    if not why or why == service.update_message:
        return service
    message = f"{why}; {service.update_message}" if service.update_message else why
    return replace(service, update_message=clean(message, 800))
