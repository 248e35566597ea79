"""Deploying and rolling back a Swarm service on a real single-node swarm, images pulled
from the test bed's registry (issue 4: start-first rolling update with failure rollback,
native rollback to the previous spec, both journaled on the host)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from docker.client import DockerClient

from opsui.backends.docker_engine import DockerEngine
from opsui.backends.docker_swarm import DockerSwarm
from opsui.backends.host_files import ShellHostFiles
from opsui.backends.local import LocalRunner
from opsui.domain.errors import ActionRefused
from opsui.domain.history import Journal
from opsui.domain.logfeed import APP_LABEL, RELEASE_LABEL
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.release_run import ReleaseRun, StepEvent
from opsui.domain.operations.swarm_deploy import (
    SwarmDeployment,
    SwarmRollback,
    plan_swarm_deploy,
    plan_swarm_rollback,
)
from opsui.domain.ports import SwarmService
from opsui.domain.releases import CANCELLED, FAILED, OK, ROLLED_BACK, Release, fold_releases

from .conftest import DockerResources
from .helpers import APP_IMAGE, Testbed, wait_until

pytestmark = pytest.mark.integration
TIMEOUT = 75.0
"""Bounds each wait for the engine; a healthy update takes about 5 s here."""


def files() -> ShellHostFiles:
    return ShellHostFiles(LocalRunner(), "local")


def releases_of(state_dir: Path, app: str) -> list[Release]:
    return fold_releases(Journal(files(), str(state_dir), app).read().records)


def running_images(client: DockerClient, service_id: str) -> list[str]:
    tasks = client.api.tasks(filters={"service": service_id,  # type: ignore[no-untyped-call]
                                      "desired-state": "running"})
    return [t["Spec"]["ContainerSpec"]["Image"] for t in tasks
            if t["Status"]["State"] == "running"]


@pytest.fixture
def service_v1(swarm: DockerClient, labelled: DockerResources,
               testbed: Testbed) -> Callable[[], SwarmService]:
    """A one-replica service of app 1.0.0 (labelled, removed at teardown), running."""
    def create() -> SwarmService:
        created = labelled.service(testbed.registry_ref(f"{APP_IMAGE}:1.0.0"),
                                   name=labelled.name("opsui-sw"))
        backend = DockerSwarm(swarm)
        return wait_until(lambda: _running(backend, str(created.name)), TIMEOUT,
                          interval=0.2, message=f"service {created.name} to run 1.0.0")
    return create


def _running(backend: DockerSwarm, name: str) -> SwarmService | None:
    found = backend.service(name)
    return found if found is not None and found.running >= found.desired > 0 else None


def deploy(client: DockerClient, service: SwarmService, tag: str, state_dir: Path,
           events: list[StepEvent], cancelled: threading.Event | None = None) -> str:
    engine = DockerEngine(client)
    plan = plan_swarm_deploy("local", service.name, service, tag)
    run = ReleaseRun(files(), str(state_dir), plan.app, report=events.append,
                     cancelled=cancelled)
    return SwarmDeployment(plan, engine, engine.swarm, run, timeout=TIMEOUT).run(
        ActionGate(), True)


def test_a_rolling_update_to_a_healthy_tag_completes_and_is_journaled(
        swarm: DockerClient, service_v1: Callable[[], SwarmService], testbed: Testbed,
        tmp_path: Path) -> None:
    before = service_v1()
    events: list[StepEvent] = []
    outcome = deploy(swarm, before, "2.0.0", tmp_path, events)
    assert outcome == OK, [e for e in events if e.outcome == FAILED]
    after = DockerSwarm(swarm).service(before.id)
    assert after is not None and after.update_state == "completed"
    assert after.image.startswith(testbed.registry_ref(f"{APP_IMAGE}:2.0.0@sha256:"))
    assert after.previous_image == before.image
    assert running_images(swarm, before.id) == [after.image]
    [release] = releases_of(tmp_path, before.name)
    assert release.outcome == OK and release.extra["kind"] == "swarm"
    assert release.digest.startswith("sha256:") and after.image.endswith(release.digest)
    assert [s.name for s in release.steps] == ["pull", "rolling update", "converge"]
    assert after.labels[APP_LABEL] == before.name
    assert after.labels[RELEASE_LABEL] == release.id
    assert after.labels["opsui.test"] == "1"  # the test labels survive the update


def test_a_never_healthy_tag_is_rolled_back_by_the_engine(
        swarm: DockerClient, service_v1: Callable[[], SwarmService], tmp_path: Path) -> None:
    before = service_v1()
    outcome = deploy(swarm, before, "3.0.0", tmp_path, [])
    assert outcome == FAILED
    after = DockerSwarm(swarm).service(before.id)
    assert after is not None and after.image == before.image
    assert after.update_state == "rollback_completed"
    assert wait_until(lambda: running_images(swarm, before.id) == [before.image], TIMEOUT,
                      message="the 1.0.0 task to be the only one running")
    [release] = releases_of(tmp_path, before.name)
    assert release.outcome == FAILED
    assert "the engine rolled back" in release.reason
    assert "update rolled back due to failure" in release.reason


def test_a_crashing_tag_fails_with_the_engine_s_task_error(
        swarm: DockerClient, service_v1: Callable[[], SwarmService], tmp_path: Path) -> None:
    before = service_v1()
    assert deploy(swarm, before, "4.0.0", tmp_path, []) == FAILED
    after = DockerSwarm(swarm).service(before.id)
    assert after is not None and after.image == before.image
    [release] = releases_of(tmp_path, before.name)
    assert "the engine rolled back" in release.reason
    assert "task: non-zero exit (3)" in release.reason


def test_rollback_after_a_good_deploy_goes_back_to_the_previous_image(
        swarm: DockerClient, service_v1: Callable[[], SwarmService], tmp_path: Path) -> None:
    before = service_v1()
    assert deploy(swarm, before, "2.0.0", tmp_path, []) == OK
    backend = DockerSwarm(swarm)
    deployed = backend.service(before.id)
    assert deployed is not None
    plan = plan_swarm_rollback("local", before.name, deployed,
                               releases_of(tmp_path, before.name))
    assert plan.target_image == before.image and plan.version == "1.0.0"
    run = ReleaseRun(files(), str(tmp_path), before.name)
    assert SwarmRollback(plan, backend, run, timeout=TIMEOUT).run(ActionGate(), True) == OK
    after = backend.service(before.id)
    assert after is not None and after.image == before.image
    assert running_images(swarm, before.id) == [before.image]
    deploy_release, rollback_release = releases_of(tmp_path, before.name)
    assert rollback_release.action == "rollback" and rollback_release.outcome == OK
    assert [(s.name, s.outcome) for s in rollback_release.steps] == [
        ("rollback", OK), ("converge", OK)]
    assert deploy_release.shown_outcome == ROLLED_BACK
    assert deploy_release.rolled_back_by == rollback_release.id
    with pytest.raises(ActionRefused, match="was a rollback"):
        plan_swarm_rollback("local", before.name, after)


def test_a_cancelled_deploy_asks_the_engine_to_roll_back(
        swarm: DockerClient, service_v1: Callable[[], SwarmService], tmp_path: Path) -> None:
    before = service_v1()
    cancelled = threading.Event()
    events: list[StepEvent] = []

    def report(event: StepEvent) -> None:
        events.append(event)
        if event.step == "converge" and event.outcome is None:
            cancelled.set()  # Ctrl-C as soon as the engine started rolling

    engine = DockerEngine(swarm)
    plan = plan_swarm_deploy("local", before.name, before, "2.0.0")
    run = ReleaseRun(files(), str(tmp_path), plan.app, report=report, cancelled=cancelled)
    outcome = SwarmDeployment(plan, engine, engine.swarm, run, timeout=TIMEOUT).run(
        ActionGate(), True)
    assert outcome == CANCELLED
    after = DockerSwarm(swarm).service(before.id)
    assert after is not None and after.image == before.image
    assert after.update_state == "rollback_completed"
    [release] = releases_of(tmp_path, before.name)
    assert release.outcome == CANCELLED and "asked the engine to roll back" in release.reason


def test_opsui_deploy_and_rollback_commands_drive_a_swarm_app(
        service_v1: Callable[[], SwarmService], swarm: DockerClient, testbed: Testbed,
        tmp_path: Path) -> None:
    """The same commands as for a container app, through [apps] swarm_service."""
    import json
    import subprocess
    import sys

    service = service_v1()
    config = tmp_path / "opsui.toml"
    config.write_text(f'[deploy]\nstate_dir = "{tmp_path / "state"}"\n\n[apps.shop]\n'
                      f'swarm_service = "{service.name}"\n')

    def opsui(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "opsui", "--config", str(config), *args],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=240)

    deployed = opsui("deploy", "shop", "2.0.0", "--yes", "--json")
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)["outcome"] == OK
    assert "rolling update" in deployed.stderr
    assert [i.split("@")[0] for i in running_images(swarm, service.id)] == [
        testbed.registry_ref(f"{APP_IMAGE}:2.0.0")]
    rolled = opsui("rollback", "shop", "--yes", "--json")
    assert rolled.returncode == 0, rolled.stderr
    history = json.loads(opsui("history", "shop", "--json").stdout)
    assert [r["action"] for r in history["releases"]] == ["rollback", "deploy"]
    assert history["releases"][1]["shown_outcome"] == ROLLED_BACK
    assert [i.split("@")[0] for i in running_images(swarm, service.id)] == [
        testbed.registry_ref(f"{APP_IMAGE}:1.0.0")]


def test_a_swarm_deploy_killed_mid_update_is_finished_from_the_engines_state(
        service_v1: Callable[[], SwarmService], swarm: DockerClient, testbed: Testbed,
        tmp_path: Path) -> None:
    """SIGKILL after the spec changed: the engine goes on; `opsui recover --finish`
    records what it did, and the stale lock is taken over."""
    import json
    import os
    import signal
    import subprocess
    import sys

    service = service_v1()
    state = tmp_path / "state"
    config = tmp_path / "opsui.toml"
    config.write_text(f'[deploy]\nstate_dir = "{state}"\n\n[apps.shop]\n'
                      f'swarm_service = "{service.name}"\n')
    command = [sys.executable, "-m", "opsui", "--config", str(config)]
    deploying = subprocess.Popen([*command, "deploy", "shop", "2.0.0", "--yes"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 stdin=subprocess.DEVNULL)

    def updated() -> bool:
        return any(r.name == "rolling update" for release in releases_of(state, "shop")
                   for r in release.steps)

    try:
        wait_until(lambda: updated() or deploying.poll() is not None, TIMEOUT,
                   message="the rolling update to be asked for")
        os.kill(deploying.pid, signal.SIGKILL)
    finally:
        deploying.wait(30)
    history = json.loads(subprocess.run([*command, "history", "shop", "--json"],
                                        capture_output=True, text=True, timeout=60).stdout)
    assert history["interrupted"] == history["releases"][0]["id"]
    finished = subprocess.run([*command, "recover", "shop", "--finish", "--yes", "--json"],
                              capture_output=True, text=True, timeout=240,
                              stdin=subprocess.DEVNULL)
    assert finished.returncode == 0, finished.stderr
    [release] = releases_of(state, "shop")
    assert release.outcome == OK and "finished after the interruption" in release.reason
    assert [i.split("@")[0] for i in running_images(swarm, service.id)] == [
        testbed.registry_ref(f"{APP_IMAGE}:2.0.0")]
    after = json.loads(subprocess.run([*command, "history", "shop", "--json"],
                                      capture_output=True, text=True, timeout=60).stdout)
    assert after["lock"] is None and after["interrupted"] is None
