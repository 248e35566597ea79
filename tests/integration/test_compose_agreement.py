"""A release of a compose service and the next ``docker-compose up -d`` (issue 13).

A compose project of its own per test (Debian's docker-compose 1.29 of the test bed,
the app image from the anonymous test registry), deployed and rolled back through
AppReleases (what the keys and ``opsui deploy`` run), locally and over the test sshd
(where compose runs on the host through the SSH exec channel):

- with ``compose_pin = "APP_TAG"`` the project's .env follows the release (every other
  byte kept) and ``docker-compose up -d`` afterwards leaves the release alone;
- without a pin the drift is shown (compose file says 1.0.0, running 2.0.0), and when
  compose replaces the release the history says so;
- either way the kept release container is neither started nor removed by compose, and
  a rollback afterwards still boots it (no pull, the exact image id).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker.client import DockerClient
from docker.models.containers import Container

from opsui.backends.compose_host import ShellComposeHost
from opsui.config import AppConfig, Config, DeploySettings
from opsui.domain.compose_drift import AGREES, DRIFTS
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import HostConnection
from opsui.domain.releases import OK

from .helpers import APP_IMAGE, Testbed, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.testbed_stack]

COMPOSE_YML = """\
version: "3.8"
services:
  app:
    image: ${REGISTRY}/opsui-test/app:${APP_TAG:-1.0.0}
    restart: unless-stopped
    deploy:
      replicas: ${REPLICAS:-1}
    labels:
      opsui.test: "1"
networks:
  default:
    labels:
      opsui.test: "1"
"""
ENV_HEAD = (b"# the operator's comments stay\r\nCOMPOSE_PROJECT_NAME={project}\n"
            b"COMPOSE_FILE=compose.yml\nREGISTRY={registry}\n")


@dataclass
class Project:
    name: str
    folder: Path
    client: DockerClient

    def compose(self, *args: str) -> str:
        done = subprocess.run(["docker-compose", *args], cwd=self.folder, check=False,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"docker-compose {' '.join(args)}: {done.stderr}"
        return done.stdout + done.stderr

    def containers(self) -> list[Container]:
        return self.client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={self.name}"})

    def running(self) -> Container:
        [found] = self.all_running()
        return found

    def all_running(self) -> list[Container]:
        return sorted((c for c in self.containers() if c.status == "running"),
                      key=lambda c: str(c.name))

    def env(self) -> bytes:
        return (self.folder / ".env").read_bytes()


@pytest.fixture
def replicas() -> int:
    """How many containers the project's app runs (a test parametrizes it)."""
    return 1


@contextlib.contextmanager
def compose_project(name: str, tmp_path: Path, testbed: Testbed, client: DockerClient,
                    replicas: int = 1, env: bytes = b"") -> Iterator[Project]:
    """A one-service compose project ``name`` up with app 1.0.0 (``replicas``
    containers, healthy; ``env``: more lines of its .env); down afterwards, with every
    container opsui made of it (kept copies hide their compose labels from compose)."""
    for tag in ("1.0.0", "2.0.0"):
        client.images.pull(testbed.registry_ref(f"{APP_IMAGE}:{tag}"))
    folder = tmp_path / name
    folder.mkdir()
    (folder / "compose.yml").write_text(COMPOSE_YML)
    head = ENV_HEAD.replace(b"{project}", name.encode()).replace(
        b"{registry}", testbed.registry.encode())
    (folder / ".env").write_bytes(head + f"REPLICAS={replicas}\n".encode()
                                  + b"APP_TAG=1.0.0\n" + env)
    found = Project(name, folder, client)
    try:
        found.compose("up", "-d")
        wait_until(lambda: [c.attrs["State"].get("Health", {}).get("Status")
                            for c in found.all_running()] == ["healthy"] * replicas,
                   timeout=90, message=f"the compose app of {name} is healthy")
        yield found
    finally:
        with contextlib.suppress(Exception):
            found.compose("down", "-v", "--remove-orphans", "-t", "1")
        for label in ("com.docker.compose.project", "opsui.hidden.com.docker.compose.project"):
            with contextlib.suppress(Exception):
                for container in client.containers.list(
                        all=True, filters={"label": [f"{label}={name}", "opsui.test=1"]}):
                    with contextlib.suppress(Exception):
                        container.remove(force=True)


@pytest.fixture
def project(tmp_path: Path, testbed: Testbed, docker_client: DockerClient,
            replicas: int) -> Iterator[Project]:
    """A one-service compose project of this test, up with app 1.0.0 (``replicas``
    containers); down afterwards (with every container opsui made of it, by label)."""
    with compose_project(f"opsui-cmp-{uuid.uuid4().hex[:8]}", tmp_path, testbed,
                         docker_client, replicas, b"AFTER=kept  # as it was\n") as found:
        yield found


@pytest.fixture
def connection(any_host: HostConnection) -> HostConnection:
    """The same engine, reached as the local host or as a remote host over the sshd."""
    return any_host


def releases_for(connection: HostConnection, project: Project, tmp_path: Path,
                 pin: str | None) -> AppReleases:
    deploy = DeploySettings(state_dir=str(tmp_path / "state"), gate_timeout=40.0,
                            known_good_seconds=3600.0, retain=3, drain_seconds=0.0)
    app = AppConfig(name="web", host=connection.name, service=f"{project.name}/app",
                    deploy=deploy, compose_pin=pin)
    config = Config(deploy=deploy, apps=(app,))
    return AppReleases(connection.name, connection.engine, connection.prober,
                       connection.files, ActionGate(), config, connection.image_tags,
                       compose=ShellComposeHost(connection.runner, connection.name))


def history_cli(connection: HostConnection, project: Project, tmp_path: Path) -> str:
    """``opsui history web`` as an operator runs it (local host only: the CLI over SSH
    runs the same AppReleases, shown above with the SSH connection)."""
    config = tmp_path / "opsui.toml"
    config.write_text(f'[deploy]\nstate_dir = "{tmp_path / "state"}"\n\n'
                      f'[apps.web]\nservice = "{project.name}/app"\n')
    done = subprocess.run([sys.executable, "-m", "opsui", "--config", str(config),
                           "history", "web"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def version_of(container: Container) -> str:
    return str(container.attrs["Config"]["Image"]).rsplit(":", 1)[1]


def kept_of(project: Project, docker_client: DockerClient) -> list[Container]:
    label = f"opsui.hidden.com.docker.compose.project={project.name}"
    return docker_client.containers.list(all=True, filters={"label": label})


def test_with_a_pin_compose_up_keeps_the_release_and_a_rollback_still_works(
        connection: HostConnection, project: Project, docker_client: DockerClient,
        tmp_path: Path) -> None:
    releases = releases_for(connection, project, tmp_path, "APP_TAG")
    app = releases.resolve("web")
    original = project.running()
    plan = releases.plan_deploy(app, "2.0.0")
    assert releases.deploy(app, plan, True) == OK
    released = project.running()
    assert version_of(released) == "2.0.0"
    env = project.env()
    assert b"APP_TAG=2.0.0\n" in env and env.startswith(b"# the operator's comments stay\r\n")
    assert env.endswith(b"AFTER=kept  # as it was\n") and b"1.0.0" not in env

    project.compose("up", "-d")  # the guides' CI step

    assert project.running().id == released.id  # the release is left alone
    [kept] = kept_of(project, docker_client)
    kept.reload()
    assert kept.status == "created" and ".before-r" in str(kept.name)  # never started
    assert kept.attrs["Image"] == original.attrs["Image"]  # the exact image
    status = releases.status(app)
    assert status.replaced == ""
    check = releases.agreement(app).check(status.serving)  # type: ignore[arg-type]
    assert check is not None and check.state == AGREES, check

    rollback = releases.plan_rollback(app)
    assert rollback.target_container is not None  # type: ignore[union-attr]
    assert releases.rollback(app, rollback, True) == OK
    back = project.running()
    assert version_of(back) == "1.0.0" and back.attrs["Image"] == original.attrs["Image"]
    assert b"APP_TAG=1.0.0\n" in project.env()
    project.compose("up", "-d")
    assert project.running().id == back.id
    assert releases.status(app).replaced == ""


def test_without_a_pin_the_drift_is_shown_and_a_replaced_release_is_noticed(
        connection: HostConnection, project: Project, docker_client: DockerClient,
        tmp_path: Path) -> None:
    releases = releases_for(connection, project, tmp_path, None)
    app = releases.resolve("web")
    before = project.env()
    plan = releases.plan_deploy(app, "2.0.0")
    note = releases.agreement(app).plan_note(plan.current, "2.0.0")  # type: ignore[union-attr]
    assert "no compose_pin" in note
    assert releases.deploy(app, plan, True) == OK
    assert project.env() == before  # nothing written without a pin

    status = releases.status(app)
    check = releases.agreement(app).check(status.serving)  # type: ignore[arg-type]
    assert check is not None and check.state == DRIFTS
    assert "compose file says" in check.text and "app:1.0.0" in check.text
    assert "app:2.0.0" in check.text
    if connection.name == "local":
        shown = history_cli(connection, project, tmp_path)
        assert "COMPOSE DRIFT: compose file says 127.0.0.1" in shown, shown
        assert "app:1.0.0, running 127.0.0.1" in shown and "puts 127.0.0.1" in shown, shown

    project.compose("up", "-d")  # the kept 1.0.0 is no replica: compose leaves it
    [kept] = kept_of(project, docker_client)
    kept.reload()
    assert kept.status == "created"
    assert version_of(project.running()) == "2.0.0"

    project.compose("up", "-d", "--force-recreate")  # compose puts its file back
    wait_until(lambda: version_of(project.running()) == "1.0.0", timeout=30,
               message="compose recreated the app from its file")
    replaced = releases.status(app).replaced
    assert "does not serve" in replaced and "2.0.0" in replaced
    if connection.name == "local":
        shown = history_cli(connection, project, tmp_path)
        assert "NOT SERVING: release r" in shown and "(2.0.0) does not serve" in shown, shown

    rollback = releases.plan_rollback(app)  # the kept release still boots
    assert releases.rollback(app, rollback, True) == OK
    assert [c.status for c in kept_of(project, docker_client)].count("running") == 0


@pytest.mark.parametrize("replicas", [2])
def test_every_replica_released_with_a_pin_survives_compose_up(
        connection: HostConnection, project: Project, docker_client: DockerClient,
        tmp_path: Path) -> None:
    releases = releases_for(connection, project, tmp_path, "APP_TAG")
    app = releases.resolve("web")
    assert releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True) == OK
    released = project.all_running()
    assert [version_of(c) for c in released] == ["2.0.0", "2.0.0"]
    kept = kept_of(project, docker_client)
    assert len(kept) == 2

    project.compose("up", "-d")

    assert [c.id for c in project.all_running()] == [c.id for c in released]
    assert sorted(str(c.id) for c in kept_of(project, docker_client)) == sorted(
        str(c.id) for c in kept)
    assert all(c.status == "created" for c in kept_of(project, docker_client))
    assert releases.rollback(app, releases.plan_rollback(app), True) == OK
    back = project.all_running()
    assert [version_of(c) for c in back] == ["1.0.0", "1.0.0"]
    assert sorted(str(c.labels["com.docker.compose.container-number"]) for c in back) == ["1", "2"]
    project.compose("up", "-d")
    assert [c.id for c in project.all_running()] == [c.id for c in back]
