"""A private registry (issue 13): tags and deploys with the credentials of the host's
docker CLI, locally and over the test sshd, through the real ``opsui`` CLI.

The test bed's second registry (htpasswd, bcrypt) holds the app images; its
DOCKER_CONFIG folders hold the test credentials as ``docker login`` writes them
(``auths``) and as a credential helper gives them (``credHelpers`` ->
docker-credential-opsuitest, which logs each ``get``). Locally the folder is chosen
with DOCKER_CONFIG, as for the docker CLI; over SSH with ``hosts.NAME.docker_config``
(the sshd passes no environment), and the helper runs on the host. Every output
(stdout, ``-vv`` log lines, ``--json``) and the journal are searched for the password.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from docker.client import DockerClient

from .conftest import DockerResources
from .helpers import APP_IMAGE, Testbed, host_port, wait_for_health, wait_until
from .test_deploy import version_served
from .test_testbed_stack import StackParts, parts  # noqa: F401  (fixture)

pytestmark = pytest.mark.testbed_stack

WHERE = ["local", "ssh"]


def run_opsui(config: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsui", "-vv", "--config", str(config),
                           *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=180, env={**os.environ, **env})


def setup(where: str, tmp_path: Path, testbed: Testbed, docker_config: Path,
          ) -> tuple[Path, list[str], dict[str, str]]:
    """opsui.toml, the --host argument and the environment for ``where`` with the
    docker config in ``docker_config`` (DOCKER_CONFIG locally, the host key over SSH)."""
    state = tmp_path / "state"
    text = f'[deploy]\nstate_dir = "{state}"\ngate_timeout = 40\n'
    env = {"XDG_STATE_HOME": str(tmp_path / "xdg"), "DOCKER_CONFIG": str(tmp_path / "empty")}
    if where == "ssh":
        text += (f'[ssh]\nconfig = "{testbed.ssh_config}"\n'
                 f'known_hosts = "{testbed.ssh_known_hosts}"\n'
                 f'[hosts.test]\nssh = "{testbed.ssh_url}"\n'
                 f'docker_config = "{docker_config}"\n')
    else:
        env["DOCKER_CONFIG"] = str(docker_config)
    config = tmp_path / "opsui.toml"
    config.write_text(text)
    return config, ["--host", "test" if where == "ssh" else "local"], env


def no_secret(password: str, *texts: str, folder: Path | None = None) -> None:
    """The password is in none of ``texts`` nor any file under ``folder`` (the journal
    and the state files), in clear or as the base64 of user:password."""
    for text in texts:
        assert password not in text
    if folder is not None and folder.exists():
        for path in folder.rglob("*"):
            if path.is_file():
                assert password.encode() not in path.read_bytes(), path


@pytest.fixture
def app(parts: StackParts, labelled: DockerResources,  # noqa: F811
        docker_client: DockerClient) -> Any:
    """A container of the private image's 1.0.0 (pulled with the docker CLI's login)."""
    ref = f"{parts.registry}/{APP_IMAGE}:1.0.0"
    pulled = subprocess.run(["docker", "pull", "-q", ref], capture_output=True, text=True,
                            env={**os.environ, "DOCKER_CONFIG": str(parts.docker_config("auths"))},
                            timeout=120, check=False)
    assert pulled.returncode == 0, pulled.stderr
    container = labelled.container(ref, ports={"8080/tcp": ("127.0.0.1", None)})
    wait_for_health(container, "healthy")
    return container


def wrong_config(parts: StackParts, folder: Path) -> Path:  # noqa: F811
    """A docker config as `docker login` writes it, with a wrong password."""
    folder.mkdir()
    auth = base64.b64encode(f"{parts.user}:{parts.password}x".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {parts.registry: {"auth": auth}}}))
    return folder


@pytest.mark.parametrize("kind", ["auths", "helper", "store"])
@pytest.mark.parametrize("where", WHERE)
def test_tags_of_the_private_registry_are_listed_with_the_hosts_login(
        where: str, kind: str, parts: StackParts, testbed: Testbed,  # noqa: F811
        app: Any, tmp_path: Path) -> None:
    config, host, env = setup(where, tmp_path, testbed, parts.docker_config(kind))
    before = parts.helper_log.read_text() if parts.helper_log.exists() else ""
    result = run_opsui(config, *host, "tags", str(app.name), "--json", env=env)
    assert result.returncode == 0, result.stderr
    listed = {t["tag"]: t for t in json.loads(result.stdout)}
    assert {"1.0.0", "2.0.0", "5.0.0"} <= set(listed)
    assert all(listed[t]["in_registry"] for t in ("1.0.0", "2.0.0", "5.0.0"))
    if kind in ("helper", "store"):
        assert f"get {parts.registry}" in parts.helper_log.read_text().removeprefix(before)
    no_secret(parts.password, result.stdout, result.stderr)


@pytest.mark.parametrize("kind", ["auths", "helper"])
@pytest.mark.parametrize("where", WHERE)
def test_a_deploy_pulls_the_private_image_with_the_hosts_login(
        where: str, kind: str, parts: StackParts, testbed: Testbed,  # noqa: F811
        app: Any, labelled: DockerResources, docker_client: DockerClient,
        tmp_path: Path) -> None:
    config, host, env = setup(where, tmp_path, testbed, parts.docker_config(kind))
    result = run_opsui(config, *host, "deploy", str(app.name), "2.0.0", "--yes", "--json",
                       env=env)
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert done["release"]["outcome"] == "ok"
    assert done["release"]["digest"].startswith("sha256:")
    serving = labelled.track(docker_client.containers.get(str(app.name)))
    assert serving.id != app.id
    assert serving.image.tags and f"{parts.registry}/{APP_IMAGE}:2.0.0" in serving.image.tags
    wait_until(lambda: '"2.0.0"' in version_served(host_port(serving)), timeout=30,
               message="the new container serving 2.0.0", ignore=(OSError,))
    history = run_opsui(config, *host, "history", str(app.name), "--json", env=env)
    no_secret(parts.password, result.stdout, result.stderr, history.stdout, history.stderr,
              folder=tmp_path)


@pytest.mark.parametrize("where", WHERE)
def test_a_wrong_password_says_where_to_log_in_and_changes_nothing(
        where: str, parts: StackParts, testbed: Testbed, app: Any,  # noqa: F811
        docker_client: DockerClient, tmp_path: Path) -> None:
    wrong = wrong_config(parts, tmp_path / "wrong")
    config, host, env = setup(where, tmp_path, testbed, wrong)
    login = f"docker login {parts.registry}"

    tags = run_opsui(config, *host, "tags", str(app.name), "--json", env=env)
    assert tags.returncode == 1
    assert "HTTP 401" in tags.stderr and parts.registry in tags.stderr
    assert login in tags.stderr and "as root" in tags.stderr

    deploy = run_opsui(config, *host, "deploy", str(app.name), "2.0.0", "--yes", "--json",
                       env=env)
    assert deploy.returncode == 1, deploy.stdout
    said = deploy.stdout + deploy.stderr
    assert parts.registry in said and login in said and "refused the credentials" in said
    current = docker_client.containers.get(str(app.name))
    assert current.id == app.id and current.status == "running"
    assert '"1.0.0"' in version_served(host_port(current))
    labels = f"opsui.app={app.name}"
    others = docker_client.containers.list(all=True, filters={"label": labels})
    assert [c.id for c in others if c.id != app.id] == []
    history = run_opsui(config, *host, "history", str(app.name), "--json", env=env)
    no_secret(parts.password + "x", tags.stdout, tags.stderr, deploy.stdout, deploy.stderr,
              history.stdout, history.stderr, folder=tmp_path)


@pytest.mark.parametrize("where", WHERE)
def test_a_missing_credential_helper_is_named(
        where: str, parts: StackParts, testbed: Testbed, app: Any,  # noqa: F811
        tmp_path: Path) -> None:
    folder = tmp_path / "nohelper"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"credHelpers": {parts.registry: "opsui-not-installed"}}))
    config, host, env = setup(where, tmp_path, testbed, folder)
    tags = run_opsui(config, *host, "tags", str(app.name), env=env)
    assert tags.returncode == 1
    assert "docker-credential-opsui-not-installed is not installed" in tags.stderr


def test_the_dashboards_deploy_picker_reads_the_private_registry_and_shows_no_secret(
        parts: StackParts, testbed: Testbed, app: Any, tmp_path: Path) -> None:  # noqa: F811
    """The TUI path: D on the app asks the helper (its log says so); the screen and the
    dashboard's log file (-vv: every library's debug lines) hold no password."""
    from .tmux_terminal import TmuxTerminal

    config, _, env = setup("local", tmp_path, testbed, parts.docker_config("helper"))
    before = parts.helper_log.read_text() if parts.helper_log.exists() else ""
    args = [sys.executable, "-m", "opsui", "-vv", "--config", str(config), "--host", "local",
            "--open", str(app.name)]
    with TmuxTerminal(args, size=(160, 45), env=env) as term:
        term.wait_for(str(app.name), "the app's container on screen", timeout=30)
        term.press("D")
        screen = term.wait_for("5.0.0", "the deploy picker's tags", timeout=30)
        wait_until(lambda: f"get {parts.registry}" in parts.helper_log.read_text()
                   .removeprefix(before), timeout=30, message="the helper asked by the picker")
        term.press("esc")
        term.press("q")
    log = tmp_path / "xdg" / "opsui" / "opsui.log"
    assert log.exists() and "httpx" in log.read_text()  # the library lines are there...
    no_secret(parts.password, screen, log.read_text())  # ...but not the password
