"""Retention keeps the newest N kept containers and never the rollback target's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsui.config import DeploySettings
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.operations.health_gate import GateSettings
from opsui.domain.operations.retention import prune_candidates
from opsui.domain.releases import OK, Release

T0 = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
APP = AppSpec("web", "local", DeploySettings(retain=2), GateSettings())


def container(cid: str, name: str, minutes: int, running: bool = False) -> Container:
    return Container(cid, name, "shop/web:1", ContainerState.RUNNING if running
                     else ContainerState.EXITED, created_at=T0 + timedelta(minutes=minutes))


def release(rid: str, cid: str) -> Release:
    return Release(rid, "deploy", "shop/web", "", rid, "a@b", "", outcome=OK, container_id=cid)


def test_the_oldest_go_first_and_the_target_and_serving_stay() -> None:
    containers = [container(f"c{i}", f"web.before-r2026120120000{i}-abcd", i) for i in range(5)]
    containers.append(container("c5", "web", 5, running=True))
    releases = [release(f"r{i}", f"c{i}") for i in range(6)]
    doomed = prune_candidates(APP, containers, releases, retain=2, protected={"c5", "c0"})
    assert [c.id for c in doomed] == ["c1", "c2"]  # c0 is the rollback target: kept


def test_containers_of_other_apps_are_never_touched() -> None:
    other = container("x1", "db.before-r20261201200000-abcd", 0)
    mine = [container(f"c{i}", f"web.before-r2026120120000{i}-abcd", i) for i in range(4)]
    doomed = prune_candidates(APP, [other, *mine], [], retain=1, protected=set())
    assert other not in doomed and [c.id for c in doomed] == ["c0", "c1", "c2"]
