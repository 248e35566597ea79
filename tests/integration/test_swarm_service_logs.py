"""A Swarm service's logs merged across the nodes of a real three-node swarm (issue 15).

``opsui logs SERVICE`` against one manager prints every task's lines, whichever node
runs it, each tagged ``SERVICE.slot@node``; followed, it keeps going when a node's
engine dies and shows the lines of the task that replaced the lost one on another node.
Each task writes its node's hostname in its lines, so a tag can be checked against
where the line really came from.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker.types
import pytest

from .conftest import DockerResources
from .helpers import APP_HEALTHY, wait_until
from .swarm_bed import SwarmBed

TALKER = ["sh", "-c", 'i=0; while true; do i=$((i+1)); echo "line $i from $(hostname)"; '
          "sleep 0.3; done"]
"""Each task says which node it runs on: the service's hostname is its node's."""


def talking_service(resources: DockerResources, per_node: int) -> str:
    svc = resources.service(
        APP_HEALTHY, TALKER, mode=docker.types.ServiceMode("replicated", 3),
        maxreplicas=per_node, hostname="{{.Node.Hostname}}",
        healthcheck=docker.types.Healthcheck(test=["NONE"]))  # no httpd runs: no check
    return str(svc.name)


def config_for(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "opsui.toml"
    config.write_text(f'[hosts.sw]\ndocker_host = "{url}"\n')
    return config


def opsui_logs(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "opsui", "logs", "--config", str(config), "--host", "sw",
            *args]


LINE = re.compile(r"^(?P<task>[\w-]+\.(?P<slot>\d+))@(?P<node>[\w-]+) \| line \d+ from "
                  r"(?P<said>[\w-]+)$")


@dataclass
class Following:
    """``opsui logs -f`` running, its stdout and stderr lines collected as they come."""

    process: subprocess.Popen[str]
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def collect(self) -> None:
        assert self.process.stdout is not None and self.process.stderr is not None
        for stream, into in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=lambda s=stream, i=into: i.extend(iter(s.readline, "")),
                             daemon=True).start()

    def tagged(self) -> list[re.Match[str]]:
        return [m for m in map(LINE.match, (line.rstrip("\n") for line in list(self.out)))
                if m is not None]


@pytest.fixture
def following(tmp_path: Path) -> Iterator[list[Following]]:
    started: list[Following] = []
    yield started
    for follow in started:
        if follow.process.poll() is None:
            follow.process.send_signal(signal.SIGINT)
            try:
                follow.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                follow.process.kill()
                follow.process.wait()


def start_following(started: list[Following], config: Path, name: str) -> Following:
    process = subprocess.Popen(opsui_logs(config, name, "-f", "--tail", "0"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL, env=os.environ)
    follow = Following(process)
    started.append(follow)
    follow.collect()
    return follow


def test_opsui_logs_of_a_service_shows_lines_from_every_node(
        swarm_bed: SwarmBed, swarm_resources: DockerResources, tmp_path: Path,
        following: list[Following]) -> None:
    name = talking_service(swarm_resources, per_node=1)  # one task on each node
    config = config_for(tmp_path, swarm_bed.node(1).url)
    every_node = {n.hostname for n in swarm_bed.nodes}

    def all_nodes_said_something() -> list[re.Match[str]] | None:
        done = subprocess.run(opsui_logs(config, name, "--tail", "5"), capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=60, env=os.environ)
        assert done.returncode == 0, done.stderr
        lines = [LINE.match(line) for line in done.stdout.splitlines()]
        assert all(lines), done.stdout  # every line tagged with its task
        found = [m for m in lines if m is not None]
        return found if {m["said"] for m in found} == every_node else None

    lines = wait_until(all_nodes_said_something, timeout=90,
                       message=f"lines of {name} from the three nodes")
    # Each line is tagged with the task and the node that wrote it.
    for line in lines:
        assert line["node"] == line["said"]
        assert line["task"].startswith(f"{name}.")
    assert {m["task"] for m in lines} == {f"{name}.1", f"{name}.2", f"{name}.3"}

    # Followed: new lines from the three nodes arrive, tagged the same way.
    follow = start_following(following, config, name)
    wait_until(lambda: {m["said"] for m in follow.tagged()} == every_node or None, timeout=60,
               message=lambda: f"followed lines from every node; got {follow.out[-5:]} "
                               f"{follow.err}")
    assert all(m["node"] == m["said"] for m in follow.tagged())
    assert follow.process.poll() is None


def test_following_a_service_goes_on_across_a_killed_node(
        swarm_bed: SwarmBed, swarm_resources: DockerResources, tmp_path: Path,
        following: list[Following]) -> None:
    # At most two per node: a task runs off node 1, and two nodes can hold all three.
    name = talking_service(swarm_resources, per_node=2)
    config = config_for(tmp_path, swarm_bed.node(1).url)
    follow = start_following(following, config, name)

    def three_tasks() -> dict[str, str] | None:
        where = {m["task"]: m["node"] for m in follow.tagged()}
        return where if len(where) == 3 else None

    where = wait_until(three_tasks, timeout=90,
                       message=lambda: f"lines of the three tasks; got {follow.out[-5:]} "
                                       f"{follow.err}")
    victim = next(n for n in reversed(swarm_bed.nodes)
                  if n.number != 1 and n.hostname in where.values())
    lost = sorted(task for task, node in where.items() if node == victim.hostname)
    seen = len(follow.out)

    swarm_bed.kill(victim.number)

    def replaced() -> set[str] | None:
        after = [m for m in map(LINE.match, (line.rstrip("\n") for line in follow.out[seen:]))
                 if m is not None]
        back = {m["task"] for m in after if m["task"] in lost and m["node"] != victim.hostname}
        return back if back == set(lost) else None

    wait_until(replaced, timeout=120,
               message=lambda: f"{lost} again from another node than {victim.hostname}; "
                               f"got {follow.out[-5:]} {follow.err}")
    # The stream never stopped, and opsui said what happened, on stderr.
    assert follow.process.poll() is None, follow.err

    def said() -> bool | None:
        err = list(follow.err)
        down = any(f"node {victim.hostname} is down" in line for line in err)
        moved = all(any(f"{task}@{victim.hostname} replaced by {task}@" in line
                        for line in err) for task in lost)
        return (down and moved) or None

    wait_until(said, timeout=60,
               message=lambda: f"the node-down and replaced notes; got {follow.err}")
    # Lines after the kill keep their true tags: the replacement's node wrote them.
    assert all(m["node"] == m["said"] for m in follow.tagged())



class ManagerRelay:
    """A unix socket that passes every connection on to a manager's socket: opsui's
    only way to the manager, which the test cuts (the manager gone, as opsui sees it:
    open streams end, new connections are refused) without touching the shared bed,
    where another session's ``swarm.sh up`` would bring a killed node back."""

    def __init__(self, path: Path, target: str) -> None:
        self.path = path
        self.target = target.removeprefix("unix://")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(16)
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # cut
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        self.listener.close()
        self.path.unlink(missing_ok=True)
        for sock in self.open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_following_ends_saying_so_when_the_manager_is_lost(
        swarm_bed: SwarmBed, swarm_resources: DockerResources, tmp_path: Path,
        following: list[Following]) -> None:
    name = talking_service(swarm_resources, per_node=1)
    relay = ManagerRelay(tmp_path / "manager.sock", swarm_bed.node(2).url)
    follow = start_following(following, config_for(tmp_path, relay.url), name)
    wait_until(lambda: len({m["said"] for m in follow.tagged()}) == 3 or None, timeout=90,
               message=lambda: f"lines of the three tasks; got {follow.out[-5:]} {follow.err}")

    relay.cut()

    # No hang: it retries for a while, then ends as a host that cannot be reached.
    assert follow.process.wait(timeout=120) == 3, follow.err
    wait_until(lambda: any("lost the Swarm manager" in line for line in follow.err) or None,
               timeout=10, message=lambda: f"the reason on stderr; got {follow.err}")
    assert any("opsui: lost the manager" in line for line in follow.err), follow.err
