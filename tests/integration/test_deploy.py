"""Deploying another tag of a running container, on the real engine, images pulled from
the test bed's registry (issue 4 groundwork: the operation, not yet its screens/CLI)."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from docker.client import DockerClient
from docker.models.containers import Container

from opsui.backends.docker_engine import DockerEngine
from opsui.backends.health import HttpHealthProber
from opsui.backends.host_files import ShellHostFiles
from opsui.backends.local import LocalRunner
from opsui.domain.errors import ActionRefused
from opsui.domain.history import Journal
from opsui.domain.operations.deploy import (
    STOP_FIRST,
    Deployment,
    StepEvent,
    plan_deploy,
)
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.health_gate import GateSettings
from opsui.domain.operations.lock import DeployLock, LockHolder
from opsui.domain.releases import FAILED, OK, fold_releases

from .conftest import DockerResources
from .helpers import APP_IMAGE, Testbed, free_port, host_port, wait_for_health

pytestmark = pytest.mark.integration


def version_served(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=5) as r:
        return str(r.read().decode())


def deploy(engine: DockerEngine, container: Container, tag: str, state_dir: Path,
           events: list[StepEvent], gate: ActionGate | None = None,
           answer: bool | str | None = True) -> tuple[str, Deployment]:
    gate = gate or ActionGate()
    current = engine.get_container(str(container.id))
    assert current is not None
    plan = plan_deploy("local", current, tag)
    prober = HttpHealthProber()
    try:
        deployment = Deployment(plan, engine, prober, ShellHostFiles(LocalRunner(), "local"),
                                str(state_dir), GateSettings(timeout=40, poll_seconds=0.2),
                                report=events.append)
        return deployment.run(gate, answer), deployment
    finally:
        prober.close()


@pytest.fixture
def app_v1(testbed: Testbed, labelled: DockerResources,
           docker_client: DockerClient) -> Callable[..., Container]:
    def start(**kwargs: object) -> Container:
        image = testbed.registry_ref(f"{APP_IMAGE}:1.0.0")
        docker_client.images.pull(image)
        container = labelled.container(image, **kwargs)
        wait_for_health(container, "healthy")
        return container
    return start


def test_a_good_deploy_takes_over_and_keeps_the_old_one(
        app_v1: Callable[..., Container], docker_client: DockerClient,
        labelled: DockerResources, tmp_path: Path) -> None:
    old = app_v1(ports={"8080/tcp": ("127.0.0.1", None)}, environment={"FLAG": "1"})
    engine = DockerEngine(docker_client)
    events: list[StepEvent] = []
    outcome, deployment = deploy(engine, old, "2.0.0", tmp_path, events)
    assert outcome == OK, [e for e in events if e.outcome == FAILED]
    new = labelled.track(docker_client.containers.get(str(deployment.new_id)))
    assert new.name == old.name  # the name (and so the log tail) carries on
    assert '"2.0.0"' in version_served(host_port(new))
    old.reload()
    assert old.status == "exited" and old.name.endswith(f".before-{deployment.release_id}")
    [release] = fold_releases(Journal(ShellHostFiles(LocalRunner(), "local"), str(tmp_path),
                                      deployment.plan.app).read().records)
    assert release.outcome == OK and release.digest.startswith("sha256:")
    assert [s.name for s in release.steps][:2] == ["pull", "create"]
    assert DeployLock(ShellHostFiles(LocalRunner(), "local"), str(tmp_path),
                      deployment.plan.app).holder() is None


def test_a_never_healthy_version_is_refused_and_the_old_one_keeps_serving(
        app_v1: Callable[..., Container], docker_client: DockerClient,
        labelled: DockerResources, tmp_path: Path) -> None:
    port = free_port()
    old = app_v1(ports={"8080/tcp": ("127.0.0.1", port)})  # a fixed port: stop-first
    engine = DockerEngine(docker_client)
    current = engine.get_container(str(old.id))
    assert current is not None and plan_deploy("local", current, "3.0.0").strategy == STOP_FIRST
    events: list[StepEvent] = []
    outcome, deployment = deploy(engine, old, "3.0.0", tmp_path, events)
    assert outcome == FAILED
    labelled.track(docker_client.containers.get(str(deployment.new_id)))
    wait_for_health(old, "healthy")
    assert '"1.0.0"' in version_served(port)
    [release] = fold_releases(Journal(ShellHostFiles(LocalRunner(), "local"), str(tmp_path),
                                      deployment.plan.app).read().records)
    assert release.outcome == FAILED and "unhealthy" in release.reason
    assert "last lines of the new container" in release.reason


def test_a_second_deploy_is_refused_while_the_lock_is_held(
        app_v1: Callable[..., Container], docker_client: DockerClient,
        tmp_path: Path) -> None:
    old = app_v1()
    engine = DockerEngine(docker_client)
    DeployLock(ShellHostFiles(LocalRunner(), "local"), str(tmp_path), str(old.name)).acquire(
        LockHolder("bob", "desk", "2026-11-23T19:00:00Z", manual=True, message="incident"))
    with pytest.raises(ActionRefused, match=r"frozen by bob@desk.*incident"):
        deploy(engine, old, "2.0.0", tmp_path, [])
    old.reload()
    assert old.status == "running"


def test_read_only_and_an_unconfirmed_deploy_change_nothing(
        app_v1: Callable[..., Container], docker_client: DockerClient,
        tmp_path: Path) -> None:
    old = app_v1()
    engine = DockerEngine(docker_client)
    read_only = ActionGate(read_only=True)
    with pytest.raises(ActionRefused, match="read-only"):
        deploy(engine, old, "2.0.0", tmp_path, [], gate=read_only)
    with pytest.raises(ActionRefused, match="Not confirmed"):
        deploy(engine, old, "2.0.0", tmp_path, [], answer=False)
    assert [e.outcome for e in read_only.audit.entries] == ["refused"]  # type: ignore[attr-defined]
    old.reload()
    assert old.status == "running" and old.name == old.attrs["Name"].lstrip("/")
    assert not (tmp_path / str(old.name)).exists()  # no journal, no lock
