"""The frozen "now" of every UI test, fast monitor settings, and data builders.

Kept apart from the fakes so a test can build containers and samples without a host.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsui.domain.models import Container, ContainerState, Health, HostMetrics, PortBinding
from opsui.domain.monitor import MonitorSettings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
"""The frozen "now" of every UI test."""


FAST = MonitorSettings(refresh_seconds=1.0, stats_seconds=0.5, metrics_seconds=0.5,
                       health_seconds=0.1, link_check_seconds=0.05,
                       backoff_initial=0.02, backoff_maximum=0.05)


def frozen_clock() -> datetime:
    return NOW


def container(
    cid: str,
    name: str | None = None,
    *,
    image: str = "opsui-test/app:1.0.0",
    state: ContainerState = ContainerState.RUNNING,
    health: Health = Health.HEALTHY,
    project: str | None = None,
    service: str | None = None,
    started_minutes_ago: int = 90,
    restarts: int | None = 0,
    ports: tuple[PortBinding, ...] = (),
) -> Container:
    return Container(
        id=cid.ljust(64, "0"),
        name=name or cid,
        image=image,
        state=state,
        health=health,
        status_text="Exited (1) 2 hours ago" if state is ContainerState.EXITED else "Up",
        created_at=NOW - timedelta(days=2),
        started_at=NOW - timedelta(minutes=started_minutes_ago),
        restart_count=restarts,
        compose_project=project,
        compose_service=service,
        ports=ports,
        exit_code=1 if state is ContainerState.EXITED else None,
    )


def metrics_sample(cpu: float) -> HostMetrics:
    gib = 1024**3
    return HostMetrics(cpu, 3 * gib, 8 * gib, 40 * gib, 100 * gib, 0.52, 0.4, 0.33, NOW)
