"""Backups and restores through AppBackups (what the backups screen and `opsui backup`
run) on the test bed's real PostgreSQL, locally and through the test sshd."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsui.domain.backups import BEFORE_MIGRATION, OK, Backup
from opsui.domain.errors import ActionFailed, ActionRefused, OpsuiError
from opsui.domain.operations.release_run import Cancelled, StepEvent
from opsui.domain.ports import HostConnection

from .backup_fixtures import (
    Database,
    app_config,
    backups_on,
    sha256_of,
)
from .helpers import wait_until

pytestmark = pytest.mark.integration


def test_backup_then_restore_round_trips_the_data(
        any_host: HostConnection, shop_db: Database, tmp_path: Path) -> None:
    backups = backups_on(any_host, app_config(any_host.name, tmp_path / "state", shop_db))
    app = backups.resolve("shop")
    seen: list[tuple[int, float]] = []
    backup = backups.backup(app, True, progress=lambda done, rate: seen.append((done, rate)))
    assert backup.verified and backup.check.startswith("pg_restore --list: ")
    assert backup.size == os.path.getsize(backup.path) and seen[-1][0] == backup.size
    assert backup.sha256 == sha256_of(backup.path)
    assert not [p for p in Path(backup.path).parent.iterdir() if p.name.startswith(".")]

    shop_db.sql("DELETE FROM orders; INSERT INTO orders (customer, total) VALUES ('mallory', 1)")
    assert shop_db.customers() == ["mallory"]
    plan = backups.plan_restore(app, backup.id)
    with pytest.raises(ActionRefused):  # restore asks for the app's name to be typed
        backups.restore(app, plan, True)
    events: list[StepEvent] = []
    restored = backups.restore(app, plan, "shop", events.append)

    assert shop_db.customers() == ["ada", "grace", "linus"]
    assert restored.outcome == OK and restored.backup == backup.id
    assert [e.step for e in events if e.outcome == OK] == [
        "lock", "check backup", "safety backup", "restore"]
    status = backups.status(app)
    safety = next(b for b in status.backups if b.id == restored.safety_backup)
    assert safety.why == "safety-before-restore" and safety.verified
    assert status.restores[0].outcome == OK and status.lock is None

    # ... and the backup comes to the operator's machine (over SFTP for the sshd).
    copy = tmp_path / "copy.dump"
    found, size = backups.download(app, backup.id, str(copy))
    assert found.id == backup.id and size == backup.size
    assert sha256_of(copy) == backup.sha256


def test_a_database_stopped_during_the_dump_leaves_no_backup(
        local_host: HostConnection, shop_db: Database, tmp_path: Path) -> None:
    # Enough rows that the dump takes seconds, so it can be caught mid-way.
    shop_db.sql("CREATE TABLE big AS SELECT g AS id, repeat(md5(random()::text), 8) AS pad "
                 "FROM generate_series(1, 1500000) g")
    backups = backups_on(local_host,
                         app_config("local", tmp_path / "state", shop_db,
                                    dest=str(tmp_path / "dest")))
    app = backups.resolve("shop")
    outcome: list[Backup | OpsuiError] = []

    def run() -> None:
        try:
            outcome.append(backups.backup(app, True))
        except OpsuiError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    dest = tmp_path / "dest"
    wait_until(lambda: any(p.stat().st_size > 0 for p in dest.glob(".*.partial")),
               30, interval=0.02, message="the dump's temporary file", ignore=(OSError,))
    shop_db.container.stop(timeout=10)
    worker.join(60)

    assert len(outcome) == 1 and isinstance(outcome[0], ActionFailed), outcome
    assert "the dump failed" in str(outcome[0])
    assert list(dest.iterdir()) == []  # neither the final name nor the partial file
    failed = backups.status(app).backups[0]
    assert failed.outcome == "failed" and not failed.usable and "dump failed" in failed.error


def test_a_cancelled_backup_stops_and_leaves_no_file(
        local_host: HostConnection, shop_db: Database, tmp_path: Path) -> None:
    shop_db.sql("CREATE TABLE big AS SELECT g AS id, repeat(md5(random()::text), 8) AS pad "
                "FROM generate_series(1, 1500000) g")
    dest = tmp_path / "dest"
    backups = backups_on(local_host, app_config("local", tmp_path / "state", shop_db,
                                                dest=str(dest)))
    app = backups.resolve("shop")
    cancelled = threading.Event()

    def progress(done: int, rate: float) -> None:
        if done > 0:
            cancelled.set()  # Ctrl-C once bytes flow

    with pytest.raises(Cancelled):
        backups.backup(app, True, progress, cancelled)

    assert list(dest.iterdir()) == []
    failed = backups.status(app).backups[0]
    assert failed.outcome == "failed" and "cancelled" in failed.error


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "tiny"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                   check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_full_destination_fails_clearly_and_keeps_earlier_backups(
        local_host: HostConnection, shop_db: Database, tiny_tmpfs: Path,
        tmp_path: Path) -> None:
    backups = backups_on(local_host, app_config("local", tmp_path / "state", shop_db,
                                                      dest=str(tiny_tmpfs)))
    app = backups.resolve("shop")
    earlier = backups.backup(app, True)
    before = sha256_of(earlier.path)
    shop_db.sql("INSERT INTO orders (customer, total) SELECT md5(random()::text) || "
                 "md5(random()::text), g FROM generate_series(1, 20000) g")

    with pytest.raises(ActionFailed) as failed:
        backups.backup(app, True)

    assert "no space left on device" in str(failed.value).lower()
    assert sorted(p.name for p in tiny_tmpfs.iterdir()) == [Path(earlier.path).name]
    assert sha256_of(earlier.path) == before == earlier.sha256
    assert backups.verify(app, earlier.id).ok


def test_one_flipped_byte_fails_verification_and_the_restore(
        any_host: HostConnection, shop_db: Database, tmp_path: Path) -> None:
    backups = backups_on(any_host, app_config(any_host.name, tmp_path / "state", shop_db))
    app = backups.resolve("shop")
    backup = backups.backup(app, True)
    assert backups.verify(app, backup.id).ok
    with open(backup.path, "r+b") as handle:
        handle.seek(backup.size // 2)
        byte = handle.read(1)
        handle.seek(backup.size // 2)
        handle.write(bytes([byte[0] ^ 0x01]))

    result = backups.verify(app, backup.id)

    assert not result.ok and "sha256 differs" in result.detail
    listed = next(b for b in backups.status(app).backups if b.id == backup.id)
    assert not listed.verified
    shop_db.sql("DELETE FROM orders WHERE customer = 'ada'")
    with pytest.raises(ActionFailed, match="cannot be restored"):
        backups.restore(app, backups.plan_restore(app, backup.id), "shop")
    assert shop_db.customers() == ["grace", "linus"]  # nothing was touched


def test_retention_keeps_the_newest_verified_and_pre_migration_backups(
        local_host: HostConnection, shop_db: Database, tmp_path: Path) -> None:
    backups = backups_on(local_host,
                         app_config("local", tmp_path / "state", shop_db, keep=2))
    app = backups.resolve("shop")
    steps = backups.steps(app)
    oldest = steps.take("manual")
    pre_migration = steps.take(BEFORE_MIGRATION, release="r20260101000000-abcd")
    verified = steps.take("manual")
    damaged = [steps.take("manual"), steps.take("manual")]
    for backup in damaged:  # the two newest fail verification from now on
        Path(backup.path).write_bytes(b"not a dump")
        assert not steps.verify(backup).ok

    removed = steps.prune()

    assert [b.id for b in removed] == [oldest.id]
    assert not Path(oldest.path).exists()
    for kept in (pre_migration, verified, *damaged):
        assert Path(kept.path).exists()
    listed = {b.id: b for b in backups.status(app).backups}
    assert listed[oldest.id].removed and not listed[oldest.id].usable
    assert listed[pre_migration.id].pre_migration and listed[pre_migration.id].usable
