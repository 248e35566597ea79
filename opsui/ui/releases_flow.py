"""Deploy, rollback, history and recovery: the app-level glue between keys and the domain.

Like :mod:`opsui.ui.actions`, the flow decides no policy. A key (D, R, H, K on the
dashboard or the detail view; F / B under an "interrupted" banner) becomes a
:class:`ReleaseSession` for the selected container's app. The gate is asked first
(read-only mode refuses before any screen opens), plans are made in thread workers
(they read the host), the plan's confirmation previews what will happen, and the run
streams its steps to :class:`~opsui.ui.screens.deploy.ReleaseRunScreen`; the gate
checks the answer again when the domain runs it. A failed worker ends up in the one
error handler (:mod:`opsui.ui.errors`).

The flow also keeps the dashboard's lock banner current: every ``lock_poll_seconds`` a
worker reads the lock and the unfinished releases of the selected host's apps, and the
next poll is armed only when that one finished, so a slow host never stacks polls.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.timer import Timer

from opsui.config import Config
from opsui.domain.apps import app_matches
from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.jobs import Job, JobBoard, JobRun
from opsui.domain.models import Container
from opsui.domain.monitor import HostMonitor
from opsui.domain.operations.gate import ActionRequest, Confirmation
from opsui.domain.operations.policy import Action, ConfirmPolicy
from opsui.domain.releases import CANCELLED, OK
from opsui.domain.sanitize import clean
from opsui.ui.actions import ContainerActionsApp
from opsui.ui.errors import notify_error
from opsui.ui.palette import Palette
from opsui.ui.screens.container_keys import ReleaseRequested
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.widgets.lock_banner import BannerItem, banner_items
from opsui.ui.widgets.step_log import OUTCOME_STEP

if TYPE_CHECKING:  # the plans' modules load with the first plan, after the first frame
    from opsui.domain.operations.multi_host import MultiPlan
    from opsui.domain.operations.recovery import RecoveryPlan
    from opsui.domain.operations.rollback import RollbackPlan
    from opsui.domain.operations.swarm_deploy import SwarmRollbackPlan
    from opsui.domain.operations.swarm_recovery import SwarmRecoveryPlan
    from opsui.ui.screens.confirm import Answer
    from opsui.ui.screens.release_run import ReleaseRunScreen
    from opsui.ui.sessions import ReleasePlan, ReleaseSession

# The screens of a release (deploy, rollback, history, backups, a run) are imported where
# they open: a launch draws the dashboard without loading them (issue 14).

log = logging.getLogger(__name__)

LOCK_POLL_SECONDS = 10.0
"""How long after one lock poll ends the next begins."""
RETRY_POLL_SECONDS = 2.0
"""The next poll while the dashboard has no connected host to ask yet."""
SOON_SECONDS = 0.2
"""A poll right after something changed (a release ended)."""


class ReleaseFlowApp(ContainerActionsApp):
    """The app layer that runs releases; :class:`~opsui.ui.app.OpsuiApp` builds on it."""

    BINDINGS = [
        Binding("J", "watch_job", "Watch run", id="release.watch",
                tooltip="Show the steps of the release, restore, migration or backup that "
                "runs now (or that ended while you looked elsewhere)."),
    ]

    lock_poll_seconds = LOCK_POLL_SECONDS
    """Seconds between the end of one lock poll and the start of the next."""

    config: Config
    clock: Callable[[], datetime]
    dashboard: DashboardScreen | None

    class RollbackPlanned(Message):
        """The rollback plan is ready to be confirmed."""

        def __init__(self, session: ReleaseSession,
                     plan: RollbackPlan | SwarmRollbackPlan | MultiPlan) -> None:
            super().__init__()
            self.session = session
            self.plan = plan

    class RecoveryPlanned(Message):
        """The recovery plan of an interrupted release is ready to be confirmed."""

        def __init__(self, session: ReleaseSession,
                     plan: RecoveryPlan | SwarmRecoveryPlan) -> None:
            super().__init__()
            self.session = session
            self.plan = plan

    class BannerPolled(Message):
        """A lock poll ended; ``items`` is None when the host could not be read."""

        def __init__(self, host: str, items: list[BannerItem] | None) -> None:
            super().__init__()
            self.host = host
            self.items = items

    def __init__(self) -> None:
        super().__init__()
        self.jobs = JobBoard(on_change=self._job_changed)
        """Runs of this opsui (deploys, rollbacks, restores...), owned here, not by screens."""
        self._job_sessions: dict[int, ReleaseSession] = {}
        self._unseen: list[int] = []
        """Jobs that ended while no screen showed them: the banner keeps them until J."""
        self._quit_when_idle = False
        """The operator chose to quit once the cancelled runs have stopped."""
        self._poll_timer: Timer | None = None
        self._polling = False
        self._poll_again = False

    # -- entry points -------------------------------------------------------------------

    def on_release_requested(self, message: ReleaseRequested) -> None:
        self.request_release(message.host, message.container, message.kind)

    def app_ref(self, monitor: HostMonitor, container: Container) -> str:
        """The configured app a container belongs to, else the container (ad hoc)."""
        for app in monitor.apps:
            if app.runs_on(monitor.name) and app_matches(app, container):
                return app.name
        return container.name

    def request_release(self, host: str, container: Container, kind: str) -> None:
        """``kind``: deploy, rollback or history of ``container``'s app on ``host``."""
        from opsui.ui.multi_host_session import multi_host_session
        from opsui.ui.sessions import BackupSession, ReleaseSession

        monitor = self.monitors.get(host)
        if monitor is None:
            self.notify(f"Unknown host {host}", severity="error", markup=False)
            return
        from opsui.ui.screens.backups import BackupsScreen
        from opsui.ui.screens.deploy import DeployScreen
        from opsui.ui.screens.history import HistoryScreen

        if kind == "backups":  # reading them is fine in read-only mode; the keys ask the gate
            self.push_screen(BackupsScreen(BackupSession(
                monitor, self.app_ref(monitor, container), container.name), self.clock))
            return
        ref = self.app_ref(monitor, container)
        try:  # an app on several hosts: D, R and H are the app's, across its hosts
            multi = multi_host_session(self.monitors, monitor, ref, container.name)
        except ActionRefused as refused:
            notify_error(self, refused, title="Apps on several hosts")
            return
        session = multi or ReleaseSession(monitor, ref, container.name)
        if kind == "history":
            if multi is not None:
                from opsui.ui.screens.multi_host import MultiHistoryScreen

                self.push_screen(MultiHistoryScreen(multi, self.clock))
            else:
                self.push_screen(HistoryScreen(session, self.clock))
            return
        action = Action.DEPLOY if kind == "deploy" else Action.ROLLBACK
        if not self._allowed(ActionRequest(action, session.host, container.id, session.ref,
                                           app=session.ref), monitor):
            return
        if kind == "deploy":
            self.push_screen(DeployScreen(session, self.clock))
        else:
            self.notify(f"Planning the rollback of {session.ref} on {host}…", timeout=3,
                        markup=False)
            self.plan_rollback(session)

    def request_recovery(self, host: str, item: BannerItem, choice: str) -> None:
        """Finish (``finish``) or roll back (``rollback``) an interrupted release."""
        from opsui.ui.sessions import ReleaseSession

        monitor = self.monitors.get(host)
        if monitor is None:
            self.notify(f"Unknown host {host}", severity="error", markup=False)
            return
        from opsui.domain.operations.recovery import FINISH

        action = Action.DEPLOY if choice == FINISH else Action.ROLLBACK
        if not self._allowed(ActionRequest(action, host, item.app, item.app, app=item.app),
                             monitor):
            return
        self.plan_recovery(ReleaseSession(monitor, item.app, item.app, item.spec), choice)

    def on_dashboard_screen_recover_release(self, message: DashboardScreen.RecoverRelease
                                            ) -> None:
        self.request_recovery(message.host, message.item, message.choice)

    def _allowed(self, request: ActionRequest, monitor: HostMonitor) -> bool:
        """Read-only mode refuses before any plan is made or screen opened."""
        try:
            monitor.gate.confirmation_for(request)
        except ActionRefused as refused:
            notify_error(self, refused, title="Read-only")
            return False
        return True

    # -- rollback and recovery: plan in a worker, confirm, run --------------------------------

    @work(thread=True, exit_on_error=False, group="release-plans",
          description="Cannot roll back")
    def plan_rollback(self, session: ReleaseSession) -> None:
        self.post_message(self.RollbackPlanned(session, session.plan_rollback()))

    @work(thread=True, exit_on_error=False, group="release-plans",
          description="Cannot recover the release")
    def plan_recovery(self, session: ReleaseSession, choice: str) -> None:
        self.post_message(self.RecoveryPlanned(session, session.plan_recovery(choice)))

    def on_release_flow_app_rollback_planned(self, message: RollbackPlanned) -> None:
        from opsui.domain.operations.multi_host import MultiPlan
        from opsui.ui.screens.rollback import rollback_preview, rollback_summary

        session, plan = message.session, message.plan
        if isinstance(plan, MultiPlan):
            from opsui.ui.screens.multi_host import multi_preview, multi_summary

            self._confirm_and_run(session, plan, multi_preview(plan, Palette.of(self)),
                                  "rollback", multi_summary(plan))
            return
        preview = rollback_preview(plan, Palette.of(self), self.clock())
        self._confirm_and_run(session, plan, preview, "rollback", rollback_summary(plan))

    def on_release_flow_app_recovery_planned(self, message: RecoveryPlanned) -> None:
        from opsui.ui.screens.rollback import recovery_preview, recovery_summary

        session, plan = message.session, message.plan
        self._confirm_and_run(session, plan, recovery_preview(plan, Palette.of(self)),
                              "recovery", recovery_summary(plan))

    def _confirm_and_run(self, session: ReleaseSession, plan: ReleasePlan, preview: Text,
                         action: str, summary: str) -> None:
        from opsui.ui.screens.deploy import ask_to_run
        from opsui.ui.screens.release_run import ReleaseRunScreen

        try:
            confirmation = session.confirmation(plan)
        except ActionRefused as refused:
            notify_error(self, refused, title="Read-only")
            return

        def proceed(answer: bool | str | None) -> None:
            self.push_screen(ReleaseRunScreen(session, action, self.clock,
                                              run=(plan, answer, summary)))

        ask_to_run(self, confirmation, preview, proceed)

    # -- runs: jobs of the app, watched by screens that come and go ------------------------

    class JobChanged(Message):
        """A job started, stepped, is cancelling or ended (posted from its thread)."""

        def __init__(self, job: Job, ended: bool) -> None:
            super().__init__()
            self.job = job
            self.ended = ended
            """This is the change that ended the job (told once)."""

    def _job_changed(self, job: Job) -> None:
        """The board's callback, on the job's thread: hand it to the event loop. Called
        in order under the board's lock, so ``ended`` is true for exactly one message."""
        self.post_message(self.JobChanged(job, ended=not job.running))

    def on_release_flow_app_job_changed(self, message: JobChanged) -> None:
        job = message.job
        for screen in self.screen_stack:
            run_screen = _as_run_screen(screen)
            if run_screen is not None and run_screen.job is job \
                    and job.running and job.cancelled.is_set():
                run_screen.cancelling()
        if message.ended:
            self._job_ended(job)
            self._close_cancel_question(job)
            if self.dashboard is not None and self.dashboard.is_mounted:
                self.dashboard.release_ended()
        self.show_jobs()

    def _close_cancel_question(self, job: Job) -> None:
        """The run ended before its cancel question was answered: close it, say so."""
        for screen in list(self.screen_stack):
            question = _cancel_question_of(screen, job)
            if question is not None and question is self.screen:  # only the top one closes
                question.dismiss(None)
                self.notify(f"The {job.title()} ended ({job.outcome}) before the cancel "
                            "was answered: nothing to cancel.", timeout=6, markup=False)

    def show_jobs(self) -> None:
        """The dashboard's run banner: what runs now, and runs that ended unwatched."""
        if self.dashboard is not None and self.dashboard.is_mounted:
            troubled = {(host, job.app) for job in self.jobs.latest()
                        if job.running or job.outcome not in (OK, CANCELLED)
                        for host in self._job_hosts(job)}
            self.dashboard.show_jobs(self.jobs.running() + self._unseen_jobs(), troubled)
        if self.screen_stack:  # a run that ends while the app closes: no screen to update
            self.refresh_bindings()

    def _job_hosts(self, job: Job) -> tuple[str, ...]:
        """The hosts a run changes: every host of an app on several, else its one."""
        from opsui.ui.multi_host_session import MultiHostSession

        session = self._job_sessions.get(job.id)
        return session.hosts if isinstance(session, MultiHostSession) else (job.host,)

    def _unseen_jobs(self) -> list[Job]:
        """Ended runs that no screen showed when they ended (the operator had left)."""
        return [job for job_id in self._unseen if (job := self.jobs.get(job_id)) is not None]

    def _job_ended(self, job: Job) -> None:
        if not job.watched_at_end:
            self._unseen.append(job.id)
        for host in self._job_hosts(job):  # every host of an app on several
            monitor = self.monitors.get(host)
            if monitor is not None:
                monitor.refresh_now()  # the table shows the new container without waiting
        self.poll_locks_soon()
        ended = job.ended
        assert ended is not None
        if ended.error is not None:
            notify_error(self, ended.error, title=f"{job.title().capitalize()}")
        else:
            from opsui.ui.screens.release_run import TITLES

            verb = TITLES.get(job.kind, job.kind.capitalize())
            severity: SeverityLevel = ("information" if ended.outcome == OK else "warning"
                                       if ended.outcome == CANCELLED else "error")
            reason = next((e.detail for e in reversed(job.steps) if e.step == OUTCOME_STEP),
                          job.steps[-1].detail if job.kind == "backup" and job.steps else "")
            first = reason.splitlines()[0] if reason else ""
            self.notify(f"{verb} of {job.app} on {job.host}: {ended.outcome}"
                        + (f"\n{first[:300]}" if first else ""), severity=severity,
                        timeout=8, markup=False)
        self.jobs.forget_ended()
        # The board keeps the newest ended runs only; so do these (issue 16).
        self._job_sessions = {job_id: session for job_id, session in self._job_sessions.items()
                              if self.jobs.get(job_id) is not None}
        self._unseen = [job_id for job_id in self._unseen if self.jobs.get(job_id) is not None]
        if self._quit_when_idle and not self.jobs.running():
            self.exit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "watch_job":
            run_screen = _as_run_screen(self.screen)
            if run_screen is not None and run_screen.job is not None \
                    and run_screen.job.running:
                return False
            return bool(self.jobs.running() or self._unseen)
        return super().check_action(action, parameters)

    def action_watch_job(self) -> None:
        """J: the step screen of the run in the banner (a running one first)."""
        running = self.jobs.running()
        unseen = self._unseen_jobs()
        job = running[-1] if running else (unseen[-1] if unseen else None)
        if job is None:
            self.notify("Nothing is running.", timeout=3, markup=False)
            return
        self.watch_job(job)

    def watch_job(self, job: Job) -> None:
        from opsui.ui.sessions import ReleaseSession

        if job.id in self._unseen:
            self._unseen.remove(job.id)
        session = self._job_sessions.get(job.id)
        monitor = self.monitors.get(job.host)
        if session is None and monitor is not None:
            session = ReleaseSession(monitor, job.app, job.app)
        if session is None:
            return
        from opsui.ui.screens.release_run import ReleaseRunScreen

        self.push_screen(ReleaseRunScreen(session, job.kind, self.clock, job=job))
        self.show_jobs()

    def start_job(self, session: ReleaseSession, kind: str, summary: str, run: JobRun
                  ) -> Job:
        """Start a run as a job of the app (screens only watch it)."""
        job = self.jobs.start(kind, session.host, session.name, summary, run)
        self._job_sessions[job.id] = session
        return job

    # -- quitting while something runs ----------------------------------------------------

    async def action_quit(self) -> None:
        """q / ctrl+q: quit, but never cancel a running release without asking."""
        running = self.jobs.running()
        if not running:
            self.exit()
            return
        if self._quit_when_idle:  # asked once already and cancelling: quit at once
            self.exit()
            return
        from opsui.ui.multi_host_session import cancel_effect_of
        from opsui.ui.screens.release_run import QuitModal, run_cancel_effect

        if isinstance(self.screen, QuitModal):
            return  # already asking
        lines = []
        for job in running:
            step = job.current_step
            lines.append(f"• {job.title()}" + (f", at '{clean(step, 64)}'" if step else ""))
            effect = cancel_effect_of(self._job_sessions.get(job.id), job.kind)
            lines.append(f"  Cancelling it: {run_cancel_effect(job, effect)}")
        question = ("Still running:\n" + "\n".join(lines) + "\n\nQuitting cancels "
                    + ("it" if len(running) == 1 else "them")
                    + " first (the current step ends, then it is undone); opsui quits when "
                    "that is done. Or stay: Esc, and the run goes on.")
        first = running[0]
        action = Action.DEPLOY if first.kind == "recovery" else Action(first.kind)
        confirmation = Confirmation(ActionRequest(action, first.host, first.app, first.app,
                                                  app=first.app),
                                    ConfirmPolicy.YES, question)

        def answered(answer: Answer) -> None:
            if answer is not True:
                return
            self._quit_when_idle = True
            for job in self.jobs.running():
                job.cancel()
            if not self.jobs.running():
                self.exit()
                return
            self.notify("Cancelling before quitting… opsui quits when the run has stopped "
                        "(q again quits at once and leaves it interrupted).", timeout=15,
                        markup=False)

        self.push_screen(QuitModal(confirmation, yes_label="Cancel it and quit",
                                   no_label="Stay"), answered)

    # -- the lock banner ------------------------------------------------------------------

    def start_lock_polls(self) -> None:
        """The first poll shortly after the dashboard opened; each one arms the next."""
        self._arm_poll(SOON_SECONDS)

    def poll_locks_soon(self) -> None:
        if self._polling:
            self._poll_again = True
        else:
            self._arm_poll(SOON_SECONDS)

    def _arm_poll(self, delay: float) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._poll_timer = self.set_timer(delay, self._poll_locks)

    def _poll_locks(self) -> None:
        self._poll_timer = None
        if self._polling or not self.is_running:
            return
        dashboard = self.dashboard
        host = dashboard.host if dashboard is not None else None
        monitor = self.monitors.get(host) if host else None
        if dashboard is None or monitor is None or not monitor.connected \
                or not dashboard.is_mounted:
            self._arm_poll(RETRY_POLL_SECONDS)
            return
        refs = [app.name for app in monitor.apps if app.runs_on(monitor.name)]
        selected = dashboard.table.selected
        if selected is not None:
            refs.append(self.app_ref(monitor, selected))
        # An app in the banner stays watched when the cursor moves on, until it is clear.
        refs += [item.app for item in dashboard.banners.get(monitor.name, ())]
        self._polling = True
        self.poll_locks(monitor, list(dict.fromkeys(refs)))

    @work(thread=True, exit_on_error=False, group="lock-poll", description="Lock poll")
    def poll_locks(self, monitor: HostMonitor, refs: list[str]) -> None:
        items: list[BannerItem] | None = None
        try:
            items = banner_items(monitor.releases().statuses(refs))
        except OpsuiError as exc:  # quietly: the sidebar already says when a host is down
            log.info("%s: lock poll: %s", monitor.name, exc)
        except Exception:
            log.exception("%s: lock poll failed", monitor.name)
        finally:
            self.post_message(self.BannerPolled(monitor.name, items))

    def on_release_flow_app_banner_polled(self, message: BannerPolled) -> None:
        self._polling = False
        if message.items is not None and self.dashboard is not None \
                and self.dashboard.is_mounted:
            self.dashboard.show_banner(message.host, message.items)
        again, self._poll_again = self._poll_again, False
        self._arm_poll(SOON_SECONDS if again else self.lock_poll_seconds)


def _cancel_question_of(screen: Any, job: Job) -> Any:
    """``screen`` when it is the open cancel question of ``job``, else None (without
    importing the run screens' module when none was ever opened)."""
    module = sys.modules.get("opsui.ui.screens.release_run")
    if module is not None and isinstance(screen, module.CancelRunModal) and screen.job is job:
        return screen
    return None


def _as_run_screen(screen: Any) -> ReleaseRunScreen | None:
    """``screen`` when it is a run's screen; None without importing that module when no
    run screen was ever opened (the footer asks on every redraw, the first one too)."""
    module = sys.modules.get("opsui.ui.screens.release_run")
    if module is not None and isinstance(screen, module.ReleaseRunScreen):
        return cast("ReleaseRunScreen", screen)
    return None
