"""An app on three real engines (issue 15): ``[apps.NAME] hosts = [...]`` released host by
host through MultiHostApp (what ``opsui deploy NAME`` runs for such an app).

The engines are the test bed's and two dockerd of this test's own, each a host of
opsui.toml by ``docker_host``; the app's container has the same name on all three.
Host 2's container carries a health check of its own that 2.0.0 fails (it refuses
the version its operator knows is broken there), so a deploy of 2.0.0 fails its gate
on host 2 only: host 1, already switched, must be back on 1.0.0, host 3 untouched,
and each host's history says so. Then 5.0.0 goes to all three, and a rollback takes
all three back to the same release. The failing deploy goes the TUI's way (``D`` on a
row of the app: its release session over the hosts, as the run screen's job calls it),
the rest the command line's.

The three engines share this machine's files, where real hosts each have their own:
each host's facade gets its own state folder (the journal and lock a host keeps).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from docker.client import DockerClient

from opsui.cli.multi_host import MultiHostCommands, preview
from opsui.config import load_config
from opsui.domain.errors import ActionRefused
from opsui.domain.monitor import HostMonitor
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.lock import LockHolder
from opsui.domain.operations.multi_host import (
    MULTI_HOST,
    NOT_DEPLOYED,
    RETURNED,
    SWITCHED,
    MultiHostApp,
)
from opsui.domain.operations.multi_host_history import multi_history
from opsui.domain.operations.release_run import StepEvent
from opsui.domain.ports import HostConnection
from opsui.domain.releases import FAILED, OK, ROLLED_BACK
from opsui.ui.multi_host_session import MultiHostSession
from opsui.wiring import build_connection, check_app_hosts

from .conftest import DockerResources
from .helpers import APP_IMAGE, Testbed, unique_name, wait_for_health
from .second_engine import SecondEngine

pytestmark = pytest.mark.integration

HOSTS = ("h1", "h2", "h3")
NOT_TWO = ("/app/healthcheck.sh && ! grep -q '\"2.0.0\"' /www/api/version")
"""Host 2's own health check: the image's, and never 2.0.0."""


@pytest.fixture(scope="module")
def engines(docker_client: DockerClient, testbed: Testbed
            ) -> Iterator[list[tuple[str, DockerResources]]]:
    """(docker_host, labelled resources) of the test bed's engine and two own dockerd,
    each with the app's images pulled from the test registry; all removed afterwards.
    Shared by this module's tests (each its own app, its own container name): starting
    two engines and pulling is most of a test's time."""
    own = [SecondEngine.create(), SecondEngine.create()]
    made: list[DockerResources] = []
    try:
        urls = [os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")]
        clients = [docker_client]
        for engine in own:
            urls.append(engine.start())
            clients.append(engine.client())
        for client in clients:
            for tag in ("1.0.0", "2.0.0", "5.0.0"):
                client.images.pull(testbed.registry_ref(f"{APP_IMAGE}:{tag}"))
            made.append(DockerResources(client))
        yield list(zip(urls, made, strict=True))
    finally:
        for resources in made:
            resources.cleanup()
        for engine in own:
            engine.cleanup()


@pytest.fixture
def fleet(engines: list[tuple[str, DockerResources]], testbed: Testbed, tmp_path: Path,
          request: pytest.FixtureRequest
          ) -> Iterator[tuple[str, list[AppReleases], list[DockerResources]]]:
    """The app running 1.0.0 on the three hosts, and each host's releases facade
    (``request.param``, when parametrized: more lines of its ``[apps.web]``)."""
    name = unique_name("opsmh")
    toml = "".join(f'[hosts.{h}]\ndocker_host = "{url}"\n'
                   for h, (url, _) in zip(HOSTS, engines, strict=True))
    toml += (f'[apps.web]\nhosts = {list(HOSTS)!r}\ncontainer = "{name}"\n'.replace("'", '"')
             + "gate_timeout = 40\nknown_good_seconds = 3600\n"
             + getattr(request, "param", ""))
    (tmp_path / "opsui.toml").write_text(toml)
    config = load_config(tmp_path / "opsui.toml")
    check_app_hosts(config, config.hosts)
    image = testbed.registry_ref(f"{APP_IMAGE}:1.0.0")
    for index, (_, resources) in enumerate(engines):
        check = {"test": ["CMD-SHELL", NOT_TWO], "interval": 1_000_000_000,
                 "timeout": 2_000_000_000, "retries": 2}
        extra: dict[str, Any] = {"healthcheck": check} if index == 1 else {}
        wait_for_health(resources.container(image, name=name, **extra), "healthy")
    gate = ActionGate()
    connections: list[HostConnection] = []
    releases = []
    try:
        for host in config.hosts:
            connection = build_connection(config, host)
            connection.connect()
            connections.append(connection)
            [app] = config.apps
            own = replace(app, deploy=replace(app.deploy,
                                              state_dir=str(tmp_path / host.name)))
            releases.append(AppReleases(host.name, connection.engine, connection.prober,
                                        connection.files, gate, replace(config, apps=(own,)),
                                        connection.image_tags))
        yield name, releases, [resources for _, resources in engines]
    finally:
        for connection in connections:
            with contextlib.suppress(Exception):
                connection.close()


def version_on(resources: DockerResources, name: str) -> str:
    """The version the container named ``name`` on that engine runs (its image's tag)."""
    container = resources.client.containers.get(name)
    assert container.status == "running" and container.image is not None
    return str(container.image.labels["org.opencontainers.image.version"])


class Monitor:
    """What the TUI's release session asks of a host's monitor: its name, its gate, and
    its releases facade over the live link."""

    def __init__(self, releases: AppReleases, gate: ActionGate) -> None:
        self.name, self.gate, self.read_only = releases.host, gate, False
        self._releases = releases

    def releases(self) -> AppReleases:
        return self._releases


def multi_records(releases: AppReleases) -> list[dict[str, object]]:
    app = releases.resolve("web")
    return [dict(r) for r in releases.journal(app).read().records
            if r.get("type") == MULTI_HOST]


def test_a_release_failing_on_host_two_returns_host_one_and_leaves_host_three(
        fleet: tuple[str, list[AppReleases], list[DockerResources]]) -> None:
    name, releases, engines = fleet
    gate = ActionGate()
    web = MultiHostApp("web", releases, gate)
    third_before = [c.id for c in engines[2].client.containers.list(all=True)]
    monitors = [cast(HostMonitor, Monitor(r, gate)) for r in releases]
    session = MultiHostSession(monitors, monitors[1], "web", name)  # D on h2's row
    plan = session.plan_deploy("2.0.0")
    assert session.confirmation(plan).question in ("Deploy web on h1, h2, h3?",
                                                   "Deploy web to 2.0.0 on h1, h2, h3?")
    steps: list[StepEvent] = []
    assert session.run(plan, True, steps.append, threading.Event()) == FAILED
    ended = {event.step: event.outcome for event in steps if event.outcome is not None}
    assert ended["h1: health gate"] == OK and ended["h2: health gate"] != OK
    assert ended["h1 return: outcome"] == OK
    assert not any(step.startswith("h3") for step in ended)
    ending = steps[-1]
    assert ending.step == "outcome" and ending.outcome == FAILED
    per_host = [line.split(":")[0] for line in ending.detail.splitlines()[1:]]
    assert per_host == ["h1  returned", "h2  failed", "h3  not deployed"]
    [failed, *_] = [r for r in multi_history("web", releases).newest_first
                    if r.action == "deploy"]

    assert failed.outcome == FAILED
    assert failed.hosts == (("h1", RETURNED), ("h2", FAILED), ("h3", NOT_DEPLOYED))
    assert [version_on(e, name) for e in engines] == ["1.0.0", "1.0.0", "1.0.0"]
    assert [c.id for c in engines[2].client.containers.list(all=True)] == third_before
    h1, h2, h3 = (r.status(r.resolve("web"), mark_good=False) for r in releases)
    ours = {r.id: r for r in h1.releases}[failed.id]
    assert ours.version == "2.0.0" and ours.shown_outcome == ROLLED_BACK
    assert h1.current is not None and h1.current.version == "1.0.0"
    assert h1.current.action == "rollback" and h1.lock is None
    [on_two] = [r for r in h2.releases if r.id == failed.id]
    assert on_two.outcome == FAILED and "unhealthy" in on_two.reason
    assert not any(r.id == failed.id for r in h3.releases)
    for host in releases:  # every host's own history says what happened on each
        [said] = multi_records(host)
        assert said["release"] == failed.id and said["outcome"] == FAILED
    merged = multi_history("web", releases)
    assert [r.id for r in merged.releases].count(failed.id) == 1
    [row] = [r for r in merged.releases if r.id == failed.id]
    assert row.hosts == (("h1", RETURNED), ("h2", FAILED), ("h3", NOT_DEPLOYED))

    good = web.run(web.plan_deploy("5.0.0"), True)
    assert good.outcome == OK and [r.state for r in good.hosts] == [SWITCHED] * 3
    assert [version_on(e, name) for e in engines] == ["5.0.0"] * 3

    plan = web.plan_rollback()
    assert plan.version == "1.0.0"
    back = web.run(plan, True)
    assert back.outcome == OK, back.reason
    assert [version_on(e, name) for e in engines] == ["1.0.0"] * 3
    for host in releases:
        status = host.status(host.resolve("web"), mark_good=False)
        assert status.current is not None and status.current.id == back.release_id
        assert status.lock is None
    newest = multi_history("web", releases).newest_first[0]
    assert newest.id == back.release_id and newest.hosts == tuple((h, OK) for h in HOSTS)



@pytest.mark.parametrize("fleet", ["hosts_at_once = 2\n"], indirect=True)
def test_two_at_a_time_host_two_failing_returns_host_one_and_leaves_host_three(
        fleet: tuple[str, list[AppReleases], list[DockerResources]]) -> None:
    name, releases, engines = fleet
    web = MultiHostApp("web", releases, ActionGate())
    third_before = [c.id for c in engines[2].client.containers.list(all=True)]
    plan = web.plan_deploy("2.0.0")
    assert plan.at_once == 2 and "2 at a time" in preview(plan)
    steps: list[StepEvent] = []
    outcome = web.run(plan, True, steps.append)

    assert outcome.outcome == FAILED
    assert [(r.host, r.state) for r in outcome.hosts] == [
        ("h1", RETURNED), ("h2", FAILED), ("h3", NOT_DEPLOYED)]
    ended = {event.step: event.outcome for event in steps if event.outcome is not None}
    assert ended["h1: health gate"] == OK and ended["h1 return: outcome"] == OK
    assert not any(step.startswith("h3") for step in ended)
    assert [version_on(e, name) for e in engines] == ["1.0.0"] * 3
    assert [c.id for c in engines[2].client.containers.list(all=True)] == third_before
    for host in releases:
        assert host.status(host.resolve("web"), mark_good=False).lock is None


def freeze_args(command: str) -> argparse.Namespace:
    """``opsui lock|unlock web`` as its parser makes it (confirmed, typed)."""
    return argparse.Namespace(command=command, app="web", message="incident 42", json=False,
                              yes=True, confirm="web")


def test_lock_and_unlock_act_on_every_host_and_lock_is_all_or_nothing(
        fleet: tuple[str, list[AppReleases], list[DockerResources]],
        capsys: pytest.CaptureFixture[str]) -> None:
    _, releases, _ = fleet
    gate = ActionGate()

    def command(what: str) -> int:
        return MultiHostCommands(releases, gate, freeze_args(what),
                                 lambda *_: pytest.fail("asked")).run()

    def locks() -> list[LockHolder | None]:
        return [r.lock_of(r.resolve("web")).holder() for r in releases]

    bob = LockHolder("bob", "desk", "2026-12-07T10:00:00+00:00", message="db migration",
                     manual=True)
    third = releases[2].lock_of(releases[2].resolve("web"))
    assert third.acquire(bob) is None
    with pytest.raises(ActionRefused, match=r"locked on h3: frozen by bob@desk.*db migration"):
        command("lock")
    assert locks() == [None, None, bob]  # those taken given back; bob's kept
    for given in releases[:2]:  # and each of their journals says so, after its lock
        actions = [(r["action"], r["outcome"], r["error"])
                   for r in given.journal(given.resolve("web")).read().records
                   if r.get("type") == "action" and r.get("action") in ("lock", "unlock")]
        assert actions[-2][:2] == ("lock", "ok")
        assert actions[-1][:2] == ("unlock", "ok")
        assert actions[-1][2].startswith("given back: web is locked on h3")
    third.release()

    assert command("lock") == 0
    held = locks()
    assert all(h is not None and h.manual and h.message == "incident 42" for h in held)
    assert "locked on h1, h2, h3" in capsys.readouterr().out
    web = MultiHostApp("web", releases, gate)
    with pytest.raises(ActionRefused, match="locked on h1"):  # a release waits for it
        web.run(web.plan_deploy("5.0.0"), True)

    assert command("unlock") == 0
    assert locks() == [None, None, None]
    said = capsys.readouterr().out
    assert all(f"{h}  " in said for h in HOSTS) and said.count("incident 42") == 3
