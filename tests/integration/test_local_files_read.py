"""This machine's state folder: the lock and journal that the shell scripts write are
read back in-process, without starting a process (the lock banner reads them every
few seconds on an idle dashboard; issue 14), and read the same as through ``cat``."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsui.backends.host_files import ShellHostFiles
from opsui.backends.local import LocalHostFiles, LocalRunner
from opsui.domain.errors import ActionFailed
from opsui.domain.history import Journal
from opsui.domain.operations.lock import DeployLock, LockHolder
from opsui.domain.ports import CommandResult

pytestmark = pytest.mark.integration


class CountingRunner(LocalRunner):
    def __init__(self) -> None:
        self.started: list[list[str]] = []

    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        self.started.append(argv)
        return super().run(argv, timeout, stdin)


def test_a_lock_and_journal_written_by_the_shell_read_back_without_a_process(
        tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    shell = ShellHostFiles(LocalRunner(), "local")
    holder = LockHolder("alice", "laptop", "2026-12-07T14:00:00Z", version="2.0.0",
                        message="hotfix [bold]\x1b]0;x\x07")
    assert DeployLock(shell, state, "web").acquire(holder) is None
    Journal(shell, state, "web").append({"kind": "release", "id": "r1", "to": "2.0.0"})
    runner = CountingRunner()
    files = LocalHostFiles(runner, "local")

    assert DeployLock(files, state, "web").holder() == DeployLock(shell, state, "web").holder()
    assert DeployLock(files, state, "web").holder() is not None
    assert Journal(files, state, "web").read() == Journal(shell, state, "web").read()
    assert [record["id"] for record in Journal(files, state, "web").read().records] == ["r1"]
    assert files.read(str(tmp_path / "missing")) is None
    assert not files.exists(str(tmp_path / "missing"))
    assert files.exists(state)
    assert runner.started == []


def test_an_unreadable_path_names_itself(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(ActionFailed, match=r"cannot read .*a-folder"):
        LocalHostFiles(LocalRunner(), "local").read(str(folder))
