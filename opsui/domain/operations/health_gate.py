"""The health gate a new release must pass before it takes over.

Passing means: the container runs, Docker's HEALTHCHECK (when the image has one) says
healthy, and every configured HTTP health URL answers ok from the host's side. A
container without a HEALTHCHECK and without URLs must keep running, unrestarted, for
``settle_seconds``. Failing fast matters as much: an exit, a vanished container or an
"unhealthy" verdict ends the wait at once, with the reason the operator will read in
the history.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from opsui.domain.models import Container, ContainerState, Health
from opsui.domain.operations.release_run import ReleaseRun
from opsui.domain.ports import ContainerEngine, HealthProber
from opsui.domain.releases import FAILED, OK


@dataclass(frozen=True)
class GateSettings:
    timeout: float = 60.0
    urls: tuple[str, ...] = ()
    settle_seconds: float = 5.0
    poll_seconds: float = 0.1
    """How often the container is re-read: one inspect (a few ms, also over SSH), so a
    release that becomes healthy takes over within a tenth of a second of it."""
    probe_timeout: float = 5.0


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reason: str
    waited: float


def wait_healthy(engine: ContainerEngine, prober: HealthProber | None, container_id: str,
                 settings: GateSettings, *, cancelled: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic) -> GateResult:
    """Block until the container passes or fails the gate (or ``cancelled`` is set)."""
    started = clock()
    deadline = started + settings.timeout
    running_since: float | None = None
    restarts: int | None = None
    last = "not checked yet"
    stop = cancelled or threading.Event()
    while True:
        now = clock()
        container = engine.get_container(container_id)
        verdict = _verdict(container, restarts)
        if verdict is not None:
            return GateResult(False, verdict, now - started)
        assert container is not None
        restarts = container.restart_count
        running_since = running_since if running_since is not None else now
        passed, last = _passes(container, prober, settings, now - running_since)
        if passed:
            return GateResult(True, last, clock() - started)
        if now >= deadline:
            return GateResult(False, f"not healthy after {settings.timeout:g} s: {last}",
                              now - started)
        if stop.wait(settings.poll_seconds):
            return GateResult(False, "cancelled", clock() - started)


def _verdict(container: Container | None, restarts: int | None) -> str | None:
    """Why the gate fails now, or None to keep waiting."""
    if container is None:
        return "the container vanished"
    if container.state in (ContainerState.EXITED, ContainerState.DEAD):
        code = "" if container.exit_code is None else f" with code {container.exit_code}"
        return f"it exited{code}"
    if container.state is ContainerState.RESTARTING or (
            restarts is not None and (container.restart_count or 0) > restarts):
        return "it restarted (crash loop?)"
    if container.health is Health.UNHEALTHY:
        return "Docker's health check says unhealthy"
    return None


def _passes(container: Container, prober: HealthProber | None, settings: GateSettings,
            running_for: float) -> tuple[bool, str]:
    if container.state is not ContainerState.RUNNING:
        return False, f"state {container.state.value}"
    if container.health is Health.STARTING:
        return False, "health check still starting"
    for url in settings.urls:
        if prober is None:
            return False, f"no way to probe {url}"
        result = prober.probe(url, settings.probe_timeout)
        if not result.ok:
            why = result.error or f"HTTP {result.status_code}"
            return False, f"{url}: {why}"
    if container.health is Health.HEALTHY or settings.urls:
        return True, "healthy"
    if running_for >= settings.settle_seconds:
        return True, f"running for {settings.settle_seconds:g} s (no health check)"
    return False, "running; no health check, waiting to see it stay up"


def gate_step(run: ReleaseRun, engine: ContainerEngine, prober: HealthProber | None,
              container_id: str, settings: GateSettings,
              name: str = "health gate",
              cancelled: threading.Event | None = None) -> GateResult:
    """The "health gate" step of a release: reported as it starts, journaled as it ends,
    cancelled by the run's cancel event (or ``cancelled``: a replica going back after a
    cancel waits for its gate all the same). ``name``: a replica's gate carries its
    name."""
    run.started(name)
    result = wait_healthy(engine, prober, container_id, settings,
                          cancelled=run.cancelled if cancelled is None else cancelled)
    run.ended(name, OK if result.passed else FAILED, result.waited, result.reason)
    return result
