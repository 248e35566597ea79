"""A backup's work on the host belongs to a live opsui, and a stuck dump ends.

Real ``opsui backup`` processes against the test bed's PostgreSQL, locally and through
the sshd: killed with SIGKILL mid-dump, interrupted with Ctrl-C while pg_dump waits on
a lock, and with the database paused mid-dump. Each must end with no file under a
final name, no temporary file, no backup claimed by the journal, and no pg_dump
session left in the database.
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

from .backup_fixtures import Database
from .helpers import Testbed, wait_until

pytestmark = pytest.mark.integration

BIG_TABLE = ("CREATE TABLE big AS SELECT g AS id, repeat(md5(random()::text), 8) AS pad "
             "FROM generate_series(1, 1500000) g")
"""Enough rows that the dump takes seconds, so it can be caught mid-way."""
DUMP_SESSIONS = ("SELECT pid FROM pg_stat_activity WHERE (application_name = 'pg_dump' "
                 "OR application_name LIKE 'opsui %')")


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


def write_config(tmp_path: Path, db: Database, where: str, testbed: Testbed,
                 stall_seconds: float | None = None) -> Path:
    hosts = host = ""
    if where == "ssh":
        hosts = (f'[ssh]\nconfig = "{testbed.ssh_config}"\n'
                 f'known_hosts = "{testbed.ssh_known_hosts}"\n\n'
                 f'[hosts.bed]\nssh = "{testbed.ssh_url}"\n\n')
        host = 'host = "bed"\n'
    stall = f"stall_seconds = {stall_seconds}\n" if stall_seconds else ""
    path = tmp_path / "opsui.toml"
    path.write_text(f'{hosts}[deploy]\nstate_dir = "{tmp_path / "state"}"\n\n'
                    f'[apps.shop]\n{host}container = "{db.name}"\n\n'
                    f'[apps.shop.backup]\nengine = "postgres"\ncontainer = "{db.name}"\n'
                    f'database = "shop"\ndest = "{tmp_path / "dest"}"\n{stall}')
    return path


@pytest.fixture
def start_backup(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    """Starts ``opsui backup shop --yes`` in its own session, as a terminal would run
    it (so a Ctrl-C goes to its whole process group); one still running at the end of
    the test (a hung backup) is killed."""
    started: list[subprocess.Popen[bytes]] = []

    def start(config: Path) -> subprocess.Popen[bytes]:
        with open(tmp_path / "stderr.txt", "wb") as stderr:
            started.append(subprocess.Popen(
                [sys.executable, "-m", "opsui", "--config", str(config), "backup", "shop",
                 "--yes"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=stderr, start_new_session=True))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def dest_files(tmp_path: Path) -> list[str]:
    dest = tmp_path / "dest"
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


def dumping(tmp_path: Path) -> bool:
    """The dump's temporary file has bytes: pg_dump is mid-way."""
    return any(p.stat().st_size > 0 for p in (tmp_path / "dest").glob(".*.partial"))


def dump_sessions(db: Database) -> list[str]:
    return db.sql(DUMP_SESSIONS).splitlines()


def backups_claimed(tmp_path: Path) -> list[dict[str, object]]:
    """Backups the journal says ended ok."""
    path = tmp_path / "state" / "shop" / "journal.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()] \
        if path.exists() else []
    return [r for r in records if r.get("type") == "backup" and r.get("outcome") == "ok"]


def test_a_killed_backup_never_appears_under_its_name(
        where: str, db: Database, testbed: Testbed, tmp_path: Path,
        start_backup: Callable[[Path], subprocess.Popen[bytes]]) -> None:
    db.sql(BIG_TABLE)
    backup = start_backup(write_config(tmp_path, db, where, testbed))
    wait_until(lambda: dumping(tmp_path), 60, interval=0.02,
               message="the dump's temporary file", ignore=(OSError,))

    backup.kill()  # kill -9: opsui can neither cancel nor clean up
    backup.wait(10)

    # The dump outlives opsui by seconds (it would have finished and been renamed);
    # once the lease lapses the host discards it, finished or not.
    wait_until(lambda: dest_files(tmp_path) == [] and not dump_sessions(db),
               LEASE_SECONDS + 30, interval=0.2,
               message=lambda: f"an empty destination, no dump session: "
                               f"{dest_files(tmp_path)}, {dump_sessions(db)}")
    assert backups_claimed(tmp_path) == []


def test_ctrl_c_ends_a_pg_dump_that_waits_in_the_database(
        where: str, db: Database, testbed: Testbed, tmp_path: Path,
        start_backup: Callable[[Path], subprocess.Popen[bytes]]) -> None:
    # Another session holds a lock the dump needs: pg_dump waits inside the database,
    # where killing the docker CLI on the host does not reach it.
    db.container.exec_run(["psql", "-U", "postgres", "-d", "shop", "-c",
                           "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE; "
                           "SELECT pg_sleep(600)"], detach=True)
    wait_until(lambda: db.sql("SELECT count(*) FROM pg_locks WHERE mode = "
                              "'AccessExclusiveLock' AND relation = 'orders'::regclass")
               == "1", 30, message="the lock on orders")
    backup = start_backup(write_config(tmp_path, db, where, testbed))
    wait_until(lambda: db.sql(DUMP_SESSIONS + " AND wait_event_type = 'Lock'"), 60,
               interval=0.1, message="pg_dump waiting for the lock")

    os.killpg(backup.pid, signal.SIGINT)  # Ctrl-C in the terminal
    code = backup.wait(60)
    said = (tmp_path / "stderr.txt").read_text()
    assert code != 0 and "cancel" in said, said

    wait_until(lambda: not dump_sessions(db), 30, interval=0.2,
               message=lambda: f"no pg_dump session (still: {dump_sessions(db)})")
    assert dest_files(tmp_path) == [] and backups_claimed(tmp_path) == []


def test_a_paused_database_fails_the_backup_with_the_stall_reason(
        where: str, db: Database, testbed: Testbed, tmp_path: Path,
        start_backup: Callable[[Path], subprocess.Popen[bytes]]) -> None:
    db.sql(BIG_TABLE)
    backup = start_backup(write_config(tmp_path, db, where, testbed, stall_seconds=3))
    wait_until(lambda: dumping(tmp_path), 60, interval=0.02,
               message="the dump's temporary file", ignore=(OSError,))

    db.container.pause()
    code = backup.wait(60)  # without a stall deadline: six hours

    said = (tmp_path / "stderr.txt").read_text()
    assert code != 0 and "no progress for 3 s: is the database paused or blocked?" in said
    assert dest_files(tmp_path) == [] and backups_claimed(tmp_path) == []
    db.container.unpause()
    # The frozen pg_dump would go on once thawed: its session is ended instead.
    wait_until(lambda: not dump_sessions(db), 30, interval=0.2,
               message=lambda: f"no pg_dump session (still: {dump_sessions(db)})")
    assert dest_files(tmp_path) == []
