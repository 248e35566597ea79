"""Running an app's migration: in a one-off container of the target image, or exec'd in
the running container, with its output streamed and the outcome journaled.

The one-off container is made like the serving one (env, mounts, networks) so the
migration reaches the same database the app does. After a good run it is removed once
its output is in the journal; after a failed one it is kept (stopped, labelled
``opsui.migration``) for the post-mortem, and the journal names it together with the
backup to restore. Nothing here touches the serving container: a failed migration
leaves the app on its old version.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from opsui.domain.backups import FAILED, MIGRATION, OK
from opsui.domain.errors import ActionFailed, OpsuiError
from opsui.domain.history import Journal
from opsui.domain.models import Container
from opsui.domain.operations.gate import ActionRequest
from opsui.domain.operations.policy import Action
from opsui.domain.operations.release_run import now_iso, operator
from opsui.domain.ports import JobEngine, JobResult, LineSink
from opsui.domain.sanitize import clean

MIGRATION_LABEL = "opsui.migration"
OUTPUT_TAIL = 60
"""Lines of a migration's output kept in the journal."""


@dataclass(frozen=True)
class MigrationPlan:
    """What the confirmation shows: where, which image, which command, how."""

    app: str
    host: str
    serving: Container
    image: str
    command: tuple[str, ...]
    run_in: str
    timeout: float
    steps: tuple[str, ...]

    @property
    def request(self) -> ActionRequest:
        return ActionRequest(Action.MIGRATE, self.host, self.app, self.app, app=self.app,
                             detail=f"with {self.image}")

    @property
    def command_text(self) -> str:
        return " ".join(self.command)


@dataclass(frozen=True)
class MigrationOutcome:
    outcome: str
    exit_code: int | None
    backup: str
    container: str
    output: tuple[str, ...]
    reason: str = ""


def run_migration(plan: MigrationPlan, jobs: JobEngine, journal: Journal, run_id: str,
                  backup_id: str, cancelled: threading.Event,
                  output: LineSink | None = None) -> MigrationOutcome:
    """Run it, journal a ``migration`` record, remove a good one-off container; a
    failure raises ActionFailed naming the backup to restore."""
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL)

    def line(text: str) -> None:
        tail.append(text)
        if output is not None:
            output(text)

    # Written first: a migration whose opsui is killed reads as interrupted (its work
    # is stopped on the host when its lease lapses).
    begun = {"type": MIGRATION, "id": run_id, "release": run_id, "backup": backup_id,
             "app": plan.app, "image": plan.image, "command": plan.command_text,
             "run_in": plan.run_in, "at": now_iso(), "who": operator()}
    journal.append(begun)
    started = time.monotonic()
    try:
        if plan.run_in == "running":
            result = jobs.exec_in(plan.serving.id, list(plan.command), line, plan.timeout,
                                  cancelled)
        else:
            labels = {MIGRATION_LABEL: plan.app, f"{MIGRATION_LABEL}.run": run_id}
            result = jobs.run_like(plan.serving.id, plan.image, list(plan.command),
                                   f"{plan.serving.name}-migrate-{run_id}", labels, line,
                                   plan.timeout, cancelled)
    except OpsuiError as exc:  # it could not run, or opsui lost sight of it
        journal.append({**begun, "outcome": FAILED, "exit_code": None, "at": now_iso(),
                        "seconds": round(time.monotonic() - started, 3),
                        "output": clean("\n".join(tail), 6000), "error": clean(str(exc), 2000)})
        raise
    ok = result.exit_code == 0
    kept = result.container_id
    if ok and kept:
        try:
            jobs.remove(kept)
            kept = ""
        except OpsuiError:
            pass  # left behind, and named in the journal
    outcome = MigrationOutcome(OK if ok else FAILED, result.exit_code, backup_id, kept,
                               tuple(tail), _reason(result, backup_id, plan.app))
    journal.append({**begun, "exit_code": result.exit_code,
                    "outcome": outcome.outcome, "container": kept,
                    "seconds": round(time.monotonic() - started, 3),
                    "output": clean("\n".join(tail), 6000), "at": now_iso(),
                    "error": "" if ok else outcome.reason})
    if not ok:
        raise ActionFailed(outcome.reason, hint=(
            f"`opsui restore {plan.app} {backup_id}` if the database was changed"
            if backup_id else "No backup was taken before it."))
    return outcome


def _reason(result: JobResult, backup_id: str, app: str) -> str:
    if result.exit_code == 0:
        return ""
    how = (f"exited with code {result.exit_code}" if result.exit_code is not None
           else result.reason or "did not finish")
    where = f"; its container is kept for the post-mortem: {result.container_id[:12]}" \
        if result.container_id else ""
    restore = (f"; restore point: backup {backup_id} (opsui restore {app} {backup_id})"
               if backup_id else "; no backup was taken before it")
    return f"migration {how}; the app stays on its old version{restore}{where}"
