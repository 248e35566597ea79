"""Backups, restores and migrations of the apps on one host: one entry point.

The TUI and ``opsui backup|backups|restore|migrate`` both come here (and
:class:`~opsui.domain.operations.app_releases.AppReleases` calls :meth:`AppBackups.
before_start` between a deploy's pull and start), so every path shares the same gate
(read-only, confirmation policy, audit), the app's lock on the host and its journal.
Every method blocks: the UI calls them from worker threads. Callbacks (``progress``,
``output``, ``report``) are called from the calling thread or a helper thread, never
from the UI's event loop.

The rule this module enforces: a migration never runs without a fresh, verified
backup unless the operator typed :meth:`AppBackups.override_text`; a restore takes a
safety backup first, under the same rule.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, replace

from opsui.domain.backups import (
    BEFORE_MIGRATION,
    FAILED,
    INTERRUPTED,
    MANUAL,
    OK,
    RESTORE,
    RUNNING,
    SAFETY,
    Backup,
    MigrationRecord,
    Restore,
    find_backup,
    fold_backups,
    fold_migrations,
    fold_restores,
)
from opsui.domain.errors import ActionFailed, ActionRefused, OpsuiError
from opsui.domain.history import Journal, app_folder
from opsui.domain.models import Container, split_image
from opsui.domain.operations.app_spec import AppSpec, resolve_app
from opsui.domain.operations.backup_run import BackupSteps, Verification
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.operations.lock import DeployLock, LockHolder
from opsui.domain.operations.migration import MigrationOutcome, MigrationPlan, run_migration
from opsui.domain.operations.policy import Action
from opsui.domain.operations.release_run import (
    Cancelled,
    ReleaseRun,
    Report,
    now_iso,
    operator,
)
from opsui.domain.ports import (
    BackupStore,
    ContainerEngine,
    HostFiles,
    JobEngine,
    LineSink,
    Progress,
)
from opsui.domain.sanitize import clean
from opsui.domain.settings import BackupConfig, Config

RESTORE_STEPS = ("lock", "check backup", "safety backup", "restore")


@dataclass(frozen=True)
class BackupsStatus:
    """What the backups screen and ``opsui backups`` show of one app."""

    app: AppSpec
    config: BackupConfig
    folder: str
    backups: tuple[Backup, ...]
    """Newest first; failed and removed ones included (see :attr:`Backup.usable`)."""
    restores: tuple[Restore, ...]
    """Newest first."""
    migrations: tuple[MigrationRecord, ...]
    """Newest first."""
    lock: LockHolder | None

    @property
    def usable(self) -> list[Backup]:
        return [b for b in self.backups if b.usable]


@dataclass(frozen=True)
class RestorePlan:
    """What the type-the-name confirmation shows."""

    app: str
    host: str
    backup: Backup
    steps: tuple[str, ...] = RESTORE_STEPS

    @property
    def request(self) -> ActionRequest:
        return ActionRequest(Action.RESTORE, self.host, self.app, self.app, app=self.app,
                             detail=f"from {self.backup.id}")


class AppBackups:
    """The backup, restore and migrate operations of one host's apps.

    Same first arguments as :class:`AppReleases`; ``store`` is the host's
    :class:`~opsui.domain.ports.BackupStore`, ``jobs`` its one-off commands, ``docker``
    the docker CLI on the host that dumps run through.
    """

    def __init__(self, host: str, engine: ContainerEngine, files: HostFiles,
                 gate: ActionGate, config: Config, *, store: BackupStore, jobs: JobEngine,
                 docker: tuple[str, ...] = ("docker",)) -> None:
        self.host = host
        self._engine = engine
        self._files = files
        self._gate = gate
        self._config = config
        self._store = store
        self._jobs = jobs
        self._docker = docker

    # -- reading ----------------------------------------------------------------------

    def resolve(self, ref: str) -> AppSpec:
        return resolve_app(self._config, self.host, ref, self._engine.list_containers())

    def journal(self, app: AppSpec) -> Journal:
        return Journal(self._files, app.settings.state_dir, app.name)

    def backup_config(self, app: AppSpec) -> BackupConfig:
        config = app.config.backup if app.config is not None else None
        if config is None:
            raise ActionRefused(f"{app.name}: no backup configured",
                                hint=f"Add [apps.{app.name}.backup] to opsui.toml "
                                     "(engine, container, database).")
        return config

    def folder(self, app: AppSpec) -> str:
        config = self.backup_config(app)
        return config.dest.rstrip("/") or (
            f"{app_folder(app.settings.state_dir, app.name)}/backups")

    def steps(self, app: AppSpec) -> BackupSteps:
        return BackupSteps(app.name, self.backup_config(app), self.folder(app), self._store,
                           self.journal(app), self._docker)

    def status(self, app: AppSpec) -> BackupsStatus:
        records = self.journal(app).read().records
        lock = DeployLock(self._files, app.settings.state_dir, app.name).holder()
        # No outcome yet: running while its opsui holds the lock for it, else interrupted.
        live = lock.release if lock is not None and not lock.holder_is_dead() else None
        restores = [replace(r, outcome=RUNNING) if r.outcome == INTERRUPTED and r.id == live
                    else r for r in fold_restores(records)]
        migrations = [replace(m, outcome=RUNNING) if m.outcome == INTERRUPTED
                      and m.id == live else m for m in fold_migrations(records)]
        return BackupsStatus(
            app, self.backup_config(app), self.folder(app),
            tuple(reversed(fold_backups(records))), tuple(reversed(restores)),
            tuple(reversed(migrations)), lock)

    def find(self, app: AppSpec, ref: str) -> Backup:
        found = find_backup([b for b in reversed(self.status(app).backups) if b.usable], ref)
        if found is None:
            raise ActionRefused(f"{app.name}: no backup '{clean(ref, 80)}'",
                                hint=f"`opsui backups {app.name}` lists them.")
        return found

    @staticmethod
    def override_text(app: AppSpec) -> str:
        """What the operator types to go on without a verified backup."""
        return f"{app.name} without backup"

    # -- backup -------------------------------------------------------------------------

    def backup_request(self, app: AppSpec) -> ActionRequest:
        return ActionRequest(Action.BACKUP, self.host, app.name, app.name, app=app.name,
                             detail=f"to {self.folder(app)}")

    def backup(self, app: AppSpec, answer: bool | str | None,
               progress: Progress | None = None,
               cancelled: threading.Event | None = None) -> Backup:
        """A manual backup through the gate, then retention. No lock: a backup changes
        nothing and is wanted most while deploys are frozen. ``cancelled`` stops the
        dump (Cancelled is raised; nothing is kept)."""
        steps = self.steps(app)

        def take() -> Backup:
            backup = steps.take(MANUAL, progress=progress, cancelled=cancelled)
            with contextlib.suppress(OpsuiError):  # retried after the next backup
                steps.prune()
            return backup

        return self._gate.execute(self.backup_request(app), answer, take,
                                  journal=steps.journal)

    def verify(self, app: AppSpec, ref: str) -> Verification:
        """Recompute sha256 against the journal and rerun the engine's check. It runs the
        check in the database's container and journals the verdict: read-only refuses."""
        self._gate.check(self._request(app, Action.VERIFY, clean(ref, 80)))
        return self.steps(app).verify(self.find(app, ref))

    def download(self, app: AppSpec, ref: str, to: str,
                 progress: Progress | None = None) -> tuple[Backup, int]:
        """Copy a backup to the operator's machine; its sha256 must match the journal's
        (a mismatch raises ActionFailed, the copy is left for a look)."""
        backup = self.find(app, ref)
        size, sha256 = self._store.download(backup.path, to, progress)
        if sha256 != backup.sha256:
            raise ActionFailed(f"{backup.id}: the downloaded copy's sha256 ({sha256[:16]}…) "
                               f"is not the journal's ({backup.sha256[:16]}…)",
                               hint=f"`opsui backups {app.name} --verify {backup.id}`.")
        return backup, size

    # -- restore ------------------------------------------------------------------------

    def _request(self, app: AppSpec, action: Action, detail: str = "") -> ActionRequest:
        return ActionRequest(action, self.host, app.name, app.name, app=app.name,
                             detail=detail)

    def not_confirmed(self, app: AppSpec, request: ActionRequest) -> None:
        """The operator left the question of ``request`` (a restore's type-the-name, say)
        without the expected answer: a refused action line in the app's journal."""
        self._gate.not_confirmed(request, self.journal(app))

    def plan_restore(self, app: AppSpec, ref: str) -> RestorePlan:
        self._gate.check(self._request(app, Action.RESTORE, f"from {clean(ref, 80)}"))
        if self.steps(app).commands.restore is None:
            raise ActionRefused(f"{app.name}: this backup engine has no restore command",
                                hint=f"Set restore_command under [apps.{app.name}.backup].")
        return RestorePlan(app.name, self.host, self.find(app, ref))

    def restore(self, app: AppSpec, plan: RestorePlan, answer: bool | str | None,
                report: Report | None = None, progress: Progress | None = None,
                override: str | None = None,
                cancelled: threading.Event | None = None) -> Restore:
        """Type-the-name confirmation, the app's lock, a safety backup, then the
        restore (one transaction, stop at the first error); journaled either way."""
        steps = self.steps(app)
        run = ReleaseRun(self._files, app.settings.state_dir, app.name, report=report,
                         cancelled=cancelled)
        result: list[Restore] = []

        def body() -> str:
            backup = plan.backup
            record: dict[str, object] = {"type": RESTORE, "id": run.release_id,
                                         "backup": backup.id, "who": operator(),
                                         "at": now_iso()}
            # Written first: a restore whose opsui is killed reads as interrupted.
            steps.journal.append(record)
            record["started"] = time.monotonic()
            safety = ""
            try:
                run.step("check backup", lambda: self._checked(steps, backup))
                safety = self._safety(app, steps, run, override, progress)
                done = run.step("restore", lambda: steps.restore(backup, run.cancelled))
            except OpsuiError as exc:
                result.append(self._record_restore(steps, run, record, FAILED, safety,
                                                   str(exc)))
                raise
            result.append(self._record_restore(steps, run, record, OK, safety, ""))
            return done

        run.gated(self._gate, plan.request, answer, f"restore {plan.backup.id}", body)
        return result[-1]

    @staticmethod
    def _checked(steps: BackupSteps, backup: Backup) -> str:
        verification = steps.verify(backup)
        if not verification.ok:
            raise ActionFailed(f"{backup.id} cannot be restored: {verification.detail}",
                               hint="Nothing was changed. Pick another backup.")
        return verification.detail

    def _record_restore(self, steps: BackupSteps, run: ReleaseRun, record: dict[str, object],
                        outcome: str, safety: str, error: str) -> Restore:
        started = record.pop("started")
        seconds = time.monotonic() - started if isinstance(started, float) else 0.0
        full = {**record, "outcome": outcome, "safety_backup": safety,
                "error": clean(error, 2000), "ended": now_iso(), "seconds": round(seconds, 3)}
        steps.journal.append(full)
        return fold_restores([full])[0]

    def _safety(self, app: AppSpec, steps: BackupSteps, run: ReleaseRun,
                override: str | None, progress: Progress | None) -> str:
        backup = self._verified_backup(app, steps, run, "safety backup", SAFETY, "",
                                       override, progress, "the restore")
        return backup.id if backup is not None else ""

    def _verified_backup(self, app: AppSpec, steps: BackupSteps, run: ReleaseRun,
                         step: str, why: str, release: str, override: str | None,
                         progress: Progress | None, what: str) -> Backup | None:
        """A fresh verified backup as step ``step``; without one, ``what`` does not run
        unless ``override`` is :meth:`override_text` (audited through the gate)."""
        taken: list[Backup] = []

        def take() -> str:
            backup = steps.take(why, release, progress, run.cancelled)
            taken.append(backup)
            return f"{backup.id}: {backup.size:,} bytes; {backup.check}"

        try:
            run.step(step, take)
        except Cancelled:
            raise
        except OpsuiError as exc:
            phrase = self.override_text(app)
            if override != phrase:
                raise ActionRefused(
                    f"{app.name}: the {step} failed, so {what} did not run: {exc}",
                    hint=f"Fix the backup, or type '{phrase}' to go on without one.") from None
            request = ActionRequest(Action.MIGRATE if why == BEFORE_MIGRATION
                                    else Action.RESTORE, self.host, phrase, phrase,
                                    app=app.name, detail=f"({what} without a backup)")
            self._gate.execute(request, override, lambda: None, journal=steps.journal)
        return taken[-1] if taken else None

    # -- migrate ------------------------------------------------------------------------

    def has_migration(self, app: AppSpec) -> bool:
        return app.config is not None and app.config.migrate is not None

    def plan_migration(self, app: AppSpec, tag: str | None = None,
                       serving: Container | None = None) -> MigrationPlan:
        """The migration of ``app`` in ``tag`` of its image (default: the serving one)."""
        self._gate.check(self._request(app, Action.MIGRATE))  # read-only: before a plan
        migrate = app.config.migrate if app.config is not None else None
        if migrate is None:
            raise ActionRefused(f"{app.name}: no migration configured",
                                hint=f"Add [apps.{app.name}.migrate] command = [...].")
        self.backup_config(app)  # no migration without a way to back up first
        serving = serving or app.serving(self._engine.list_containers())
        if serving is None:
            raise ActionRefused(f"{app.name}: no container of it on {self.host}")
        repository, current = split_image(serving.image)
        image = f"{app.image or repository}:{tag}" if tag else serving.image
        if migrate.run_in == "running" and tag and tag != current:
            raise ActionRefused(f"{app.name}: run_in = \"running\" migrates with the "
                                f"serving version ({current}), not {tag}",
                                hint="Deploy the tag (its migration runs before the swap).")
        steps = ("lock", *(("pull",) if tag and migrate.run_in == "new" else ()),
                 "backup", "migrate")
        return MigrationPlan(app.name, self.host, serving, image, migrate.command,
                             migrate.run_in, migrate.timeout, steps)

    def migrate(self, app: AppSpec, plan: MigrationPlan, answer: bool | str | None,
                report: Report | None = None, output: LineSink | None = None,
                progress: Progress | None = None, override: str | None = None,
                cancelled: threading.Event | None = None) -> MigrationOutcome:
        """Through the gate, under the app's lock: (pull), backup, migrate. A failed
        migration raises ActionFailed naming the backup; the app is not touched."""
        run = ReleaseRun(self._files, app.settings.state_dir, app.name, report=report,
                         cancelled=cancelled)
        result: list[MigrationOutcome] = []

        def body() -> str:
            if "pull" in plan.steps:
                run.step("pull", lambda: self._engine.pull(plan.image))
            result.append(self._backup_and_migrate(app, plan, run, override, output,
                                                   progress))
            return OK

        run.gated(self._gate, plan.request, answer, f"migrate {plan.image}", body)
        return result[-1]

    def before_start(self, app: AppSpec, run: ReleaseRun, image: str, serving: Container,
                     override: str | None = None, output: LineSink | None = None,
                     progress: Progress | None = None) -> None:
        """A deploy's "backup" and "migrate" steps, on the deploy's run (lock held,
        target pulled). Raising stops the deploy before the new container exists."""
        plan = self.plan_migration(app, serving=serving)
        plan = MigrationPlan(plan.app, plan.host, serving, image, plan.command, plan.run_in,
                             plan.timeout, plan.steps)
        self._backup_and_migrate(app, plan, run, override, output, progress)

    def _backup_and_migrate(self, app: AppSpec, plan: MigrationPlan, run: ReleaseRun,
                            override: str | None, output: LineSink | None,
                            progress: Progress | None) -> MigrationOutcome:
        steps = self.steps(app)
        backup = self._verified_backup(app, steps, run, "backup", BEFORE_MIGRATION,
                                       run.release_id, override, progress, "the migration")
        backup_id = backup.id if backup is not None else ""
        outcome: list[MigrationOutcome] = []

        def migrate() -> str:
            done = run_migration(plan, self._jobs, steps.journal, run.release_id, backup_id,
                                 run.cancelled, output)
            outcome.append(done)
            return f"exit 0 ({len(done.output)} lines of output); backup {backup_id}"

        run.step("migrate", migrate)
        return outcome[-1]
