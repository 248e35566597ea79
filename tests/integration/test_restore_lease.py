"""A restore's work on the host belongs to a live opsui, and a stuck restore ends.

Real ``opsui restore`` processes against the test bed's PostgreSQL, locally and through
the sshd. The backup holds an index whose build sleeps a second per row, but only in a
restore's session (the function asks the application name: opsui's tag, or
pg_restore's own), so the restore spends
tens of seconds in CREATE INDEX with all its input read: it must not be taken for a
stall, yet a paused database must fail it with the stall reason, and a killed opsui
must leave no restore working in the database once its lease lapses. Either way the
restore's one transaction is rolled back and the journal says what happened.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opsui.backends.host_backups import LEASE_SECONDS
from opsui.domain.ports import HostConnection

from .backup_fixtures import Database, app_config, backups_on
from .helpers import Testbed, wait_until
from .test_backup_lease import write_config

pytestmark = pytest.mark.integration

SLOW_INDEX = """
CREATE TABLE slow_rows AS SELECT g AS id FROM generate_series(1, {rows}) g;
CREATE FUNCTION slow(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF current_setting('application_name') LIKE 'opsui restore%'
            OR current_setting('application_name') = 'pg_restore' THEN
        PERFORM pg_sleep(1);
    END IF;
    RETURN i;
END $$;
CREATE INDEX slow_rows_idx ON slow_rows (slow(id));
"""
RESTORING = ("(application_name LIKE 'opsui restore%' OR application_name = 'pg_restore')"
             " AND query NOT LIKE '%pg_stat_activity%'")
"""A restore's session (opsui tags it; an untagged pg_restore names itself)."""


@pytest.fixture(params=["local", "ssh"])
def where(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db(shop_db: Database) -> Iterator[Database]:
    """The shop database, never left paused (a failed test must not freeze the next)."""
    yield shop_db
    shop_db.container.reload()
    if shop_db.container.status == "paused":
        shop_db.container.unpause()


@pytest.fixture
def start_restore(tmp_path: Path) -> Iterator[Callable[[Path, str], subprocess.Popen[bytes]]]:
    """Starts ``opsui restore shop ID --confirm shop`` in its own session; one still
    running at the end of the test is killed."""
    started: list[subprocess.Popen[bytes]] = []

    def start(config: Path, backup_id: str) -> subprocess.Popen[bytes]:
        with open(tmp_path / "stderr.txt", "wb") as stderr:
            started.append(subprocess.Popen(
                [sys.executable, "-m", "opsui", "--config", str(config), "restore", "shop",
                 backup_id, "--confirm", "shop"], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def backed_up_with_a_slow_index(db: Database, local_host: HostConnection, tmp_path: Path,
                                rows: int) -> str:
    """A verified backup whose restore builds an index for ``rows`` seconds; then ada's
    order is deleted, so a restore that went through would bring it back."""
    db.sql(SLOW_INDEX.format(rows=rows))
    config = app_config("local", tmp_path / "state", db, dest=str(tmp_path / "dest"))
    backups = backups_on(local_host, config)
    backup = backups.backup(backups.resolve("shop"), True)
    db.sql("DELETE FROM orders WHERE customer = 'ada'")
    return backup.id


def building_the_index(db: Database, seconds: int) -> bool:
    return db.sql(f"SELECT count(*) FROM pg_stat_activity WHERE {RESTORING} AND query "
                  "LIKE 'CREATE INDEX%' AND "
                  f"now() - query_start > interval '{seconds} seconds'") != "0"


def restore_sessions(db: Database) -> list[str]:
    return db.sql(f"SELECT pid FROM pg_stat_activity WHERE {RESTORING}").splitlines()


def journaled_restores(config: Path) -> list[dict[str, object]]:
    """What ``opsui backups shop --json`` says of the restores, newest first."""
    out = subprocess.run([sys.executable, "-m", "opsui", "--config", str(config), "backups",
                          "shop", "--json"], capture_output=True, timeout=60, check=True)
    restores = json.loads(out.stdout)["restores"]
    assert isinstance(restores, list)
    return restores


def test_a_paused_database_fails_the_restore_with_the_stall_reason(
        where: str, db: Database, local_host: HostConnection, testbed: Testbed,
        tmp_path: Path,
        start_restore: Callable[[Path, str], subprocess.Popen[bytes]]) -> None:
    backup_id = backed_up_with_a_slow_index(db, local_host, tmp_path, rows=40)
    config = write_config(tmp_path, db, where, testbed, stall_seconds=3)
    restore = start_restore(config, backup_id)

    # All its input read, busy in the database for longer than the stall deadline:
    # that is progress, not a stall.
    wait_until(lambda: restore.poll() is not None or building_the_index(db, 5), 50,
               interval=0.2, message="the restore building its index for 5 s")
    assert restore.poll() is None, (tmp_path / "stderr.txt").read_text()

    db.container.pause()
    code = restore.wait(30)  # without a stall deadline: six hours

    said = (tmp_path / "stderr.txt").read_text()
    assert code != 0 and "no progress for 3 s: is the database paused or blocked?" in said
    db.container.unpause()
    # The frozen restore would go on once thawed: its session is ended instead, and its
    # transaction with it.
    wait_until(lambda: not restore_sessions(db), 30, interval=0.2,
               message=lambda: f"no restore session (still: {restore_sessions(db)})")
    assert "ada" not in db.customers()
    (last, *_) = journaled_restores(config)
    assert last["outcome"] == "failed" and "no progress for 3 s" in str(last["error"])


def test_a_killed_restore_is_stopped_in_the_database_when_its_lease_lapses(
        where: str, db: Database, local_host: HostConnection, testbed: Testbed,
        tmp_path: Path,
        start_restore: Callable[[Path, str], subprocess.Popen[bytes]]) -> None:
    backup_id = backed_up_with_a_slow_index(db, local_host, tmp_path, rows=90)
    config = write_config(tmp_path, db, where, testbed)
    restore = start_restore(config, backup_id)
    wait_until(lambda: restore.poll() is not None or building_the_index(db, 0), 50,
               interval=0.2, message="the restore building its index")
    assert restore.poll() is None, (tmp_path / "stderr.txt").read_text()

    restore.kill()  # kill -9: opsui can neither cancel nor record
    restore.wait(10)

    # Its index build would go on for a minute and commit, recorded by nobody.
    wait_until(lambda: not restore_sessions(db), LEASE_SECONDS + 20, interval=0.5,
               message=lambda: f"no restore session (still: {restore_sessions(db)})")
    assert "ada" not in db.customers()
    (last, *_) = journaled_restores(config)
    assert last["backup"] == backup_id and last["outcome"] == "interrupted"
