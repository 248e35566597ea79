"""The test bed itself works: real engine, images, registry, PostgreSQL, SSH, second engine.

If these fail, every other integration test's failure is suspect: fix the bed first
(scripts/testbed/up.sh).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from docker import DockerClient
from docker.models.containers import Container

from .helpers import (
    APP_CRASH_EXIT_CODE,
    APP_CRASHING,
    APP_HEALTHY,
    APP_IMAGE,
    APP_PORT,
    APP_TAGS,
    APP_UNHEALTHY,
    POSTGRES_IMAGE,
    TEST_LABEL_KEY,
    Testbed,
    host_port,
    wait_for_exit,
    wait_for_health,
    wait_until,
)
from .second_engine import SecondEngine

if TYPE_CHECKING:
    from .conftest import DockerResources

MakeContainer = Callable[..., Container]


@pytest.mark.parametrize("tag", ["1.0.0", "2.0.0"])
def test_app_becomes_healthy_and_reports_its_version(
    make_container: MakeContainer, tag: str
) -> None:
    ctr = make_container(f"{APP_IMAGE}:{tag}", ports={f"{APP_PORT}/tcp": ("127.0.0.1", None)})

    health = wait_for_health(ctr, "healthy", timeout=20)

    body = json.loads(health["Log"][-1]["Output"])
    assert body == {
        "status": "ok",
        "version": tag,
        "checks": {"database": "ok", "cache": "ok"},
    }
    # Reachable from the host on a loopback-published port too.
    resp = httpx.get(f"http://127.0.0.1:{host_port(ctr)}/api/health", timeout=5)
    assert resp.status_code == 200
    assert resp.json()["version"] == tag
    image = ctr.image
    assert image is not None
    assert image.labels[TEST_LABEL_KEY] == "1"
    assert image.labels["org.opencontainers.image.version"] == tag
    assert f"APP_VERSION={tag}" in ctr.attrs["Config"]["Env"]


def test_app_3_becomes_unhealthy_with_a_reason(make_container: MakeContainer) -> None:
    ctr = make_container(APP_UNHEALTHY)

    health = wait_for_health(ctr, "unhealthy", timeout=20)

    assert health["FailingStreak"] >= 2
    assert "health: database unreachable" in health["Log"][-1]["Output"]
    assert health["Log"][-1]["ExitCode"] == 1


def test_app_4_exits_at_once_with_code_3(make_container: MakeContainer) -> None:
    ctr = make_container(APP_CRASHING)

    assert wait_for_exit(ctr, timeout=20) == APP_CRASH_EXIT_CODE
    assert b"fatal:" in ctr.logs()


def test_app_stops_quickly_on_sigterm(make_container: MakeContainer) -> None:
    ctr = make_container(APP_HEALTHY, environment={"APP_TICK": "0.2"})
    wait_until(lambda: b"tick 2" in ctr.logs(), 10, message="tick lines in the logs")

    ctr.stop(timeout=10)  # would take the full 10 s if PID 1 ignored SIGTERM

    assert wait_for_exit(ctr, timeout=5) == 0
    assert b"received SIGTERM" in ctr.logs()


def test_registry_lists_the_app_tags_and_serves_pulls(
    testbed: Testbed, docker_client: DockerClient
) -> None:
    resp = httpx.get(f"http://{testbed.registry}/v2/{APP_IMAGE}/tags/list", timeout=5)

    assert resp.status_code == 200
    assert set(APP_TAGS) <= set(resp.json()["tags"])
    image = docker_client.images.pull(testbed.registry_ref(APP_IMAGE), tag="2.0.0")
    assert image.labels["org.opencontainers.image.version"] == "2.0.0"


def test_postgres_becomes_healthy_and_pg_dump_works(make_container: MakeContainer) -> None:
    ctr = make_container(POSTGRES_IMAGE)

    wait_for_health(ctr, "healthy", timeout=30)
    code, out = ctr.exec_run(["pg_dump", "-U", "postgres", "shop"])

    assert isinstance(out, bytes)
    assert code == 0, out.decode(errors="replace")
    dump = out.decode()
    assert "CREATE TABLE public.orders" in dump
    assert "grace" in dump


def test_containers_and_networks_carry_the_test_labels(labelled: DockerResources) -> None:
    net = labelled.network()
    vol = labelled.volume()
    ctr = labelled.container(APP_HEALTHY, network=net.name, start=False)

    for attrs in (net.attrs["Labels"], vol.attrs["Labels"], ctr.labels):
        assert attrs[TEST_LABEL_KEY] == "1"
    assert (ctr.name or "").startswith("opsui-t-")


def test_docker_over_ssh_with_the_openssh_client(testbed: Testbed) -> None:
    result = subprocess.run(
        testbed.ssh_command("docker", "version", "--format", "{{.Server.APIVersion}}"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_docker_sdk_over_ssh(testbed: Testbed, monkeypatch: pytest.MonkeyPatch) -> None:
    # use_ssh_client=True runs plain `ssh`; the wrapper in testbed.ssh_bin adds -F.
    monkeypatch.setenv("PATH", testbed.ssh_env()["PATH"])
    client = DockerClient(base_url=testbed.ssh_url, use_ssh_client=True, timeout=30)
    try:
        assert client.ping()
        assert client.images.get(APP_HEALTHY).labels[TEST_LABEL_KEY] == "1"
    finally:
        client.close()


def test_paramiko_reaches_the_engine(testbed: Testbed) -> None:
    paramiko = pytest.importorskip("paramiko")
    ssh = paramiko.SSHClient()
    ssh.load_host_keys(str(testbed.ssh_known_hosts))
    ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
    ssh.connect(
        testbed.ssh_host,
        port=testbed.ssh_port,
        username=testbed.ssh_user,
        key_filename=str(testbed.ssh_key),
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    try:
        _, stdout, _ = ssh.exec_command("docker info --format '{{.ServerVersion}}'", timeout=30)
        assert stdout.channel.recv_exit_status() == 0
        assert stdout.read().strip()
    finally:
        ssh.close()


def test_second_engine_survives_kill_and_restart(
    second_engine: SecondEngine, testbed: Testbed
) -> None:
    client = second_engine.client()
    try:
        assert client.ping()
        client.images.pull(testbed.registry_ref(APP_IMAGE), tag="1.0.0")
        ctr = client.containers.run(
            testbed.registry_ref(APP_HEALTHY), detach=True, labels={TEST_LABEL_KEY: "1"}
        )
        wait_for_health(ctr, "healthy", timeout=20)

        second_engine.kill()

        assert not second_engine.responsive()
        second_engine.restart()
        assert client.ping()
        # The engine came back with its data root: the image is still there.
        assert client.images.get(testbed.registry_ref(APP_HEALTHY))
    finally:
        client.close()


def test_second_engine_leaves_the_main_engine_alone(
    second_engine: SecondEngine, docker_client: DockerClient, make_container: MakeContainer
) -> None:
    second_engine.kill()
    second_engine.restart()

    assert docker_client.ping()
    # The main engine can still attach containers to its default bridge (docker0).
    ctr = make_container(APP_HEALTHY)
    wait_for_health(ctr, "healthy", timeout=20)
    assert ctr.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
