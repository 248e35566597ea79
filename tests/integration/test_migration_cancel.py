"""A cancelled migration exec'd in the running container (``run_in = "running"``)
stops there: the engine cannot signal an exec, and before this the command went on
after opsui had said "cancelled"."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from opsui.domain.errors import OpsuiError
from opsui.domain.ports import HostConnection

from .backup_fixtures import Database, app_config, backups_on
from .helpers import wait_until

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
