"""The kept host shell (PersistentShell) against the test bed's real sshd.

Many operations ride one SSH session; any bytes, exit codes and both streams come back
exactly; concurrent journal appends through it stay whole; a killed shell falls back
to one exec per request and is replaced after the backoff, without running a request
twice; a timeout closes the session and the next request opens a new one. The deploy
journal and lock scenarios of test_host_files run again through SshHost.files.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from opsui.backends import host_shell
from opsui.backends.host_files import ShellHostFiles
from opsui.backends.host_shell import PersistentShell
from opsui.backends.ssh import SshConnection
from opsui.backends.ssh_host import SshHost
from opsui.domain.errors import ActionFailed, HostError, HostUnreachable
from opsui.domain.history import Journal
from opsui.domain.operations.lock import DeployLock
from opsui.domain.ports import CommandResult

from . import test_host_files as one_shot
from .helpers import Testbed, wait_until

pytestmark = pytest.mark.integration

RETRY = 3.0
"""The backoff of the shells under test: long enough that a few one-shot execs on a
loaded machine fit in it, so "still backing off" holds when the test checks it."""


class CountingRunner:
    """The one-shot runner, counting the requests that fell back to it."""

    def __init__(self, conn: SshConnection) -> None:
        self.conn = conn
        self.calls: list[list[str]] = []

    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        self.calls.append(argv)
        return self.conn.run(argv, timeout, stdin)


@pytest.fixture
def host(testbed: Testbed, tmp_path: Path) -> Iterator[SshHost]:
    ssh_host = testbed.opsui_ssh_host(tmp_path)
    ssh_host.connect()
    try:
        yield ssh_host
    finally:
        ssh_host.close()


@pytest.fixture
def execs(host: SshHost, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every exec session opened on the host from now on (commands as sent)."""
    opened: list[str] = []
    conn = host.connection
    real = conn.exec_channel

    def counting(command: str, timeout: float | None = None) -> object:
        opened.append(command)
        return real(command, timeout)

    monkeypatch.setattr(conn, "exec_channel", counting)
    return opened


@pytest.fixture
def fallback(host: SshHost) -> CountingRunner:
    return CountingRunner(host.connection)


@pytest.fixture
def shell(host: SshHost, fallback: CountingRunner) -> Iterator[PersistentShell]:
    kept = PersistentShell(host.connection, fallback, retry_after=RETRY)
    try:
        yield kept
    finally:
        kept.close()


@pytest.fixture
def state_dir(tmp_path: Path) -> str:
    return str(tmp_path / f"state-{uuid.uuid4().hex[:6]}")  # the sshd runs on this machine


def remote_exists(host: SshHost, path: str) -> bool:
    return host.connection.run(["test", "-e", path]).exit_code == 0


def _open_writer(fifo: Path) -> int:
    """A write end of ``fifo``, without blocking; ENXIO while nobody reads it."""
    return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)


def kill_remote(host: SshHost, pid: int, signal: str) -> None:
    """Kill the driver from another session, as an operator on the host would."""
    assert host.connection.run(["kill", f"-{signal}", str(pid)]).exit_code == 0


# -- one session ----------------------------------------------------------------------


def test_host_files_over_ssh_ride_one_session(host: SshHost, execs: list[str],
                                              state_dir: str) -> None:
    journal = Journal(host.files, state_dir, "web")
    lock = DeployLock(host.files, state_dir, "web")
    for i in range(10):
        assert lock.acquire(one_shot.holder("op")) is None
        journal.append({"n": i})
        assert [r["n"] for r in journal.read().records] == list(range(i + 1))
        lock.release()
    assert len(execs) == 1 and "opsui-host-shell" in execs[0]


def test_sequential_requests_never_fall_back_and_the_folder_goes_on_close(
        host: SshHost, shell: PersistentShell, fallback: CountingRunner) -> None:
    results = [shell.run(["echo", str(i)]) for i in range(30)]
    assert [r.stdout for r in results] == [f"{i}\n".encode() for i in range(30)]
    assert fallback.calls == [] and shell.sessions_opened == 1
    folder = shell.remote_folder
    assert folder and remote_exists(host, folder)
    shell.close()
    wait_until(lambda: not remote_exists(host, folder), 5, message="the folder removed")
    assert shell.run(["true"]).exit_code == 0 and len(fallback.calls) == 1  # closed: one-shot


# -- exact bytes ----------------------------------------------------------------------


def test_every_byte_value_and_a_mebibyte_round_trip(shell: PersistentShell,
                                                   fallback: CountingRunner) -> None:
    every = bytes(range(256)) * 4
    big = os.urandom(1 << 20)
    for payload in (every, big, b"\n", b"no newline at the end"):
        result = shell.run(["cat"], stdin=payload)
        assert (result.exit_code, result.stdout, result.stderr) == (0, payload, b"")
    result = shell.run(["sh", "-c", "cat >&2; exit 5"], stdin=every)
    assert (result.exit_code, result.stdout, result.stderr) == (5, b"", every)
    args = ["", " ", "a b", "it's", '"$HOME"', "`id`", "$(id)", "x\n", "\n\n", "é✓",
            "".join(chr(c) for c in range(1, 256)), "-n", "--"]
    result = shell.run(["sh", "-c", r'printf "%s\0" "$@"', "sh", *args])
    assert result.stdout == "".join(a + "\0" for a in args).encode()
    assert fallback.calls == []


def test_host_files_payloads_round_trip_exactly(shell: PersistentShell,
                                               state_dir: str) -> None:
    files = ShellHostFiles(shell, "bed")
    content = os.urandom(1 << 20)
    assert files.create_dir_with(f"{state_dir}/lock", "holder", content)
    assert files.read(f"{state_dir}/lock/holder") == content
    assert not files.create_dir_with(f"{state_dir}/lock", "holder", b"other")
    record = bytes(c for c in range(256) if c != 0x0A) + b"\n"
    files.append_record(f"{state_dir}/journal", record)
    files.append_record(f"{state_dir}/journal", record)
    assert files.read(f"{state_dir}/journal") == record * 2
    assert files.read(f"{state_dir}/missing") is None
    files.remove_dir(f"{state_dir}/lock")
    assert not files.exists(f"{state_dir}/lock")


def test_exit_codes_and_both_streams_come_back(shell: PersistentShell) -> None:
    for code in (0, 1, 3, 4, 126, 255):
        result = shell.run(["sh", "-c", f"echo out; echo err >&2; exit {code}"])
        assert (result.exit_code, result.stdout, result.stderr) == (code, b"out\n", b"err\n")
    missing = shell.run(["opsui-no-such-program"])
    assert missing.exit_code == 127 and b"not found" in missing.stderr
    # a command that does not read its stdin leaves the stream in step
    assert shell.run(["true"], stdin=os.urandom(300_000)).exit_code == 0
    assert shell.run(["echo", "still in step"]).stdout == b"still in step\n"


def test_stdin_is_never_the_request_stream(shell: PersistentShell) -> None:
    assert shell.run(["cat"]).stdout == b""  # EOF at once, like an exec without stdin
    assert shell.run(["sh", "-c", "exit 7"]).exit_code == 7


# -- concurrency ----------------------------------------------------------------------


def test_eight_threads_append_through_one_shell_and_every_line_is_whole(
        shell: PersistentShell, state_dir: str) -> None:
    journal = Journal(ShellHostFiles(shell, "bed"), state_dir, "web")
    pad = "x" * 20_000  # larger than a pipe buffer: still one write

    def writer(name: int) -> None:
        for i in range(10):
            journal.append({"writer": name, "n": i, "pad": pad})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(writer, range(8)))
    read = journal.read()
    assert read.torn == 0
    assert sorted((r["writer"], r["n"]) for r in read.records) == sorted(
        (w, i) for w in range(8) for i in range(10))
    assert shell.sessions_opened == 1


# -- the session breaks ---------------------------------------------------------------


def test_a_killed_shell_falls_back_then_a_new_one_takes_over(
        host: SshHost, shell: PersistentShell, fallback: CountingRunner) -> None:
    assert shell.run(["true"]).exit_code == 0
    pid, folder = shell.remote_pid, shell.remote_folder
    assert pid and folder
    kill_remote(host, pid, "TERM")
    wait_until(lambda: not remote_exists(host, folder), 5, message="the driver's cleanup")
    fallback.calls.clear()
    assert shell.run(["echo", "a"]).stdout == b"a\n"
    assert shell.run(["echo", "b"]).stdout == b"b\n"  # backing off: one-shot again
    assert len(fallback.calls) == 2 and shell.remote_pid is None
    time.sleep(RETRY)
    assert shell.run(["echo", "c"]).stdout == b"c\n"
    assert len(fallback.calls) == 2 and shell.sessions_opened == 2
    assert shell.remote_pid not in (None, pid)


def test_a_shell_killed_mid_command_is_reported_and_not_run_again(
        host: SshHost, shell: PersistentShell, fallback: CountingRunner,
        tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    assert shell.run(["true"]).exit_code == 0
    pid, folder = shell.remote_pid, shell.remote_folder
    assert pid and folder
    errors: list[BaseException] = []

    def slow() -> None:
        try:
            shell.run(["sh", "-c", 'echo ran >> "$1"; sleep 2', "sh", str(marker)])
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    wait_until(marker.exists, 5, message="the command to start")
    kill_remote(host, pid, "KILL")  # no trap runs: the folder is left behind
    thread.join(10)
    host.connection.run(["rm", "-rf", "--", folder])
    assert len(errors) == 1 and isinstance(errors[0], HostError)
    assert not isinstance(errors[0], HostUnreachable) and "may or may not" in str(errors[0])
    assert marker.read_text() == "ran\n" and fallback.calls == []


def test_a_shell_that_cannot_start_falls_back_and_retries_after_the_backoff(
        shell: PersistentShell, fallback: CountingRunner, execs: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_shell, "DRIVER", "echo 'no dd here' >&2; exit 3")
    for _ in range(3):
        assert shell.run(["echo", "x"]).stdout == b"x\n"
    assert len(fallback.calls) == 3 and shell.sessions_opened == 0
    assert "no dd here" in shell.last_failure
    assert len(execs) == 4  # one failed attempt, then one exec per request
    monkeypatch.undo()
    time.sleep(RETRY)
    assert shell.run(["echo", "y"]).stdout == b"y\n"
    assert len(fallback.calls) == 3 and shell.sessions_opened == 1


def test_a_timeout_closes_the_session_and_the_next_request_opens_a_new_one(
        host: SshHost, shell: PersistentShell, fallback: CountingRunner,
        tmp_path: Path) -> None:
    started = time.monotonic()
    result = shell.run(["sleep", "3"], timeout=0.5)
    assert time.monotonic() - started < 2
    assert result.exit_code == 124 and b"timed out after 0.5 s" in result.stderr
    assert shell.remote_pid is None
    assert shell.run(["echo", "next"]).stdout == b"next\n"
    assert shell.sessions_opened == 2 and fallback.calls == []
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    files = ShellHostFiles(shell, "bed", timeout=0.5)
    try:
        with pytest.raises(ActionFailed, match="timed out"):
            files.read(str(fifo))  # cat waits for a writer that never comes
    finally:  # let the stuck cat (and its old driver) end
        os.close(wait_until(lambda: _open_writer(fifo), 5, message="the cat on the fifo",
                            ignore=(OSError,)))
    assert files.exists(str(fifo)) and shell.sessions_opened == 3


# -- the journal and lock scenarios, through SshHost.files -----------------------------


def test_racing_deploys_through_the_kept_shell(host: SshHost, state_dir: str) -> None:
    one_shot.test_two_racing_deploys_one_lock(host.files, state_dir)


def test_lock_without_details_through_the_kept_shell(host: SshHost, state_dir: str) -> None:
    one_shot.test_a_lock_without_details_still_holds(host.files, state_dir)


def test_appends_from_processes_through_the_kept_shell(host: SshHost, state_dir: str) -> None:
    one_shot.test_journal_appends_from_two_processes_arrive_whole(host.files, state_dir)


def test_torn_line_through_the_kept_shell(host: SshHost, state_dir: str) -> None:
    one_shot.test_a_torn_last_line_is_skipped_and_the_next_record_starts_clean(
        host.files, state_dir)
