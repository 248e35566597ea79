"""LocalHost, connect_local and the HTTP prober against the real engine and test app.

Containers come from the ``make_container`` fixture (tests/integration/conftest.py).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import docker
import pytest
from docker.models.containers import Container as DockerContainer

from opsui.backends.docker_engine import DockerEngine, connect_local
from opsui.backends.health import HttpHealthProber
from opsui.backends.local import LocalHost, LocalRunner
from opsui.domain.errors import EngineUnavailable, HostError
from opsui.domain.models import HttpHealth
from opsui.domain.ports import HealthProber

from .helpers import APP_HEALTHY, APP_UNHEALTHY, host_port, wait_until

pytestmark = pytest.mark.integration

APP = APP_HEALTHY  # /api/health: {"status":"ok","checks":{"database":"ok","cache":"ok"}}
BOGUS_SOCKET = "unix:///nonexistent.sock"


@pytest.fixture
def host(docker_client: docker.DockerClient) -> Iterator[LocalHost]:
    host = LocalHost("local", None)
    host.connect()
    yield host
    host.close()


def _published_url(container: DockerContainer, path: str) -> str:
    return f"http://127.0.0.1:{host_port(container)}{path}"


def _probe_until(
    prober: HealthProber, url: str, until: Callable[[HttpHealth], object], what: str
) -> HttpHealth:
    latest: list[HttpHealth] = []

    def check() -> bool:
        latest[:] = [prober.probe(url, timeout=2)]
        return bool(until(latest[0]))

    wait_until(check, 15, 0.2, message=what)
    return latest[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connect_gives_every_part(host: LocalHost) -> None:
    assert host.is_alive()
    assert host.engine.ping() > 0
    assert isinstance(host.engine.list_containers(), list)
    metrics = host.metrics.sample()
    assert 0 <= metrics.cpu_percent <= 100
    assert 0 < metrics.memory_used_bytes < metrics.memory_total_bytes
    assert 0 < metrics.disk_used_bytes < metrics.disk_total_bytes
    assert metrics.load1 >= 0
    result = host.runner.run(["sh", "-c", "cat; echo err >&2; exit 7"], stdin=b"in\n")
    assert (result.exit_code, result.stdout, result.stderr) == (7, b"in\n", b"err\n")


def test_close_and_reconnect(docker_client: docker.DockerClient) -> None:
    host = LocalHost("local", None)
    with pytest.raises(HostError):
        _ = host.engine
    host.connect()
    host.close()
    assert not host.is_alive()
    with pytest.raises(HostError):
        _ = host.runner
    host.connect()
    try:
        assert host.is_alive() and host.engine.ping() > 0
    finally:
        host.close()


def test_bogus_docker_host_names_the_socket() -> None:
    host = LocalHost("broken", BOGUS_SOCKET)
    with pytest.raises(EngineUnavailable) as failed:
        host.connect()
    assert BOGUS_SOCKET in str(failed.value)
    assert "No such file or directory" in str(failed.value)
    assert failed.value.hint
    assert not host.is_alive()


def test_docker_host_from_environment_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", BOGUS_SOCKET)
    with pytest.raises(EngineUnavailable, match=r"nonexistent\.sock"):
        connect_local(None, timeout=2)


def test_engine_that_went_away_raises_engine_unavailable() -> None:
    client = docker.DockerClient(base_url=BOGUS_SOCKET, version="1.41", timeout=2)
    engine = DockerEngine(client, BOGUS_SOCKET)
    try:
        for call in (engine.ping, engine.list_containers, engine.events,
                     lambda: engine.stats("x"), lambda: engine.start("x")):
            with pytest.raises(EngineUnavailable, match=r"nonexistent\.sock"):
                call()
    finally:
        engine.close()


def test_prober_reads_the_app_health_and_its_checks(
    host: LocalHost, make_container: Callable[..., DockerContainer]
) -> None:
    made = make_container(APP, ports={"8080/tcp": ("127.0.0.1", None)})
    url = _published_url(made, "/api/health")
    result = _probe_until(host.prober, url, lambda r: r.ok, "the app's health endpoint")
    assert result.status_code == 200
    assert result.url == url
    assert {c.name: c.ok for c in result.checks} == {"database": True, "cache": True}
    assert result.latency_ms is not None and result.latency_ms < 2000
    assert result.error == ""


def test_prober_reports_failing_sub_check(
    host: LocalHost, make_container: Callable[..., DockerContainer]
) -> None:
    made = make_container(APP_UNHEALTHY, ports={"8080/tcp": ("127.0.0.1", None)})
    url = _published_url(made, "/api/health")
    result = _probe_until(host.prober, url, lambda r: r.status_code,
                          "an answer from the unhealthy app")
    assert not result.ok
    assert result.error == 'status "error"'
    checks = {c.name: c for c in result.checks}
    assert not checks["database"].ok and checks["database"].detail == "unreachable"
    assert checks["cache"].ok


def test_prober_closed_port_is_a_clear_error() -> None:
    port = _closed_port()
    prober = HttpHealthProber()
    try:
        result = prober.probe(f"http://127.0.0.1:{port}/api/health", timeout=2)
    finally:
        prober.close()
    assert not result.ok
    assert result.status_code is None
    assert result.error == f"connection refused by 127.0.0.1:{port}"


def test_runner_timeout_kills_the_whole_group() -> None:
    runner = LocalRunner()
    result = runner.run(["sh", "-c", "sleep 30 & sleep 30; echo never"], timeout=0.5)
    assert b"never" not in result.stdout
    assert result.exit_code == 124
    assert b"timed out" in result.stderr
    assert b"never" not in result.stdout


def test_runner_missing_program() -> None:
    result = LocalRunner().run(["opsui-no-such-program"])
    assert result.exit_code == 127
    assert b"not found" in result.stderr
