"""Deploys as separate `opsui` processes on the real engine: two at once, Ctrl-C, SIGKILL
and the recovery the next opsui offers. These are the faults an operator meets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from docker.client import DockerClient
from docker.models.containers import Container

from .conftest import DockerResources
from .helpers import (
    APP_IMAGE,
    Testbed,
    free_port,
    host_port,
    wait_for_health,
    wait_until,
)
from .test_deploy import version_served

pytestmark = pytest.mark.integration


def write_config(path: Path, state: Path, container: str, registry_image: str,
                 health_url: str | None = None) -> Path:
    """An app whose gate, with ``health_url`` unanswered, holds the deploy for 30 s."""
    urls = f'health_urls = ["{health_url}"]\n' if health_url else ""
    path.write_text(f'[deploy]\nstate_dir = "{state}"\ngate_timeout = 30\n\n'
                    f'[apps.web]\ncontainer = "{container}"\nimage = "{registry_image}"\n'
                    f"health_timeout = 1\n{urls}")
    return path


def opsui_cmd(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "opsui", "--config", str(config), *args]


def run_opsui(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(opsui_cmd(config, *args), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def journal(state: Path) -> list[dict[str, object]]:
    path = state / "web" / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def step_done(state: Path, name: str) -> bool:
    return any(r.get("type") == "step" and r.get("name") == name for r in journal(state))


class Bed:
    """A running 1.0.0 container, a config that blocks the gate, one that does not."""

    def __init__(self, container: Container, state: Path, blocking: Path, plain: Path):
        self.container = container
        self.state = state
        self.blocking = blocking
        self.plain = plain

    def start_blocked_deploy(self) -> subprocess.Popen[str]:
        """`opsui deploy web 2.0.0` that has started its new container and now waits in
        the health gate (the URL never answers)."""
        process = subprocess.Popen(opsui_cmd(self.blocking, "deploy", "web", "2.0.0", "--yes"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   stdin=subprocess.DEVNULL)
        wait_until(lambda: step_done(self.state, "start") or process.poll() is not None,
                   60.0, message="the deploy to reach its health gate")
        assert process.poll() is None, process.communicate()
        return process


@pytest.fixture
def bed(testbed: Testbed, labelled: DockerResources, docker_client: DockerClient,
        tmp_path: Path) -> Bed:
    image = testbed.registry_ref(f"{APP_IMAGE}:1.0.0")
    docker_client.images.pull(image)
    container = labelled.container(image, ports={"8080/tcp": ("127.0.0.1", None)})
    wait_for_health(container, "healthy")
    state = tmp_path / "state"
    repository = testbed.registry_ref(APP_IMAGE)
    never = f"http://127.0.0.1:{free_port()}/never"
    return Bed(container, state,
               write_config(tmp_path / "blocking.toml", state, str(container.name), repository,
                            never),
               write_config(tmp_path / "plain.toml", state, str(container.name), repository))


def new_container(docker_client: DockerClient, labelled: DockerResources,
                  state: Path) -> Container:
    record = next(r for r in journal(state) if r.get("type") == "container"
                  and str(r.get("release", "")).startswith("r") and r.get("id") and
                  any(x.get("type") == "release" and x.get("action") == "deploy"
                      and x.get("id") == r.get("release") for x in journal(state)))
    return labelled.track(docker_client.containers.get(str(record["id"])))  # type: ignore[no-any-return]


def test_a_second_deploy_is_refused_while_one_runs_and_ctrl_c_cancels_cleanly(
        bed: Bed, docker_client: DockerClient, labelled: DockerResources) -> None:
    first = bed.start_blocked_deploy()
    try:
        second = run_opsui(bed.plain, "deploy", "web", "5.0.0", "--yes")
        assert second.returncode == 1
        assert "web is locked: deploy by" in second.stderr and "of 2.0.0" in second.stderr
        first.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 1, (out, err)
    assert "cancelling" in err and "cancelled" in out
    new = new_container(docker_client, labelled, bed.state)
    new.reload()
    assert new.status == "exited"
    bed.container.reload()
    assert bed.container.status == "running"
    assert '"1.0.0"' in version_served(host_port(bed.container))
    history = json.loads(run_opsui(bed.plain, "history", "web", "--json").stdout)
    assert history["lock"] is None
    assert history["releases"][0]["outcome"] == "cancelled"
    assert [a["outcome"] for a in history["actions"]][:2] == ["cancelled", "refused"]


def test_sigkill_mid_deploy_leaves_an_interrupted_release_that_can_be_finished(
        bed: Bed, docker_client: DockerClient, labelled: DockerResources) -> None:
    process = bed.start_blocked_deploy()
    process.kill()  # SIGKILL: no cleanup at all
    process.communicate(timeout=30)
    history = run_opsui(bed.plain, "history", "web")
    assert "INTERRUPTED: release" in history.stdout and "LOCKED: deploy by" in history.stdout
    status = json.loads(run_opsui(bed.plain, "history", "web", "--json").stdout)
    assert status["interrupted"] == status["releases"][0]["id"]
    assert status["lock"]["pid"] == process.pid
    # Nothing was deleted or switched on its own: the old one still serves.
    name = bed.container.name
    bed.container.reload()
    assert bed.container.status == "running" and bed.container.name == name
    finished = run_opsui(bed.plain, "recover", "web", "--finish", "--yes", "--json")
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["outcome"] == "ok"
    serving = docker_client.containers.get(str(bed.container.name))
    labelled.track(serving)
    assert serving.id != bed.container.id
    assert '"2.0.0"' in version_served(host_port(serving))
    after = json.loads(run_opsui(bed.plain, "history", "web", "--json").stdout)
    assert after["lock"] is None and after["interrupted"] is None
    assert after["releases"][0]["outcome"] == "ok"
    assert "finished after the interruption" in after["releases"][0]["reason"]


def test_sigkill_mid_deploy_then_rolling_back_restores_the_old_one(
        bed: Bed, docker_client: DockerClient, labelled: DockerResources) -> None:
    process = bed.start_blocked_deploy()
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    refused = run_opsui(bed.plain, "deploy", "web", "5.0.0", "--yes")
    assert refused.returncode == 1 and "is locked" in refused.stderr  # stale, not ignored
    undone = run_opsui(bed.plain, "recover", "web", "--rollback", "--yes", "--json")
    assert undone.returncode == 0, undone.stderr  # rolled back: what was asked
    assert json.loads(undone.stdout)["ok"] is True
    assert json.loads(undone.stdout)["outcome"] == "interrupted"  # as the journal says
    new = new_container(docker_client, labelled, bed.state)
    new.reload()
    bed.container.reload()
    assert new.status == "exited"
    assert bed.container.status == "running"
    assert docker_client.containers.get(str(bed.container.name)).id == bed.container.id
    assert '"1.0.0"' in version_served(host_port(bed.container))
    after = json.loads(run_opsui(bed.plain, "history", "web", "--json").stdout)
    assert after["lock"] is None and after["releases"][0]["outcome"] == "interrupted"
    redeploy = run_opsui(bed.plain, "deploy", "web", "5.0.0", "--yes")
    assert redeploy.returncode == 0, redeploy.stderr
    labelled.track(docker_client.containers.get(str(bed.container.name)))


def test_lock_unlock_and_history_from_the_command_line(bed: Bed) -> None:
    locked = run_opsui(bed.plain, "lock", "web", "--message", "incident 7", "--yes", "--json")
    assert locked.returncode == 0 and json.loads(locked.stdout)["holder"]["manual"] is True
    refused = run_opsui(bed.plain, "deploy", "web", "2.0.0", "--yes")
    assert refused.returncode == 1 and "frozen by" in refused.stderr
    assert "incident 7" in refused.stderr
    no_tty = run_opsui(bed.plain, "unlock", "web")  # no --yes and no terminal: refused
    assert no_tty.returncode == 1 and "Not confirmed" in no_tty.stderr
    unlocked = run_opsui(bed.plain, "unlock", "web", "--yes")
    assert unlocked.returncode == 0 and "was frozen by" in unlocked.stdout
    read_only = run_opsui(bed.plain, "--read-only", "deploy", "web", "2.0.0", "--yes")
    assert read_only.returncode == 1 and "read-only" in read_only.stderr
    tags = json.loads(run_opsui(bed.plain, "tags", "web", "--json").stdout)
    assert {"1.0.0", "2.0.0", "5.0.0"} <= {t["tag"] for t in tags}
    assert [t["tag"] for t in tags if t["current"]] == ["1.0.0"]
    bed.container.reload()
    assert bed.container.status == "running"
