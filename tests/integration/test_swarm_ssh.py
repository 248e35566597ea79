"""A Swarm manager reached over SSH (scripts/testbed/swarm.sh, issue 15).

An operator's usual path to a swarm is ``ssh manager``: the bed runs an sshd in node
1's network namespace whose sessions talk to node 1's engine, behind a port on the
host's loopback. Through it, ``opsui tasks`` lists the tasks on all three nodes and
``opsui logs SERVICE`` merges their lines, as they do over the manager's socket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import DockerResources
from .helpers import wait_until
from .swarm_bed import SwarmBed
from .test_swarm_service_logs import LINE, talking_service


def over_ssh(swarm_bed: SwarmBed, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``opsui`` with ``--host`` node 1's ssh_config alias, nothing else."""
    config = tmp_path / "opsui.toml"
    config.write_text(f'[ssh]\nconfig = "{swarm_bed.ssh.ssh_config}"\n'
                      f'known_hosts = "{swarm_bed.ssh.known_hosts}"\n')
    command, *rest = args
    return subprocess.run([sys.executable, "-m", "opsui", command, "--config", str(config),
                           "--host", swarm_bed.ssh.host, *rest], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60, env=os.environ)


def test_tasks_and_logs_across_the_nodes_over_ssh_to_a_manager(
        swarm_bed: SwarmBed, swarm_resources: DockerResources, tmp_path: Path) -> None:
    name = talking_service(swarm_resources, per_node=1)  # one task on each node
    every_node = {n.hostname for n in swarm_bed.nodes}

    def spread() -> dict[str, Any] | None:
        done = over_ssh(swarm_bed, tmp_path, "tasks", name, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        shown: dict[str, Any] = json.loads(done.stdout)
        [service] = shown["services"]
        running = {t["node"] for t in service["tasks"]
                   if t["desired_state"] == "running" and t["state"] == "running"}
        return shown if running == every_node else None

    shown = wait_until(spread, timeout=90, interval=0.5,
                       message=f"{name}'s tasks running on the three nodes, over ssh")
    assert shown["manager"] == swarm_bed.node(1).hostname  # the sshd's own engine
    assert {n["hostname"]: n["state"] for n in shown["nodes"]} == {
        h: "ready" for h in every_node}

    def said_by_every_node() -> list[str] | None:
        done = over_ssh(swarm_bed, tmp_path, "logs", name, "--tail", "5")
        assert done.returncode == 0, done.stderr
        found = [m for m in map(LINE.match, done.stdout.splitlines()) if m is not None]
        return done.stdout.splitlines() if {m["said"] for m in found} == every_node else None

    lines = wait_until(said_by_every_node, timeout=60, interval=0.5,
                       message=f"lines of {name} from the three nodes, over ssh")
    # Each line tagged with the node it really came from.
    for line in lines:
        match = LINE.match(line)
        assert match is not None, line
        assert match["node"] == match["said"], line
