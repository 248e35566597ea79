"""opsui's clock two hours off the host's (issue 16, part 2), against the real engine.

The machine running opsui is shifted, not the test bed's: each opsui runs as its own
process with a ``sitecustomize`` that moves every way opsui reads the wall clock
(``time.time``, ``time.time_ns``, ``datetime.now``/``utcnow``) by ``SHIFT`` seconds.
The test process itself keeps the real clock, which is the engine's (same machine), so
what it computes is what the host says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from docker.client import DockerClient
from docker.models.containers import Container

from opsui.config import Config, DeploySettings
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.releases import OK

from .conftest import DockerResources
from .helpers import APP_HEALTHY, APP_IMAGE, Testbed, wait_for_health, wait_until

pytestmark = pytest.mark.integration

HOURS_2 = 7200.0
SITECUSTOMIZE = '''
"""Shifts this process's wall clock by OPSUI_TEST_CLOCK_SHIFT seconds (tests only)."""
import datetime as _datetime
import os as _os
import time as _time

_SHIFT = float(_os.environ.get("OPSUI_TEST_CLOCK_SHIFT", "0"))
if _SHIFT:
    _real_time, _real_time_ns = _time.time, _time.time_ns
    _time.time = lambda: _real_time() + _SHIFT
    _time.time_ns = lambda: _real_time_ns() + int(_SHIFT * 1e9)
    _Real = _datetime.datetime

    class _ShiftedDatetime(_Real):
        @classmethod
        def now(cls, tz=None):
            return _Real.now(tz) + _datetime.timedelta(seconds=_SHIFT)

        @classmethod
        def utcnow(cls):
            return _Real.now(_datetime.UTC).replace(tzinfo=None) + _datetime.timedelta(
                seconds=_SHIFT)

    _datetime.datetime = _ShiftedDatetime
'''


@pytest.fixture(params=[HOURS_2, -HOURS_2], ids=["ahead-2h", "behind-2h"])
def shift(request: pytest.FixtureRequest) -> float:
    """This machine's clock against the host's: ahead (+) or behind (-)."""
    return float(request.param)


@pytest.fixture
def shifted_env(shift: float, tmp_path: Path) -> dict[str, str]:
    """The environment of an opsui process whose wall clock is ``shift`` seconds off."""
    folder = tmp_path / "shifted"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "OPSUI_TEST_CLOCK_SHIFT": str(shift)}
    probe = subprocess.run(
        [sys.executable, "-c", "import time, datetime; "
         "print(time.time(), datetime.datetime.now(datetime.UTC).timestamp())"],
        capture_output=True, text=True, env=env, timeout=30, check=True)
    for seen in map(float, probe.stdout.split()):  # the shift is in place, both ways
        assert abs(seen - time.time() - shift) < 30, probe.stdout
    return env


def opsui(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsui", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120, env=env, cwd=cwd)


# -- logs --since ---------------------------------------------------------------------

PHASES = ("for i in 1 2 3 4 5; do echo early-$i; done; sleep 12; "
          "for i in 1 2 3 4 5; do echo late-$i; done; sleep 600")
"""Five lines, 12 s of silence, five lines, silence: ``--since 8s`` read within 8 s of
the second burst holds exactly the late lines, whenever in those 8 s it is read."""


def test_logs_since_is_the_hosts_last_seconds(
        shifted_env: dict[str, str], make_container: Callable[..., Container],
        docker_client: DockerClient, tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY, ["-c", PHASES], entrypoint="sh")
    wait_until(lambda: b"late-5" in container.logs(), timeout=40,
               message="the second burst")
    host = opsui(shifted_env, tmp_path, "--host", "local", "logs", str(container.name),
                 "--since", "8s")
    docker = subprocess.run(["docker", "logs", "--since", "8s", str(container.name)],
                            capture_output=True, text=True, timeout=30, check=True)
    assert host.returncode == 0, host.stderr
    expected = [f"late-{i}" for i in range(1, 6)]
    assert docker.stdout.split() == expected  # the window was read in time
    assert host.stdout.split() == expected


# -- uptime and the sidebar, as the dashboard computes them ---------------------------

DASHBOARD_VIEW = '''
import json, sys, threading
from datetime import datetime
from textual.theme import BUILTIN_THEMES
from opsui.backends.local import LocalHost
from opsui.domain.models import LinkState
from opsui.domain.monitor import HostMonitor, MonitorSettings
from opsui.domain.operations.gate import ActionGate
from opsui.ui.palette import Palette
from opsui.ui.state import HostView
from opsui.ui.widgets.container_cells import host_now, row_cells
from opsui.ui.widgets.host_sidebar import host_prompt

wanted = sys.argv[1]
seen = {}
ready = threading.Event()

class Listener:
    def host_status(self, status):
        seen["status"] = status
        self._check()
    def containers_snapshot(self, host, containers): pass
    def container_changed(self, host, container):
        if container.name == wanted:
            seen["container"] = container
            self._check()
    def container_removed(self, host, cid): pass
    def host_metrics(self, host, metrics): pass
    def container_stats(self, host, stats): pass
    def app_health(self, host, app, results): pass
    def _check(self):
        status = seen.get("status")
        if status is not None and status.state is LinkState.CONNECTED and "container" in seen:
            ready.set()

monitor = HostMonitor(LocalHost("local"), Listener(), ActionGate(), MonitorSettings())
monitor.start()
assert ready.wait(60), seen
status = seen["status"]
palette = Palette.from_theme(BUILTIN_THEMES["textual-dark"])
local = datetime.now().astimezone()  # what the dashboard's clock gives
cells = row_cells(seen["container"], None, (), palette, host_now(local, status), False)
print(json.dumps({"uptime": cells["uptime"].plain, "skew": status.clock_skew,
                  "sidebar": host_prompt(HostView(status), False, palette).plain}))
monitor.stop()
'''


def started(container: Container) -> datetime:
    container.reload()
    raw = str(container.attrs["State"]["StartedAt"])
    return datetime.fromisoformat(raw[:26].rstrip("Z") + "+00:00")


def test_uptime_and_the_sidebar_use_the_hosts_clock(
        shift: float, shifted_env: dict[str, str], make_container: Callable[..., Container],
        tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    begun = started(container)
    wait_until(lambda: (datetime.now(UTC) - begun).total_seconds() >= 3, timeout=30,
               message="3 s of uptime")  # "0s" would be what a clock ahead shows
    script = tmp_path / "view.py"
    script.write_text(textwrap.dedent(DASHBOARD_VIEW))
    result = subprocess.run([sys.executable, str(script), str(container.name)],
                            capture_output=True, text=True, timeout=120, env=shifted_env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    up = (datetime.now(UTC) - begun).total_seconds()
    shown = view["uptime"]
    assert shown.endswith("s") and " " not in shown, shown  # seconds, not "2h 00m" or 0s
    assert 3 <= int(shown[:-1]) <= up + 1
    assert abs(view["skew"] + shift) < 5  # the host's clock minus ours
    word = "behind" if shift > 0 else "ahead"
    assert f"clock 2h 0m {word}" in view["sidebar"]


# -- known good ----------------------------------------------------------------------

KNOWN_GOOD_SECONDS = 20.0
LATE_SLACK = 4.0
"""A history read this long after the release proved itself must mark it."""


def test_known_good_is_marked_on_the_hosts_clock_never_early_nor_late(
        shifted_env: dict[str, str], testbed: Testbed, labelled: DockerResources,
        docker_client: DockerClient, tmp_path: Path) -> None:
    image = testbed.registry_ref(f"{APP_IMAGE}:1.0.0")
    docker_client.images.pull(image)
    old = labelled.container(image, ports={"8080/tcp": ("127.0.0.1", None)})
    wait_for_health(old, "healthy")
    state = tmp_path / "state"
    config = tmp_path / "opsui.toml"
    config.write_text(f'[deploy]\nstate_dir = "{state}"\n'
                      f"known_good_seconds = {KNOWN_GOOD_SECONDS}\n")
    from opsui.backends.local import LocalHost

    connection = LocalHost("local")
    connection.connect()
    try:
        deploy = DeploySettings(state_dir=str(state), gate_timeout=40.0,
                                known_good_seconds=KNOWN_GOOD_SECONDS)
        releases = AppReleases("local", connection.engine, connection.prober,
                               connection.files, ActionGate(), Config(deploy=deploy),
                               connection.image_tags)
        app = releases.resolve(str(old.name))
        assert releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True) == OK
        serving = app.serving(connection.engine.list_containers())
        assert serving is not None
    finally:
        connection.close()
    new = docker_client.containers.get(serving.id)
    labelled.track(new)
    since_start = started(new)

    def history() -> tuple[float, float, list[dict[str, Any]]]:
        """(host uptime before, after, good records of the new release)."""
        before = (datetime.now(UTC) - since_start).total_seconds()
        result = opsui(shifted_env, tmp_path, "--config", str(config), "--host", "local",
                       "history", str(old.name), "--json")
        after = (datetime.now(UTC) - since_start).total_seconds()
        assert result.returncode == 0, result.stderr
        return before, after, good_lines(state, str(new.id))

    before, after, good = history()  # seconds after the deploy
    assert after < KNOWN_GOOD_SECONDS, "the deploy took too long to test 'early'"
    assert good == [], f"marked known good after {after:.0f} s up"
    deadline = time.monotonic() + KNOWN_GOOD_SECONDS + 60
    while not good:
        assert time.monotonic() < deadline, "never marked known good"
        before, after, good = history()
        assert good or before < KNOWN_GOOD_SECONDS + LATE_SLACK, \
            f"not marked known good at {before:.0f} s up"
    (record,) = good
    assert KNOWN_GOOD_SECONDS <= record["up_seconds"] <= after + 1
    at = datetime.fromisoformat(record["at"])
    assert abs((at - since_start).total_seconds() - record["up_seconds"]) <= 2  # host time


def good_lines(state: Path, container_id: str) -> list[dict[str, Any]]:
    """The journal's "good" records for ``container_id``."""
    found = []
    for path in state.rglob("*"):
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("type") == "good" \
                    and record.get("container") == container_id:
                found.append(record)
    return found


# -- ps --json -------------------------------------------------------------------------


def test_ps_json_says_how_far_the_hosts_clock_is_off(
        shift: float, shifted_env: dict[str, str], make_container: Callable[..., Container],
        tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    result = opsui(shifted_env, tmp_path, "--host", "local", "ps", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert abs(rows[container.name]["clock_skew_seconds"] + shift) < 5


def test_ps_json_over_ssh_reads_the_remote_engines_clock(
        shift: float, shifted_env: dict[str, str], make_container: Callable[..., Container],
        testbed: Testbed, tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    config = tmp_path / "opsui.toml"
    config.write_text(f'[ssh]\nconfig = "{testbed.ssh_config}"\n'
                      f'known_hosts = "{testbed.ssh_known_hosts}"\n'
                      f'[hosts.test]\nssh = "{testbed.ssh_url}"\n')
    result = opsui(shifted_env, tmp_path, "--config", str(config), "--host", "test",
                   "ps", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows[container.name]["host"] == "test"
    assert abs(rows[container.name]["clock_skew_seconds"] + shift) < 5
