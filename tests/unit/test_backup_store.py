"""The host-side backup scripts, run by the local runner on a temporary folder (plain
shell commands stand in for the database tools), and the one-off container's body."""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opsui.backends.backup_download import copy_local
from opsui.backends.docker_jobs import job_request
from opsui.backends.host_backups import _DUMP, ShellBackupStore
from opsui.backends.local import LocalRunner
from opsui.domain.errors import ActionFailed
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.deploy import plan_deploy


@pytest.fixture
def store() -> ShellBackupStore:
    return ShellBackupStore(LocalRunner(), "local", copy_local)


def test_a_good_dump_gets_its_name_size_and_sha256(store: ShellBackupStore,
                                                   tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    result = store.dump(["sh", "-c", "printf 'hello backup'"], str(folder), "a.dump",
                        timeout=10)
    assert result.path == f"{folder}/a.dump" and result.size == 12
    assert result.sha256 == hashlib.sha256(b"hello backup").hexdigest()
    assert [p.name for p in folder.iterdir()] == ["a.dump"]
    assert store.checksum(result.path) == (12, result.sha256)
    assert store.checksum(f"{folder}/missing") is None


def test_a_failing_dump_leaves_nothing_and_says_its_exit_status(
        store: ShellBackupStore, tmp_path: Path) -> None:
    (tmp_path / "old.dump").write_bytes(b"earlier")
    with pytest.raises(ActionFailed, match=r"the dump failed \(exit 3\): boom"):
        store.dump(["sh", "-c", "printf partial; echo boom >&2; exit 3"], str(tmp_path),
                   "b.dump", timeout=10)
    assert [p.name for p in tmp_path.iterdir()] == ["old.dump"]


def test_an_empty_dump_is_refused(store: ShellBackupStore, tmp_path: Path) -> None:
    with pytest.raises(ActionFailed, match="wrote nothing"):
        store.dump(["true"], str(tmp_path), "c.dump", timeout=10)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_dump_leaves_nothing(store: ShellBackupStore, tmp_path: Path) -> None:
    with pytest.raises(ActionFailed, match="exit 137"):
        store.dump(["sh", "-c", "printf x; kill -9 $$"], str(tmp_path), "d.dump", timeout=10)
    assert list(tmp_path.iterdir()) == []


def test_progress_reports_bytes_while_the_dump_runs(store: ShellBackupStore,
                                                    tmp_path: Path) -> None:
    seen: list[tuple[int, float]] = []
    # A dump that writes for about two seconds (the dump being slow is the point).
    store.dump(["sh", "-c", "for i in 1 2 3 4; do head -c 1000 /dev/zero; sleep 0.5; done"],
               str(tmp_path), "e.dump", timeout=20,
               progress=lambda done, rate: seen.append((done, rate)))
    assert len(seen) >= 3 and seen[-1][0] == 4000
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert any(0 < done < 4000 for done, _ in seen)


def test_feed_puts_the_file_on_stdin_and_download_copies_it(
        store: ShellBackupStore, tmp_path: Path) -> None:
    result = store.dump(["sh", "-c", "printf 'one\\ntwo\\n'"], str(tmp_path), "f.dump",
                        timeout=10)
    fed = store.feed(["wc", "-l"], result.path, 10)
    assert fed.exit_code == 0 and fed.stdout.strip() == b"2"
    size, sha256 = store.download(result.path, str(tmp_path / "copy"))
    assert (size, sha256) == (result.size, result.sha256)
    store.remove(result.path)
    assert not Path(result.path).exists()


def _inspect() -> tuple[dict[str, Any], dict[str, Any]]:
    old = {"Id": "abc123", "Image": "sha256:old",
           "Config": {"Image": "shop/web:1", "Env": ["DATABASE_URL=postgres://db/shop"],
                      "Labels": {"opsui.app": "web", "opsui.release": "r1", "team": "x",
                                 "com.docker.compose.service": "web"},
                      "Cmd": ["serve"], "ExposedPorts": {"8080/tcp": {}},
                      "Hostname": "web-host"},
           "HostConfig": {"PortBindings": {"8080/tcp": [{"HostPort": "8080"}]},
                          "RestartPolicy": {"Name": "always"}, "NetworkMode": "shop",
                          "Binds": ["data:/data"]},
           "NetworkSettings": {"Networks": {
               "shop": {"Aliases": ["web", "abc123"], "IPAMConfig": {"IPv4Address": "10.0.0.5"}},
               "other": {"Aliases": ["web"], "Links": ["db:db"]}}}}
    return old, {"Config": {"Env": [], "Cmd": ["serve"]}}


def test_the_migration_container_is_like_the_app_but_takes_no_traffic() -> None:
    old, image = _inspect()
    body = job_request(old, image, "shop/web:2", ["alembic", "upgrade", "head"],
                       "web.migrate-r2", {"opsui.migration": "web"})
    assert body["Image"] == "shop/web:2" and body["Cmd"] == ["alembic", "upgrade", "head"]
    assert body["Env"] == ["DATABASE_URL=postgres://db/shop"]
    assert body["HostConfig"]["Binds"] == ["data:/data"]
    assert body["HostConfig"]["PortBindings"] == {} and "ExposedPorts" not in body
    assert body["HostConfig"]["RestartPolicy"] == {"Name": "no"}
    assert body["Labels"] == {"team": "x", "opsui.migration": "web"}
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"shop": {}}}
    assert body["_extra_networks"] == {"other": {"Links": ["db:db"]}}
    assert "Hostname" not in body and body["Healthcheck"] == {"Test": ["NONE"]}


def test_a_deploy_with_a_migration_backs_up_and_migrates_right_after_the_pull() -> None:
    current = Container("c1", "web", "shop/web:1", ContainerState.RUNNING)
    plan = plan_deploy("local", current, "2", "web", pre_start=("backup", "migrate"))
    assert plan.steps[:5] == ("lock", "pull", "backup", "migrate", "create")
    stop_first = plan_deploy("local", current, "2", stop_first=True,
                             pre_start=("backup", "migrate"))
    assert stop_first.steps[:6] == ("lock", "pull", "backup", "migrate", "create", "stop old")


def test_a_cancelled_dump_is_stopped_and_leaves_nothing(store: ShellBackupStore,
                                                       tmp_path: Path) -> None:
    cancelled = threading.Event()

    def progress(done: int, rate: float) -> None:
        if done > 0:
            cancelled.set()  # the operator presses Ctrl-C once bytes flow

    with pytest.raises(ActionFailed, match="cancelled"):
        store.dump(["sh", "-c", "while :; do printf x; sleep 0.1; done"], str(tmp_path),
                   "g.dump", timeout=30, progress=progress, cancelled=cancelled)
    assert list(tmp_path.iterdir()) == []


def _until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_the_check_runs_on_the_temporary_file_before_the_rename(
        store: ShellBackupStore, tmp_path: Path) -> None:
    """So an opsui killed during the check leaves no unchecked file under a final name."""
    seen: list[tuple[str, list[str]]] = []

    def check(path: str) -> tuple[bool, str]:
        seen.append((Path(path).read_text(), sorted(p.name for p in tmp_path.iterdir())))
        return True, "fine"

    result = store.dump(["sh", "-c", "printf data"], str(tmp_path), "h.dump", timeout=10,
                        check=check)
    assert seen == [("data", [".h.dump.partial", ".h.dump.partial.lease"])]
    assert result.path == str(tmp_path / "h.dump")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.dump"]


def test_a_dump_failing_its_check_is_never_renamed(store: ShellBackupStore,
                                                  tmp_path: Path) -> None:
    with pytest.raises(ActionFailed, match="failed its check: cut short"):
        store.dump(["sh", "-c", "printf data"], str(tmp_path), "i.dump", timeout=10,
                   check=lambda path: (False, "cut short"))
    assert list(tmp_path.iterdir()) == []


def test_a_dump_that_stops_growing_is_stopped_there_and_where_it_runs(
        store: ShellBackupStore, tmp_path: Path) -> None:
    stopped = tmp_path.parent / f"{tmp_path.name}-stopped"
    with pytest.raises(ActionFailed, match="no progress for 2 s: is the database paused"):
        store.dump(["sh", "-c", "printf x; exec sleep 60"], str(tmp_path), "j.dump",
                   timeout=60, stall_seconds=2, stop=["touch", str(stopped)])
    assert list(tmp_path.iterdir()) == []
    _until(stopped.exists, 10, "the engine's stop command")


def _unowned_dump(folder: Path, name: str, dump: str, lease: int) -> subprocess.Popen[bytes]:
    """The dump script as a killed opsui leaves it: nobody renews its lease."""
    return subprocess.Popen(["sh", "-c", _DUMP, "sh", str(folder), name, str(lease), "600",
                             "", "sh", "-c", dump], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def test_an_unowned_dump_is_stopped_when_its_lease_lapses(tmp_path: Path) -> None:
    script = _unowned_dump(tmp_path, "k.dump", "while :; do printf x; sleep 0.1; done", 2)
    out, _ = script.communicate(timeout=30)
    assert out.split() == [b"fail", b"lease"]
    _until(lambda: list(tmp_path.iterdir()) == [], 5, "an empty folder")


def test_a_finished_dump_whose_owner_is_gone_is_never_renamed(tmp_path: Path) -> None:
    script = _unowned_dump(tmp_path, "l.dump", "printf done", 2)
    out, _ = script.communicate(timeout=30)
    assert out.startswith(b"ok 4 ")  # finished; the rename is opsui's, after its check
    assert (tmp_path / ".l.dump.partial").exists()
    _until(lambda: list(tmp_path.iterdir()) == [], 10, "the lapsed dump removed")
