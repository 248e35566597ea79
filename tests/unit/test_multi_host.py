"""An app on several hosts (issue 15): config, and one release host by host with the
real facades over fake engines: every lock first, stop at the first failure, hosts
already switched returned, the rest untouched, rollback of all to one release, one
merged history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from opsui.config import AppConfig, Config, HostConfig, load_config
from opsui.domain.errors import ActionRefused, ConfigError
from opsui.domain.history import journal_path
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.lock import DeployLock, LockHolder
from opsui.domain.operations.multi_host import (
    MULTI_HOST,
    NOT_DEPLOYED,
    NOT_ROLLED_BACK,
    RETURNED,
    SWITCHED,
    MultiHostApp,
)
from opsui.domain.operations.multi_host_history import multi_history
from opsui.domain.releases import FAILED, OK, ROLLED_BACK
from opsui.wiring import check_app_hosts

from fakes import NOW, FakeEngine, FakeHostFiles, FakeProber, container

APP = "opsui-test/app"
HOSTS = ("web1", "web2", "web3")
WEB = AppConfig("web", host="web1", hosts=HOSTS, container="web")
CONFIG = Config(hosts=tuple(HostConfig(h) for h in HOSTS), apps=(WEB,))
STATE = CONFIG.deploy.state_dir


class Files(FakeHostFiles):
    """A host's state folder that says when a lock was taken, in the shared order."""

    def __init__(self, host: str, events: list[tuple[str, str]]) -> None:
        super().__init__()
        self.host, self.events = host, events

    def create_dir_with(self, path: str, name: str, content: bytes) -> bool:
        taken = super().create_dir_with(path, name, content)
        if taken and path.endswith("/lock"):
            self.events.append(("lock", self.host))
        return taken


class Engine(FakeEngine):
    """A host's engine that says when it pulled, in the shared order."""

    def __init__(self, host: str, events: list[tuple[str, str]]) -> None:
        super().__init__([container("w", "web", image=f"{APP}:1.0.0")])
        self.host, self.order = host, events
        self.add_image(f"{APP}:1.0.0", NOW - timedelta(days=5))
        self.add_image(f"{APP}:2.0.0", NOW - timedelta(days=2), on_host=False)
        self.add_image(f"{APP}:3.0.0", NOW - timedelta(days=1), on_host=False)

    def pull(self, image: str, timeout: float = 600.0) -> str:
        self.order.append(("pull", self.host))
        return super().pull(image, timeout)


class Fleet:
    def __init__(self, gate: ActionGate | None = None) -> None:
        self.events: list[tuple[str, str]] = []
        self.engines = {h: Engine(h, self.events) for h in HOSTS}
        self.files = {h: Files(h, self.events) for h in HOSTS}
        self.gate = gate or ActionGate()
        self.releases = [AppReleases(h, self.engines[h], FakeProber(), self.files[h],
                                     self.gate, CONFIG) for h in HOSTS]
        self.app = MultiHostApp("web", self.releases, self.gate)

    def serving(self, host: str) -> str:
        """The image of the running container named web on ``host``."""
        [web] = [c for c in self.engines[host].list_containers()
                 if c.name == "web" and c.state.value == "running"]
        return web.image

    def changed(self, host: str) -> list[tuple[str, str]]:
        return [c for c in self.engines[host].calls if c[0] != "pull"]

    def deploy(self, tag: str) -> str:
        outcome = self.app.run(self.app.plan_deploy(tag), True)
        return outcome.outcome


# -- config --------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "opsui.toml"
    path.write_text(text)
    return path


HOSTS_TOML = "".join(f'[hosts.{h}]\ndocker_host = "unix:///run/{h}.sock"\n' for h in HOSTS)


def test_hosts_lists_the_hosts_of_an_app_and_its_first_is_its_host(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, HOSTS_TOML + '[apps.web]\nhosts = ["web1", "web2", '
                               '"web3"]\ncontainer = "web"\n'))
    [app] = config.apps
    assert app.every_host == HOSTS and app.host == "web1"
    assert config.app("web", "web2") is app and config.app("web", "web4") is None
    check_app_hosts(config, config.hosts)


@pytest.mark.parametrize(("body", "key", "expected"), [
    ('host = "web1"\nhosts = ["web2"]', "apps.web", "either 'host' or 'hosts'"),
    ("hosts = []", "apps.web.hosts", "a non-empty list of distinct host names"),
    ('hosts = ["web1", "web1"]', "apps.web.hosts", "distinct host names"),
    ('hosts = "web1"', "apps.web.hosts", "a non-empty list"),
])
def test_a_wrong_hosts_names_file_key_and_expectation(tmp_path: Path, body: str, key: str,
                                                      expected: str) -> None:
    path = write(tmp_path, HOSTS_TOML + f"[apps.web]\n{body}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.key == key and expected in error.value.expected
    assert str(path) in str(error.value)


def test_a_host_of_hosts_that_is_not_configured_is_named(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, HOSTS_TOML + '[apps.web]\nhosts = ["web1", "web9"]\n'))
    with pytest.raises(ConfigError) as error:
        check_app_hosts(config, config.hosts)
    assert error.value.key == "apps.web.hosts" and "'web9'" in str(error.value)


# -- deploy ----------------------------------------------------------------------------------


def test_a_release_takes_every_lock_first_then_deploys_host_by_host() -> None:
    fleet = Fleet()
    assert fleet.deploy("2.0.0") == OK
    assert fleet.events[:3] == [("lock", h) for h in HOSTS]
    assert [e for e in fleet.events if e[0] == "pull"] == [("pull", h) for h in HOSTS]
    assert all(fleet.serving(h) == f"{APP}:2.0.0" for h in HOSTS)
    ids = set()
    for releases in fleet.releases:  # each host's own history: one release of 2.0.0
        status = releases.status(releases.resolve("web"), mark_good=False)
        assert status.current is not None and status.current.version == "2.0.0"
        assert status.lock is None
        ids.add(status.current.id)
    assert len(ids) == 1  # the same release on every host


def test_a_lock_held_on_one_host_refuses_before_anything_changes() -> None:
    fleet = Fleet()
    freeze = LockHolder("bob", "desk", "2026-12-07T10:00:00+00:00", message="incident",
                        manual=True)
    assert DeployLock(fleet.files["web3"], STATE, "web").acquire(freeze) is None
    with pytest.raises(ActionRefused, match=r"locked on web3.*incident"):
        fleet.deploy("2.0.0")
    assert all(fleet.engines[h].calls == [] for h in HOSTS)
    assert all(fleet.serving(h) == f"{APP}:1.0.0" for h in HOSTS)
    for releases in fleet.releases[:2]:  # given back
        assert releases.lock_of(releases.resolve("web")).holder() is None
    assert DeployLock(fleet.files["web3"], STATE, "web").holder() == freeze  # still frozen


def test_a_failed_host_stops_the_release_and_the_switched_hosts_go_back() -> None:
    fleet = Fleet()
    fleet.engines["web2"].unhealthy_images.add(f"{APP}:2.0.0")
    outcome = fleet.app.run(fleet.app.plan_deploy("2.0.0"), True)
    assert outcome.outcome == FAILED
    assert [(r.host, r.state) for r in outcome.hosts] == [
        ("web1", RETURNED), ("web2", FAILED), ("web3", NOT_DEPLOYED)]
    assert fleet.serving("web1") == fleet.serving("web2") == f"{APP}:1.0.0"
    assert fleet.engines["web3"].calls == []  # untouched
    assert fleet.serving("web3") == f"{APP}:1.0.0"
    for releases in fleet.releases:  # every lock given back; every host's journal says it
        app = releases.resolve("web")
        assert releases.lock_of(app).holder() is None
        [said] = [r for r in releases.journal(app).read().records
                  if r.get("type") == MULTI_HOST]
        assert said["release"] == outcome.release_id and said["outcome"] == FAILED
    web1 = fleet.releases[0].status(fleet.releases[0].resolve("web"), mark_good=False)
    group = next(r for r in web1.releases if r.id == outcome.release_id)
    assert group.shown_outcome == ROLLED_BACK and web1.current is not None
    assert web1.current.version == "1.0.0"
    history = multi_history("web", fleet.releases)
    [row] = [r for r in history.releases if r.id == outcome.release_id]
    assert [r.id for r in history.releases].count(outcome.release_id) == 1
    assert row.hosts == (("web1", RETURNED), ("web2", FAILED), ("web3", NOT_DEPLOYED))
    assert row.outcome == FAILED and row.version == "2.0.0"


def test_the_first_host_failing_changes_no_other_host() -> None:
    fleet = Fleet()
    fleet.engines["web1"].unhealthy_images.add(f"{APP}:2.0.0")
    outcome = fleet.app.run(fleet.app.plan_deploy("2.0.0"), True)
    assert [r.state for r in outcome.hosts] == [FAILED, NOT_DEPLOYED, NOT_DEPLOYED]
    assert fleet.engines["web2"].calls == fleet.engines["web3"].calls == []


def test_rollback_takes_every_host_back_to_the_same_release() -> None:
    fleet = Fleet()
    first = fleet.app.run(fleet.app.plan_deploy("2.0.0"), True)
    assert first.outcome == OK
    assert fleet.deploy("3.0.0") == OK
    assert fleet.app.plan_rollback().version == "1.0.0"  # the last known good, everywhere
    plan = fleet.app.plan_rollback(first.release_id)
    assert plan.version == "2.0.0" and plan.hosts == HOSTS
    outcome = fleet.app.run(plan, True)
    assert outcome.outcome == OK and [r.state for r in outcome.hosts] == [SWITCHED] * 3
    assert all(fleet.serving(h) == f"{APP}:2.0.0" for h in HOSTS)
    history = multi_history("web", fleet.releases)
    newest = history.newest_first[0]
    assert newest.action == "rollback" and newest.hosts == tuple((h, OK) for h in HOSTS)
    assert [r.version for r in history.releases if r.action == "deploy"] == ["2.0.0", "3.0.0"]


def test_rollback_to_the_release_before_the_first_deploy_on_every_host() -> None:
    fleet = Fleet()
    assert fleet.deploy("2.0.0") == OK
    outcome = fleet.app.run(fleet.app.plan_rollback("1.0.0"), True)
    assert outcome.outcome == OK
    assert all(fleet.serving(h) == f"{APP}:1.0.0" for h in HOSTS)


def test_a_read_only_host_refuses_the_release_before_any_lock() -> None:
    fleet = Fleet(ActionGate(read_only_hosts=frozenset({"web2"})))
    with pytest.raises(ActionRefused, match="web2"):
        fleet.app.plan_deploy("2.0.0")
    assert fleet.events == []
    assert journal_path(STATE, "web") not in fleet.files["web2"].files


def test_a_rollback_failing_on_one_host_stops_and_rolls_nothing_back_again() -> None:
    fleet = Fleet()
    assert fleet.deploy("2.0.0") == OK
    fleet.engines["web2"].unhealthy_images.add(f"{APP}:1.0.0")
    outcome = fleet.app.run(fleet.app.plan_rollback(), True)
    assert outcome.outcome == FAILED
    assert [(r.host, r.state) for r in outcome.hosts] == [
        ("web1", SWITCHED), ("web2", FAILED), ("web3", NOT_ROLLED_BACK)]
    assert fleet.serving("web1") == f"{APP}:1.0.0"  # stays where the rollback took it
    assert fleet.serving("web2") == fleet.serving("web3") == f"{APP}:2.0.0"
    assert all(r.lock_of(r.resolve("web")).holder() is None for r in fleet.releases)
