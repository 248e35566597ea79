"""Issue 13: a compose app behind nginx released with no failed request, every replica.

A compose project of its own per test (``scripts/testbed/stack.sh up --project ...``:
nginx -> app x2, PostgreSQL, redis, all labelled opsui.test=1, removed after), a steady
request load through nginx (``request_load``), and the real ``opsui deploy`` and
``opsui rollback`` CLI against the local engine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from .helpers import DEFAULT_STATE_DIR
from .request_load import RequestLoad, steady_load

pytestmark = pytest.mark.testbed_stack

REPO = Path(__file__).resolve().parents[2]
STACK_SH = REPO / "scripts" / "testbed" / "stack.sh"
NEEDS_STACK = "run scripts/testbed/up.sh --stack"


def _stack_env(state: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in ("env", "stack.env"):
        try:
            lines = (state / name).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").partition("=")
                values[key] = value
    return {**values, **{k: v for k, v in os.environ.items() if k.startswith("OPSUI_TEST")}}


class Stack:
    """One compose project of the test bed's stack, and opsui configured for its app."""

    PREFIX = "opsui-zd"
    """Of the compose project's name (a test file of its own may name its projects)."""

    def __init__(self, tmp: Path, nginx: str, name_proxy: bool, where: str = "local",
                 front: str = "nginx", drain: float = 3) -> None:
        self.state = Path(os.environ.get("OPSUI_TEST_STATE", str(DEFAULT_STATE_DIR)))
        values = _stack_env(self.state)
        if "OPSUI_TEST_AUTH_REGISTRY" not in values:
            pytest.skip(NEEDS_STACK)
        self.registry = values["OPSUI_TEST_AUTH_REGISTRY"]
        self.project = f"{self.PREFIX}-{uuid.uuid4().hex[:6]}"
        self.client = docker.from_env()
        self._stack("up", "--nginx", nginx, *(("--haproxy",) if front == "haproxy" else ()))
        proxy = (f'proxy = {{ container = "{self.containers("nginx")[0].name}" }}\n'
                 if name_proxy else "")
        host = ""
        if where == "ssh":  # the same engine through the test sshd, as a remote host
            auths = self.state / "docker-config-auths"
            host = (f'[ssh]\nconfig = "{values["OPSUI_TEST_SSH_CONFIG"]}"\n'
                    f'known_hosts = "{values["OPSUI_TEST_SSH_KNOWN_HOSTS"]}"\n\n'
                    f'[hosts.bed]\nssh = "ssh://{values["OPSUI_TEST_SSH_USER"]}@'
                    f'{values["OPSUI_TEST_SSH_HOST"]}:{values["OPSUI_TEST_SSH_PORT"]}"\n'
                    f'docker_config = "{auths}"\n\n')
        self.config = tmp / "opsui.toml"
        self.config.write_text(
            f'[deploy]\nstate_dir = "{tmp / "state"}"\n\n{host}'
            f'[apps.shop]\nservice = "{self.project}/app"\n'
            + ('host = "bed"\n' if where == "ssh" else "")
            + f'image = "{self.registry}/opsui-test/app"\n'
            f"drain_seconds = {drain}\ngate_timeout = 30\n{proxy}")
        port = self.containers(front)[0].attrs["NetworkSettings"]["Ports"]["80/tcp"]
        self.url = f"http://127.0.0.1:{port[0]['HostPort']}/api/version"

    def _stack(self, command: str, *options: str) -> None:
        done = subprocess.run(["bash", str(STACK_SH), command, "--project", self.project,
                               *options], capture_output=True, text=True, check=False,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]

    def down(self) -> None:
        """Kept release copies carry compose's labels hidden (compose down leaves them):
        they go first, then the project."""
        for kept in self.client.containers.list(all=True, filters={"label": [
                f"opsui.hidden.com.docker.compose.project={self.project}", "opsui.test=1"]}):
            kept.remove(force=True)
        self._stack("down")
        self.client.close()

    def containers(self, service: str) -> list[Any]:
        return self.client.containers.list(filters={"label": [
            f"com.docker.compose.project={self.project}",
            f"com.docker.compose.service={service}"]})

    def versions(self) -> list[str]:
        """The tag each running app replica runs, by replica name."""
        return [c.attrs["Config"]["Image"].rsplit(":", 1)[1]
                for c in sorted(self.containers("app"), key=lambda c: c.name)]

    def opsui(self, *args: str) -> tuple[bool, str]:
        done = subprocess.run(self.argv(*args), capture_output=True, text=True, check=False,
                              timeout=600, cwd=REPO, env=self.env())
        return done.returncode == 0, done.stdout + done.stderr

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "opsui", "--config", str(self.config), *args]

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_CONFIG": str(self.state / "docker-config-auths")}


@pytest.fixture(params=["local", "ssh"])
def dynamic(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path, "dynamic", name_proxy=False, where=request.param)
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture
def static(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path, "static", name_proxy=True)
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture
def long_drain(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path, "dynamic", name_proxy=False, drain=20)
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path, "dynamic", name_proxy=False, front="haproxy")
    try:
        yield stack
    finally:
        stack.down()


def _release(stack: Stack, load: RequestLoad, *command: str) -> tuple[bool, str, int]:
    start = load.mark()
    ok, output = stack.opsui(*command)
    return ok, output, len(load.failures(start, load.mark()))


def test_deploy_and_rollback_switch_every_replica_without_a_failed_request(
        dynamic: Stack) -> None:
    assert dynamic.versions() == ["1.0.0", "1.0.0"]
    with steady_load(dynamic.url, rate=25) as load:
        ok, output, failed = _release(dynamic, load, "deploy", "shop", "2.0.0", "--yes")
        assert ok, output
        assert failed == 0, output
        assert dynamic.versions() == ["2.0.0", "2.0.0"]
        assert "replicas: 2 containers" in output  # the plan shown says so
        assert "resolved it once at start" in output
        after = load.mark()
        ok, output, failed = _release(dynamic, load, "rollback", "shop", "--yes")
        assert ok, output
        assert failed == 0, output
        assert dynamic.versions() == ["1.0.0", "1.0.0"]
        served = {a.version for a in load.between(after) if not a.failed}
    assert {"1.0.0", "2.0.0"} <= served
    assert not load.failures()


def test_a_version_failing_its_gate_leaves_every_replica_on_the_old_one(
        dynamic: Stack) -> None:
    with steady_load(dynamic.url, rate=25) as load:
        ok, output, failed = _release(dynamic, load, "deploy", "shop", "3.0.0", "--yes")
        assert not ok, output
        assert dynamic.versions() == ["1.0.0", "1.0.0"]
        assert failed == 0, output
        end = load.mark()
        ok, output = dynamic.opsui("history", "shop")  # a moment of traffic after
    assert "3.0.0" in output
    late = [a.version for a in load.between(end) if not a.failed]
    assert late and set(late) == {"1.0.0"}  # once the deploy said so, only 1.0.0 serves


def test_a_named_static_proxy_is_reloaded_so_the_new_version_gets_the_traffic(
        static: Stack) -> None:
    # a new connection per request: each nginx reload closes its idle keep-alive
    # connections, which a client that does not send again can lose a request to
    # (nginx's, not the switch's: test_static_proxy_reload.py)
    with steady_load(static.url, rate=25, keepalive=False) as load:
        ok, output, failed = _release(static, load, "deploy", "shop", "2.0.0", "--yes")
        assert ok, output
        assert failed == 0, output
        after = load.mark()
        ok, output = static.opsui("history", "shop")  # a moment of traffic after
        served = [a.version for a in load.between(after) if not a.failed]
        ok, output, failed = _release(static, load, "rollback", "shop", "--yes")
        assert ok, output
        assert failed == 0, output
    assert served and set(served) == {"2.0.0"}
    assert static.versions() == ["1.0.0", "1.0.0"]


def test_haproxy_re_resolving_the_alias_loses_no_request_either(haproxy: Stack) -> None:
    with steady_load(haproxy.url, rate=25) as load:
        ok, output, failed = _release(haproxy, load, "deploy", "shop", "2.0.0", "--yes")
        assert ok, output
        assert failed == 0, output
        assert haproxy.versions() == ["2.0.0", "2.0.0"]
        ok, output, failed = _release(haproxy, load, "rollback", "shop", "--yes")
        assert ok, output
        assert failed == 0, output
    assert haproxy.versions() == ["1.0.0", "1.0.0"]


def test_ctrl_c_during_a_drain_returns_the_switched_replica_without_a_failed_request(
        long_drain: Stack) -> None:
    """Ctrl-C while the first replica drains: the drain ends at once, and with a replica
    still to do the rollout goes back (the new container drains in turn): both
    replicas on 1.0.0, cancelled."""
    with steady_load(long_drain.url, rate=25) as load:
        start = load.mark()
        run = subprocess.Popen(long_drain.argv("deploy", "shop", "2.0.0", "--yes"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=REPO, env=long_drain.env())
        assert run.stdout is not None
        seen: list[str] = []
        for line in run.stdout:
            seen.append(line)
            if "… drain (" in line:
                run.send_signal(signal.SIGINT)
                break
        rest, _ = run.communicate(timeout=300)
        output = "".join(seen) + rest
        assert run.returncode != 0, output
        assert "cancelled" in output, output
        assert "cancelled by the operator during the drain" in output, output
        assert not load.failures(start), output
    assert long_drain.versions() == ["1.0.0", "1.0.0"], output
