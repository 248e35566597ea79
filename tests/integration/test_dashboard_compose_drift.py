"""The dashboard marks a compose app whose release compose drifts from, then replaced (issue 13).

A one-service compose project of its own (the test bed's docker-compose, the app image
from the anonymous test registry, project name ``opsdrift-…``) serves 1.0.0. opsui
deploys 2.0.0 without a compose pin through the production builder
(:func:`opsui.wiring.build_releases`, what ``opsui deploy`` runs); the real app with the
production wiring then shows ``⚠ drift`` on the app's row (the compose file still says
1.0.0, so the next ``up -d`` that touches the service puts it back). Once
``docker-compose up -d --force-recreate`` has replaced the release with the file's
1.0.0, the new row says ``⚠ replaced``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker.client import DockerClient

from opsui.config import AppConfig, Config, DeploySettings, HostConfig
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import HostConnection
from opsui.domain.releases import OK
from opsui.ui.widgets.container_table import ContainerTable
from opsui.wiring import build_releases

from .helpers import Testbed, wait_until
from .test_compose_agreement import Project, compose_project, version_of
from .test_dashboard_live import real_app, screen_text, until

pytestmark = [pytest.mark.integration, pytest.mark.testbed_stack]

CHECK_SECONDS = 90.0
"""How long the dashboard may take to show a mark: the compose watch checks at most
every 15 s (and runs docker-compose twice per app), on a busy shared machine."""


@pytest.fixture
def project(tmp_path: Path, testbed: Testbed, docker_client: DockerClient
            ) -> Iterator[Project]:
    """A compose project ``opsdrift-…`` up with app 1.0.0; down afterwards, with every
    container opsui kept of it (their compose labels hidden)."""
    with compose_project(f"opsdrift-{uuid.uuid4().hex[:8]}", tmp_path, testbed,
                         docker_client) as found:
        yield found


def _config(project: Project, tmp_path: Path) -> Config:
    deploy = DeploySettings(state_dir=str(tmp_path / "state"), gate_timeout=40.0,
                            known_good_seconds=3600.0, retain=3, drain_seconds=0.0)
    app = AppConfig(name="web", host="local", service=f"{project.name}/app", deploy=deploy)
    return Config(deploy=deploy, apps=(app,), hosts=(HostConfig("local"),))


def _health_cell(table: ContainerTable, container_id: str) -> str:
    try:
        return str(table.get_cell(container_id, "health").plain)
    except Exception:  # the row is not there yet
        return ""


async def test_dashboard_marks_the_drifting_release_then_says_compose_replaced_it(
        local_host: HostConnection, project: Project, tmp_path: Path) -> None:
    config = _config(project, tmp_path)
    releases = build_releases(local_host, ActionGate(), config)
    app_spec = releases.resolve("web")
    assert releases.deploy(app_spec, releases.plan_deploy(app_spec, "2.0.0"), True) == OK
    released = project.running()
    assert version_of(released) == "2.0.0"

    app = real_app(HostConfig("local"), config)
    async with app.run_test(size=(180, 50)) as pilot:
        await until(pilot, lambda: app.dashboard is not None and app.dashboard.is_mounted,
                    "the dashboard")
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: _health_cell(table, str(released.id)).endswith("⚠ drift"),
                    "the drift mark on the released row", timeout=CHECK_SECONDS)
        assert "● healthy ⚠ drift" in screen_text(app)

        project.compose("up", "-d", "--force-recreate")  # compose puts its file back
        wait_until(lambda: version_of(project.running()) == "1.0.0", timeout=60,
                   message="compose recreated the app from its file")
        recreated = project.running()
        await until(pilot, lambda: _health_cell(table, str(recreated.id)).endswith(
            "⚠ replaced"), "the replaced mark on compose's container", timeout=CHECK_SECONDS)
        assert "drift" not in _health_cell(table, str(recreated.id))
