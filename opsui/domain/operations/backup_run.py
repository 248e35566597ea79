"""Taking, verifying, restoring and pruning one app's backups (the steps; no gate).

A backup is whole or absent: the store writes the dump beside the destination, checks
its exit status, fsyncs it, has it checked by the engine's own tool (for PostgreSQL
``pg_restore --list``) and only then renames it; the journal records size, sha256,
duration, that verdict and who/when/why, so a later verification can tell one flipped
byte. The dump is leased to this process and has a stall deadline
(``stall_seconds``): a killed opsui or a paused database leaves nothing behind. The facade
(:mod:`opsui.domain.operations.app_backups`) puts these behind the gate and the lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from opsui.domain.backup_commands import EngineCommands, check_passed, engine_commands
from opsui.domain.backups import (
    BACKUP,
    FAILED,
    MANUAL,
    OK,
    REMOVED,
    VERIFIED,
    Backup,
    backup_file_name,
    fold_backups,
    new_backup_id,
    retention_doomed,
)
from opsui.domain.errors import ActionFailed, ActionRefused, OpsuiError
from opsui.domain.history import Journal
from opsui.domain.operations.release_run import Cancelled, now_iso, operator
from opsui.domain.ports import BackupStore, Cancellation, Progress
from opsui.domain.sanitize import clean, clean_block
from opsui.domain.settings import BackupConfig

DUMP_TIMEOUT = 6 * 3600.0
"""A dump (or restore) of a large database may take hours; a stuck one still ends."""
CHECK_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Verification:
    backup: Backup
    ok: bool
    detail: str


class BackupSteps:
    """The backups of one app: where they go, how they are made, checked and restored."""

    def __init__(self, app: str, config: BackupConfig, folder: str, store: BackupStore,
                 journal: Journal, docker: tuple[str, ...] = ("docker",)) -> None:
        self.app = app
        self.config = config
        self.folder = folder
        self.store = store
        self.journal = journal
        self.docker = docker
        self.commands: EngineCommands = engine_commands(config, docker)

    def backups(self) -> list[Backup]:
        return fold_backups(self.journal.read().records)

    def take(self, why: str, release: str = "", progress: Progress | None = None,
             cancelled: Cancellation | None = None) -> Backup:
        """Dump, check, rename, record. A failed dump is journaled too, then raised (as
        :class:`Cancelled` when ``cancelled`` stopped it)."""
        backup_id = new_backup_id()
        name = backup_file_name(self.app, backup_id, self.commands.extension)
        record: dict[str, Any] = {"type": BACKUP, "id": backup_id, "app": self.app,
                  "engine": self.config.engine, "who": operator(), "at": now_iso(),
                  "why": why, "release": release, "path": f"{self.folder}/{name}"}
        tagged = engine_commands(self.config, self.docker, tag=f"opsui {name}")
        verdict: list[tuple[bool, str]] = []

        def check(path: str) -> tuple[bool, str]:
            # A plain backup gets the engine's own check (pg_restore --list) on top of
            # the dump's exit status and sha256; the full read-back (a restore's whole
            # read, ~20 % of the dump's time) is for what rests on the backup: a
            # migration, a restore, an explicit verify. It runs before the rename, so
            # an opsui killed meanwhile leaves no unchecked file under a final name.
            verdict.append(self.engine_check(path, full=why != MANUAL))
            return verdict[-1]

        started = time.monotonic()
        try:
            dumped = self.store.dump(list(tagged.dump), self.folder, name,
                                     timeout=DUMP_TIMEOUT, progress=progress,
                                     cancelled=cancelled,
                                     stop=list(tagged.stop) if tagged.stop else None,
                                     stall_seconds=self.config.stall_seconds, check=check)
        except OpsuiError as exc:
            error = str(exc)
            if verdict and not verdict[-1][0]:  # cut short with a good exit status, say
                error = f"the fresh dump failed its check: {verdict[-1][1]}"
            self.journal.append({**record, "outcome": FAILED, "error": clean(error, 2000),
                                 "seconds": round(time.monotonic() - started, 3)})
            if cancelled is not None and cancelled.is_set():
                raise Cancelled() from None
            if verdict and not verdict[-1][0]:
                raise ActionFailed(f"{self.app}: backup failed: {error}",
                                   hint="Nothing was kept; earlier backups are untouched."
                                   ) from None
            raise
        ok, detail = verdict[-1] if verdict else (True, self.commands.check_name)
        record.update(size=dumped.size, sha256=dumped.sha256,
                      seconds=round(dumped.seconds, 3), verify={"ok": ok, "detail": detail},
                      outcome=OK)
        self.journal.append(record)
        return fold_backups([record])[0]

    def engine_check(self, path: str, full: bool = True) -> tuple[bool, str]:
        """The engine's own verdict on the file (None-engines: it is not empty);
        ``full`` adds the read-back of every byte, as a restore would read it."""
        if self.commands.verify is None:
            return True, self.commands.check_name
        try:
            result = self.store.feed(list(self.commands.verify), path, CHECK_TIMEOUT)
            ok, detail = check_passed(self.config.engine, result)
            if not ok or self.commands.read_back is None or not full:
                return ok, detail
            read = self.store.feed(list(self.commands.read_back), path, CHECK_TIMEOUT)
        except OpsuiError as exc:
            return False, f"{self.commands.check_name} could not run: {exc}"
        if read.exit_code != 0:
            words = clean_block(read.stderr, 600).strip() or f"exit {read.exit_code}"
            return False, f"{detail}, but it does not read back whole: {words}"
        return True, f"{detail}; reads back whole"

    def verify(self, backup: Backup) -> Verification:
        """sha256 against the journal, then the engine's check again; journaled."""
        found = self.store.checksum(backup.path)
        if found is None:
            ok, detail = False, f"{backup.path} is gone from the host"
        elif found[1] != backup.sha256:
            ok, detail = False, (f"sha256 differs from the journal's ({found[1][:16]}… "
                                 f"vs {backup.sha256[:16]}…, {found[0]:,} bytes vs "
                                 f"{backup.size:,}): the file changed since the backup")
        else:
            ok, detail = self.engine_check(backup.path)
            detail = f"sha256 matches; {detail}"
        self.journal.append({"type": VERIFIED, "backup": backup.id, "ok": ok,
                             "detail": clean(detail, 600), "at": now_iso(),
                             "who": operator()})
        return Verification(backup, ok, detail)

    def restore(self, backup: Backup, cancelled: Cancellation | None = None) -> str:
        """Feed the backup to the engine's restore (one transaction, stop at the first
        error, for PostgreSQL); raises ActionFailed with the engine's words. Like a dump
        it is leased to this process and stopped after ``stall_seconds`` without
        progress, in the database too (:class:`Cancelled` when ``cancelled`` stopped
        it)."""
        if self.commands.restore is None:
            raise ActionRefused(f"{self.app}: the command engine has no restore_command",
                                hint=f"Set restore_command under [apps.{self.app}.backup].")
        tagged = engine_commands(self.config, self.docker,
                                 tag=f"opsui restore {backup.path.rpartition('/')[2]}")
        assert tagged.restore is not None
        try:
            result = self.store.restore(
                list(tagged.restore), backup.path, timeout=DUMP_TIMEOUT,
                stop=list(tagged.stop) if tagged.stop else None,
                busy=list(tagged.busy) if tagged.busy else None,
                stall_seconds=self.config.stall_seconds, cancelled=cancelled)
        except OpsuiError as exc:
            if cancelled is not None and cancelled.is_set():
                raise Cancelled() from None
            if self.config.engine == "postgres" and isinstance(exc, ActionFailed):
                raise ActionFailed(f"{exc}; nothing of it was kept (one transaction, "
                                   "rolled back)", hint=exc.hint) from None
            raise
        if result.exit_code != 0:
            words = clean_block(result.stderr, 3000).strip() or "no error output"
            raise ActionFailed(f"restore of {backup.id} failed (exit {result.exit_code}); "
                               f"nothing of it was kept: {words}"
                               if self.config.engine == "postgres" else
                               f"restore of {backup.id} failed (exit {result.exit_code}): "
                               f"{words}")
        return f"restored {backup.id} ({backup.size:,} bytes)"

    def prune(self) -> list[Backup]:
        """Retention: keep ``keep`` newest, the newest verified, every pre-migration one."""
        removed = []
        for backup in retention_doomed(self.backups(), self.config.keep):
            self.store.remove(backup.path)
            self.journal.append({"type": REMOVED, "backup": backup.id, "at": now_iso(),
                                 "who": operator(), "why": "retention"})
            removed.append(backup)
        return removed
