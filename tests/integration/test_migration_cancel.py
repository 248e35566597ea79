"""A migration exec'd in the running container (``run_in = "running"``) stops there
when it is cancelled, and when the opsui that started it is killed (its lease lapses):
the engine cannot signal an exec, and before this the command went on after opsui had
said "cancelled", or had died, with nobody to record how it ended. A one-off migration
container (``run_in = "new"``) whose opsui was killed is removed by the host once its
lease lapses."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from opsui.backends import host_lease
from opsui.backends.docker_jobs import LEASE_SECONDS
from opsui.domain.errors import OpsuiError
from opsui.domain.ports import HostConnection

from .backup_fixtures import Database, app_config, backups_on
from .helpers import Testbed, wait_until

pytestmark = pytest.mark.integration

MIGRATION = ("sh", "-c", "echo started; exec sleep 317")


def sleeping(db: Database) -> list[str]:
    """Processes of the migration still running in the container."""
    top = db.container.top(ps_args="-eo pid,args")
    return [" ".join(row) for row in top.get("Processes") or [] if "sleep 317" in row[-1]]


def test_a_cancelled_migration_in_the_running_container_is_stopped_there(
        any_host: HostConnection, shop_db: Database, tmp_path: Path) -> None:
    config = app_config(any_host.name, tmp_path / "state", shop_db, migrate=MIGRATION,
                        run_in="running")
    backups = backups_on(any_host, config)
    app = backups.resolve("shop")
    cancelled = threading.Event()

    def output(line: str) -> None:
        if line == "started":
            cancelled.set()  # Ctrl-C once the migration runs

    with pytest.raises(OpsuiError):
        backups.migrate(app, backups.plan_migration(app), True, output=output,
                        cancelled=cancelled)

    assert cancelled.is_set()
    wait_until(lambda: not sleeping(shop_db), 20, interval=0.2,
               message=lambda: f"the migration gone from the container: {sleeping(shop_db)}")
    (record,) = backups.status(app).migrations
    assert record.outcome == "failed" and "cancelled" in record.error
    assert "may still run" not in record.error


def write_config(tmp_path: Path, shop_db: Database, testbed: Testbed, where: str,
                 run_in: str) -> Path:
    hosts = host = ""
    if where == "ssh":
        hosts = (f'[ssh]\nconfig = "{testbed.ssh_config}"\n'
                 f'known_hosts = "{testbed.ssh_known_hosts}"\n\n'
                 f'[hosts.bed]\nssh = "{testbed.ssh_url}"\n\n')
        host = 'host = "bed"\n'
    config = tmp_path / "opsui.toml"
    config.write_text(f'{hosts}[deploy]\nstate_dir = "{tmp_path / "state"}"\n\n'
                      f'[apps.shop]\n{host}container = "{shop_db.name}"\n\n'
                      f'[apps.shop.backup]\nengine = "postgres"\n'
                      f'container = "{shop_db.name}"\ndatabase = "shop"\n\n'
                      f'[apps.shop.migrate]\ncommand = {json.dumps(list(MIGRATION))}\n'
                      f'run_in = "{run_in}"\n')
    return config


def start_migrate(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "opsui", "--config", str(config),
                             "migrate", "shop", "--yes"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_a_migration_whose_opsui_was_killed_is_stopped_when_its_lease_lapses(
        where: str, shop_db: Database, testbed: Testbed, tmp_path: Path) -> None:
    migrate = start_migrate(write_config(tmp_path, shop_db, testbed, where, "running"))
    try:
        wait_until(lambda: sleeping(shop_db), 60, interval=0.2,
                   message="the migration running in the container")
    finally:
        migrate.send_signal(signal.SIGKILL)  # kill -9: opsui can neither cancel nor record
        migrate.wait(10)

    wait_until(lambda: not sleeping(shop_db), LEASE_SECONDS + 30, interval=0.5,
               message=lambda: f"the migration gone from the container: {sleeping(shop_db)}")


def one_off_containers(shop_db: Database, running: bool = False) -> list[str]:
    """The migration's one-off containers (running ones, or any)."""
    client = shop_db.container.client
    assert client is not None
    found = client.containers.list(all=not running,
                                   filters={"label": "opsui.migration=shop"})
    return [str(c.name) for c in found]


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_a_one_off_migration_container_whose_opsui_was_killed_is_removed(
        where: str, shop_db: Database, testbed: Testbed, tmp_path: Path) -> None:
    config = write_config(tmp_path, shop_db, testbed, where, "new")
    migrate = start_migrate(config)
    try:
        wait_until(lambda: one_off_containers(shop_db, running=True), 60, interval=0.2,
                   message="the one-off migration container running")
    finally:
        migrate.send_signal(signal.SIGKILL)  # kill -9: opsui can neither cancel nor record
        migrate.wait(10)

    # Its sleep would run for minutes; nobody would record how it ended.
    wait_until(lambda: not one_off_containers(shop_db), host_lease.LEASE_SECONDS + 20,
               interval=0.5, message=lambda: f"the one-off container removed: "
                                             f"{one_off_containers(shop_db)}")
    listed = subprocess.run([sys.executable, "-m", "opsui", "--config", str(config),
                             "backups", "shop", "--json"], capture_output=True, timeout=60,
                            check=True)
    (migration,) = json.loads(listed.stdout)["migrations"]
    assert migration["outcome"] == "interrupted"
