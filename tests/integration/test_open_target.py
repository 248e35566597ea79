"""``opsui --open NAME`` in a real terminal against the real engine: the dashboard starts
with the container's log pane open and following, with no key pressed; from there ``R``
and ``y`` roll the app back, and the pane follows the container that serves after it."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from docker.client import DockerClient
from docker.models.containers import Container

from opsui.backends.local import LocalHost
from opsui.config import Config, DeploySettings
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.releases import OK

from .conftest import DockerResources
from .helpers import (
    APP_HEALTHY,
    APP_IMAGE,
    Testbed,
    host_port,
    wait_for_health,
    wait_until,
)
from .pty_terminal import Terminal

pytestmark = pytest.mark.integration


def test_open_starts_on_the_containers_logs_following_them(
        make_container: Callable[..., Container], tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY, environment={"APP_TICK": "0.2"})
    name = str(container.name)
    term = Terminal([sys.executable, "-m", "opsui", "--host", "local", "--open", name],
                    tmp_path)
    try:
        term.wait_for(b"opsui test app 1.0.0 starting", 30)  # its history, on screen
        term.wait_for(name.encode(), 10)  # the pane's title names it
        mark = term.mark()
        term.wait_for_pattern(rb"tick \d+", 30, mark)  # lines written after the start
        mark = term.mark()
        term.wait_for_pattern(rb"tick \d+", 30, mark)  # and the next ones: following
        assert term.process.poll() is None
    finally:
        term.close()


def test_open_an_unknown_target_starts_the_dashboard_and_says_so(tmp_path: Path) -> None:
    term = Terminal([sys.executable, "-m", "opsui", "--host", "local", "--open",
                     "opsui-no-such-container-x"], tmp_path)
    try:
        term.wait_for_pattern(rb"\d+ containers", 30)
        term.wait_for(b"opsui-no-such-container-x:", 30)  # the notification (it wraps)
        assert term.process.poll() is None
    finally:
        term.close()


def version_served(client: DockerClient, name: str) -> str:
    """What the container called ``name`` answers (each container has its own random
    host port); empty while it does not answer (a switch is under way)."""
    try:
        port = host_port(client.containers.get(name))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=5) as r:
            return str(r.read().decode())
    except Exception:
        return ""


def test_the_incident_path_open_r_y_rolls_back_and_the_pane_follows_the_app(
        testbed: Testbed, labelled: DockerResources, docker_client: DockerClient,
        tmp_path: Path) -> None:
    """2.0.0 serves after a deploy; ``opsui --open NAME``, ``R``, ``y``: 1.0.0 answers
    on the port again, and the log pane (back from the run with Esc) follows the
    container that serves now: a "replaced by" marker, then its lines."""
    image = testbed.registry_ref(f"{APP_IMAGE}:1.0.0")
    docker_client.images.pull(image)
    first = labelled.container(image, ports={"8080/tcp": ("127.0.0.1", None)},
                               environment={"APP_TICK": "5"})  # the marker stays on screen
    wait_for_health(first, "healthy")
    name = str(first.name)
    state = tmp_path / "state"
    (tmp_path / "opsui.toml").write_text(
        f'[deploy]\nstate_dir = "{state}"\ngate_timeout = 40\n')
    local = LocalHost("local")
    local.connect()
    try:
        releases = AppReleases(local.name, local.engine, local.prober, local.files,
                               ActionGate(), Config(deploy=DeploySettings(
                                   state_dir=str(state), gate_timeout=40.0)),
                               local.image_tags)
        app = releases.resolve(name)
        assert releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True) == OK
    finally:
        local.close()
    labelled.track(docker_client.containers.get(name))
    assert '"2.0.0"' in version_served(docker_client, name)

    term = Terminal([sys.executable, "-m", "opsui", "--host", "local", "--open", name],
                    tmp_path)
    try:
        term.wait_for(b"opsui test app 2.0.0 starting", 30)  # the pane, on what serves
        mark = term.mark()
        term.type("R")
        term.wait_for_after(mark, b"nothing is pulled", 30)  # the rollback's preview
        mark = term.mark()
        term.type("y")
        wait_until(lambda: '"1.0.0"' in version_served(docker_client, name), timeout=60,
                   message="1.0.0 to answer on the port again")
        term.wait_for_after(mark, "✓ ok".encode(), 60)
        mark = term.mark()
        term.type("\x1b")  # back from the run screen to the log pane
        term.wait_for_after(mark, b"replaced by", 30)
        term.wait_for_after(mark, b"opsui test app 1.0.0 starting", 30)
        assert term.process.poll() is None
    finally:
        term.close()
    assert docker_client.containers.get(name).id == first.id
