"""The deploy health gate on real containers of the test app's versions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from docker.client import DockerClient
from docker.models.containers import Container

from opsui.backends.docker_engine import DockerEngine
from opsui.backends.health import HttpHealthProber
from opsui.domain.operations.health_gate import GateSettings, wait_healthy

from .helpers import APP_CRASH_EXIT_CODE, APP_CRASHING, APP_HEALTHY, APP_UNHEALTHY, host_port

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(docker_client: DockerClient) -> DockerEngine:
    return DockerEngine(docker_client)


@pytest.fixture
def prober() -> Iterator[HttpHealthProber]:
    probe = HttpHealthProber()
    yield probe
    probe.close()


def test_a_healthy_release_passes_with_its_http_endpoint(
        engine: DockerEngine, prober: HttpHealthProber,
        make_container: Callable[..., Container]) -> None:
    container = make_container(APP_HEALTHY, ports={"8080/tcp": ("127.0.0.1", None)})
    url = f"http://127.0.0.1:{host_port(container)}/api/health"
    result = wait_healthy(engine, prober, str(container.id),
                          GateSettings(timeout=30, urls=(url,), poll_seconds=0.2))
    assert result.passed, result.reason


def test_a_never_healthy_release_is_refused_as_soon_as_docker_says_so(
        engine: DockerEngine, make_container: Callable[..., Container]) -> None:
    container = make_container(APP_UNHEALTHY)
    result = wait_healthy(engine, None, str(container.id),
                          GateSettings(timeout=60, poll_seconds=0.2))
    assert not result.passed and "unhealthy" in result.reason
    assert result.waited < 60


def test_a_release_that_exits_at_once_fails_with_its_exit_code(
        engine: DockerEngine, make_container: Callable[..., Container]) -> None:
    container = make_container(APP_CRASHING)
    result = wait_healthy(engine, None, str(container.id),
                          GateSettings(timeout=60, poll_seconds=0.2))
    assert not result.passed and f"code {APP_CRASH_EXIT_CODE}" in result.reason


def test_a_failing_http_check_times_out_naming_the_url(
        engine: DockerEngine, prober: HttpHealthProber,
        make_container: Callable[..., Container]) -> None:
    container = make_container(APP_HEALTHY, ports={"8080/tcp": ("127.0.0.1", None)})
    url = f"http://127.0.0.1:{host_port(container)}/no/such/health"
    result = wait_healthy(engine, prober, str(container.id),
                          GateSettings(timeout=3, urls=(url,), poll_seconds=0.2))
    assert not result.passed and "/no/such/health" in result.reason


def test_without_a_health_check_it_must_stay_up_and_can_be_cancelled(
        engine: DockerEngine, make_container: Callable[..., Container]) -> None:
    container = make_container(APP_HEALTHY, healthcheck={"test": ["NONE"]})
    result = wait_healthy(engine, None, str(container.id),
                          GateSettings(timeout=30, settle_seconds=1, poll_seconds=0.2))
    assert result.passed and "no health check" in result.reason
    cancelled = threading.Event()
    cancelled.set()
    result = wait_healthy(engine, None, str(container.id),
                          GateSettings(timeout=30, settle_seconds=60, poll_seconds=0.2),
                          cancelled=cancelled)
    assert not result.passed and result.reason == "cancelled"
