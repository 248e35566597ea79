"""The launch path (issue 14): the dashboard's first frame waits for nothing it does not show.

A local launch imports no headless command group, no screen but the dashboard, and no
paramiko; a command line imports its own group only; a session's polls start after its
first list. Checked on what gets loaded and in which order, never on timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from opsui.cli import COMMAND_GROUPS, build_parser
from opsui.domain.host_clock import FixedClock
from opsui.domain.models import Container, HostMetrics
from opsui.domain.monitor import HostMonitor, wait_for
from opsui.domain.operations.gate import ActionGate

from fakes import FAST, FakeConnection, FakeEngine, container

LAUNCH = """
import json, sys, threading
import textual.app

def run(self, *args, **kwargs):  # the app is built; its first frame would come next
    for thread in threading.enumerate():
        if thread.name == "monitors-start":
            thread.join(30)
    print(json.dumps(sorted(n for n, m in sys.modules.items() if m is not None)))

textual.app.App.run = run
from opsui.cli import main
main(sys.argv[1:])
"""


def _loaded_by(argv: list[str], tmp_path: Path, code: str = LAUNCH) -> set[str]:
    """The modules a fresh ``opsui ARGV`` has loaded by the time the app would run."""
    config = tmp_path / "opsui.toml"
    config.write_text("")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_STATE_HOME": str(tmp_path / "state"),
           "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code, "--config", str(config), *argv],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_local_launch_loads_only_what_the_first_frame_needs(tmp_path: Path) -> None:
    loaded = _loaded_by(["--host", "local"], tmp_path)
    assert {"opsui.ui.app", "opsui.ui.screens.dashboard"} <= loaded  # it launched
    deferred = {
        "opsui.cli.backups", "opsui.cli.releases", "opsui.cli.containers", "opsui.cli.logs",
        "opsui.ui.screens.backups", "opsui.ui.screens.deploy", "opsui.ui.screens.history",
        "opsui.ui.screens.release_run", "opsui.ui.screens.rollback",
        "opsui.ui.screens.logs", "opsui.ui.screens.detail", "opsui.ui.screens.help",
        "paramiko",
        # the release and backup operations load with the first action, after the rows
        "opsui.domain.operations.app_releases", "opsui.domain.operations.app_backups",
        "opsui.domain.operations.deploy", "opsui.domain.operations.rollback",
        "opsui.domain.operations.multi_host", "opsui.domain.operations.swarm_deploy",
        "opsui.ui.sessions", "opsui.ui.multi_host_session",
    }
    assert loaded & deferred == set()


def test_a_command_loads_its_own_group_only(tmp_path: Path) -> None:
    code = LAUNCH.replace("textual.app.App.run = run", "") .replace(
        "main(sys.argv[1:])",
        "from opsui.cli import build_parser\nbuild_parser(sys.argv[1:])\n"
        "print(json.dumps(sorted(n for n, m in sys.modules.items() if m is not None)))")
    loaded = _loaded_by(["ps"], tmp_path, code)
    assert "opsui.cli.containers" in loaded
    assert loaded & {"opsui.cli.backups", "opsui.cli.releases", "opsui.cli.logs"} == set()


def test_the_command_groups_name_every_subcommand() -> None:
    """COMMAND_GROUPS decides what argv loads: it must know every command a group adds."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    choices: Any = sub.choices
    named = {name for _, names in COMMAND_GROUPS.values() for name in names}
    assert set(choices) == named | {"check-config"}
    for group, (_, names) in COMMAND_GROUPS.items():
        for name in names:  # a command line naming it builds its real parser
            chosen: Any = next(a for a in build_parser([name])._actions
                               if a.dest == "command").choices
            assert chosen[name].get_default("handler") is not None, (group, name)


class _Recorder:
    """Listener keeping the order of snapshots and metrics samples."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def containers_snapshot(self, host: str, containers: list[Container]) -> None:
        self.calls.append("snapshot")

    def host_metrics(self, host: str, metrics: HostMetrics) -> None:
        self.calls.append("metrics")

    def __getattr__(self, name: str) -> Any:
        return lambda *args: None


def test_a_sessions_polls_wait_for_its_first_list() -> None:
    listing = threading.Event()
    release = threading.Event()

    class SlowList(FakeEngine):
        def list_containers(self) -> list[Container]:
            listing.set()
            release.wait(10)
            return super().list_containers()

    listener = _Recorder()
    monitor = HostMonitor(FakeConnection("local", SlowList([container("a1", "one")])),
                          listener, ActionGate(), FAST)
    monitor.start()
    try:
        assert wait_for(listing.is_set, 5)
        assert not wait_for(lambda: "metrics" in listener.calls, 0.3)  # held back
        release.set()
        assert wait_for(lambda: "metrics" in listener.calls, 5)
        assert listener.calls.index("snapshot") < listener.calls.index("metrics")
    finally:
        release.set()
        monitor.stop(timeout=2)


def test_the_first_list_does_not_wait_for_the_hosts_clock() -> None:
    """An engine with a stuck container answers the list at once and /info not at all:
    the rows must come anyway, the clock's skew when it answers."""
    answered = threading.Event()

    class StuckInfo(FixedClock):
        def measure(self) -> float:
            answered.wait(10)
            return super().measure()

    engine = FakeEngine([container("a1", "one")])
    engine.clock = StuckInfo(7200.0)
    listener = _Recorder()
    monitor = HostMonitor(FakeConnection("local", engine), listener, ActionGate(), FAST)
    monitor.start()
    try:
        assert wait_for(lambda: "snapshot" in listener.calls, 5)
        assert monitor.status.clock_skew is None  # not read yet: nothing waited for it
        answered.set()
        assert wait_for(lambda: monitor.status.clock_skew == 7200.0, 5)
    finally:
        answered.set()
        monitor.stop(timeout=2)
