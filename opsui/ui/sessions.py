"""What the release screens are given: one app on one host (:class:`ReleaseSession`,
:class:`BackupSession`) and the plans they run (:class:`ReleasePlan`).

A leaf of the UI package (it imports only the domain): the release flow builds sessions
and the deploy, history, backups and run screens take them, so both import this module
and neither imports the other.
"""

from __future__ import annotations

import threading
from typing import Protocol

from opsui.domain.backups import Backup
from opsui.domain.compose_drift import ComposeCheck
from opsui.domain.errors import ActionRefused
from opsui.domain.monitor import HostMonitor
from opsui.domain.operations.app_backups import AppBackups, BackupsStatus, RestorePlan
from opsui.domain.operations.app_releases import AppReleases, AppStatus, TagChoice
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.operations.backup_run import Verification
from opsui.domain.operations.deploy import DeployPlan
from opsui.domain.operations.gate import ActionRequest, Confirmation
from opsui.domain.operations.migration import MigrationPlan
from opsui.domain.operations.multi_host import MultiPlan
from opsui.domain.operations.policy import Action
from opsui.domain.operations.recovery import RecoveryPlan
from opsui.domain.operations.release_run import Report
from opsui.domain.operations.rollback import RollbackPlan
from opsui.domain.operations.swarm_deploy import SwarmDeployPlan, SwarmRollbackPlan
from opsui.domain.operations.swarm_recovery import SwarmRecoveryPlan
from opsui.domain.ports import LineSink, Progress


class ReleasePlan(Protocol):
    """What the screens need of any plan (deploy, rollback, recovery, a Swarm update)."""

    @property
    def request(self) -> ActionRequest: ...


class ReleaseSession:
    """One app on one host as the release screens see it.

    Every method except :meth:`confirmation` blocks (it reads or changes the host): call
    them from thread workers only.
    """

    def __init__(self, monitor: HostMonitor, ref: str, label: str,
                 spec: AppSpec | None = None) -> None:
        self.monitor = monitor
        self.host = monitor.name
        """The host the app runs on."""
        self.ref = ref
        """What :meth:`AppReleases.resolve` is given: a configured app or a container."""
        self.label = label
        """What to call the app until it is resolved (the selected container's name)."""
        self._spec = spec

    @property
    def name(self) -> str:
        """The app's name once resolved, else the label."""
        return self._spec.name if self._spec is not None else self.label

    @property
    def read_only(self) -> bool:
        return self.monitor.read_only

    def releases(self) -> AppReleases:
        return self.monitor.releases()

    def app(self) -> AppSpec:
        if self._spec is None:
            self._spec = self.releases().resolve(self.ref)
        return self._spec

    def status(self) -> AppStatus:
        """History, audit, lock. Marking a release known good writes to the host, so a
        read-only opsui only reads."""
        return self.releases().status(self.app(), mark_good=not self.read_only)

    def compose_check(self, status: AppStatus) -> ComposeCheck | None:
        """What compose on the host would do to the serving container (runs compose
        there: a second or so); None when compose did not make it."""
        if status.serving is None or status.app.swarm_service:
            return None
        return self.releases().agreement(status.app).check(status.serving)

    def tag_choices(self) -> list[TagChoice]:
        return self.releases().tag_choices(self.app())

    def plan_deploy(self, tag: str) -> DeployPlan | SwarmDeployPlan | MultiPlan:
        """(A MultiPlan from the session of an app on several hosts.)"""
        return self.releases().plan_deploy(self.app(), tag)

    def plan_rollback(self) -> RollbackPlan | SwarmRollbackPlan | MultiPlan:
        return self.releases().plan_rollback(self.app())

    def plan_recovery(self, choice: str) -> RecoveryPlan | SwarmRecoveryPlan:
        return self.releases().plan_recovery(self.app(), choice)

    def confirmation(self, plan: ReleasePlan) -> Confirmation:
        """What to ask before ``plan`` runs; raises ActionRefused in read-only mode."""
        return self.monitor.gate.confirmation_for(plan.request)

    def run(self, plan: ReleasePlan, answer: bool | str | None, report: Report,
            cancelled: threading.Event, *, output: LineSink | None = None,
            progress: Progress | None = None, override: str | None = None) -> str:
        """Run ``plan`` through the gate; the outcome (ok, failed, cancelled...).

        ``output``/``progress``: a migration's lines and a backup's bytes (deploys of an
        app with a migration, restores, migrations); ``override``: the typed text to go
        on without a verified backup (:meth:`AppBackups.override_text`)."""
        app = self.app()
        if isinstance(plan, RestorePlan):
            restored = self.monitor.backups().restore(app, plan, answer, report, progress,
                                                      override, cancelled)
            return restored.outcome
        if isinstance(plan, MigrationPlan):
            done = self.monitor.backups().migrate(app, plan, answer, report, output,
                                                  progress, override, cancelled)
            return done.outcome
        releases = self.releases()
        if isinstance(plan, RollbackPlan | SwarmRollbackPlan):
            return releases.rollback(app, plan, answer, report, cancelled)
        if isinstance(plan, RecoveryPlan | SwarmRecoveryPlan):
            return releases.recover(app, plan, answer, report, cancelled)
        if isinstance(plan, DeployPlan | SwarmDeployPlan):
            return releases.deploy(app, plan, answer, report, cancelled, output=output,
                                   progress=progress, override=override)
        raise ActionRefused(f"opsui cannot run a {type(plan).__name__} from this screen yet")

    def override_needed(self, error: BaseException) -> str | None:
        """The override phrase when ``error`` is the refusal of a migration (or restore)
        whose backup failed, which typing the phrase lets go on; else None."""
        if not isinstance(error, ActionRefused) or self._spec is None:
            return None
        phrase = AppBackups.override_text(self._spec)
        return phrase if f"'{phrase}'" in (error.hint or "") else None


class BackupSession(ReleaseSession):
    """One app's backups on one host, as the backups screen sees them. Every method
    except :meth:`request` and :meth:`confirmation` blocks: thread workers only."""

    def backups(self) -> AppBackups:
        return self.monitor.backups()

    def app(self) -> AppSpec:
        if self._spec is None:
            self._spec = self.backups().resolve(self.ref)
        return self._spec

    def backup_status(self) -> BackupsStatus:
        return self.backups().status(self.app())

    def request(self, action: Action, detail: str = "") -> ActionRequest:
        """What the gate is asked before anything is planned (read-only refuses here)."""
        return ActionRequest(action, self.host, self.name, self.name, app=self.name,
                             detail=detail)

    def backup(self, answer: bool | str | None, progress: Progress,
               cancelled: threading.Event) -> Backup:
        return self.backups().backup(self.app(), answer, progress, cancelled)

    def verify(self, backup_id: str) -> Verification:
        return self.backups().verify(self.app(), backup_id)

    def download(self, backup_id: str, to: str, progress: Progress) -> tuple[Backup, int]:
        return self.backups().download(self.app(), backup_id, to, progress)

    def plan_restore(self, backup_id: str) -> RestorePlan:
        return self.backups().plan_restore(self.app(), backup_id)

    def plan_migration(self) -> MigrationPlan:
        return self.backups().plan_migration(self.app())
