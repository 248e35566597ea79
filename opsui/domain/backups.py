"""Backups, restores and migrations of an app, folded from its journal, and retention.

They live in the same journal on the host as the app's releases
(:mod:`opsui.domain.history`), so every operator sees the same restore points:

* ``backup``: a dump ended (ok or failed): id, file, size, sha256, seconds, the engine's
  verification, who, when and why (manual, safety-before-restore, before-migration with
  the release id);
* ``backup_verified``: a later verification (sha256 against the journal and the
  engine's check again);
* ``backup_removed``: retention (or an operator) removed the file;
* ``restore``: a restore began (no outcome yet), and again when it ended: the backup,
  the safety backup taken first, outcome. One that began and never ended (opsui killed,
  the link lost) folds as ``interrupted``;
* ``migration``: a migration began (no outcome yet), and again when it ended: the
  backup taken before it, exit code, output. One that never ended folds as
  ``interrupted``.

Retention is a pure choice here so its promises are unit-tested: it never picks the
newest verified backup nor one taken before a migration.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from opsui.domain.sanitize import clean

BACKUP, VERIFIED, REMOVED, RESTORE, MIGRATION = (
    "backup", "backup_verified", "backup_removed", "restore", "migration")
MANUAL, SAFETY, BEFORE_MIGRATION = "manual", "safety-before-restore", "before-migration"
OK, FAILED = "ok", "failed"
INTERRUPTED, RUNNING = "interrupted", "running"
"""A restore or migration that began and has no outcome: its opsui is gone, or (when
the app's lock names it) it runs now."""


def new_backup_id() -> str:
    """Sortable by time, unique across operators: ``b20261201211500-1a2b``."""
    return f"b{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:4]}"


def backup_file_name(app: str, backup_id: str, extension: str) -> str:
    return f"{app}-{backup_id}.{extension}"


@dataclass(frozen=True)
class Backup:
    """One backup as the journal tells it (the newest verification wins)."""

    id: str
    engine: str
    path: str
    at: str
    who: str
    why: str
    outcome: str
    size: int = 0
    sha256: str = ""
    seconds: float = 0.0
    release: str = ""
    """before-migration: the release (or migration run) it was taken for."""
    verified: bool = False
    check: str = ""
    """What the engine's verification said (or why the backup failed)."""
    verified_at: str = ""
    removed: bool = False
    error: str = ""

    @property
    def usable(self) -> bool:
        """A file that should be on the host: the dump ended ok and nobody removed it."""
        return self.outcome == OK and not self.removed

    @property
    def pre_migration(self) -> bool:
        return self.why == BEFORE_MIGRATION

    def age_seconds(self, now: datetime | None = None) -> float | None:
        try:
            at = datetime.fromisoformat(self.at)
        except ValueError:
            return None
        return ((now or datetime.now(UTC)) - at).total_seconds()


@dataclass(frozen=True)
class Restore:
    id: str
    backup: str
    at: str
    who: str
    outcome: str
    seconds: float = 0.0
    safety_backup: str = ""
    error: str = ""


@dataclass(frozen=True)
class MigrationRecord:
    id: str
    release: str
    backup: str
    image: str
    command: str
    outcome: str
    exit_code: int | None
    at: str
    who: str
    output: str = ""
    container: str = ""
    """The one-off container kept for the post-mortem of a failed migration."""
    error: str = ""


def _text(record: Mapping[str, Any], key: str, limit: int = 300) -> str:
    return clean(str(record.get(key) or ""), limit)


def _number(record: Mapping[str, Any], key: str) -> float:
    value = record.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else 0.0


def fold_backups(records: Iterable[Mapping[str, Any]]) -> list[Backup]:
    """Backups in the order they were taken; later records refine earlier ones."""
    backups: dict[str, Backup] = {}
    for record in records:
        kind, bid = record.get("type"), _text(record, "id", 100)
        if kind == BACKUP and bid and bid not in backups:
            verify = record.get("verify")
            verify = verify if isinstance(verify, Mapping) else {}
            backups[bid] = Backup(
                id=bid, engine=_text(record, "engine", 20), path=_text(record, "path", 1000),
                at=_text(record, "at", 64), who=_text(record, "who", 200),
                why=_text(record, "why", 40), outcome=_text(record, "outcome", 20),
                size=int(_number(record, "size")), sha256=_text(record, "sha256", 64),
                seconds=_number(record, "seconds"), release=_text(record, "release", 100),
                verified=verify.get("ok") is True, check=_text(verify, "detail", 600),
                verified_at=_text(record, "at", 64), error=_text(record, "error", 2000))
            continue
        found = backups.get(_text(record, "backup", 100))
        if found is None:
            continue
        if kind == VERIFIED:
            backups[found.id] = replace(found, verified=record.get("ok") is True,
                                        check=_text(record, "detail", 600),
                                        verified_at=_text(record, "at", 64))
        elif kind == REMOVED:
            backups[found.id] = replace(found, removed=True)
    return list(backups.values())


def fold_restores(records: Iterable[Mapping[str, Any]]) -> list[Restore]:
    """Restores in the order they began; the record with the outcome replaces the one
    written at the start (journals from before start records have only the former)."""
    restores: dict[str, Restore] = {}
    for r in records:
        if r.get("type") != RESTORE:
            continue
        rid = _text(r, "id", 100)
        restores[rid] = Restore(rid, _text(r, "backup", 100), _text(r, "at", 64),
                                _text(r, "who", 200), _text(r, "outcome", 20) or INTERRUPTED,
                                _number(r, "seconds"), _text(r, "safety_backup", 100),
                                _text(r, "error", 2000))
    return list(restores.values())


def fold_migrations(records: Iterable[Mapping[str, Any]]) -> list[MigrationRecord]:
    """Migrations in the order they began; the end record replaces the start record."""
    out: dict[str, MigrationRecord] = {}
    for r in records:
        if r.get("type") != MIGRATION:
            continue
        code = r.get("exit_code")
        mid = _text(r, "id", 100)
        out[mid] = MigrationRecord(
            mid, _text(r, "release", 100), _text(r, "backup", 100),
            _text(r, "image"), _text(r, "command", 500),
            _text(r, "outcome", 20) or INTERRUPTED,
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            _text(r, "at", 64), _text(r, "who", 200), _text(r, "output", 6000),
            _text(r, "container", 100), _text(r, "error", 2000))
    return list(out.values())


def find_backup(backups: list[Backup], ref: str) -> Backup | None:
    """``ref``: a backup id, an unambiguous id prefix, or its file name."""
    ref = ref.strip()
    exact = [b for b in backups if ref in (b.id, b.path, b.path.rpartition("/")[2])]
    if exact:
        return exact[-1]
    prefixed = [b for b in backups if ref and b.id.startswith(ref)]
    return prefixed[0] if len(prefixed) == 1 else None


def retention_doomed(backups: list[Backup], keep: int) -> list[Backup]:
    """Backups to remove so that ``keep`` of the newest remain, on top of which the
    newest verified backup and every backup taken before a migration always stay."""
    alive = [b for b in backups if b.usable]
    newest_first = list(reversed(alive))
    protected = {b.id for b in alive if b.pre_migration}
    verified = next((b for b in newest_first if b.verified), None)
    if verified is not None:
        protected.add(verified.id)
    kept = {b.id for b in newest_first[:max(keep, 1)]}
    return [b for b in alive if b.id not in kept and b.id not in protected]
