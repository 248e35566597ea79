"""The incident path in a real terminal against the real engine (issue 10).

"ssh host; opsui --open web; R; y": an app deployed from 1.0.0 to 2.0.0 (2.0.0 is the
bad release), opsui launched in tmux straight onto the app's logs, one key for the
rollback and one for the confirmation. Then what the operator must see: 1.0.0 answers
on the app's port, the log pane goes on with the lines of the container that serves now
(after a marker), the history says rolled back. And the trap that cancelled rollbacks:
Esc on the running rollback goes back to the dashboard, which shows it running, and it
completes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker.client import DockerClient
from docker.models.containers import Container

from .conftest import DockerResources
from .helpers import APP_IMAGE, Testbed, free_port, version_on, wait_for_health, wait_until
from .test_deploy_processes import opsui_cmd, run_opsui
from .tmux_terminal import TmuxTerminal

pytestmark = pytest.mark.integration


class BadRelease:
    """A container deployed from 1.0.0 to 2.0.0 by opsui (1.0.0 kept for the rollback)."""

    def __init__(self, name: str, port: int, config: Path, state: Path) -> None:
        self.name = name
        self.port = port
        self.config = config
        self.state = state


@pytest.fixture
def bad_release(testbed: Testbed, labelled: DockerResources, docker_client: DockerClient,
                tmp_path: Path) -> Iterator[BadRelease]:
    image = testbed.registry_ref(f"{APP_IMAGE}:1.0.0")
    docker_client.images.pull(image)
    port = free_port()  # the operator's fixed port, as in `ports: 3000:3000`
    container: Container = labelled.container(
        image, ports={"8080/tcp": ("127.0.0.1", port)}, environment={"APP_TICK": "0.5"})
    wait_for_health(container, "healthy")
    state = tmp_path / "state"
    config = tmp_path / "opsui.toml"
    config.write_text(f'[deploy]\nstate_dir = "{state}"\n')
    name = str(container.name)
    deployed = run_opsui(config, "deploy", name, "2.0.0", "--yes")
    assert deployed.returncode == 0, deployed.stderr
    wait_until(lambda: version_on(port) == "2.0.0", 30.0, message="2.0.0 serving")
    yield BadRelease(name, port, config, state)


def test_open_r_y_rolls_back_and_the_log_pane_follows_the_serving_container(
        bad_release: BadRelease, tmp_path: Path) -> None:
    app = bad_release
    args = opsui_cmd(app.config, "--open", app.name)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_STATE_HOME": str(tmp_path / "st")}
    with TmuxTerminal(args, size=(160, 45), env=env) as term:
        term.wait_for(lambda s: "tick" in s and app.name in s, "the log pane following",
                      timeout=30)
        term.press("R")
        term.wait_for(f"Rollback {app.name} to 1.0.0 on local?", "the rollback preview",
                      timeout=30)
        assert "1.0.0" in term.screen()
        term.press("y")
        wait_until(lambda: version_on(app.port) == "1.0.0", 60.0,
                   message="1.0.0 answering on the app's port")
        assert term.keys_sent == 2  # R, y
        term.wait_for("Rollback of", "the rollback's end", timeout=30)
        term.press("esc")  # off the step screen, back where the operator was: the logs
        screen = term.wait_for(lambda s: "opsui test app 1.0.0 starting" in s,
                               "the serving container's own lines in the pane", timeout=30)
        lines = screen.splitlines()
        marker = next(i for i, line in enumerate(lines) if "»" in line and
                      ("replaced" in line or "rolled back" in line or "rollback" in line))
        started = max(i for i, line in enumerate(lines)
                      if "opsui test app 1.0.0 starting" in line)
        assert marker < started, screen
    history = run_opsui(app.config, "history", app.name, "--json")
    assert history.returncode == 0, history.stderr
    releases = json.loads(history.stdout)["releases"]
    assert releases[0]["action"] == "rollback" and releases[0]["outcome"] == "ok"
    assert releases[1]["version"] == "2.0.0"
    assert releases[1]["shown_outcome"] == "rolled back"


def test_esc_on_the_running_rollback_leaves_it_running_to_the_end(
        bad_release: BadRelease, tmp_path: Path) -> None:
    app = bad_release
    args = opsui_cmd(app.config, "--open", f"app:{app.name}")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_STATE_HOME": str(tmp_path / "st")}
    with TmuxTerminal(args, size=(160, 45), env=env) as term:
        term.wait_for(lambda s: "tick" in s, "the log pane following", timeout=30)
        term.press("R")
        term.wait_for(f"Rollback {app.name} to 1.0.0 on local?", "the rollback preview",
                      timeout=30)
        term.press("y")
        term.wait_for("running…", "the rollback running", timeout=30)
        term.press("esc")  # meant as "back": must not cancel; back on the logs
        term.wait_for(lambda s: "running…" not in s, "back on the log pane", timeout=10)
        term.press("esc")  # and back on the dashboard
        term.wait_for(lambda s: "▶ Rollback of" in s or "✓ Rollback of" in s,
                      "the dashboard's banner with the rollback", timeout=30)
        wait_until(lambda: version_on(app.port) == "1.0.0", 60.0,
                   message="the rollback completing after Esc")
        term.wait_for(f"✓ Rollback of {app.name} on local: ok", "the outcome in the banner",
                      timeout=30)
    history = run_opsui(app.config, "history", app.name, "--json")
    releases = json.loads(history.stdout)["releases"]
    assert releases[0]["action"] == "rollback" and releases[0]["outcome"] == "ok"

