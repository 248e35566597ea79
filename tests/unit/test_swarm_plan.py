"""Swarm deploy and rollback against a scripted engine: plans, verdicts, journal, undo;
and the backend's spec edit and inspect mapping on canned engine JSON."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import docker.errors
import pytest
import requests.exceptions

from opsui.backends.docker_swarm import DockerSwarm, service_from_inspect, updated_spec
from opsui.domain.errors import ActionRefused, EngineUnavailable
from opsui.domain.history import Journal
from opsui.domain.logfeed import APP_LABEL, RELEASE_LABEL
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.release_run import DIGEST_LABEL, ReleaseRun
from opsui.domain.operations.swarm_deploy import (
    SwarmDeployment,
    SwarmRollback,
    plan_swarm_deploy,
    plan_swarm_rollback,
)
from opsui.domain.ports import Cancellation, SwarmService
from opsui.domain.releases import CANCELLED, FAILED, OK, Release, fold_releases
from opsui.domain.swarm_cluster import SwarmCluster

STATE = "/state"
DIGEST = "sha256:" + "b" * 64
V1 = "reg:5000/shop/web:1.0.0"
V2 = f"reg:5000/shop/web:2.0.0@{DIGEST}"


class MemoryFiles:
    """HostFiles in a dict: the journal and the lock without a host."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = set()

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def append_record(self, path: str, record: bytes) -> None:
        self.files[path] = self.files.get(path, b"") + record

    def create_dir_with(self, path: str, name: str, content: bytes) -> bool:
        if path in self.dirs:
            return False
        self.dirs.add(path)
        self.files[f"{path}/{name}"] = content
        return True

    def exists(self, path: str) -> bool:
        return path in self.dirs or path in self.files

    def remove_dir(self, path: str) -> None:
        self.dirs.discard(path)
        self.files = {k: v for k, v in self.files.items() if not k.startswith(f"{path}/")}


@dataclass
class ScriptedSwarm:
    """A SwarmEngine whose waits end in the state it is told to end in."""

    current: SwarmService
    after_update: str = "completed"
    after_rollback: str = "rollback_completed"
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def service(self, name: str) -> SwarmService | None:
        return self.current

    def update_image(self, name: str, image: str,
                     labels: dict[str, str] | None = None) -> None:
        self.calls.append(("update", (image, labels)))
        self.current = replace(self.current, image=image, previous_image=self.current.image,
                               labels={**self.current.labels, **(labels or {})},
                               update_state=self.after_update, update_message="scripted")

    def rollback(self, name: str) -> None:
        self.calls.append(("rollback", name))
        self.current = replace(self.current, image=self.current.previous_image,
                               previous_image=self.current.image,
                               update_state=self.after_rollback, update_message="asked")

    def wait_update(self, name: str, timeout: float,
                    cancelled: Cancellation) -> SwarmService:
        self.calls.append(("wait", timeout))
        return self.current

    def cluster(self) -> SwarmCluster | None:
        return None  # a deploy never reads the cluster view


class Puller:
    def pull(self, image: str, timeout: float = 600.0) -> str:
        return DIGEST


def service(**changes: Any) -> SwarmService:
    base = SwarmService(id="svc1", name="web", image=V1, version=7,
                        labels={APP_LABEL: "web", RELEASE_LABEL: "r1"},
                        running=2, desired=2)
    return replace(base, **changes)


def releases(files: MemoryFiles) -> list[Release]:
    return fold_releases(Journal(files, STATE, "web").read().records)


def deploy(swarm: ScriptedSwarm, files: MemoryFiles, tag: str = "2.0.0",
           cancelled: threading.Event | None = None) -> str:
    plan = plan_swarm_deploy("prod", "web", swarm.current, tag)
    run = ReleaseRun(files, STATE, "web", cancelled=cancelled)
    return SwarmDeployment(plan, Puller(), swarm, run,  # type: ignore[arg-type]
                           timeout=30).run(ActionGate(), True)


def test_a_deploy_pins_the_digest_labels_the_release_and_records_the_verdict() -> None:
    swarm, files = ScriptedSwarm(service()), MemoryFiles()
    assert deploy(swarm, files) == OK
    (image, labels), = [args for call, args in swarm.calls if call == "update"]
    assert image == V2
    [release] = releases(files)
    assert labels[RELEASE_LABEL] == release.id and labels[DIGEST_LABEL] == DIGEST
    assert release.outcome == OK and release.digest == DIGEST and release.replaces == "r1"
    assert release.container_id == "svc1" and release.extra["kind"] == "swarm"
    assert [(s.name, s.outcome) for s in release.steps] == [
        ("pull", OK), ("rolling update", OK), ("converge", OK)]


def test_an_update_the_engine_rolled_back_fails_with_its_words() -> None:
    swarm = ScriptedSwarm(service(), after_update="rollback_completed")
    files = MemoryFiles()
    assert deploy(swarm, files) == FAILED
    [release] = releases(files)
    assert release.reason.startswith("the engine rolled back: rollback_completed: scripted")
    assert not [call for call, _ in swarm.calls if call == "rollback"]  # it did so itself


def test_an_update_still_running_at_the_deadline_is_rolled_back() -> None:
    swarm, files = ScriptedSwarm(service(), after_update="updating"), MemoryFiles()
    assert deploy(swarm, files) == FAILED
    [release] = releases(files)
    assert "not done after 30 s" in release.reason
    assert "asked the engine to roll back: rollback_completed" in release.reason
    assert ("rollback", "web") in swarm.calls


def test_a_deploy_cancelled_before_the_update_changes_nothing() -> None:
    swarm, files, cancelled = ScriptedSwarm(service()), MemoryFiles(), threading.Event()
    cancelled.set()
    assert deploy(swarm, files, cancelled=cancelled) == CANCELLED
    assert swarm.calls == []
    assert releases(files)[0].outcome == CANCELLED


def test_plans_refuse_while_the_engine_is_busy_or_with_nothing_to_go_back_to() -> None:
    with pytest.raises(ActionRefused, match="still changing"):
        plan_swarm_deploy("prod", "web", service(update_state="updating"), "2.0.0")
    with pytest.raises(ActionRefused, match="no previous spec"):
        plan_swarm_rollback("prod", "web", service())
    with pytest.raises(ActionRefused, match="was a rollback"):
        plan_swarm_rollback("prod", "web", service(previous_image=V2,
                                                   update_state="rollback_completed"))


def test_a_rollback_goes_to_the_previous_spec_and_marks_the_release_it_replaced() -> None:
    swarm, files = ScriptedSwarm(service()), MemoryFiles()
    assert deploy(swarm, files) == OK
    [deployed] = releases(files)
    plan = plan_swarm_rollback("prod", "web", swarm.current, releases(files))
    assert plan.target_image == V1 and plan.version == "1.0.0"
    assert plan.current_release == deployed.id
    assert SwarmRollback(plan, swarm, ReleaseRun(files, STATE, "web")).run(
        ActionGate(), True) == OK
    deployed, rolled = releases(files)
    assert rolled.action == "rollback" and rolled.outcome == OK
    assert deployed.rolled_back_by == rolled.id


def test_a_rollback_the_engine_paused_is_reported_and_not_retried() -> None:
    swarm = ScriptedSwarm(service(image=V2, previous_image=V1),
                          after_rollback="rollback_paused")
    files = MemoryFiles()
    plan = plan_swarm_rollback("prod", "web", swarm.current)
    assert SwarmRollback(plan, swarm, ReleaseRun(files, STATE, "web")).run(
        ActionGate(), True) == FAILED
    [release] = releases(files)
    assert "never rolls back a rollback" in release.reason
    assert [call for call, _ in swarm.calls].count("rollback") == 1


def test_the_spec_keeps_everything_but_image_labels_and_update_policy() -> None:
    spec: dict[str, Any] = {"Name": "web", "Labels": {"team": "a"},
            "TaskTemplate": {"ContainerSpec": {"Image": V1, "Env": ["A=1"],
                                               "Labels": {"x": "1"}},
                             "Resources": {"Limits": {"MemoryBytes": 1}}},
            "Mode": {"Replicated": {"Replicas": 3}},
            "UpdateConfig": {"Parallelism": 2, "Delay": 5}}
    new = updated_spec(spec, V2, {APP_LABEL: "web"}, monitor_seconds=4)
    container = new["TaskTemplate"]["ContainerSpec"]
    assert container == {"Image": V2, "Env": ["A=1"], "Labels": {"x": "1", APP_LABEL: "web"}}
    assert new["TaskTemplate"]["Resources"] == spec["TaskTemplate"]["Resources"]
    assert new["Labels"] == {"team": "a", APP_LABEL: "web"} and new["Mode"] == spec["Mode"]
    assert new["UpdateConfig"] == {"Parallelism": 2, "Delay": 5, "Order": "start-first",
                                   "FailureAction": "rollback", "Monitor": 4_000_000_000}
    assert new["RollbackConfig"]["Parallelism"] == 1  # never the engine's "all at once"
    assert spec["TaskTemplate"]["ContainerSpec"]["Image"] == V1  # the input is untouched


def test_inspect_json_maps_to_a_sanitised_service_counting_tasks_of_the_spec() -> None:
    container_spec = {"Image": V2, "Labels": {"a": "1"}}
    data = {"ID": "svc1", "Version": {"Index": 12},
            "Spec": {"Name": "web", "Labels": {"k": "v\x1b]0;pwned\x07"},
                     "Mode": {"Replicated": {"Replicas": 2}},
                     "TaskTemplate": {"ContainerSpec": container_spec}},
            "PreviousSpec": {"TaskTemplate": {"ContainerSpec": {"Image": V1}}},
            "UpdateStatus": {"State": "rollback_started", "Message": "bad\x1b[2Jtask"}}
    task = {"DesiredState": "running", "Spec": {"ContainerSpec": container_spec},
            "Status": {"State": "running", "Timestamp": "2026-01-01T00:00:02Z"}}
    old = {"DesiredState": "running", "Spec": {"ContainerSpec": {"Image": V1}},
           "Status": {"State": "running"}}
    failed = {"DesiredState": "shutdown", "Spec": {"ContainerSpec": container_spec},
              "Status": {"State": "failed", "Err": "task: non-zero exit (3)",
                         "Timestamp": "2026-01-01T00:00:01Z"}}
    found = service_from_inspect(data, [task, old, failed])
    assert (found.id, found.name, found.image, found.version) == ("svc1", "web", V2, 12)
    assert found.previous_image == V1 and found.update_state == "rollback_started"
    assert "\x1b" not in found.update_message and "\x1b" not in found.labels["k"]
    assert (found.running, found.desired) == (1, 2) and not found.settled
    assert found.in_rollback and found.task_errors == ("task: non-zero exit (3)",)


def test_a_service_removed_mid_update_is_reported_as_gone() -> None:
    class Vanishing(ScriptedSwarm):
        def service(self, name: str) -> SwarmService | None:
            return None

    swarm, files = Vanishing(service(), after_update="updating"), MemoryFiles()
    assert deploy(swarm, files) == FAILED
    assert "service web is gone" in releases(files)[0].reason


class StubApi:
    """The few APIClient calls DockerSwarm makes, answering from canned JSON."""

    base_url = "http+docker://localhost"

    def __init__(self, data: dict[str, Any] | None = None,
                 error: BaseException | None = None) -> None:
        self.data = data
        self.error = error
        self.inspections = 0

    def inspect_service(self, name: str) -> dict[str, Any] | None:
        self.inspections += 1
        if self.error is not None:
            raise self.error
        return self.data

    def tasks(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        return []


@dataclass
class StubClient:
    api: StubApi


def swarm_over(api: StubApi) -> DockerSwarm:
    return DockerSwarm(StubClient(api), poll_seconds=0.01)  # type: ignore[arg-type]


class Response:
    status_code = 503
    reason = "Service Unavailable"
    url = "http+docker://localhost/services/web"


def test_engine_failures_become_opsui_errors() -> None:
    not_manager = docker.errors.APIError(
        "503", response=Response(),  # type: ignore[arg-type]
        explanation="This node is not a swarm manager.")
    with pytest.raises(ActionRefused, match="not a Swarm manager"):
        swarm_over(StubApi(error=not_manager)).service("web")
    down = requests.exceptions.ConnectionError("Connection refused")
    with pytest.raises(EngineUnavailable, match="no Docker engine answers"):
        swarm_over(StubApi(error=down)).rollback("web")
    gone = docker.errors.NotFound("no such service")
    assert swarm_over(StubApi(error=gone)).service("web") is None


def test_a_wait_ends_at_once_when_cancelled_and_at_its_deadline_otherwise() -> None:
    updating = {"ID": "svc1", "Spec": {"Name": "web"}, "UpdateStatus": {"State": "updating"}}
    api = StubApi(updating)
    cancelled = threading.Event()
    cancelled.set()
    assert swarm_over(api).wait_update("web", 60, cancelled).update_state == "updating"
    assert api.inspections == 1
    started = time.monotonic()
    swarm_over(api).wait_update("web", 0.05, threading.Event())
    assert 0.05 <= time.monotonic() - started < 5 and api.inspections > 2


def test_a_wait_keeps_why_the_engine_rolled_back() -> None:
    states = iter([("rollback_started", "update rolled back due to failure of task t1"),
                   ("rollback_completed", "rollback completed")])

    class Changing(StubApi):
        def inspect_service(self, name: str) -> dict[str, Any] | None:
            state, message = next(states)
            return {"ID": "svc1", "Spec": {"Name": "web"},
                    "UpdateStatus": {"State": state, "Message": message}}

    final = swarm_over(Changing()).wait_update("web", 10, threading.Event())
    assert final.update_message == ("update rolled back due to failure of task t1; "
                                    "rollback completed")
