"""The deploy journal and lock on a real host, locally and through the sshd.

Two operators racing for the lock: exactly one wins and the other is told who holds
it. Journal appends from two processes at once: every record arrives whole. A line
torn by a crash is skipped, and the next record still starts on its own line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from opsui.backends.host_files import ShellHostFiles
from opsui.backends.local import LocalRunner
from opsui.domain.history import Journal
from opsui.domain.operations.lock import DeployLock, LockHolder

from .helpers import Testbed

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["local", "ssh"])
def files(request: pytest.FixtureRequest, testbed: Testbed,
          tmp_path: Path) -> Iterator[ShellHostFiles]:
    if request.param == "local":
        yield ShellHostFiles(LocalRunner(), "local")
        return
    host = testbed.opsui_ssh_host(tmp_path)
    host.connect()
    try:
        yield ShellHostFiles(host.runner, "bed")
    finally:
        host.close()


@pytest.fixture
def state_dir(tmp_path: Path) -> str:
    return str(tmp_path / f"state-{uuid.uuid4().hex[:6]}")  # the sshd runs on this machine


def holder(user: str) -> LockHolder:
    return LockHolder(user, "laptop", "2026-11-23T19:00:00Z", version="2.0.0",
                      message="hotfix [bold]\x1b]0;x\x07")


def test_two_racing_deploys_one_lock(files: ShellHostFiles, state_dir: str) -> None:
    lock = DeployLock(files, state_dir, "web")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: lock.acquire(holder(f"op{i}")), range(8)))
    winners = [i for i, held in enumerate(results) if held is None]
    assert len(winners) == 1
    current = lock.holder()
    assert current is not None and current.user == f"op{winners[0]}"
    refused = next(held for held in results if held is not None)
    assert refused.user == current.user and "\x1b" not in refused.message
    assert "frozen" not in refused.describe() and "op" in refused.describe()
    lock.release()
    assert lock.holder() is None
    assert lock.acquire(holder("next")) is None


def test_a_lock_without_details_still_holds(files: ShellHostFiles, state_dir: str) -> None:
    lock = DeployLock(files, state_dir, "web")
    os.makedirs(lock.path)  # a process died between creating the lock and describing it
    refused = lock.acquire(holder("op"))
    assert refused is not None and "no details" in refused.message


def test_journal_appends_from_two_processes_arrive_whole(
        files: ShellHostFiles, state_dir: str) -> None:
    journal = Journal(files, state_dir, "web")
    big = "x" * 20_000  # larger than a pipe buffer: must still be one write
    script = (
        "import sys\n"
        "from opsui.backends.host_files import ShellHostFiles\n"
        "from opsui.backends.local import LocalRunner\n"
        "from opsui.domain.history import Journal\n"
        f"j = Journal(ShellHostFiles(LocalRunner(), 'local'), {state_dir!r}, 'web')\n"
        f"for i in range(15): j.append({{'writer': sys.argv[1], 'n': i, 'pad': {big!r}}})\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, name], cwd=ROOT)
             for name in ("a", "b")]
    for i in range(15):
        journal.append({"writer": "c", "n": i})
    assert all(p.wait(120) == 0 for p in procs)
    read = journal.read()
    assert read.torn == 0
    assert sorted((r["writer"], r["n"]) for r in read.records) == sorted(
        (w, i) for w in "abc" for i in range(15))


def test_a_torn_last_line_is_skipped_and_the_next_record_starts_clean(
        files: ShellHostFiles, state_dir: str) -> None:
    journal = Journal(files, state_dir, "web")
    journal.append({"n": 1})
    with open(journal.path, "ab") as raw:
        raw.write(b'{"n": 2, "outcome": "ok')  # the crash
    journal.append({"n": 3})
    read = journal.read()
    assert [r["n"] for r in read.records] == [1, 3]
    assert read.torn == 1
