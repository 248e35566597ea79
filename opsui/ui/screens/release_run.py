"""The live steps of a release (deploy, rollback, recovery, restore, migration, backup).

The run itself is a :class:`~opsui.domain.jobs.Job` on the app's job board, not a
worker of this screen: the screen subscribes to it (what already happened is replayed)
and may come and go. ``Esc`` always means "back": the run goes on, the dashboard shows
it in its banner and ``J`` brings this screen back. Cancelling is its own key (``c``,
or ``ctrl+c``) with its own confirmation that says what cancelling this kind of run
does, because cancelling a rollback puts the bad version back in service.

A run with a backup step shows the dump's bytes and rate under the steps, and one with
a migration streams the migration's output (untrusted: cleaned again, drawn as
``Text``) into a log area. When the backup before a migration (or a restore) fails,
the screen asks for the typed override and runs again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from typing import Any, Protocol, cast

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from opsui.domain.errors import ActionRefused
from opsui.domain.jobs import (
    REFUSED,
    Job,
    JobBoard,
    JobContext,
    JobEnded,
    JobEvent,
    JobRun,
    OutputLine,
    ProgressSample,
)
from opsui.domain.operations.cancel_words import at_step, deploy_cancel_effect, history_line
from opsui.domain.operations.gate import ActionRequest, Confirmation
from opsui.domain.operations.policy import Action, ConfirmPolicy
from opsui.domain.operations.release_run import StepEvent
from opsui.domain.releases import CANCELLED, OK
from opsui.domain.sanitize import clean, clean_block
from opsui.ui.commands import PaletteCommand
from opsui.ui.errors import explain
from opsui.ui.format import human_bytes
from opsui.ui.multi_host_session import cancel_effect_of
from opsui.ui.palette import Palette
from opsui.ui.screens.confirm import Answer, ConfirmModal
from opsui.ui.sessions import ReleasePlan, ReleaseSession
from opsui.ui.widgets.step_log import StepLog

OUTPUT_LINES = 2000
"""Lines of a migration's output the run screen keeps (the journal keeps the tail)."""

RECOVERY_STEPS = {"finish": ("lock", "start", "health gate", "switch", "record"),
                  "rollback": ("lock", "restore", "record")}

TITLES = {"deploy": "Deploy", "rollback": "Rollback", "recovery": "Recovery",
          "restore": "Restore", "migrate": "Migration", "backup": "Backup"}

CANCEL_EFFECTS = {
    "deploy": "The new version is stopped and never takes over; the version serving now "
              "keeps serving; the lock is freed.",
    "rollback": "The rollback is undone: the release you are rolling back FROM serves "
                "again; the lock is freed.",
    "recovery": "The recovery stops; the release stays interrupted and the banner offers "
                "to finish it or roll it back again.",
    "restore": "The restore stops after its current step; the safety backup is kept.",
    "migrate": "The migration stops after its current step; the verified backup taken "
               "before it is kept.",
    "backup": "The dump is stopped and nothing is kept.",
}
"""What cancelling each kind of run does, said before the operator confirms it."""


def cancel_effect(kind: str) -> str:
    return CANCEL_EFFECTS.get(kind, "The run stops after its current step and undoes it.")


def planned_steps(plan: ReleasePlan) -> tuple[str, ...]:
    """The steps a plan lists (a recovery's follow from its choice)."""
    steps = getattr(plan, "steps", None)
    if isinstance(steps, tuple | list):
        return tuple(str(step) for step in steps)
    return RECOVERY_STEPS.get(str(getattr(plan, "choice", "")), ("lock", "record"))


def outcome_style(outcome: str, palette: Palette) -> Style:
    if outcome == OK:
        return palette.ok
    if outcome in (CANCELLED, REFUSED, "rolled back"):
        return palette.warn
    return palette.bad


class RunsJobs(Protocol):
    """The app this screen runs in: it owns the job board (see ``ReleaseFlowApp``)."""

    jobs: JobBoard

    def start_job(self, session: ReleaseSession, kind: str, summary: str,
                  run: JobRun) -> Job: ...


class QuitModal(ConfirmModal):
    """The question before quitting while runs go on (asked once)."""


class CancelRunModal(ConfirmModal):
    """The cancel question of one run; closed unanswered when the run ends first (it
    stayed open over the outcome, asking about a step long done)."""

    def __init__(self, confirmation: Confirmation, job: Job) -> None:
        super().__init__(confirmation, yes_label="Cancel the run", no_label="Keep running")
        self.job = job


def run_cancel_effect(job: Job, effect: str | None = None) -> str:
    """What cancelling ``job`` does now: ``effect`` (a run across hosts says its own),
    else for a deploy the words true for the step it is at (issue 13), else the kind's."""
    if effect is None and job.kind == "deploy":
        effect = deploy_cancel_effect(job.current_step, (), [
            event.step for event in job.steps if event.outcome is None])
    return effect or cancel_effect(job.kind)


def ask_to_cancel(screen: Screen[Any], job: Job, effect: str | None = None) -> None:
    """The cancel keys' confirmation: what cancelling this run does (``effect``, else
    the kind's), then cancel."""
    step = job.current_step
    effect = run_cancel_effect(job, effect)
    question = (f"Cancel the {job.title()}?\n"
                + at_step(clean(step, 64) if step else None)
                + f"\n{effect}\n{history_line(effect)}")
    action = Action.DEPLOY if job.kind == "recovery" else Action(job.kind)
    confirmation = Confirmation(ActionRequest(action, job.host, job.app, job.app, app=job.app),
                                ConfirmPolicy.YES, question)

    def answered(answer: Answer) -> None:
        if answer is True and job.cancel():
            screen.notify(f"Cancelling the {job.title()}…", timeout=4, markup=False)

    screen.app.push_screen(CancelRunModal(confirmation, job), answered)


class ReleaseRunScreen(Screen[None]):
    """A run's steps as they happen, then its outcome. Esc goes back, the run goes on."""

    BINDINGS = [
        Binding("escape", "close", "Back", id="release.back",
                tooltip="Back to where you came from. A running release goes on: the "
                "dashboard shows it and J brings this screen back."),
        Binding("c", "cancel_run", "Cancel run", id="release.cancel",
                tooltip="Cancel the run (asks first, and says what cancelling undoes)."),
        Binding("ctrl+c", "cancel_run", "Cancel run", id="release.cancel_ctrl_c", show=False,
                tooltip="Cancel the run (like c: asks first)."),
    ]

    TITLES = TITLES
    HISTORY_HINT = ("deploy", "rollback", "recovery")
    """Runs that are releases, so the history shows them with their steps."""

    class Stepped(Message):
        """A step began or ended (posted from the run's thread)."""

        def __init__(self, event: StepEvent) -> None:
            super().__init__()
            self.event = event
            """What the domain reported."""

    class Output(Message):
        """New lines of the migration's output wait in :attr:`pending_output` (posted
        from the run's thread, at most one at a time, so a chatty migration cannot flood
        the event loop)."""

    class Progressed(Message):
        """Bytes of the backup being dumped, and the rate (from the run's thread)."""

        def __init__(self, done: int, rate: float) -> None:
            super().__init__()
            self.done = done
            self.rate = rate

    class Ended(Message):
        """The run returned an outcome or raised (the step events came before)."""

        def __init__(self, outcome: str, error: BaseException | None = None) -> None:
            super().__init__()
            self.outcome = outcome
            """ok, failed, cancelled, interrupted, refused."""
            self.error = error

    def __init__(self, session: ReleaseSession, action: str, clock: Callable[[], datetime],
                 run: tuple[ReleasePlan, Answer, str] | None = None,
                 job: Job | None = None) -> None:
        super().__init__()
        self.session = session
        """The app and host the release is for."""
        self.action = action
        """deploy, rollback, recovery, restore, migrate or backup."""
        self.clock = clock
        self.pending_run = run
        """(plan, answer, summary) to start once mounted."""
        self.job = job
        """The run shown here (started here, or reopened from the dashboard)."""
        self.phase = "idle"
        """idle, pick, planning, running, done."""
        self.outcome: str | None = None
        self.override: str | None = None
        """The typed override to go on without a verified backup, once given."""
        self.last_run: tuple[ReleasePlan, Answer, str] | None = None
        self.output_lines = 0
        """Lines of migration output shown so far."""
        self.pending_output: list[str] = []
        """Output lines the run reported that are not drawn yet."""
        self._output_lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        self._followed: object = None
        """The running step last brought into view (each step is, once)."""

    @property
    def cancelled(self) -> threading.Event:
        """The running job's cancellation (a fresh, unset event before any run)."""
        return self.job.cancelled if self.job is not None else threading.Event()

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="release-title")
        yield from self.compose_picker()
        with VerticalScroll(id="release-run"):
            yield Static(id="release-summary")
            yield StepLog(self.clock, id="release-steps")
            yield Static(id="release-progress")
            yield RichLog(id="release-output", max_lines=OUTPUT_LINES, wrap=False,
                          markup=False, highlight=False, auto_scroll=True)
            yield Static(id="release-outcome")
        yield Footer()

    def compose_picker(self) -> ComposeResult:
        """Widgets shown before the run (the deploy screen's tag picker)."""
        yield from ()

    @property
    def steps(self) -> StepLog:
        return self.query_one(StepLog)

    def on_mount(self) -> None:
        self.query_one("#release-progress").display = False
        output = self.query_one("#release-output", RichLog)
        output.display = False
        output.border_title = "Output"
        self._title()
        if self.pending_run is not None:
            plan, answer, summary = self.pending_run
            self.pending_run = None
            self.start_run(plan, answer, summary)
        elif self.job is not None:
            self._watch(self.job, planned=())

    def _title(self) -> None:
        palette = Palette.of(self.app)
        text = Text()
        text.append(" opsui ", style=palette.primary)
        text.append("│ ", style=palette.muted)
        text.append(self.TITLES.get(self.action, self.action.capitalize()),
                    style=palette.strong)
        text.append(f" {self.session.name} on {self.session.host}")
        badge = {"running": ("  running…", palette.accent), "planning": ("  planning…",
                                                                        palette.accent)}
        if self.phase in badge:
            label, style = badge[self.phase]
            text.append(label, style=style)
            if self.phase == "running" and self.cancelled.is_set():
                text.append("  cancelling…", style=palette.warn)
        elif self.phase == "done" and self.outcome is not None:
            text.append(f"  {self.outcome}", style=outcome_style(self.outcome, palette))
        self.query_one("#release-title", Static).update(text)

    # -- the run ----------------------------------------------------------------------------

    def start_run(self, plan: ReleasePlan, answer: Answer, summary: str) -> None:
        """Start the run as a job of the app and show its steps as they come."""
        self.last_run = (plan, answer, summary)
        session, override = self.session, self.override

        def run(context: JobContext) -> str:
            return session.run(plan, answer, context.report, context.cancelled,
                               output=context.output, progress=context.progress,
                               override=override)

        job = cast(RunsJobs, self.app).start_job(session, self.action, summary, run)
        if self.output_lines:
            self.query_one("#release-output", RichLog).write(Text(
                "── run again with the override ──", style=Palette.of(self.app).muted))
        self._watch(job, planned_steps(plan))

    def _watch(self, job: Job, planned: tuple[str, ...]) -> None:
        """Show ``job``: its summary, its planned steps, then every event it reports."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.job = job
        self.phase = "running"
        self.outcome = None
        self.query_one("#release-run").display = True
        self.query_one("#release-summary", Static).update(Text(clean(job.summary, 400)))
        self.query_one("#release-progress").display = False
        self.query_one("#release-outcome", Static).update("")
        self.steps.plan(planned)
        self._title()
        self.refresh_bindings()
        self.query_one("#release-run").focus()
        self._unsubscribe = job.subscribe(self._on_job_event)

    def _on_job_event(self, job: Job, event: JobEvent) -> None:
        """Called on the job's thread (or here, replaying): hand it to the event loop."""
        if job is not self.job:
            return
        match event:
            case StepEvent():
                self.post_message(self.Stepped(event))
            case OutputLine(text=line):
                self._output(line)
            case ProgressSample(done=done, rate=rate):
                self.post_message(self.Progressed(done, rate))
            case JobEnded(outcome=outcome, error=error):
                self.post_message(self.Ended(outcome, error))

    def _output(self, line: str) -> None:
        with self._output_lock:
            self.pending_output.append(line)
            if len(self.pending_output) > 1:
                return  # a message is on its way; it takes this line too
        self.post_message(self.Output())

    def on_release_run_screen_output(self, message: Output) -> None:
        with self._output_lock:
            lines, self.pending_output = self.pending_output, []
        log = self.query_one("#release-output", RichLog)
        log.display = True
        self.output_lines += len(lines)
        for line in lines[-OUTPUT_LINES:]:  # untrusted: cleaned (again), never markup
            log.write(Text(clean(line, 2000)))
        log.border_title = f"Output ({self.output_lines:,} lines)"

    def on_release_run_screen_progressed(self, message: Progressed) -> None:
        running = self.steps.running
        step = running.name if running is not None else "backup"
        progress = self.query_one("#release-progress", Static)
        progress.display = True
        palette = Palette.of(self.app)
        text = Text()
        text.append(f" {step}: ", style=palette.muted)
        text.append(human_bytes(message.done), style=palette.strong)
        text.append(f" at {human_bytes(message.rate)}/s", style=palette.muted)
        progress.update(text)

    def on_release_run_screen_stepped(self, message: Stepped) -> None:
        event = message.event
        self.steps.apply(StepEvent(clean(event.step, 64), event.outcome, event.seconds,
                                   clean_block(event.detail, 8000), event.expected))
        self.call_after_refresh(self._show_running_step)
        # and once more when the layout has settled (a scroll bar appearing narrows the
        # lines, and a wrapped detail moves the step down a row)
        self.set_timer(0.3, partial(self._show_running_step, settled=True))

    def _show_running_step(self, settled: bool = False) -> None:
        """Keep the running step on screen: at 80x24 a replica rollout's later steps (the
        second replica's gate, the drain countdown) are below the fold, and a screen
        whose visible steps all stopped changing looked frozen."""
        steps = self.steps
        running = steps.running
        if running is None or (running is self._followed and not settled):
            return  # once per step: an operator scrolling back to read is left there
        row = steps.running_row()
        if row is None:
            return
        top = steps.virtual_region.y + row
        scroll = self.query_one("#release-run", VerticalScroll)
        height = scroll.scrollable_content_region.height
        if top >= steps.virtual_region.bottom or not height:
            self.set_timer(0.1, self._show_running_step)  # laid out on the next frame
            return
        if top < scroll.scroll_y or top + 2 > scroll.scroll_y + height:
            scroll.scroll_to(y=max(0, top + 2 - height), animate=False)
        self._followed = running

    def on_release_run_screen_ended(self, message: Ended) -> None:
        error = message.error
        log = self.steps
        if error is None:
            if log.outcome is None:  # no final event (a run that ended early)
                log.finish(message.outcome)
            self._done(message.outcome, log.reason)
            return
        if self._offer_override(error):
            return
        reason = explain(error)
        if log.outcome is None:
            log.finish(message.outcome, reason,
                       recorded=not isinstance(error, ActionRefused))
        self._done(message.outcome, reason)

    def _offer_override(self, error: BaseException) -> bool:
        """The backup before a migration (or the safety backup before a restore) failed:
        show why, and ask for the typed override (the gate audits it) to run again."""
        phrase = self.session.override_needed(error)
        if phrase is None or self.override is not None or self.last_run is None:
            return False
        reason = explain(error)
        if self.steps.outcome is None:
            self.steps.finish(REFUSED, reason, recorded=False)
        self._done(REFUSED, reason)
        plan, answer, summary = self.last_run
        restore = self.action == "restore"
        request = ActionRequest(Action.RESTORE if restore else Action.MIGRATE,
                                self.session.host, phrase, phrase, app=self.session.name,
                                detail=f"(the {'restore' if restore else 'migration'}"
                                       " without a backup)")
        question = (f"{clean(str(error), 400)}\n\nGo on WITHOUT a verified backup? It is "
                    f"audited. Type '{phrase}' to confirm.")
        confirmation = Confirmation(request, ConfirmPolicy.TYPE, question)

        def answered(typed: Answer) -> None:
            if typed != phrase:
                self.app.notify("No override: nothing was changed.", timeout=4, markup=False)
                return
            self.override = phrase
            self.start_run(plan, answer, summary)

        self.app.push_screen(ConfirmModal(confirmation), answered)
        return True

    def _done(self, outcome: str, reason: str) -> None:
        self.phase = "done"
        self.outcome = outcome
        palette = Palette.of(self.app)
        text = Text()
        symbol = "✓" if outcome == OK else "✗"
        text.append(f" {symbol} {outcome}", style=outcome_style(outcome, palette))
        if reason:
            text.append("\n")
            text.append(reason.replace("\u2424", "\n"))
        if outcome not in (OK, REFUSED) and self.action in self.HISTORY_HINT:
            text.append("\nThe release and its steps are in the history (H).",
                        style=palette.muted)
        self.query_one("#release-outcome", Static).update(text)
        self._title()
        self.refresh_bindings()
        self.call_after_refresh(  # the outcome and its reason, under the steps
            lambda: self.query_one("#release-run", VerticalScroll).scroll_end(animate=False))

    # -- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run":
            return self.phase == "running" and not self.cancelled.is_set()
        return True

    def action_cancel_run(self) -> None:
        job = self.job
        if self.phase != "running" or job is None or not job.running or job.cancelled.is_set():
            return
        ask_to_cancel(self, job, cancel_effect_of(self.session, job.kind))

    def cancelling(self) -> None:
        """The job's cancellation was set (from here, the dashboard or quitting)."""
        self.query_one("#release-outcome", Static).update(Text(
            " Cancelling… the current step ends first, then what was done is undone.",
            style=Palette.of(self.app).warn))
        self._title()
        self.refresh_bindings()

    def action_close(self) -> None:
        self.dismiss()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:  # the run goes on without this screen
            self._unsubscribe()
            self._unsubscribe = None

    def palette_commands(self) -> Iterable[PaletteCommand]:
        if self.phase == "running" and not self.cancelled.is_set():
            yield PaletteCommand(f"Cancel the {self.action}",
                                 "Asks first: it stops after the current step and undoes "
                                 "it (c).", self.action_cancel_run)
        yield PaletteCommand("Back", "Leave this screen; a running release goes on (Esc).",
                             self.action_close)
