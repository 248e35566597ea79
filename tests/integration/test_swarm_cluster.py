"""Tasks on every node of a real three-node swarm (scripts/testbed/swarm.sh, issue 15).

Connected to one manager, opsui lists each service's tasks wherever they run, with the
node's name, the task's states and health; a node whose engine is killed shows as down
and the replacement of its task, on another node, is listed next to what it replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.types
import pytest
from docker import DockerClient

from opsui.backends.docker_swarm import DockerSwarm
from opsui.domain.swarm_cluster import ServiceTasks, SwarmCluster

from .conftest import DockerResources
from .helpers import APP_HEALTHY, wait_until
from .second_engine import SecondEngine
from .swarm_bed import SwarmBed


@pytest.fixture
def manager(swarm_bed: SwarmBed) -> Iterator[DockerClient]:
    """A client of node 1, the manager opsui is connected to in these tests."""
    with contextlib.closing(swarm_bed.client(1)) as client:
        yield client


def opsui_tasks(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``opsui tasks`` against the engine at ``url`` (host "sw" in a config)."""
    config = tmp_path / "opsui.toml"
    config.write_text(f'[hosts.sw]\ndocker_host = "{url}"\n')
    return subprocess.run([sys.executable, "-m", "opsui", "tasks", "--config", str(config),
                           "--host", "sw", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60, env=os.environ)


def _service(cluster: SwarmCluster | None, name: str) -> ServiceTasks | None:
    assert cluster is not None, "node 1 is a manager: it must give the cluster view"
    return cluster.service(name)


def _all_running(service: ServiceTasks | None, count: int) -> ServiceTasks | None:
    if service is None or service.running != count:
        return None
    return service if all(t.health == "healthy" for t in service.current) else None


def test_the_tasks_of_a_service_are_listed_on_every_node(
        swarm_bed: SwarmBed, swarm_resources: DockerResources) -> None:
    # At most one replica per node: the three must land on the three nodes.
    svc = swarm_resources.service(APP_HEALTHY, mode=docker.types.ServiceMode("replicated", 3),
                                  maxreplicas=1)
    name = str(svc.name)
    # Asked of node 2, which did not create the service: any manager knows every task.
    with contextlib.closing(swarm_bed.client(2)) as other:
        view = DockerSwarm(other)
        service = wait_until(lambda: _all_running(_service(view.cluster(), name), 3),
                             timeout=60, message=f"3 healthy tasks of {name}")
        cluster = view.cluster()
    assert cluster is not None
    assert cluster.manager == swarm_bed.node(2).hostname
    assert {n.hostname for n in cluster.nodes} == {n.hostname for n in swarm_bed.nodes}
    assert {n.state for n in cluster.nodes} == {"ready"}
    assert sorted(t.name for t in service.current) == [f"{name}.1", f"{name}.2", f"{name}.3"]
    assert {t.node for t in service.current} == {n.hostname for n in swarm_bed.nodes}
    for task in service.current:
        assert (task.desired_state, task.state, task.health) == ("running", "running", "healthy")
        assert task.image == APP_HEALTHY
        assert task.restarts == 0
        # The node named is where the task's container really runs.
        number = next(n.number for n in swarm_bed.nodes if n.hostname == task.node)
        with contextlib.closing(swarm_bed.client(number)) as node:
            assert node.containers.get(task.container_id).status == "running"


def test_a_killed_node_shows_down_and_its_task_is_rescheduled(
        swarm_bed: SwarmBed, swarm_resources: DockerResources, manager: DockerClient,
        tmp_path: Path) -> None:
    # At most two per node: some task runs off node 1, and two nodes can hold all three.
    svc = swarm_resources.service(APP_HEALTHY, mode=docker.types.ServiceMode("replicated", 3),
                                  maxreplicas=2)
    name = str(svc.name)
    view = DockerSwarm(manager)
    service = wait_until(lambda: _all_running(_service(view.cluster(), name), 3),
                         timeout=60, message=f"3 healthy tasks of {name}")
    # A node other than the one opsui is connected to, and running a task of ours.
    victim = next(n for n in reversed(swarm_bed.nodes)
                  if n.number != 1 and any(t.node == n.hostname for t in service.current))
    [lost] = [t for t in service.current if t.node == victim.hostname]

    swarm_bed.kill(victim.number)

    def rescheduled() -> SwarmCluster | None:
        cluster = view.cluster()
        now = _service(cluster, name)
        node = cluster.node(victim.hostname) if cluster else None
        if node is None or node.state != "down" or _all_running(now, 3) is None:
            return None
        assert now is not None
        if any(t.node == victim.hostname for t in now.current):
            return None
        return cluster

    cluster = wait_until(rescheduled, timeout=90,
                         message=f"{victim.hostname} down and its task of {name} replaced")
    assert cluster.node(victim.hostname) is not None
    service_now = cluster.service(name)
    assert service_now is not None
    [replacement] = [t for t in service_now.current if t.slot == lost.slot]
    assert replacement.node != victim.hostname
    assert replacement.restarts == 1
    # What it replaced stays listed under it, on the dead node, no longer wanted.
    [old] = [t for t in service_now.tasks if t.id == lost.id]
    assert (old.node, old.desired_state, old.current) == (victim.hostname, "shutdown", False)
    ordered = [t.id for t in service_now.tasks]
    assert ordered.index(replacement.id) + 1 == ordered.index(old.id)

    # The command line says the same: the node down, the old task under its replacement.
    done = opsui_tasks(tmp_path, swarm_bed.node(1).url, name, "--json")
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    assert shown["manager"] == swarm_bed.node(1).hostname
    states = {n["hostname"]: n["state"] for n in shown["nodes"]}
    assert states[victim.hostname] == "down"
    assert [s["name"] for s in shown["services"]] == [name]
    rows = [(t["id"], t["node"], t["desired_state"], t["restarts"])
            for t in shown["services"][0]["tasks"]]
    assert rows.index((replacement.id, replacement.node, "running", 1)) + 1 == rows.index(
        (old.id, victim.hostname, "shutdown", 0))
    text = opsui_tasks(tmp_path, swarm_bed.node(1).url, name)
    assert text.returncode == 0, text.stderr
    [node_line] = [line for line in text.stdout.splitlines()
                   if line.startswith(victim.hostname)]
    assert node_line.split()[2] == "down"
    assert re.search(rf"^ \\_ {re.escape(old.name)} +{victim.hostname} +shutdown ",
                     text.stdout, re.MULTILINE), text.stdout


def test_tasks_of_an_engine_that_is_no_manager_are_refused(second_engine: SecondEngine,
                                                           tmp_path: Path) -> None:
    done = opsui_tasks(tmp_path, second_engine.url, "--json")
    assert done.returncode == 1
    failure = json.loads(done.stdout)
    assert failure["ok"] is False
    assert "not a Swarm manager" in failure["error"]
