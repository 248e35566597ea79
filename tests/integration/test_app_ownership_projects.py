"""Two compose projects on one engine with the same service name (issue 13, leftover).

The operator runs ``P1`` and ``P2`` side by side, each with service ``app``, and their
opsui.toml says ``[apps.web] service = "P1/app"``. ``P2`` was released earlier as an app
also named ``web`` (another opsui.toml, its own state folder), so its serving container
and its kept release copy carry ``opsui.app=web`` too. A deploy and a rollback of
``P1``'s ``web`` (AppReleases, what the keys and ``opsui deploy`` run) change ``P1``
only: ``P2``'s containers keep their ids, images and states, its kept copy stays.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker.client import DockerClient

from opsui.domain.operations.rollback import RollbackPlan
from opsui.domain.ports import HostConnection
from opsui.domain.releases import OK

from .helpers import Testbed
from .test_compose_agreement import (
    Project,
    compose_project,
    kept_of,
    releases_for,
    version_of,
)

pytestmark = [pytest.mark.integration, pytest.mark.testbed_stack]


@pytest.fixture
def two_projects(tmp_path: Path, testbed: Testbed,
                 docker_client: DockerClient) -> Iterator[tuple[Project, Project]]:
    """Projects ``opsown-*-p1`` and ``opsown-*-p2``, each one healthy app 1.0.0; both
    removed afterwards, with every container opsui made of them."""
    prefix = f"opsown-{uuid.uuid4().hex[:8]}"
    with compose_project(f"{prefix}-p1", tmp_path, testbed, docker_client) as first, \
            compose_project(f"{prefix}-p2", tmp_path, testbed, docker_client) as second:
        yield first, second


def _state_of(project: Project, client: DockerClient) -> dict[str, tuple[str, str, str]]:
    """Every container of the project, live or kept: id -> (name, image id, state)."""
    containers = [*project.containers(), *kept_of(project, client)]
    for container in containers:
        container.reload()
    return {str(c.id): (str(c.name), str(c.attrs["Image"]), str(c.status))
            for c in containers}


def test_deploy_and_rollback_of_one_project_leave_the_namesake_project_alone(
        local_host: HostConnection, two_projects: tuple[Project, Project],
        docker_client: DockerClient, tmp_path: Path) -> None:
    mine, theirs = two_projects
    # P2 released twice earlier as an app also called "web": its serving container and
    # its newer kept copy carry opsui.app=web
    other = releases_for(local_host, theirs, tmp_path / "other-config", None)
    other_app = other.resolve("web")
    for tag in ("2.0.0", "1.0.0"):
        assert other.deploy(other_app, other.plan_deploy(other_app, tag), True) == OK
    assert [c.labels.get("opsui.app") for c in kept_of(theirs, docker_client)].count(
        "web") == 1
    assert theirs.running().labels.get("opsui.app") == "web"
    before = _state_of(theirs, docker_client)
    original = mine.running()

    releases = releases_for(local_host, mine, tmp_path / "config", None)
    app = releases.resolve("web")
    assert releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True) == OK
    assert _state_of(theirs, docker_client) == before
    assert version_of(mine.running()) == "2.0.0"

    rollback = releases.plan_rollback(app)
    assert isinstance(rollback, RollbackPlan) and rollback.target_container is not None
    assert rollback.target_container.id not in before  # P1's own kept copy
    assert releases.rollback(app, rollback, True) == OK
    back = mine.running()
    assert version_of(back) == "1.0.0" and back.attrs["Image"] == original.attrs["Image"]
    assert _state_of(theirs, docker_client) == before
    assert releases.status(app).serving.id == back.id  # type: ignore[union-attr]
