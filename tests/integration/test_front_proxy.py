"""Issue 13: an app publishing a fixed host port, moved behind a front proxy by
``opsui front``, then released and rolled back with no failed request, and moved back.

Real parts: the test bed's nginx and HAProxy images (``opsui-test/nginx:1``,
``opsui-test/haproxy:1``), a container of the test app publishing 127.0.0.1:PORT->8080,
a steady request load on that port, and the real ``opsui`` CLI against the local engine
(and through the test sshd for the move itself).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from .helpers import (
    APP_HEALTHY,
    DEFAULT_STATE_DIR,
    TEST_LABEL_KEY,
    free_port,
    unique_name,
    version_on,
    wait_until,
)
from .request_load import steady_load

pytestmark = pytest.mark.testbed_stack

REPO = Path(__file__).resolve().parents[2]
IMAGES = {"nginx": "opsui-test/nginx:1", "haproxy": "opsui-test/haproxy:1"}


def _env_file(state: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        lines = (state / "env").read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = value
    return {**values, **{k: v for k, v in os.environ.items() if k.startswith("OPSUI_TEST")}}


class FrontBed:
    """One app container on a fixed port, opsui configured with a front proxy."""

    def __init__(self, tmp: Path, kind: str, where: str = "local") -> None:
        self.client = docker.from_env()
        for image in IMAGES.values():
            try:
                self.client.images.get(image)
            except docker.errors.ImageNotFound:
                pytest.skip("run scripts/testbed/up.sh --stack (the proxy images)")
        self.name = unique_name("opsui-front")
        self.proxy = f"opsui-front-{self.name}"
        self.network = f"{self.name}-net"
        self.port = free_port()
        # Labelled as opsui's front network (so --undo removes it) and as the test's.
        self.client.networks.create(self.network, driver="bridge", labels={
            TEST_LABEL_KEY: "1", "opsui.front.network": "1"})
        registry = os.environ.get("OPSUI_TEST_REGISTRY", "127.0.0.1:5000")
        self.client.containers.run(f"{registry}/{APP_HEALTHY}", name=self.name, detach=True,
                                   labels={TEST_LABEL_KEY: "1"},
                                   ports={"8080/tcp": ("127.0.0.1", self.port)})
        wait_until(lambda: version_on(self.port) == "1.0.0", timeout=30,
                   message="the app answers on its port")
        host = ""
        if where == "ssh":
            values = _env_file(Path(os.environ.get("OPSUI_TEST_STATE",
                                                   str(DEFAULT_STATE_DIR))))
            if "OPSUI_TEST_SSH_CONFIG" not in values:
                pytest.skip("no test sshd")
            host = (f'[ssh]\nconfig = "{values["OPSUI_TEST_SSH_CONFIG"]}"\n'
                    f'known_hosts = "{values["OPSUI_TEST_SSH_KNOWN_HOSTS"]}"\n\n'
                    f'[hosts.bed]\nssh = "ssh://{values["OPSUI_TEST_SSH_USER"]}@'
                    f'{values["OPSUI_TEST_SSH_HOST"]}:{values["OPSUI_TEST_SSH_PORT"]}"\n\n')
        self.host_args = ("--host", "bed") if where == "ssh" else ()
        self.config = tmp / "opsui.toml"
        self.config.write_text(
            f'[deploy]\nstate_dir = "{tmp / "state"}"\ndrain_seconds = 3\n'
            f"gate_timeout = 30\n\n{host}"
            f'[front_proxy]\nimage = "{IMAGES[kind]}"\nnetwork = "{self.network}"\n')

    def opsui(self, *args: str) -> tuple[bool, str]:
        done = subprocess.run([sys.executable, "-m", "opsui", "--config", str(self.config),
                               *self.host_args, *args], capture_output=True, text=True,
                              check=False, timeout=600, cwd=REPO)
        return done.returncode == 0, done.stdout + done.stderr

    def ours(self) -> list[Any]:
        return [c for c in self.client.containers.list(
            all=True, filters={"label": f"{TEST_LABEL_KEY}=1", "name": self.name})
            if c.name == self.proxy or c.name == self.name
            or str(c.name).startswith(f"{self.name}.")]

    def container(self, name: str) -> Any:
        return self.client.containers.get(name)

    def networks_of(self, name: str) -> dict[str, Any]:
        return dict(self.container(name).attrs["NetworkSettings"]["Networks"])

    def bindings_of(self, name: str) -> dict[str, Any]:
        return dict(self.container(name).attrs["HostConfig"]["PortBindings"] or {})

    def down(self) -> None:
        for container in self.ours():
            container.remove(force=True)
        for network in self.client.networks.list(names=[self.network]):
            if network.name == self.network:
                network.remove()
        self.client.close()


@pytest.fixture(params=["nginx", "haproxy"])
def bed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FrontBed]:
    front = FrontBed(tmp_path, request.param)
    try:
        yield front
    finally:
        front.down()


def test_front_then_deploy_and_rollback_fail_no_request_and_undo_gives_the_port_back(
        bed: FrontBed) -> None:
    ok, preview = bed.opsui("front", bed.name, "--yes")
    assert ok, preview
    for said in (f"127.0.0.1:{bed.port}->8080/tcp", bed.proxy, bed.network,
                 f"alias {bed.name}-front", "ONE short interruption", "start-first with drain",
                 f"opsui front {bed.name} --undo", "the port was not answered for"):
        assert said in preview, said
    assert version_on(bed.port) == "1.0.0"
    assert bed.bindings_of(bed.name) == {}  # the app publishes nothing itself
    assert bed.container(bed.proxy).status == "running"
    assert f"{bed.name}-front" in bed.networks_of(bed.name)[bed.network]["Aliases"]

    url = f"http://127.0.0.1:{bed.port}/api/version"
    with steady_load(url, rate=40) as load:
        start = load.mark()
        ok, output = bed.opsui("deploy", bed.name, "2.0.0", "--yes")
        assert ok, output
        assert "start-first" in output, output
        wait_until(lambda: version_on(bed.port) == "2.0.0", timeout=10,
                   message="the proxy follows to 2.0.0")
        deploy_failures = load.failures(start, load.mark())
        start = load.mark()
        ok, output = bed.opsui("rollback", bed.name, "--yes")
        assert ok, output
        wait_until(lambda: version_on(bed.port) == "1.0.0", timeout=10,
                   message="the proxy follows back to 1.0.0")
        rollback_failures = load.failures(start, load.mark())
        answered = {a.version for a in load.between(0.0) if not a.failed}
    assert deploy_failures == [], deploy_failures[:5]
    assert rollback_failures == [], rollback_failures[:5]
    assert {"1.0.0", "2.0.0"} <= answered

    ok, output = bed.opsui("front", bed.name, "--undo", "--yes")
    assert ok, output
    assert version_on(bed.port) == "1.0.0"
    assert bed.bindings_of(bed.name) == {"8080/tcp": [{"HostIp": "127.0.0.1",
                                                       "HostPort": str(bed.port)}]}
    assert bed.network not in bed.networks_of(bed.name)
    assert bed.proxy not in [c.name for c in bed.ours()]
    assert not [n for n in bed.client.networks.list(names=[bed.network])
                if n.name == bed.network]


@pytest.fixture
def nginx_bed(tmp_path: Path) -> Iterator[FrontBed]:
    front = FrontBed(tmp_path, "nginx")
    try:
        yield front
    finally:
        front.down()


def test_a_release_kept_before_the_move_is_a_rollback_target_behind_the_proxy_and_after_undo(
        nginx_bed: FrontBed) -> None:
    bed = nginx_bed
    ok, output = bed.opsui("deploy", bed.name, "2.0.0", "--yes")  # stop-first: fixed port
    assert ok, output
    assert "stop-first" in output
    assert version_on(bed.port) == "2.0.0"
    ok, output = bed.opsui("front", bed.name, "--yes")
    assert ok, output
    assert "kept releases re-made without the ports" in output  # the 1.0.0 kept one
    ok, history = bed.opsui("history", bed.name)
    assert ok, history
    assert "NOT SERVING" not in history  # the copy answers for release 2.0.0

    with steady_load(f"http://127.0.0.1:{bed.port}/api/version", rate=40) as load:
        start = load.mark()
        ok, output = bed.opsui("rollback", bed.name, "--yes")
        assert ok, output
        assert "start-first" in output, output
        wait_until(lambda: version_on(bed.port) == "1.0.0", timeout=10,
                   message="the proxy follows back to 1.0.0")
        failures = load.failures(start, load.mark())
    assert failures == [], failures[:5]

    ok, output = bed.opsui("front", bed.name, "--undo", "--yes")
    assert ok, output
    assert version_on(bed.port) == "1.0.0"
    ok, output = bed.opsui("deploy", bed.name, "2.0.0", "--yes")  # stop-first again
    assert ok, output
    assert "stop-first" in output
    assert version_on(bed.port) == "2.0.0"
    ok, output = bed.opsui("rollback", bed.name, "--yes")  # a kept one with the port
    assert ok, output
    assert version_on(bed.port) == "1.0.0"


@pytest.fixture
def ssh_bed(tmp_path: Path) -> Iterator[FrontBed]:
    front = FrontBed(tmp_path, "nginx", where="ssh")
    try:
        yield front
    finally:
        front.down()


def test_the_move_and_its_undo_over_ssh(ssh_bed: FrontBed) -> None:
    bed = ssh_bed
    ok, output = bed.opsui("front", bed.name, "--yes")
    assert ok, output
    assert f"front {bed.name} on bed" in output
    assert version_on(bed.port) == "1.0.0"
    assert bed.bindings_of(bed.name) == {}
    assert bed.container(bed.proxy).status == "running"
    ok, output = bed.opsui("front", bed.name, "--undo", "--yes")
    assert ok, output
    assert version_on(bed.port) == "1.0.0"
    assert bed.bindings_of(bed.name) == {"8080/tcp": [{"HostIp": "127.0.0.1",
                                                       "HostPort": str(bed.port)}]}
    assert bed.proxy not in [c.name for c in bed.ours()]


@pytest.fixture
def broken_proxy_image() -> Iterator[str]:
    """The test bed's nginx with a command that exits at once: the proxy is created (its
    config folder exists) but does not keep running."""
    import io

    client = docker.from_env()
    tag = f"opsui-test/nginx-broken:{unique_name('t')}"
    dockerfile = (f"FROM {IMAGES['nginx']}\nLABEL {TEST_LABEL_KEY}=1\n"
                  'CMD ["sh", "-c", "echo broken config >&2; exit 1"]\n')
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True,
                        labels={TEST_LABEL_KEY: "1"})
    try:
        yield tag
    finally:
        client.images.remove(tag, force=True)
        client.close()


def test_a_proxy_that_does_not_run_gives_the_port_back_to_the_app_and_leaves_nothing(
        tmp_path: Path, broken_proxy_image: str) -> None:
    bed = FrontBed(tmp_path, "nginx")
    try:
        bed.config.write_text(bed.config.read_text().replace(IMAGES["nginx"],
                                                             broken_proxy_image))
        before = {c.id for c in bed.ours()}
        ok, output = bed.opsui("front", bed.name, "--yes")
        assert not ok, output
        assert "did not keep running" in output
        assert f"{bed.name} started again" in output
        assert "removed what it created" in output
        wait_until(lambda: version_on(bed.port) == "1.0.0", timeout=30,
                   message="the app answers on its port again")
        assert {c.id for c in bed.ours()} == before  # no proxy, no copy left
        assert bed.bindings_of(bed.name) == {"8080/tcp": [{"HostIp": "127.0.0.1",
                                                           "HostPort": str(bed.port)}]}
        ok, history = bed.opsui("history", bed.name)
        assert ok and "front" in history and "failed" in history, history
    finally:
        bed.down()
