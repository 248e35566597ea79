"""A Swarm manager's view of the whole cluster, read over the engine API (issue 15).

Four reads (``/info``, ``/nodes``, ``/services``, ``/tasks``), whatever the cluster's
size, turned into :class:`~opsui.domain.swarm_cluster.SwarmCluster`; engine text is
sanitised here, once. An engine that is not a manager (no swarm, or a worker) has no
cluster view: None, decided from ``/info`` so that no refused call is needed to learn it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import docker.errors

from opsui.backends.docker_fields import int_or_none, mapping_or_empty, parse_time
from opsui.domain.sanitize import clean
from opsui.domain.swarm_cluster import (
    ServiceTasks,
    SwarmCluster,
    SwarmNode,
    SwarmTask,
    ordered_tasks,
    task_health,
)


def read_cluster(api: Any) -> SwarmCluster | None:
    """The cluster as the manager behind docker-py's ``APIClient`` ``api`` sees it, or
    None when it is no manager. Raises docker's own exceptions (the caller translates)."""
    swarm = mapping_or_empty(mapping_or_empty(api.info()).get("Swarm"))
    if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
        return None
    nodes = [node_from_api(mapping_or_empty(n)) for n in api.nodes() or []]
    services = [mapping_or_empty(s) for s in api.services() or []]
    tasks = [mapping_or_empty(t) for t in api.tasks() or []]
    own = str(swarm.get("NodeID") or "")
    manager = next((n.hostname for n in nodes if n.id == own), clean(own, 100))
    return cluster_from_api(manager, nodes, services, tasks, _checked_images(api, tasks))


def _has_check(healthcheck: object) -> bool | None:
    """Whether a ``Healthcheck`` (spec or image config) defines a check; None if unset."""
    test = mapping_or_empty(healthcheck).get("Test")
    if not isinstance(test, list) or not test:
        return None
    return str(test[0]) != "NONE"


def _checked_images(api: Any, tasks: Sequence[Mapping[str, Any]]) -> dict[str, bool]:
    """For each image the tasks run: whether it has a health check, from the spec's own
    check, else the image as this manager has it (one inspect per image; an image the
    manager lacks counts as unchecked, so its tasks show no health rather than a guess)."""
    checked: dict[str, bool] = {}
    for task in tasks:
        spec = _container_spec(task)
        image = str(spec.get("Image") or "")
        if image in checked:
            continue
        own = _has_check(spec.get("Healthcheck"))
        if own is None:
            try:
                config = mapping_or_empty(mapping_or_empty(api.inspect_image(image)).get("Config"))
                own = bool(_has_check(config.get("Healthcheck")))
            except docker.errors.APIError:  # no such image here: nothing known
                own = False
        checked[image] = own
    return checked


def _container_spec(task: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping_or_empty(mapping_or_empty(task.get("Spec")).get("ContainerSpec"))


def node_from_api(data: Mapping[str, Any]) -> SwarmNode:
    spec = mapping_or_empty(data.get("Spec"))
    status = mapping_or_empty(data.get("Status"))
    manager = mapping_or_empty(data.get("ManagerStatus"))
    description = mapping_or_empty(data.get("Description"))
    node_id = clean(str(data.get("ID") or ""), 100)
    return SwarmNode(
        id=node_id,
        hostname=clean(str(description.get("Hostname") or ""), 200) or node_id,
        role=clean(str(spec.get("Role") or ""), 20),
        state=clean(str(status.get("State") or "unknown"), 20),
        availability=clean(str(spec.get("Availability") or ""), 20),
        address=clean(str(status.get("Addr") or ""), 100),
        leader=bool(manager.get("Leader")),
        reachability=clean(str(manager.get("Reachability") or ""), 20),
        engine_version=clean(str(mapping_or_empty(description.get("Engine"))
                                 .get("EngineVersion") or ""), 60),
        message=clean(str(status.get("Message") or ""), 300),
    )


def cluster_from_api(manager: str, nodes: Sequence[SwarmNode],
                     services: Sequence[Mapping[str, Any]],
                     tasks: Sequence[Mapping[str, Any]],
                     checked: Mapping[str, bool] | None = None) -> SwarmCluster:
    hostnames = {n.id: n.hostname for n in nodes}
    names = {str(s.get("ID") or ""): clean(str(mapping_or_empty(s.get("Spec")).get("Name")
                                                or s.get("ID") or ""), 200)
             for s in services}
    by_service: dict[str, list[SwarmTask]] = {}
    for data in tasks:
        service_id = str(data.get("ServiceID") or "")
        if service_id in names:
            by_service.setdefault(service_id, []).append(
                task_from_api(data, names[service_id], hostnames, checked or {}))
    found = [service_from_api(s, by_service.get(str(s.get("ID") or ""), [])) for s in services]
    return SwarmCluster(manager=manager, nodes=tuple(sorted(nodes, key=lambda n: n.hostname)),
                        services=tuple(sorted(found, key=lambda s: s.name)))


def service_from_api(data: Mapping[str, Any], tasks: Sequence[SwarmTask]) -> ServiceTasks:
    spec = mapping_or_empty(data.get("Spec"))
    mode = mapping_or_empty(spec.get("Mode"))
    image = str(mapping_or_empty(mapping_or_empty(spec.get("TaskTemplate"))
                                 .get("ContainerSpec")).get("Image") or "")
    return ServiceTasks(
        id=clean(str(data.get("ID") or ""), 100),
        name=clean(str(spec.get("Name") or data.get("ID") or ""), 200),
        image=clean(image.partition("@")[0], 300),
        mode="global" if "Global" in mode else "replicated",
        replicas=None if "Global" in mode else
        int_or_none(mapping_or_empty(mode.get("Replicated")).get("Replicas")),
        tasks=ordered_tasks(tasks),
        update_state=clean(str(mapping_or_empty(data.get("UpdateStatus")).get("State") or ""),
                           40),
    )


def task_from_api(data: Mapping[str, Any], service: str, hostnames: Mapping[str, str],
                  checked: Mapping[str, bool]) -> SwarmTask:
    status = mapping_or_empty(data.get("Status"))
    container = mapping_or_empty(status.get("ContainerStatus"))
    full_image = str(_container_spec(data).get("Image") or "")
    image, _, digest = full_image.partition("@")
    node_id = clean(str(data.get("NodeID") or ""), 100)
    state = clean(str(status.get("State") or ""), 40)
    error = clean(str(status.get("Err") or ""), 300)
    # Newer engines may report the container's health with its status; 20.10 does not.
    reported = mapping_or_empty(container.get("Health")).get("Status") or container.get("Health")
    return SwarmTask(
        id=clean(str(data.get("ID") or ""), 100),
        service=service,
        slot=int_or_none(data.get("Slot")) or None,
        node_id=node_id,
        node=hostnames.get(node_id) or node_id,
        desired_state=clean(str(data.get("DesiredState") or ""), 40),
        state=state,
        message=clean(str(status.get("Message") or ""), 300),
        error=error,
        health=task_health(clean(reported, 20) if isinstance(reported, str) else "",
                           state, error, checked=checked.get(full_image, False)),
        image=clean(image, 300),
        digest=clean(digest, 100),
        updated_at=parse_time(status.get("Timestamp")) or parse_time(data.get("UpdatedAt")),
        container_id=clean(str(container.get("ContainerID") or ""), 100),
    )
