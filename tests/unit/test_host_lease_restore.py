"""The host-side lease watcher and restore script, run by the local runner (plain shell
commands stand in for docker and the database tools)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from opsui.backends import host_restore
from opsui.backends.backup_download import copy_local
from opsui.backends.host_backups import ShellBackupStore
from opsui.backends.host_lease import HostLeases
from opsui.backends.local import LocalRunner
from opsui.domain.errors import ActionFailed


def _until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def store() -> ShellBackupStore:
    return ShellBackupStore(LocalRunner(), "local", copy_local)


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    path = tmp_path / "shop-b1.dump"
    path.write_bytes(b"0123456789" * 100)
    return path


# -- the lease watcher (one-off migration containers) ---------------------------------

def test_a_lease_nobody_renews_runs_its_undo_on_the_host(tmp_path: Path) -> None:
    undone = tmp_path / "undone"
    lease = HostLeases(LocalRunner(), seconds=2).lease("t1", ["touch", str(undone)])
    lease.start()
    assert Path(lease.path).exists()
    _until(undone.exists, 15, "the undo command")
    assert not Path(lease.path).exists()
    _until(lambda: not _watchers(lease.path), 10, "the watcher gone")


def test_a_renewed_lease_holds_and_a_released_one_undoes_nothing(tmp_path: Path) -> None:
    undone = tmp_path / "undone"
    # The watcher reads whole seconds of mtime: a 3 s lease renewed twice a second.
    leases = HostLeases(LocalRunner(), seconds=3, renew_seconds=0.5)
    lease = leases.lease("t2", ["touch", str(undone)])
    lease.start()
    watched_until = time.monotonic() + 7  # more than twice the lease
    while time.monotonic() < watched_until:
        lease.renew(time.monotonic())
        assert not undone.exists()
        time.sleep(0.2)
    lease.release()
    _until(lambda: not _watchers(lease.path), 10, "the watcher gone")
    assert not undone.exists()


def _watchers(lease_path: str) -> list[Path]:
    """Processes whose command line names the lease (the watcher's shell)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if lease_path.encode() in cmdline.read_bytes():
                found.append(cmdline.parent)
        except OSError:
            continue
    return found


def test_a_container_lease_removes_the_container_by_name() -> None:
    lease = HostLeases(LocalRunner(), docker=("docker", "-H", "unix:///x.sock")).container(
        "shop-migrate-r1")
    assert lease._undo == ["docker", "-H", "unix:///x.sock", "rm", "-f", "shop-migrate-r1"]
    assert "shop-migrate-r1" in lease.path and lease.path.startswith("/tmp/")


def test_a_watcher_that_cannot_start_refuses_the_work(tmp_path: Path) -> None:
    leases = HostLeases(LocalRunner())
    lease = leases.lease("t3", ["true"])
    lease.path = str(tmp_path / "missing-folder" / "lease")
    with pytest.raises(ActionFailed, match="cannot start the lease's watcher"):
        lease.start()


# -- the restore script -------------------------------------------------------------------

def test_a_restore_passes_its_exit_status_and_words_through(
        store: ShellBackupStore, backup: Path) -> None:
    ok = store.restore(["sh", "-c", "wc -c; echo note >&2"], str(backup), timeout=30)
    assert (ok.exit_code, ok.stdout.strip(), ok.stderr.strip()) == (0, b"1000", b"note")
    bad = store.restore(["sh", "-c", "cat >/dev/null; echo boom >&2; exit 3"],
                        str(backup), timeout=30)
    assert (bad.exit_code, bad.stderr.strip()) == (3, b"boom")
    assert sorted(p.name for p in backup.parent.iterdir()) == ["shop-b1.dump"]


def test_a_restore_that_reads_nothing_and_is_idle_in_the_database_stalls(
        store: ShellBackupStore, backup: Path, tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    with pytest.raises(ActionFailed, match="no progress for 2 s: is the database paused"):
        store.restore(["sh", "-c", "exec sleep 60"], str(backup), timeout=60,
                      stall_seconds=2, busy=["echo", "0"], stop=["touch", str(stopped)])
    _until(stopped.exists, 10, "the engine's stop command")


def test_a_restore_that_consumes_its_input_slowly_has_not_stalled(
        store: ShellBackupStore, backup: Path) -> None:
    # One byte every half second for 5 s, with a 2 s stall deadline and no probe.
    slow = "for i in 1 2 3 4 5 6 7 8 9 10; do dd bs=1 count=1 of=/dev/null " \
           "status=none; sleep 0.5; done"
    assert store.restore(["sh", "-c", slow], str(backup), timeout=60,
                         stall_seconds=2).exit_code == 0


def test_a_restore_busy_in_the_database_after_its_input_has_not_stalled(
        store: ShellBackupStore, backup: Path) -> None:
    """An index build: everything read, minutes of work left."""
    result = store.restore(["sh", "-c", "cat >/dev/null; sleep 5"], str(backup),
                           timeout=60, stall_seconds=2, busy=["echo", "1"])
    assert result.exit_code == 0
    with pytest.raises(ActionFailed, match="no progress for 2 s"):
        store.restore(["sh", "-c", "cat >/dev/null; sleep 5"], str(backup), timeout=60,
                      stall_seconds=2, busy=["sh", "-c", "echo 1; exit 1"])  # no answer


def test_a_cancelled_restore_is_stopped_where_it_runs(
        store: ShellBackupStore, backup: Path, tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    cancelled = threading.Event()
    threading.Timer(1.0, cancelled.set).start()
    with pytest.raises(ActionFailed, match="the restore was cancelled"):
        store.restore(["sh", "-c", "exec sleep 60"], str(backup), timeout=60,
                      stop=["touch", str(stopped)], busy=["echo", "1"], cancelled=cancelled)
    _until(stopped.exists, 10, "the engine's stop command")


def test_an_unowned_restore_is_stopped_when_its_lease_lapses(
        backup: Path, tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    base = host_restore.lease_base(str(backup))
    script = subprocess.Popen(["sh", "-c", host_restore.SCRIPT, "sh", str(backup), base,
                               "2", "600", f"touch {stopped}", "echo 1", "sleep", "60"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    out, _ = script.communicate(timeout=30)
    assert host_restore.status_of(out)[1] == ["fail", "lease"]
    _until(stopped.exists, 10, "the engine's stop command")
    _until(lambda: sorted(p.name for p in backup.parent.iterdir())
           == ["shop-b1.dump", "stopped"], 5, "no lease file left")
