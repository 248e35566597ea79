"""What the compose drift watch costs per check of an app whose files did not change.

The dashboard checks every released compose app every 15-60 s (issue 14). This makes
a one-service compose project of its own (the test bed's docker-compose 1.x, app
1.0.0 from the anonymous registry; down at the end), and checks it ``--checks`` times
the way the watch does (a facade built per check over the host connection's runner,
:meth:`ComposeAgreement.check`), locally and over the test bed's sshd, printing per
check: the commands run on the host (compose, other), the wall time, and the CPU of
this process and of its ended subprocesses (locally: compose itself; over SSH compose
runs under the sshd, so that column is empty and the commands say what the host ran).
Another tree (e.g. a ``git worktree`` of an older commit) is measured with
``PYTHONPATH=TREE``. Run (test bed up, with its stack: docker-compose):

    .venv/bin/python bench/compose_watch.py [--checks 10] [--no-ssh]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.helpers import Testbed, load_testbed
from integration.test_compose_agreement import compose_project

from opsui.backends.compose_host import ShellComposeHost
from opsui.backends.local import LocalHost
from opsui.domain.operations.compose_pin import ComposeAgreement
from opsui.domain.ports import CommandResult, CommandRunner, HostConnection


class Counting:
    """The connection's runner, counting the commands it runs."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner
        self.compose = self.other = 0

    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        if "docker-compose" in argv:
            self.compose += 1
        else:
            self.other += 1
        return self.runner.run(argv, timeout, stdin)


def measure(host: HostConnection, container_id: str, checks: int) -> str:
    runner = Counting(host.runner)
    container = host.engine.get_container(container_id)
    assert container is not None
    ComposeAgreement(ShellComposeHost(runner, host.name), None).check(container)  # warm
    ComposeAgreement(ShellComposeHost(runner, host.name), None).check(container)
    runner.compose = runner.other = 0
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    for _ in range(checks):
        check = ComposeAgreement(ShellComposeHost(runner, host.name), None).check(container)
        assert check is not None and check.state == "agrees", check
    wall = time.monotonic() - started
    me2, kids2 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    cpu = me2.ru_utime + me2.ru_stime - me.ru_utime - me.ru_stime
    child = kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
    return (f"per check: {runner.compose / checks:.1f} compose + {runner.other / checks:.1f} "
            f"other commands, {1000 * wall / checks:.0f} ms wall, opsui CPU "
            f"{1000 * cpu / checks:.1f} ms, its subprocesses {1000 * child / checks:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=10)
    parser.add_argument("--no-ssh", action="store_true")
    args = parser.parse_args()
    testbed: Testbed | None = load_testbed()
    if testbed is None:
        raise SystemExit("no test bed: run scripts/testbed/up.sh first")
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="opsui-compose-watch-") as folder, \
            compose_project(f"opsui-watch-{uuid.uuid4().hex[:8]}", Path(folder), testbed,
                            client) as project:
        container_id = str(project.running().id)
        hosts: list[tuple[str, HostConnection]] = [("local", LocalHost("local"))]
        if not args.no_ssh:
            hosts.append(("ssh", testbed.opsui_ssh_host(Path(folder))))
        for name, host in hosts:
            host.connect()
            try:
                print(f"{name}: {measure(host, container_id, args.checks)}", flush=True)
            finally:
                host.close()
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
