"""Backups without a database: ``FakeBackupStore`` (:class:`~opsui.domain.ports.BackupStore`)
keeps the dump files in a dict (a dump reports its bytes as it goes; ``corrupt`` flips
a byte) and ``FakeJobs`` (:class:`~opsui.domain.ports.JobEngine`) runs a migration by
writing scripted output lines."""

from __future__ import annotations

import hashlib
import threading

from opsui.domain.errors import ActionFailed
from opsui.domain.ports import (
    Cancellation,
    CommandResult,
    DumpCheck,
    DumpResult,
    JobResult,
    LineSink,
    Progress,
)

PG_LIST = b";\n; Archive created at 2026-11-23\n;\n215; 1259 16390 TABLE public orders\n" \
    b"3360; 0 16390 TABLE DATA public orders\n"
"""What ``pg_restore --list`` prints for a whole dump."""


class FakeBackupStore:
    """Backup files on the "host" in a dict. A dump writes ``dump_bytes`` in
    ``chunks`` steps, reporting progress after each (waiting on ``dump_gate`` first
    while it is an unset event); ``failure`` makes the next dumps fail."""

    def __init__(self, dump_bytes: bytes = b"PGDMP" + bytes(range(256)) * 40) -> None:
        self._lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.dump_bytes = dump_bytes
        self.chunks = 4
        self.dump_gate: threading.Event | None = None
        self.dumping = threading.Event()
        self.failure: ActionFailed | None = None
        self.calls: list[tuple[str, str]] = []
        """(what, path): dump, feed (verify / restore), remove, download."""

    def dump(self, argv: list[str], folder: str, name: str, *, timeout: float,
             progress: Progress | None = None, cancelled: Cancellation | None = None,
             stop: list[str] | None = None, stall_seconds: float = 120.0,
             check: DumpCheck | None = None) -> DumpResult:
        path = f"{folder}/{name}"
        with self._lock:
            self.calls.append(("dump", path))
        self.dumping.set()
        data = self.dump_bytes
        step = max(1, len(data) // self.chunks)
        for done in range(step, len(data) + step, step):
            if progress is not None:
                progress(min(done, len(data)), 2.5 * 1024 * 1024)
            if self.dump_gate is not None and done == step:
                self.dump_gate.wait(10.0)
        if self.failure is not None:
            raise self.failure
        with self._lock:
            self.files[path] = data  # checked under its final name: the fake has no rename
        if check is not None and not (verdict := check(path))[0]:
            with self._lock:
                del self.files[path]
            raise ActionFailed(f"the fresh dump failed its check: {verdict[1]}")
        return DumpResult(path, len(data), hashlib.sha256(data).hexdigest(), 1.5)

    def feed(self, argv: list[str], path: str, timeout: float) -> CommandResult:
        with self._lock:
            data = self.files.get(path)
            self.calls.append(("restore" if "--single-transaction" in argv else "verify",
                               path))
        if data is None:
            return CommandResult(1, b"", b"pg_restore: error: could not open input file")
        if "--list" in argv:
            if not data.startswith(b"PGDMP"):
                return CommandResult(1, b"", b"pg_restore: error: input file does not "
                                     b"appear to be a valid archive")
            return CommandResult(0, PG_LIST, b"")
        return CommandResult(0, b"", b"")

    def restore(self, argv: list[str], path: str, *, timeout: float,
                stop: list[str] | None = None, busy: list[str] | None = None,
                stall_seconds: float = 120.0,
                cancelled: Cancellation | None = None) -> CommandResult:
        return self.feed(argv, path, timeout)

    def checksum(self, path: str) -> tuple[int, str] | None:
        with self._lock:
            data = self.files.get(path)
        return None if data is None else (len(data), hashlib.sha256(data).hexdigest())

    def remove(self, path: str) -> None:
        with self._lock:
            self.calls.append(("remove", path))
            self.files.pop(path, None)

    def download(self, path: str, local_path: str,
                 progress: Progress | None = None) -> tuple[int, str]:
        with self._lock:
            data = self.files.get(path)
            self.calls.append(("download", path))
        if data is None:
            raise ActionFailed(f"download {path}: no such file")
        with open(local_path, "wb") as handle:
            handle.write(data)
        if progress is not None:
            progress(len(data), 1024.0 * 1024)
        return len(data), hashlib.sha256(data).hexdigest()

    def corrupt(self, path: str) -> None:
        """One flipped byte, as a bad disk would."""
        with self._lock:
            data = bytearray(self.files[path])
            data[len(data) // 2] ^= 0xFF
            self.files[path] = bytes(data)


class FakeJobs:
    """One-off migration runs: writes ``lines`` (``gate``, while an unset event, is
    waited on after the first ``hold_after`` lines), then exits with ``exit_code``."""

    def __init__(self) -> None:
        self.lines: list[str] = ["INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.",
                                 "INFO  [alembic.runtime.migration] Running upgrade  -> 3f2a1b"]
        self.exit_code = 0
        self.gate: threading.Event | None = None
        self.hold_after = 1
        self.running = threading.Event()
        self.runs: list[tuple[str, tuple[str, ...]]] = []
        """(image or container id, command) of every run."""

    def _run(self, what: str, command: list[str], output: LineSink,
             cancelled: Cancellation) -> JobResult:
        self.runs.append((what, tuple(command)))
        self.running.set()
        for index, line in enumerate(self.lines):
            if index == self.hold_after and self.gate is not None:
                self.gate.wait(10.0)
            if cancelled.is_set():
                return JobResult(None, "m1".ljust(64, "0"), "cancelled")
            output(line)
        return JobResult(self.exit_code, "m1".ljust(64, "0"))

    def run_like(self, like_id: str, image: str, command: list[str], name: str,
                 labels: dict[str, str], output: LineSink, timeout: float,
                 cancelled: Cancellation) -> JobResult:
        return self._run(image, command, output, cancelled)

    def exec_in(self, container_id: str, command: list[str], output: LineSink,
                timeout: float, cancelled: Cancellation) -> JobResult:
        return self._run(container_id, command, output, cancelled)

    def remove(self, container_id: str) -> None:
        pass
