"""Retention keeps the newest N releases' kept containers and never the rollback target's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsui.config import DeploySettings
from opsui.domain.logfeed import APP_LABEL, RELEASE_LABEL
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.operations.health_gate import GateSettings
from opsui.domain.operations.retention import prune_candidates
from opsui.domain.release_copies import hide_compose_labels
from opsui.domain.releases import OK, Release
from opsui.domain.settings import AppConfig

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


SHOP = AppSpec("shop", "local", DeploySettings(retain=1), GateSettings(),
               config=AppConfig("shop", service="shop/app"))
RUNS = [f"r2026120120{i:02d}00-abcd" for i in range(4)]
"""r0: what served at the first deploy; r1, r2, r3 deploys, each replacing the one before."""


def replica_copy(replica: int, kept_by: int) -> Container:
    """Replica ``replica``'s container of release ``kept_by - 1``, kept by ``kept_by``."""
    labels = hide_compose_labels({"com.docker.compose.project": "shop",
                                  "com.docker.compose.service": "app",
                                  RELEASE_LABEL: RUNS[kept_by - 1]},
                                 f"orig-{replica}-{kept_by}")
    labels[APP_LABEL] = "shop"
    return Container(f"k{replica}{kept_by}", f"shop-app-{replica}.before-{RUNS[kept_by]}",
                     "shop/app:1", ContainerState.EXITED,
                     created_at=T0 + timedelta(minutes=kept_by, seconds=replica), labels=labels)


def test_a_two_replica_release_keeps_both_replicas_copies_counted_as_one_release() -> None:
    """Issue 13: the journal names one container per release, yet every replica's copy
    of the rollback target and of the ``retain`` newest others stays; older go whole."""
    copies = [replica_copy(replica, kept_by) for kept_by in (1, 2, 3) for replica in (1, 2)]
    serving = [Container(f"s{n}", f"shop-app-{n}", "shop/app:4", ContainerState.RUNNING,
                         labels={"com.docker.compose.project": "shop",
                                 "com.docker.compose.service": "app"}) for n in (1, 2)]
    releases = [release(RUNS[i], f"k1{i + 1}" if i < 3 else "s1") for i in range(4)]
    target = releases[2]  # r2: its containers were kept by r3 (the current release)
    doomed = prune_candidates(SHOP, [*serving, *copies], releases, retain=1,
                              protected={"s1", target.container_id})
    assert [c.name for c in doomed] == [f"shop-app-1.before-{RUNS[1]}",
                                        f"shop-app-2.before-{RUNS[1]}"]
