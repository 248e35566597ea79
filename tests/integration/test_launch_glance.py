"""A local launch's first rows come from one list call made before the docker SDK loads
(issue 14): the SDK costs more CPU than Textual and its client asks the engine for its
API version first, so the first frame would wait for both.

Against the test bed's real engine: the rows the glance reports are the rows the SDK
path lists, the dashboard's monitor reports them while the SDK is not loaded yet, and the
session that follows (SDK loaded) reports the same rows; an engine that is not there
gives no glance, and the monitor's regular path explains it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from docker.models.containers import Container as DockerContainer

from opsui.backends.docker_engine import DockerEngine, connect_local
from opsui.backends.engine_glance import glance_containers

from .helpers import unique_name

pytestmark = pytest.mark.integration
MakeContainer = Callable[..., DockerContainer]

LAUNCH = """
import json, sys, threading
import opsui.domain.monitor as monitor

reports = []
done = threading.Event()
original = monitor.BufferedListener.containers_snapshot

def snapshot(self, host, containers):
    reports.append({"rows": sorted(c.name for c in containers if c.name.startswith(PREFIX)),
                    "sdk_loaded": "docker" in sys.modules})
    if len(reports) >= 2:
        done.set()
    original(self, host, containers)

monitor.BufferedListener.containers_snapshot = snapshot
PREFIX = sys.argv.pop(1)
import textual.app

def run(self, *args, **kwargs):  # no terminal: the monitors report to the held listener
    done.wait(30)
    print(json.dumps(reports))

textual.app.App.run = run
from opsui.cli import main
main(sys.argv[1:])
"""


def _launch(tmp_path: Path, prefix: str, docker_host: str | None) -> list[dict[str, object]]:
    config = tmp_path / "opsui.toml"
    config.write_text("")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    if docker_host is not None:
        env["DOCKER_HOST"] = docker_host
    out = subprocess.run([sys.executable, "-c", LAUNCH, prefix, "--config", str(config),
                          "--host", "local"],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    reports: list[dict[str, object]] = json.loads(out.stdout.strip().splitlines()[-1])
    return reports


def test_the_glance_lists_what_the_sdk_lists(make_container: MakeContainer) -> None:
    name = str(make_container(name=unique_name("glance-rows")).name)
    glanced = glance_containers(None)
    assert glanced is not None
    engine = DockerEngine(connect_local(None), "local")
    try:
        listed = {c.id: c for c in engine.list_containers()}
    finally:
        engine.close()
    mine = [c for c in glanced if c.name == name]
    assert len(mine) == 1
    assert listed[mine[0].id] == mine[0]  # the same row, field for field


def test_a_launch_shows_rows_before_the_sdk_loads(make_container: MakeContainer,
                                                  tmp_path: Path) -> None:
    name = str(make_container(name=unique_name("glance-launch")).name)
    reports = _launch(tmp_path, name, None)
    assert reports[0] == {"rows": [name], "sdk_loaded": False}
    assert reports[1]["rows"] == [name]  # the session's own list: the same row
    assert reports[1]["sdk_loaded"] is True


def test_no_engine_there_means_no_glance(tmp_path: Path) -> None:
    assert glance_containers(f"unix://{tmp_path}/no-engine.sock") is None
    assert glance_containers("ssh://root@127.0.0.1") is None  # not this path's to speak
