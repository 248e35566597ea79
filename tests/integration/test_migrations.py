"""Migrations on the real engine and PostgreSQL, locally and through the test sshd: in a
one-off container of the target app image (which carries psql) on the app's network,
after a verified backup; during a deploy (lock, pull, backup, migrate, swap, record)
and on their own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from docker.client import DockerClient
from docker.models.containers import Container

from opsui.domain.backups import BEFORE_MIGRATION, FAILED, OK
from opsui.domain.errors import ActionFailed, ActionRefused
from opsui.domain.operations.migration import MIGRATION_LABEL
from opsui.domain.operations.release_run import StepEvent
from opsui.domain.ports import HostConnection

from .backup_fixtures import (
    Database,
    app_config,
    backups_on,
    releases_on,
)
from .conftest import DockerResources
from .helpers import APP_IMAGE, Testbed, host_port, wait_for_health
from .test_deploy import version_served

pytestmark = pytest.mark.integration

ADD_NOTE = "ALTER TABLE orders ADD COLUMN note text"


def psql(sql: str) -> tuple[str, ...]:
    return ("psql", "-v", "ON_ERROR_STOP=1", "-h", "db", "-U", "postgres", "-d", "shop",
            "-c", sql)


@pytest.fixture
def web(testbed: Testbed, labelled: DockerResources, docker_client: DockerClient,
        shop_db: Database) -> Callable[[], Container]:
    """The app, version 1.0.0 from the registry, on the shop_db's network."""
    def start() -> Container:
        image = testbed.registry_ref(f"{APP_IMAGE}:1.0.0")
        docker_client.images.pull(image)
        container = labelled.container(image, network=shop_db.network.name,
                                       ports={"8080/tcp": ("127.0.0.1", None)})
        wait_for_health(container, "healthy")
        return container
    return start


def has_note(shop_db: Database) -> bool:
    return shop_db.sql("SELECT count(*) FROM information_schema.columns WHERE "
                        "table_name = 'orders' AND column_name = 'note'") == "1"


def migration_containers(docker_client: DockerClient) -> list[Container]:
    return list(docker_client.containers.list(all=True, filters={
        "label": f"{MIGRATION_LABEL}=web"}))


def test_a_deploy_with_a_migration_backs_up_migrates_then_swaps(
        any_host: HostConnection, web: Callable[[], Container], shop_db: Database,
        docker_client: DockerClient, testbed: Testbed, labelled: DockerResources,
        tmp_path: Path) -> None:
    old = web()
    config = app_config(any_host.name, tmp_path / "state", shop_db, name="web",
                        container=str(old.name), image=testbed.registry_ref(APP_IMAGE),
                        migrate=psql(ADD_NOTE))
    backups = backups_on(any_host, config)
    releases = releases_on(any_host, config, backups)
    app = releases.resolve("web")
    plan = releases.plan_deploy(app, "2.0.0")
    assert plan.steps[:5] == ("lock", "pull", "backup", "migrate", "create")
    events: list[StepEvent] = []
    lines: list[str] = []

    assert releases.deploy(app, plan, True, events.append, output=lines.append) == OK

    assert has_note(shop_db)
    serving = labelled.track(docker_client.containers.get(str(old.name)))
    assert serving.id != old.id and '"2.0.0"' in version_served(host_port(serving))
    done = [e.step for e in events if e.outcome == OK]
    assert done[:5] == ["lock", "pull", "backup", "migrate", "create"]
    assert "ALTER TABLE" in lines
    status = backups.status(app)
    backup, migration = status.backups[0], status.migrations[0]
    assert backup.why == BEFORE_MIGRATION and backup.verified
    assert migration.outcome == OK and migration.backup == backup.id
    assert migration.release == backup.release == releases.status(app).newest_first[0].id
    assert migration_containers(docker_client) == []  # removed once its output was kept


def test_a_failing_migration_leaves_the_old_version_serving_and_names_the_backup(
        any_host: HostConnection, web: Callable[[], Container], shop_db: Database,
        docker_client: DockerClient, testbed: Testbed, labelled: DockerResources,
        tmp_path: Path) -> None:
    old = web()
    config = app_config(any_host.name, tmp_path / "state", shop_db, name="web",
                        container=str(old.name), image=testbed.registry_ref(APP_IMAGE),
                        migrate=psql("ALTER TABLE no_such_table ADD COLUMN x int"))
    backups = backups_on(any_host, config)
    releases = releases_on(any_host, config, backups)
    app = releases.resolve("web")
    lines: list[str] = []

    outcome = releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True,
                              output=lines.append)

    assert outcome == FAILED
    old.reload()
    assert old.status == "running" and '"1.0.0"' in version_served(host_port(old))
    assert docker_client.containers.get(str(old.name)).id == old.id
    assert any("no_such_table" in line for line in lines)
    backup = backups.status(app).backups[0]
    release = releases.status(app).newest_first[0]
    assert release.outcome == FAILED and f"restore point: backup {backup.id}" in release.reason
    assert backup.why == BEFORE_MIGRATION and backup.verified
    migration = backups.status(app).migrations[0]
    assert migration.outcome == FAILED and migration.exit_code not in (0, None)
    kept = [labelled.track(c) for c in migration_containers(docker_client)]
    assert len(kept) == 1 and str(kept[0].id).startswith(migration.container)
    assert kept[0].attrs["HostConfig"]["PortBindings"] in ({}, None)
    assert not [c for c in docker_client.containers.list(all=True)
                if str(c.name).startswith(f"{old.name}.r")]  # no new version was made


def test_a_migration_on_its_own_needs_a_verified_backup_or_the_typed_override(
        any_host: HostConnection, web: Callable[[], Container], shop_db: Database,
        tmp_path: Path) -> None:
    old = web()
    config = app_config(any_host.name, tmp_path / "state", shop_db, name="web",
                        container=str(old.name), migrate=psql(ADD_NOTE),
                        dest="/proc/opsui-cannot-write-here")
    backups = backups_on(any_host, config)
    app = backups.resolve("web")
    plan = backups.plan_migration(app)
    assert plan.steps == ("lock", "backup", "migrate")
    assert plan.image == old.attrs["Config"]["Image"]

    with pytest.raises(ActionRefused, match="the migration did not run"):
        backups.migrate(app, plan, True)
    assert not has_note(shop_db)
    with pytest.raises(ActionRefused):
        backups.migrate(app, plan, True, override="web without a backup")  # not the text
    done = backups.migrate(app, plan, True, override=backups.override_text(app))

    assert done.outcome == OK and done.backup == "" and has_note(shop_db)
    status = backups.status(app)
    assert status.migrations[0].backup == "" and status.lock is None
    with pytest.raises(ActionFailed, match=r"restore point|no backup"):
        backups.migrate(app, plan, True, override=backups.override_text(app))  # column exists


def test_a_migration_exec_d_in_the_running_container_streams_its_output(
        any_host: HostConnection, web: Callable[[], Container], shop_db: Database,
        tmp_path: Path) -> None:
    old = web()
    config = app_config(any_host.name, tmp_path / "state", shop_db, name="web",
                        container=str(old.name), migrate=psql(ADD_NOTE), run_in="running")
    backups = backups_on(any_host, config)
    app = backups.resolve("web")
    lines: list[str] = []

    done = backups.migrate(app, backups.plan_migration(app), True, output=lines.append)

    assert done.outcome == OK and done.container == "" and "ALTER TABLE" in lines
    assert has_note(shop_db) and backups.status(app).backups[0].verified
    with pytest.raises(ActionFailed, match="exited with code"):  # the column exists now
        backups.migrate(app, backups.plan_migration(app), True, output=lines.append)
    assert any("already exists" in line for line in lines)
    assert backups.status(app).migrations[0].exit_code not in (0, None)
