"""The lock banner's poll (every 10 s on an idle dashboard) reads the host's container
list once for all the apps it asks about, not once per app and again per status: each
list of a host with 100 containers costs milliseconds of CPU here and on its engine
(issue 14, idle CPU). What it shows is unchanged: each app once, its lock holder."""

from __future__ import annotations

from opsui.config import DEFAULT_STATE_DIR, AppConfig, Config
from opsui.domain.models import Container
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.lock import DeployLock, LockHolder

from fakes import FakeEngine, FakeHostFiles, FakeProber, container

SHOP = AppConfig("shop", container="shop")


class CountingEngine(FakeEngine):
    def __init__(self, containers: list[Container]) -> None:
        super().__init__(containers)
        self.lists = 0

    def list_containers(self) -> list[Container]:
        self.lists += 1
        return super().list_containers()


def test_statuses_of_several_refs_list_the_containers_once() -> None:
    engine = CountingEngine([container("s1", "shop"), container("w1", "web"),
                             container("d1", "db")])
    files = FakeHostFiles()
    config = Config(apps=(SHOP,))
    holder = LockHolder("alice", "laptop", "2026-12-07T14:00:00Z", version="2.0.0")
    assert DeployLock(files, DEFAULT_STATE_DIR, "shop").acquire(holder) is None
    releases = AppReleases("local", engine, FakeProber(), files, ActionGate(), config)

    statuses = releases.statuses(["shop", "shop", "web", "gone", "db"])

    assert [status.app.name for status in statuses] == ["shop", "web", "db"]
    assert statuses[0].lock == holder  # another operator's deploy still shows
    assert engine.lists == 1
