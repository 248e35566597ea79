"""The three-node Swarm test bed (scripts/testbed/swarm.sh) as a session fixture.

``swarm_bed`` runs ``swarm.sh up`` (idempotent; needs root for ip netns) the first time
a test asks for it, and ``swarm.sh down`` when the last pytest session using it ends,
if a session brought it up (a bed an engineer started by hand is left running; sessions
sign in under ``$OPSUI_TEST_STATE/swarm-users/``); ``swarm_bed.ssh`` is node 1's
sshd, the SSH path to a manager. It skips
without root or dockerd; under ``OPSUI_REQUIRE_DOCKER=1`` (CI) that skip is a failure
(tests/conftest.py). ``swarm_resources`` makes labelled services on node 1 (a manager)
and removes them, even when the test fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .helpers import Testbed

if TYPE_CHECKING:
    from docker import DockerClient

    from .conftest import DockerResources

ROOT = Path(__file__).resolve().parents[2]
SWARM_SH = ROOT / "scripts" / "testbed" / "swarm.sh"


@dataclass(frozen=True)
class SwarmNode:
    number: int
    hostname: str
    """The node's hostname, which is its name in the swarm (its network namespace's)."""
    url: str
    address: str


@dataclass(frozen=True)
class SwarmSsh:
    """Node 1's sshd (inside its network namespace, behind a host loopback port)."""

    host: str
    """The ssh_config alias of node 1 (``opsui-sw1``)."""
    ssh_config: Path
    known_hosts: Path


@dataclass(frozen=True)
class SwarmBed:
    state_dir: Path
    nodes: tuple[SwarmNode, ...]
    ssh: SwarmSsh

    def _run(self, *args: str, timeout: float = 300) -> None:
        env = {**os.environ, "OPSUI_TEST_STATE": str(self.state_dir)}
        done = subprocess.run(["bash", str(SWARM_SH), *args], capture_output=True, text=True,
                              env=env, timeout=timeout, check=False)
        assert done.returncode == 0, f"swarm.sh {' '.join(args)}: {done.stderr}"

    def node(self, number: int) -> SwarmNode:
        return self.nodes[number - 1]

    def client(self, number: int = 1) -> DockerClient:
        import docker

        return docker.DockerClient(base_url=self.node(number).url, timeout=30)

    def kill(self, number: int) -> None:
        """SIGKILL node ``number``'s dockerd: the node crashes."""
        self._run("kill", str(number), timeout=60)

    def revive(self) -> None:
        """Start every node that is down again; it rejoins the swarm."""
        self._run("up")

    def all_up(self) -> bool:
        return _bed_is_up({**os.environ, "OPSUI_TEST_STATE": str(self.state_dir)})


def _read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = value.strip('"')
    return values


def _bed_is_up(env: dict[str, str]) -> bool:
    done = subprocess.run(["bash", str(SWARM_SH), "status"], capture_output=True, env=env,
                          timeout=60, check=False)
    return done.returncode == 0


@pytest.fixture(scope="session")
def swarm_bed(testbed: Testbed, docker_client: DockerClient) -> Iterator[SwarmBed]:
    """Three dockerd in their own network namespaces, joined as a swarm of 3 managers."""
    if os.geteuid() != 0:
        pytest.skip("the swarm test bed needs root (ip netns): scripts/testbed/swarm.sh up")
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd not installed: run scripts/testbed/up.sh")
    state = testbed.state_dir
    env = {**os.environ, "OPSUI_TEST_STATE": str(state)}
    users = state / "swarm-users"
    with _users_lock(state):
        brought_up = not _bed_is_up(env)
        done = subprocess.run(["bash", str(SWARM_SH), "up"], capture_output=True, text=True,
                              env=env, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        users.mkdir(exist_ok=True)
        if brought_up:
            (users / "by-session").touch()
        (users / str(os.getpid())).touch()
    values = _read_env(state / "swarm.env")
    nodes = tuple(
        SwarmNode(n, values[f"OPSUI_TEST_SWARM_NAME_{n}"], values[f"OPSUI_TEST_SWARM_HOST_{n}"],
                  values[f"OPSUI_TEST_SWARM_ADDR_{n}"])
        for n in (1, 2, 3))
    ssh = SwarmSsh(values["OPSUI_TEST_SWARM_SSH_HOST"],
                   Path(values["OPSUI_TEST_SWARM_SSH_CONFIG"]),
                   Path(values["OPSUI_TEST_SWARM_KNOWN_HOSTS"]))
    try:
        yield SwarmBed(state, nodes, ssh)
    finally:
        # The last session using a bed that a session brought up takes it down; a bed
        # started by hand (no "by-session") is left running.
        with _users_lock(state):
            (users / str(os.getpid())).unlink(missing_ok=True)
            others = [p for p in users.glob("[0-9]*") if _alive(int(p.name))]
            if not others and (users / "by-session").exists():
                subprocess.run(["bash", str(SWARM_SH), "down"], capture_output=True, env=env,
                               timeout=300, check=False)
                shutil.rmtree(users, ignore_errors=True)


@contextlib.contextmanager
def _users_lock(state: Path) -> Iterator[None]:
    """Serialises the sessions that bring the bed up and take it down."""
    state.mkdir(parents=True, exist_ok=True)
    with open(state / ".swarm-users.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture
def swarm_resources(swarm_bed: SwarmBed) -> Iterator[DockerResources]:
    """Labelled services made through node 1, removed at teardown (a node killed by the
    test is started again first, so the next test finds three nodes)."""
    from .conftest import DockerResources

    client = swarm_bed.client(1)
    resources = DockerResources(client)
    try:
        yield resources
    finally:
        with contextlib.suppress(Exception):
            if not swarm_bed.all_up():
                swarm_bed.revive()
        resources.cleanup()
        client.close()
