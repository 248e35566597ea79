"""Deploy and rollback through AppReleases (what the TUI keys and `opsui deploy` run), on
the real engine, locally and through the test sshd, images pulled from the registry."""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docker.client import DockerClient
from docker.models.containers import Container

from opsui.config import AppConfig, Config, DeploySettings
from opsui.domain.errors import ActionRefused
from opsui.domain.operations.app_releases import AppReleases, AppStatus
from opsui.domain.operations.deploy import DeployPlan
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.release_run import STOP_FIRST, StepEvent
from opsui.domain.operations.rollback import RollbackPlan
from opsui.domain.ports import HostConnection
from opsui.domain.releases import ADOPT, FAILED, OK, ROLLED_BACK

from .conftest import DockerResources
from .helpers import APP_IMAGE, Testbed, free_port, host_port, wait_for_health, wait_until

pytestmark = pytest.mark.integration


def version_served(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=5) as r:
        return str(r.read().decode())


def settings(state_dir: Path, **overrides: float) -> Config:
    deploy = DeploySettings(state_dir=str(state_dir), gate_timeout=40.0,
                            known_good_seconds=overrides.pop("known_good_seconds", 3600.0),
                            retain=int(overrides.pop("retain", 3)))
    return Config(deploy=deploy)


@pytest.fixture
def connection(any_host: HostConnection) -> HostConnection:
    """The same engine, reached as the local host or as a remote host over the sshd."""
    return any_host


def releases_on(connection: HostConnection, config: Config,
                gate: ActionGate | None = None) -> AppReleases:
    return AppReleases(connection.name, connection.engine, connection.prober,
                       connection.files, gate or ActionGate(), config,
                       connection.image_tags)


@pytest.fixture
def app_v1(testbed: Testbed, labelled: DockerResources,
           docker_client: DockerClient) -> Callable[..., Container]:
    def start(tag: str = "1.0.0", **kwargs: Any) -> Container:
        image = testbed.registry_ref(f"{APP_IMAGE}:{tag}")
        docker_client.images.pull(image)
        container = labelled.container(image, **kwargs)
        wait_for_health(container, "healthy")
        return container
    return start


def adopt_tracked(labelled: DockerResources, docker_client: DockerClient,
                  status: AppStatus) -> None:
    """Containers opsui made (they carry the test labels, copied) are removed at teardown
    anyway; tracking them makes that explicit for the ones a test looks at."""
    for release in status.releases:
        if release.container_id:
            with contextlib.suppress(Exception):
                labelled.track(docker_client.containers.get(release.container_id))


def test_a_good_deploy_takes_over_keeps_the_old_one_and_records_it(
        connection: HostConnection, app_v1: Callable[..., Container],
        docker_client: DockerClient, labelled: DockerResources, tmp_path: Path) -> None:
    old = app_v1(ports={"8080/tcp": ("127.0.0.1", None)}, environment={"FLAG": "1"})
    releases = releases_on(connection, settings(tmp_path / "state"))
    app = releases.resolve(str(old.name))
    events: list[StepEvent] = []
    plan = releases.plan_deploy(app, "2.0.0")
    assert plan.steps[0] == "lock" and "health gate" in plan.steps
    assert releases.deploy(app, plan, True, events.append) == OK
    status = releases.status(app)
    adopt_tracked(labelled, docker_client, status)
    new = docker_client.containers.get(str(old.name))  # the name carries on
    assert new.id != old.id and '"2.0.0"' in version_served(host_port(new))
    assert new.labels["opsui.app"] == app.name and new.labels["opsui.digest"].startswith(
        "sha256:")
    old.reload()
    assert old.status == "exited" and ".before-r" in str(old.name)
    adopted, deployed = status.releases
    assert adopted.action == ADOPT and adopted.container_id == old.id
    assert deployed.outcome == OK and deployed.version == "2.0.0"
    assert deployed.digest.startswith("sha256:") and deployed.container_id == new.id
    assert [s.name for s in deployed.steps][:3] == ["pull", "create", "start"]
    assert status.lock is None and status.target is adopted
    assert [a.action for a in status.audit] == ["deploy"] and status.audit[0].outcome == OK
    assert any(e.step == "health gate" and e.outcome == OK for e in events)


def test_a_never_healthy_version_is_refused_and_the_old_one_keeps_serving(
        connection: HostConnection, app_v1: Callable[..., Container],
        docker_client: DockerClient, labelled: DockerResources, tmp_path: Path) -> None:
    port = free_port()
    old = app_v1(ports={"8080/tcp": ("127.0.0.1", port)})  # a fixed port: stop-first
    releases = releases_on(connection, settings(tmp_path / "state"))
    app = releases.resolve(str(old.name))
    plan = releases.plan_deploy(app, "3.0.0")
    assert plan.strategy == STOP_FIRST and "stop old" in plan.steps
    assert releases.deploy(app, plan, True) == FAILED
    status = releases.status(app)
    adopt_tracked(labelled, docker_client, status)
    wait_for_health(old, "healthy")
    assert '"1.0.0"' in version_served(port)
    failed = status.newest_first[0]
    assert failed.outcome == FAILED and "unhealthy" in failed.reason
    assert "health checks of the new container" in failed.reason
    assert "last lines of the new container" in failed.reason
    new = docker_client.containers.get(failed.container_id)
    assert new.status == "exited"
    assert status.current is not None and status.current.action == ADOPT


def test_a_version_that_exits_at_once_never_takes_over(
        connection: HostConnection, app_v1: Callable[..., Container],
        docker_client: DockerClient, labelled: DockerResources, tmp_path: Path) -> None:
    old = app_v1(ports={"8080/tcp": ("127.0.0.1", None)})
    releases = releases_on(connection, settings(tmp_path / "state"))
    app = releases.resolve(str(old.name))
    assert releases.deploy(app, releases.plan_deploy(app, "4.0.0"), True) == FAILED
    status = releases.status(app)
    adopt_tracked(labelled, docker_client, status)
    failed = status.newest_first[0]
    assert "exited with code 3" in failed.reason
    assert "fatal: cannot read /etc/app/config.yml" in failed.reason
    gate = next(s for s in failed.steps if s.name == "health gate")
    assert gate.outcome == FAILED and gate.seconds < 20  # fails fast, not at the timeout
    old.reload()
    assert old.status == "running" and '"1.0.0"' in version_served(host_port(old))


def test_rollback_goes_to_the_last_known_good_release_not_the_previous_one(
        connection: HostConnection, app_v1: Callable[..., Container],
        docker_client: DockerClient, labelled: DockerResources, tmp_path: Path) -> None:
    state = tmp_path / "state"
    old = app_v1(ports={"8080/tcp": ("127.0.0.1", None)}, environment={"MODE": "blue"})
    quick = releases_on(connection, settings(state, known_good_seconds=1))
    app = quick.resolve(str(old.name))
    assert quick.deploy(app, quick.plan_deploy(app, "2.0.0"), True) == OK
    # 2.0.0 becomes known good once it has been up 1 s; 1.0.0 (adopted) never was.
    wait_until(lambda: quick.status(app).current.known_good or None,  # type: ignore[union-attr]
               15.0, message="2.0.0 to be marked known good")
    slow = releases_on(connection, settings(state))  # from here nothing gets marked
    assert slow.deploy(app, slow.plan_deploy(app, "5.0.0"), True) == OK
    assert slow.deploy(app, slow.plan_deploy(app, "1.0.0"), True) == OK
    plan = slow.plan_rollback(app)
    assert isinstance(plan, RollbackPlan) and plan.target is not None
    assert plan.target.version == "2.0.0" and plan.target.known_good  # not 5.0.0
    assert plan.target_container is not None and plan.age_seconds() is not None
    events: list[StepEvent] = []
    assert slow.rollback(app, plan, True, events.append) == OK
    status = slow.status(app)
    adopt_tracked(labelled, docker_client, status)
    serving = docker_client.containers.get(str(old.name))
    assert serving.id == plan.target_container.id
    assert '"2.0.0"' in version_served(host_port(serving))
    rollback, replaced = status.newest_first[0], status.newest_first[1]
    assert rollback.action == "rollback" and rollback.outcome == OK
    assert rollback.target == plan.target.id
    assert replaced.version == "1.0.0" and replaced.shown_outcome == ROLLED_BACK
    assert [e.step for e in events if e.outcome == OK][:2] == ["lock", "start"]
    assert status.current is rollback and status.lock is None


def test_a_rollback_whose_target_was_pruned_is_refused_before_anything_changes(
        connection: HostConnection, docker_client: DockerClient, labelled: DockerResources,
        testbed: Testbed, tmp_path: Path) -> None:
    base = testbed.registry_ref(f"{APP_IMAGE}:1.0.0")
    docker_client.images.pull(base)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base}\nLABEL opsui.test=1 "
                                        f"opsui.test.owner={labelled.owner}\n")
    tag = f"opsui-test/prunable:{labelled.owner}"
    image, _ = docker_client.images.build(path=str(context), tag=tag, rm=True)
    try:
        old = labelled.container(tag, ports={"8080/tcp": ("127.0.0.1", None)})
        wait_for_health(old, "healthy")
        base_config = settings(tmp_path / "state")
        web = AppConfig("prunable", host=connection.name, container=str(old.name),
                        image=testbed.registry_ref(APP_IMAGE), deploy=base_config.deploy)
        releases = releases_on(connection, Config(apps=(web,), deploy=base_config.deploy))
        app = releases.resolve("prunable")
        assert releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True) == OK
        adopt_tracked(labelled, docker_client, releases.status(app))
        old.remove(force=True)  # the kept container and its image are pruned
        docker_client.images.remove(str(image.id), force=True)
        with pytest.raises(ActionRefused, match="no longer on"):
            releases.plan_rollback(app)
        status = releases.status(app)
    finally:
        if any(image.id == i.id for i in docker_client.images.list()):
            docker_client.images.remove(str(image.id), force=True)
    serving = docker_client.containers.get(str(old.name))
    assert serving.status == "running" and '"2.0.0"' in version_served(host_port(serving))
    assert [r.action for r in status.releases] == [ADOPT, "deploy"]  # nothing new


def test_a_frozen_app_refuses_deploys_and_everyone_sees_why(
        connection: HostConnection, app_v1: Callable[..., Container],
        tmp_path: Path) -> None:
    old = app_v1()
    releases = releases_on(connection, settings(tmp_path / "state"))
    app = releases.resolve(str(old.name))
    holder = releases.lock(app, "incident 42: db failover", True)
    assert holder.manual
    status = releases.status(app)
    assert status.frozen and status.lock is not None and "incident 42" in status.lock.message
    with pytest.raises(ActionRefused, match=r"frozen by .*incident 42"):
        releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True)
    old.reload()
    assert old.status == "running"
    assert releases.unlock(app, True) == holder
    assert releases.status(app).lock is None
    assert [a.action for a in releases.status(app).audit] == ["lock", "deploy", "unlock"]


def test_read_only_and_an_unconfirmed_deploy_change_nothing(
        app_v1: Callable[..., Container], tmp_path: Path) -> None:
    from opsui.backends.local import LocalHost

    old = app_v1()
    host = LocalHost("local")
    host.connect()
    try:
        read_only = releases_on(host, settings(tmp_path / "s"), ActionGate(read_only=True))
        app = read_only.resolve(str(old.name))
        with pytest.raises(ActionRefused, match="read-only"):
            read_only.deploy(app, read_only.plan_deploy(app, "2.0.0"), True)
        confirming = releases_on(host, settings(tmp_path / "s"))
        with pytest.raises(ActionRefused, match="Not confirmed"):
            confirming.deploy(app, confirming.plan_deploy(app, "2.0.0"), False)
    finally:
        host.close()
    old.reload()
    assert old.status == "running" and old.name == old.attrs["Name"].lstrip("/")
    journal = tmp_path / "s" / str(old.name) / "journal.jsonl"
    lines = journal.read_text().splitlines() if journal.exists() else []
    assert all('"type":"action"' in line for line in lines)  # audit lines, no release
    assert not (tmp_path / "s" / str(old.name) / "lock").exists()


def test_a_stale_lock_left_without_details_still_refuses(
        app_v1: Callable[..., Container], tmp_path: Path) -> None:
    from opsui.backends.local import LocalHost

    old = app_v1()
    (tmp_path / "s" / str(old.name) / "lock").mkdir(parents=True)
    host = LocalHost("local")
    host.connect()
    try:
        releases = releases_on(host, settings(tmp_path / "s"))
        app = releases.resolve(str(old.name))
        with pytest.raises(ActionRefused, match="holds no details"):
            releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True)
    finally:
        host.close()
    old.reload()
    assert old.status == "running"


def test_retention_removes_old_releases_but_never_the_rollback_target(
        app_v1: Callable[..., Container], docker_client: DockerClient,
        labelled: DockerResources, tmp_path: Path) -> None:
    from opsui.backends.local import LocalHost

    old = app_v1(ports={"8080/tcp": ("127.0.0.1", None)})
    host = LocalHost("local")
    host.connect()
    try:
        quick = releases_on(host, settings(tmp_path / "s", retain=1, known_good_seconds=1))
        app = quick.resolve(str(old.name))
        assert quick.deploy(app, quick.plan_deploy(app, "2.0.0"), True) == OK
        wait_until(lambda: quick.status(app).current.known_good or None,  # type: ignore[union-attr]
                   15.0, message="2.0.0 to be marked known good")
        slow = releases_on(host, settings(tmp_path / "s", retain=1))
        for tag in ("5.0.0", "1.0.0", "5.0.0"):
            assert slow.deploy(app, slow.plan_deploy(app, tag), True) == OK
        status = slow.status(app)
    finally:
        host.close()
    adopt_tracked(labelled, docker_client, status)
    present = {c.id for c in docker_client.containers.list(all=True)}
    assert status.target is not None and status.target.version == "2.0.0"
    assert status.target.container_id in present  # the known-good target stays
    kept = [r for r in status.releases if r.container_id in present]
    assert [r.version for r in kept] == ["2.0.0", "1.0.0", "5.0.0"]  # target + 1 + serving
    assert "removed" in status.newest_first[0].reason


def test_a_rollback_boots_the_image_when_only_the_kept_container_was_removed(
        app_v1: Callable[..., Container], docker_client: DockerClient,
        labelled: DockerResources, tmp_path: Path) -> None:
    from opsui.backends.local import LocalHost

    old = app_v1(ports={"8080/tcp": ("127.0.0.1", None)})
    host = LocalHost("local")
    host.connect()
    try:
        releases = releases_on(host, settings(tmp_path / "s"))
        app = releases.resolve(str(old.name))
        assert releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True) == OK
        old.remove(force=True)
        plan = releases.plan_rollback(app)
        assert isinstance(plan, RollbackPlan)
        assert plan.target_container is None and "image" in plan.boots
        assert "create" in plan.steps
        assert releases.rollback(app, plan, True) == OK
        status = releases.status(app)
    finally:
        host.close()
    adopt_tracked(labelled, docker_client, status)
    serving = docker_client.containers.get(str(old.name))
    labelled.track(serving)
    assert '"1.0.0"' in version_served(host_port(serving))
    assert serving.image is not None and serving.image.id == status.newest_first[0].image_id


def test_a_link_lost_mid_deploy_leaves_an_interrupted_release_to_roll_back(
        app_v1: Callable[..., Container], docker_client: DockerClient,
        labelled: DockerResources, testbed: Testbed, tmp_path: Path) -> None:
    import os
    import signal
    import threading

    from opsui.domain.errors import OpsuiError
    from opsui.domain.operations.recovery import ABORT
    from opsui.domain.releases import INTERRUPTED

    from .helpers import client_ports_to, sshd_children_serving

    old = app_v1(ports={"8080/tcp": ("127.0.0.1", None)})
    base = settings(tmp_path / "state")
    never = f"http://127.0.0.1:{free_port()}/never"  # holds the deploy in its gate
    web = AppConfig("web", host="bed", container=str(old.name), health_urls=(never,),
                    health_timeout=1.0, deploy=base.deploy)
    config = Config(apps=(web,), deploy=base.deploy)
    first = testbed.opsui_ssh_host(tmp_path)
    first.connect()
    releases = releases_on(first, config)
    app = releases.resolve("web")
    plan = releases.plan_deploy(app, "2.0.0")
    errors: list[BaseException] = []
    started = threading.Event()

    def report(event: StepEvent) -> None:
        if event.step == "health gate" and event.outcome is None:
            started.set()

    def deploy() -> None:
        try:
            releases.deploy(app, plan, True, report)
        except OpsuiError as exc:
            errors.append(exc)

    worker = threading.Thread(target=deploy)
    worker.start()
    try:
        assert started.wait(60), "the deploy never reached its health gate"
        ours = client_ports_to(testbed.ssh_port, os.getpid())
        for child in sshd_children_serving(testbed.state_dir / "sshd.pid", testbed.ssh_port,
                                           ours):
            os.kill(child, signal.SIGKILL)  # the link drops: only this test's sessions
        worker.join(90)
        assert not worker.is_alive()
    finally:
        first.close()
    assert errors, "the deploy should fail loudly when its host goes away"
    second = testbed.opsui_ssh_host(tmp_path)
    second.connect()
    try:
        again = releases_on(second, config)
        status = again.status(app)
        adopt_tracked(labelled, docker_client, status)
        interrupted = status.interrupted
        assert interrupted is not None and interrupted.version == "2.0.0"
        assert status.lock is not None and status.lock.release == interrupted.id
        old.reload()
        assert old.status == "running"  # nothing was switched on its own
        recovery = again.plan_recovery(app, ABORT)
        assert again.recover(app, recovery, True) == INTERRUPTED
        after = again.status(app)
    finally:
        second.close()
    assert after.lock is None and after.interrupted is None
    new = docker_client.containers.get(interrupted.container_id)
    assert new.status == "exited"
    assert docker_client.containers.get(str(old.name)).id == old.id
    assert '"1.0.0"' in version_served(host_port(old))


def downtime_note(notes: tuple[str, ...]) -> str:
    return next(note for note in notes if note.startswith("DOWNTIME:"))


def test_the_plans_of_a_fixed_port_app_give_the_downtime_its_last_release_took(
        connection: HostConnection, app_v1: Callable[..., Container],
        docker_client: DockerClient, labelled: DockerResources, tmp_path: Path) -> None:
    port = free_port()
    old = app_v1(ports={"8080/tcp": ("127.0.0.1", port)})
    releases = releases_on(connection, settings(tmp_path / "state"))
    app = releases.resolve(str(old.name))
    first = releases.plan_deploy(app, "2.0.0")
    assert isinstance(first, DeployPlan) and first.strategy == STOP_FIRST
    note = downtime_note(first.notes)
    assert f"127.0.0.1:{port}" in note and "no earlier stop-first release" in note
    assert f"opsui front {app.name}" in note  # how to avoid it

    assert releases.deploy(app, first, True) == OK
    status = releases.status(app)
    adopt_tracked(labelled, docker_client, status)
    assert '"2.0.0"' in version_served(port)
    deployed = status.newest_first[0]
    took = sum(s.seconds for s in deployed.steps
               if s.name in ("stop old", "start", "health gate"))

    back = releases.plan_rollback(app)
    assert isinstance(back, RollbackPlan)
    note = downtime_note(back.notes)
    assert f"about {took:.1f} s" in note and deployed.id in note
