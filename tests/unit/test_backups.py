"""Backup engines' commands, the journal's backup records and retention's promises.

mysql has no container in the test bed: its commands are checked here word for word.
PostgreSQL (tests/integration/test_backups.py) and sqlite (test_sqlite_backup.py, in an
image made from this machine's sqlite3) also run for real.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from opsui.config import BackupConfig
from opsui.domain.backup_commands import check_passed, engine_commands
from opsui.domain.backups import (
    BEFORE_MIGRATION,
    Backup,
    find_backup,
    fold_backups,
    fold_migrations,
    fold_restores,
    retention_doomed,
)
from opsui.domain.errors import ActionFailed
from opsui.domain.history import Journal
from opsui.domain.operations.backup_run import BackupSteps
from opsui.domain.ports import CommandResult, DumpResult

PG = BackupConfig("postgres", container="db", database="shop")


def test_postgres_dumps_in_custom_format_and_restores_in_one_transaction() -> None:
    commands = engine_commands(PG, tag="opsui shop-b1.dump")
    assert commands.dump == ("docker", "exec", "-e", "PGAPPNAME=opsui shop-b1.dump", "db",
                             "pg_dump", "-Fc", "-U", "postgres", "-d", "shop")
    assert commands.verify == ("docker", "exec", "-i", "db", "pg_restore", "--list")
    assert commands.restore == ("docker", "exec", "-i", "-e", "PGAPPNAME=opsui shop-b1.dump",
                                "db", "pg_restore", "--single-transaction",
                                "--exit-on-error", "--clean", "--if-exists", "-U",
                                "postgres", "-d", "shop")
    assert commands.read_back == ("docker", "exec", "-i", "db", "pg_restore", "-f",
                                  "/dev/null")
    assert commands.extension == "dump"
    # A stopped dump's session is ended in the database by its tag, since killing the
    # docker CLI on the host leaves pg_dump running in the container.
    assert commands.stop is not None
    assert commands.stop[:5] == ("docker", "exec", "-e", "PGAPPNAME=opsui shop-b1.dump",
                                 "db")
    assert "pg_terminate_backend" in commands.stop[-1]
    # A restore that reads no input (an index build) is seen working by its session.
    assert commands.busy is not None and commands.busy[:5] == commands.stop[:5]
    assert "state = 'active'" in commands.busy[-1] and "'Lock'" in commands.busy[-1]


def test_another_engine_endpoint_goes_through_docker_dash_h() -> None:
    config = BackupConfig("postgres", container="db", database="shop", user="app")
    commands = engine_commands(config, ("docker", "-H", "unix:///run/other.sock"))
    assert commands.dump[:4] == ("docker", "-H", "unix:///run/other.sock", "exec")
    assert commands.dump[6] == "db"
    assert commands.dump[-4:] == ("-U", "app", "-d", "shop")


def test_mysql_dumps_in_one_consistent_transaction() -> None:
    commands = engine_commands(BackupConfig("mysql", container="m", database="shop",
                                            user="root"))
    assert commands.dump == ("docker", "exec", "m", "mysqldump", "--single-transaction",
                             "--quick", "--routines", "--triggers", "-u", "root", "shop")
    assert commands.restore == ("docker", "exec", "-i", "m", "mysql", "-u", "root", "shop")
    assert commands.verify is not None and "Dump completed" in commands.verify[-1]


def test_sqlite_uses_the_online_backup_inside_the_container() -> None:
    commands = engine_commands(BackupConfig("sqlite", container="app", path="/data/app.db"))
    assert commands.dump[:5] == ("docker", "exec", "app", "sh", "-c")
    assert ".backup" in commands.dump[5] and commands.dump[6:] == ("sh", "/data/app.db")
    assert commands.verify is not None and "integrity_check" in commands.verify[-1]
    assert commands.restore is not None and ".restore" in commands.restore[6]
    assert commands.restore[:3] == ("docker", "exec", "-i")


def test_sqlite_scripts_run_under_a_posix_shell() -> None:
    commands = engine_commands(BackupConfig("sqlite", container="app", path="/data/app.db"))
    assert commands.restore is not None
    for script in (commands.dump[5], commands.restore[6]):
        assert subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0


def test_a_command_engine_runs_in_its_container_or_on_the_host() -> None:
    inside = engine_commands(BackupConfig("command", container="c", command=("dump", "-x"),
                                          restore_command=("load",)))
    assert inside.dump == ("docker", "exec", "c", "dump", "-x")
    assert inside.restore == ("docker", "exec", "-i", "c", "load")
    on_host = engine_commands(BackupConfig("command", command=("tar", "c", "/srv")))
    assert on_host.dump == ("tar", "c", "/srv") and on_host.restore is None
    assert on_host.verify is None


@pytest.mark.parametrize(("engine", "result", "ok", "said"), [
    ("postgres", CommandResult(0, b";\n; Archive\n;\n215; 1259 16385 TABLE public orders\n",
                               b""), True, "1 entries"),
    ("postgres", CommandResult(0, b"; only comments\n", b""), False, "no entries"),
    ("postgres", CommandResult(1, b"", b"pg_restore: error: input file is too short"),
     False, "too short"),
    ("sqlite", CommandResult(0, b"ok\n", b""), True, "ok"),
    ("sqlite", CommandResult(0, b"*** in database main ***\nPage 3 is never used\n", b""),
     False, "never used"),
    ("mysql", CommandResult(1, b"", b""), False, "exit 1"),
])
def test_engine_verdicts(engine: str, result: CommandResult, ok: bool, said: str) -> None:
    passed, detail = check_passed(engine, result)
    assert passed is ok and said in detail


def record(bid: str, **fields: Any) -> dict[str, Any]:
    return {"type": "backup", "id": bid, "engine": "postgres", "path": f"/b/{bid}.dump",
            "at": "2026-12-01T20:00:00+00:00", "who": "ops@laptop", "why": "manual",
            "outcome": "ok", "size": 10, "sha256": "ab" * 32,
            "verify": {"ok": True, "detail": "pg_restore --list: 7 entries"}, **fields}


def test_folding_applies_later_verifications_and_removals() -> None:
    records = [record("b1"), record("b2", outcome="failed", error="the dump failed"),
               {"type": "backup_verified", "backup": "b1", "ok": False,
                "detail": "sha256 differs", "at": "2026-12-02T00:00:00+00:00"},
               record("b3"), {"type": "backup_removed", "backup": "b3"},
               {"type": "backup_verified", "backup": "nope", "ok": True},
               {"type": "release", "id": "r1"}]
    b1, b2, b3 = fold_backups(records)
    assert not b1.verified and b1.check == "sha256 differs" and b1.usable
    assert b2.outcome == "failed" and not b2.usable and b2.error == "the dump failed"
    assert b3.removed and not b3.usable and b3.verified


def test_folding_survives_hostile_or_missing_fields() -> None:
    (backup,) = fold_backups([record("b1", size="lots", seconds=True, verify="yes",
                                     who="\x1b]0;pwned\x07eve")])
    assert backup.size == 0 and backup.seconds == 0.0 and not backup.verified
    assert "\x1b" not in backup.who


def test_restores_and_migrations_fold_from_their_records() -> None:
    records = [{"type": "restore", "id": "r1", "backup": "b1", "outcome": "ok",
                "safety_backup": "b2", "seconds": 1.5},
               {"type": "migration", "id": "r2", "release": "r2", "backup": "b3",
                "outcome": "failed", "exit_code": 3, "container": "abc"}]
    (restore,) = fold_restores(records)
    (migration,) = fold_migrations(records)
    assert restore.safety_backup == "b2" and restore.seconds == 1.5
    assert migration.exit_code == 3 and migration.backup == "b3" and migration.container


def backup(bid: str, *, verified: bool = True, why: str = "manual",
           outcome: str = "ok", removed: bool = False) -> Backup:
    return Backup(bid, "postgres", f"/b/{bid}", "", "", why, outcome, verified=verified,
                  removed=removed)


def test_retention_keeps_the_newest() -> None:
    backups = [backup(f"b{i}") for i in range(5)]
    assert [b.id for b in retention_doomed(backups, 2)] == ["b0", "b1", "b2"]


def test_retention_never_removes_the_newest_verified_backup() -> None:
    backups = [backup("b0"), backup("b1"), backup("b2", verified=False),
               backup("b3", verified=False)]
    assert [b.id for b in retention_doomed(backups, 2)] == ["b0"]  # b1: newest verified


def test_retention_never_removes_a_backup_taken_before_a_migration() -> None:
    backups = [backup("b0", why=BEFORE_MIGRATION), backup("b1", why=BEFORE_MIGRATION),
               backup("b2"), backup("b3"), backup("b4")]
    assert [b.id for b in retention_doomed(backups, 1)] == ["b2", "b3"]


def test_retention_ignores_failed_and_removed_backups() -> None:
    backups = [backup("b0", outcome="failed"), backup("b1", removed=True), backup("b2"),
               backup("b3")]
    assert retention_doomed(backups, 2) == []


def test_a_backup_is_found_by_id_prefix_or_file_name() -> None:
    backups = [backup("b20261201-aa"), backup("b20261201-ab"), backup("b20261202-cc")]
    assert find_backup(backups, "b20261202") is backups[2]
    assert find_backup(backups, "b20261201") is None  # ambiguous
    assert find_backup(backups, "b20261201-ab") is backups[1]
    assert find_backup(backups, "/b/b20261201-aa") is backups[0]


def test_the_backup_facade_loads_no_io_library() -> None:
    code = ("import sys, opsui.domain.operations.app_backups, "
            "opsui.domain.operations.app_releases; "
            "print(' '.join(sys.modules))")
    loaded = {m.split(".")[0] for m in subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()}
    assert not loaded & {"docker", "paramiko", "textual", "httpx", "psutil"}


class MemoryFiles:
    """HostFiles in memory: enough for a journal."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def append_record(self, path: str, record: bytes) -> None:
        self.files[path] = self.files.get(path, b"") + record

    def create_dir_with(self, path: str, name: str, content: bytes) -> bool:
        return True

    def exists(self, path: str) -> bool:
        return path in self.files

    def remove_dir(self, path: str) -> None:
        pass


class CutShortStore:
    """A dump that 'succeeds' but whose archive does not read back whole."""

    def __init__(self) -> None:
        self.removed: list[str] = []

    def dump(self, argv: list[str], folder: str, name: str, *, timeout: float,
             progress: Any = None, cancelled: Any = None, stop: Any = None,
             stall_seconds: float = 120.0, check: Any = None) -> DumpResult:
        partial = f"{folder}/.{name}.partial"
        if check is not None and not check(partial)[0]:
            self.removed.append(partial)
            raise ActionFailed("the fresh dump failed its check")
        return DumpResult(f"{folder}/{name}", 100, "ab" * 32, 0.1)

    def feed(self, argv: list[str], path: str, timeout: float) -> CommandResult:
        if "--list" in argv:
            return CommandResult(0, b"1; 2 3 TABLE public orders\n", b"")
        return CommandResult(1, b"", b"pg_restore: error: could not read from input file: "
                                     b"end of file")

    def restore(self, argv: list[str], path: str, *, timeout: float,
                stop: list[str] | None = None, busy: list[str] | None = None,
                stall_seconds: float = 120.0, cancelled: Any = None) -> CommandResult:
        return self.feed(argv, path, timeout)

    def checksum(self, path: str) -> tuple[int, str] | None:
        return None if path in self.removed else (100, "ab" * 32)

    def remove(self, path: str) -> None:
        self.removed.append(path)

    def download(self, path: str, local_path: str, progress: Any = None) -> tuple[int, str]:
        return 0, ""


def test_a_fresh_dump_that_fails_its_check_is_removed_and_recorded_failed() -> None:
    store, files = CutShortStore(), MemoryFiles()
    journal = Journal(files, "/state", "shop")
    steps = BackupSteps("shop", PG, "/backups", store, journal)
    with pytest.raises(ActionFailed, match="does not read back whole"):
        steps.take("before-migration")  # what a migration rests on is read back whole
    (failed,) = fold_backups(journal.read().records)
    assert failed.outcome == "failed" and store.removed == [
        failed.path.replace("/shop-", "/.shop-") + ".partial"]  # checked before its rename
    assert not failed.usable and "end of file" in failed.error


def test_a_manual_backup_is_read_back_whole_when_it_is_verified() -> None:
    """A plain backup gets the exit status, sha256 and pg_restore --list; the full
    read-back comes with verify (and before a restore or a migration)."""
    store, files = CutShortStore(), MemoryFiles()
    steps = BackupSteps("shop", PG, "/backups", store, Journal(files, "/state", "shop"))
    backup = steps.take("manual")
    assert backup.check and "reads back whole" not in backup.check
    verdict = steps.verify(backup)
    assert not verdict.ok and "does not read back whole" in verdict.detail


def test_a_restore_or_migration_that_began_and_never_ended_reads_as_interrupted() -> None:
    """Their start is journaled, so an opsui killed mid-way leaves a record behind."""
    began: list[dict[str, object]] = [
        {"type": "restore", "id": "r1", "backup": "b1", "at": "t0", "who": "ada"},
        {"type": "migration", "id": "r2", "backup": "b1", "image": "shop:2", "at": "t1",
         "who": "ada"}]
    (restore,) = fold_restores(began)
    (migration,) = fold_migrations(began)
    assert (restore.outcome, migration.outcome) == ("interrupted", "interrupted")

    ended: list[dict[str, object]] = [
        *began,
        {"type": "restore", "id": "r1", "backup": "b1", "at": "t0", "outcome": "ok",
         "safety_backup": "b2"},
        {"type": "migration", "id": "r2", "backup": "b1", "image": "shop:2", "at": "t1",
         "outcome": "failed", "exit_code": 3}]
    (restore,) = fold_restores(ended)
    (migration,) = fold_migrations(ended)
    assert (restore.outcome, restore.safety_backup) == ("ok", "b2")
    assert (migration.outcome, migration.exit_code) == ("failed", 3)
