"""Recovering an interrupted release at its edges, as separate opsui processes on the
real engine: opsui killed after the switch (finishing must not fail on a rename that
was already done), and an app frozen by hand while a release is interrupted (recovery
must never lift the freeze)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from docker.client import DockerClient

from .conftest import DockerResources
from .helpers import host_port
from .test_deploy import version_served
from .test_deploy_processes import Bed, bed, journal, run_opsui  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


def dead_pid() -> int:
    """The pid of a process of this machine that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def cut_journal_after(state: Path, step: str) -> str:
    """Keep the newest release's records up to its ``step`` (as if opsui died right
    after it) and leave its lock behind, held by a process that is gone; its id."""
    path = state / "web" / "journal.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    release: str = [r for r in records if r.get("type") == "release"][-1]["id"]
    kept: list[dict[str, object]] = []
    cut = 0
    for record in records:
        if record.get("release") == release and record.get("type") not in ("release",
                                                                             "step",
                                                                             "container"):
            continue  # the outcome, good marks: never written by the killed opsui
        kept.append(record)
        if record.get("type") == "step" and record.get("name") == step \
                and record.get("release") == release:
            cut = len(kept)
    assert cut, f"release {release} has no step {step!r}"
    path.write_text("".join(json.dumps(r) + "\n" for r in kept[:cut]))
    lock = state / "web" / "lock"
    lock.mkdir()
    (lock / "holder.json").write_text(json.dumps({
        "user": "root", "machine": socket.gethostname(), "taken_at": "2026-12-07T00:00:00+00:00",
        "version": "2.0.0", "message": "", "manual": False, "release": release,
        "pid": dead_pid()}))
    return release


def test_finishing_a_release_killed_after_its_switch_ends_ok(
        bed: Bed, docker_client: DockerClient, labelled: DockerResources) -> None:  # noqa: F811
    deployed = run_opsui(bed.plain, "deploy", "web", "2.0.0", "--yes")
    assert deployed.returncode == 0, deployed.stderr
    serving = labelled.track(docker_client.containers.get(str(bed.container.name)))
    release = cut_journal_after(bed.state, "switch")
    status = json.loads(run_opsui(bed.plain, "history", "web", "--json").stdout)
    assert status["interrupted"] == release
    finished = run_opsui(bed.plain, "recover", "web", "--finish", "--yes", "--json")
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["outcome"] == "ok"
    assert docker_client.containers.get(str(bed.container.name)).id == serving.id
    assert '"2.0.0"' in version_served(host_port(serving))
    after = json.loads(run_opsui(bed.plain, "history", "web", "--json").stdout)
    assert after["lock"] is None and after["interrupted"] is None
    assert after["releases"][0]["outcome"] == "ok"


def test_recovery_never_lifts_a_freeze(bed: Bed, docker_client: DockerClient,  # noqa: F811
                                       labelled: DockerResources) -> None:
    deployed = run_opsui(bed.plain, "deploy", "web", "2.0.0", "--yes")
    assert deployed.returncode == 0, deployed.stderr
    labelled.track(docker_client.containers.get(str(bed.container.name)))
    cut_journal_after(bed.state, "create")
    (bed.state / "web" / "lock" / "holder.json").unlink()
    (bed.state / "web" / "lock").rmdir()
    frozen = run_opsui(bed.plain, "lock", "web", "--message", "incident 9", "--yes")
    assert frozen.returncode == 0, frozen.stderr
    for choice in ("--finish", "--rollback"):
        refused = run_opsui(bed.plain, "recover", "web", choice, "--yes")
        assert refused.returncode == 1 and "frozen by" in refused.stderr, refused.stderr
        assert "opsui unlock web" in refused.stderr
    status = json.loads(run_opsui(bed.plain, "history", "web", "--json").stdout)
    assert status["lock"]["manual"] is True and status["lock"]["message"] == "incident 9"
    assert journal(bed.state)  # the history is still there, untouched by the refusals
