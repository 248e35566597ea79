"""Deploying another tag: the tag picker, the plan's confirmation, and the live steps.

:class:`DeployScreen` lists the tags of the app's image (registry and host, newest
first, the serving one marked) with a box to type any other tag. Enter plans the
deploy in a worker (it reads the host); the plan is confirmed in
:class:`PlanConfirmModal` (the reusable confirmation, with what will happen above the
question); then the same screen shows the steps as the domain reports them, and the
outcome with its reason. :class:`ReleaseRunScreen` is that run part alone, used by
rollbacks, recoveries, restores and migrations. A run with a backup step shows the
dump's bytes and rate under the steps, and one with a migration streams the
migration's output (untrusted: cleaned again, drawn as ``Text``) into a log area.
Escape or Ctrl+C while a run is going sets its cancellation event: the run stops after
the current step, undoes what it did, and records "cancelled". When the backup before a
migration (or a restore) fails, the screen asks for the typed override and runs again.

Every text that came from a host (tags, images, step details, the reason) is drawn as
``Text``; multi-line details are cleaned again here, because a step event carries the
text as the domain had it, before the journal cleaned it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, RichLog, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.operations.app_releases import TagChoice
from opsui.domain.operations.deploy import DeployPlan
from opsui.domain.operations.gate import ActionRequest, Confirmation
from opsui.domain.operations.policy import Action, ConfirmPolicy
from opsui.domain.operations.release_run import START_FIRST, STOP_FIRST, StepEvent
from opsui.domain.operations.swarm_deploy import SwarmDeployPlan
from opsui.domain.releases import CANCELLED, FAILED, OK
from opsui.domain.sanitize import clean, clean_block
from opsui.ui.commands import PaletteCommand
from opsui.ui.errors import explain, notify_error, report_worker_failure
from opsui.ui.format import human_bytes, since
from opsui.ui.palette import Palette
from opsui.ui.screens.confirm import Answer, ConfirmModal
from opsui.ui.widgets.step_log import StepLog

if TYPE_CHECKING:
    from opsui.ui.releases_flow import ReleaseSession

REFUSED = "refused"
"""What the run screen says when the gate or the lock refused before any step."""

OUTPUT_LINES = 2000
"""Lines of a migration's output the run screen keeps (the journal keeps the tail)."""

RECOVERY_STEPS = {"finish": ("lock", "start", "health gate", "switch", "record"),
                  "rollback": ("lock", "restore", "record")}


class ReleasePlan(Protocol):
    """What the screens need of any plan (deploy, rollback, recovery, a Swarm update)."""

    @property
    def request(self) -> ActionRequest: ...


def planned_steps(plan: ReleasePlan) -> tuple[str, ...]:
    """The steps a plan lists (a recovery's follow from its choice)."""
    steps = getattr(plan, "steps", None)
    if isinstance(steps, tuple | list):
        return tuple(str(step) for step in steps)
    return RECOVERY_STEPS.get(str(getattr(plan, "choice", "")), ("lock", "record"))


def strategy_text(strategy: str) -> str:
    if strategy == START_FIRST:
        return "start-first: the current container serves until the new one is healthy"
    if strategy == STOP_FIRST:
        return "stop-first (fixed host ports): the current one stops before the new one starts"
    return strategy


def preview_rows(rows: Iterable[tuple[str, str | Text]], palette: Palette) -> Text:
    """``label  value`` lines, labels muted and aligned."""
    text = Text()
    for index, (label, value) in enumerate(rows):
        if index:
            text.append("\n")
        text.append(f"{label:<10}", style=palette.muted)
        text.append(value if isinstance(value, Text) else Text(value))
    return text


def deploy_preview(plan: ReleasePlan, palette: Palette) -> Text:
    """What the deploy confirmation shows above its question."""
    if isinstance(plan, SwarmDeployPlan):
        return preview_rows([
            ("host", plan.host),
            ("app", f"{plan.app} (Swarm service {plan.service_name})"),
            ("current", Text(plan.current_image, style=palette.strong)),
            ("release", plan.current_release or "none recorded yet"),
            ("target", Text(f"{plan.image} (pinned to the digest it pulls)",
                            style=palette.primary)),
            ("strategy", strategy_text(plan.strategy)),
            ("steps", " → ".join(plan.steps)),
        ], palette)
    if not isinstance(plan, DeployPlan):  # another engine's plan: say what we know
        return preview_rows([("action", plan.request.describe()),
                             ("steps", " → ".join(planned_steps(plan)))], palette)
    digest = plan.current_digest or "unknown (not deployed by opsui yet)"
    return preview_rows([
        ("host", plan.host),
        ("app", f"{plan.app} (container {plan.current.name})"),
        ("current", Text(plan.current.image, style=palette.strong)),
        ("digest", digest),
        ("release", plan.current_release or "none recorded yet (recorded at this deploy)"),
        ("target", Text(plan.image, style=palette.primary)),
        ("strategy", strategy_text(plan.strategy)),
        ("steps", " → ".join(plan.steps)),
    ], palette)


def deploy_summary(plan: ReleasePlan) -> str:
    if isinstance(plan, SwarmDeployPlan):
        return (f"{plan.app} on {plan.host}: service {plan.service_name} "
                f"{plan.current_image} → {plan.image} ({plan.strategy})")
    if not isinstance(plan, DeployPlan):
        return plan.request.describe()
    return (f"{plan.app} on {plan.host}: {plan.current.image} → {plan.image} "
            f"({plan.strategy})")


class PlanConfirmModal(ConfirmModal):
    """The confirmation, with the plan's preview above the gate's question."""

    def __init__(self, confirmation: Confirmation, preview: Text) -> None:
        super().__init__(confirmation)
        self.preview = preview
        """What will happen: host, images, strategy, steps."""

    def on_mount(self) -> None:
        self.query_one("#confirm-dialog").mount(Static(self.preview, id="plan-preview"),
                                                before=0)


def ask_to_run(app: App[Any], confirmation: Confirmation, preview: Text,
               proceed: Callable[[Answer], None],
               declined: Callable[[], None] | None = None) -> None:
    """Ask what the gate wants asked (nothing under the ``none`` policy), then proceed
    with the answer, which the gate checks again when the run starts."""
    if confirmation.policy is ConfirmPolicy.NONE:
        proceed(None)
        return

    def answered(answer: Answer) -> None:
        if answer is None or answer is False:
            app.notify(f"Cancelled: {confirmation.request.describe()}", timeout=3,
                       markup=False)
            if declined is not None:
                declined()
            return
        proceed(answer)

    app.push_screen(PlanConfirmModal(confirmation, preview), answered)


class ReleaseRunScreen(Screen[None]):
    """A release's steps as they run, then its outcome; Esc cancels, then goes back."""

    BINDINGS = [
        Binding("escape", "cancel_run", "Cancel", id="release.cancel",
                tooltip="Cancel: the run stops after the current step, undoes what it did "
                "and records 'cancelled'."),
        Binding("ctrl+c", "cancel_run", "Cancel", id="release.cancel_ctrl_c", show=False,
                tooltip="Cancel the run (like Esc)."),
        Binding("escape", "close", "Back", id="release.back",
                tooltip="Back to where you came from."),
    ]

    TITLES = {"deploy": "Deploy", "rollback": "Rollback", "recovery": "Recovery",
              "restore": "Restore", "migrate": "Migrate"}
    HISTORY_HINT = ("deploy", "rollback", "recovery")
    """Runs that are releases, so the history shows them with their steps."""

    class Stepped(Message):
        """A step began or ended (posted from the run's worker thread)."""

        def __init__(self, event: StepEvent) -> None:
            super().__init__()
            self.event = event
            """What the domain reported."""

    class Output(Message):
        """New lines of the migration's output wait in :attr:`pending_output` (posted
        from the run's worker thread, at most one at a time, so a chatty migration
        cannot flood the event loop)."""

    class Progressed(Message):
        """Bytes of the backup being dumped, and the rate (from the worker thread)."""

        def __init__(self, done: int, rate: float) -> None:
            super().__init__()
            self.done = done
            self.rate = rate

    class Ended(Message):
        """The run returned an outcome (the step events came before)."""

        def __init__(self, outcome: str) -> None:
            super().__init__()
            self.outcome = outcome
            """ok, failed, cancelled, interrupted."""

    class Finished(Message):
        """Bubbles to the app: notify, re-list the host, poll the locks."""

        def __init__(self, host: str, app: str, action: str, outcome: str, reason: str,
                     error: bool) -> None:
            super().__init__()
            self.host = host
            self.app = app
            self.action = action
            """deploy, rollback or recovery."""
            self.outcome = outcome
            self.reason = reason
            self.error = error
            """The run raised (refused, or failed outside a step): already notified."""

    def __init__(self, session: ReleaseSession, action: str, clock: Callable[[], datetime],
                 run: tuple[ReleasePlan, Answer, str] | None = None) -> None:
        super().__init__()
        self.session = session
        """The app and host the release is for."""
        self.action = action
        """deploy, rollback or recovery."""
        self.clock = clock
        self.pending_run = run
        """(plan, answer, summary) to start once mounted."""
        self.phase = "idle"
        """idle, pick, planning, running, done."""
        self.cancelled = threading.Event()
        """Set by the cancel keys; the domain checks it between steps and while waiting."""
        self.outcome: str | None = None
        self.override: str | None = None
        """The typed override to go on without a verified backup, once given."""
        self.last_run: tuple[ReleasePlan, Answer, str] | None = None
        self.output_lines = 0
        """Lines of migration output shown so far."""
        self.pending_output: list[str] = []
        """Output lines the worker reported that are not drawn yet."""
        self._output_lock = threading.Lock()

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
        elif self.phase == "done" and self.outcome is not None:
            text.append(f"  {self.outcome}", style=outcome_style(self.outcome, palette))
        self.query_one("#release-title", Static).update(text)

    # -- the run ----------------------------------------------------------------------------

    def start_run(self, plan: ReleasePlan, answer: Answer, summary: str) -> None:
        """Show the planned steps and start the run in a worker."""
        self.phase = "running"
        self.outcome = None
        self.last_run = (plan, answer, summary)
        self.query_one("#release-run").display = True
        self.query_one("#release-summary", Static).update(Text(summary))
        self.query_one("#release-progress").display = False
        if self.output_lines:
            self.query_one("#release-output", RichLog).write(Text(
                "── run again with the override ──", style=Palette.of(self.app).muted))
        self.query_one("#release-outcome", Static).update("")
        self.steps.plan(planned_steps(plan))
        self._title()
        self.refresh_bindings()
        self.query_one("#release-run").focus()
        self.run_release(plan, answer)

    @work(thread=True, exit_on_error=False, group="release", description="Release")
    def run_release(self, plan: ReleasePlan, answer: Answer) -> None:
        outcome = self.session.run(plan, answer, self._report, self.cancelled,
                                   output=self._output, progress=self._progress,
                                   override=self.override)
        self.post_message(self.Ended(outcome))

    def _output(self, line: str) -> None:
        """A migration's output line, on the worker thread."""
        with self._output_lock:
            self.pending_output.append(line)
            if len(self.pending_output) > 1:
                return  # a message is on its way; it takes this line too
        self.post_message(self.Output())

    def _progress(self, done: int, rate: float) -> None:
        self.post_message(self.Progressed(done, rate))

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

    def _report(self, event: StepEvent) -> None:
        """Called on the worker thread by the domain."""
        self.post_message(self.Stepped(event))

    def on_release_run_screen_stepped(self, message: Stepped) -> None:
        event = message.event
        self.steps.apply(StepEvent(clean(event.step, 64), event.outcome, event.seconds,
                                   clean_block(event.detail, 8000)))

    def on_release_run_screen_ended(self, message: Ended) -> None:
        log = self.steps
        if log.outcome is None:  # no final event (a run that ended early)
            log.finish(message.outcome)
        self._done(message.outcome, log.reason, error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "release" and event.state is WorkerState.ERROR \
                and self._offer_override(event.worker.error):
            return
        report_worker_failure(self.app, event)
        if event.worker.group != "release" or event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        outcome = REFUSED if isinstance(error, ActionRefused) else FAILED
        reason = explain(error) if error is not None else "unknown error"
        if self.steps.outcome is None:
            self.steps.finish(outcome, reason, recorded=not isinstance(error, ActionRefused))
        self._done(outcome, reason, error=True)

    def _offer_override(self, error: BaseException | None) -> bool:
        """The backup before a migration (or the safety backup before a restore) failed:
        show why, and ask for the typed override (the gate audits it) to run again."""
        phrase = self.session.override_needed(error) if error is not None else None
        if phrase is None or self.override is not None or self.last_run is None:
            return False
        reason = explain(error) if error is not None else ""
        if self.steps.outcome is None:
            self.steps.finish(REFUSED, reason, recorded=False)
        self._done(REFUSED, reason, error=True)
        plan, answer, summary = self.last_run
        what = "restore" if self.action == "restore" else "migrate"
        request = ActionRequest(Action.RESTORE if what == "restore" else Action.MIGRATE,
                                self.session.host, phrase, phrase, app=self.session.name,
                                detail=f"(the {'restore' if what == 'restore' else 'migration'}"
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

    def _done(self, outcome: str, reason: str, *, error: bool) -> None:
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
        self.post_message(self.Finished(self.session.host, self.session.name, self.action,
                                        outcome, reason, error))

    # -- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run":
            return self.phase == "running"
        if action == "close":
            return self.phase != "running"
        return True

    def action_cancel_run(self) -> None:
        if self.phase != "running" or self.cancelled.is_set():
            return
        self.cancelled.set()
        self.query_one("#release-outcome", Static).update(Text(
            " Cancelling… the current step ends first, then what was done is undone.",
            style=Palette.of(self.app).warn))

    def action_close(self) -> None:
        self.dismiss()

    def on_unmount(self) -> None:
        if self.phase == "running":  # quitting mid-run: stop it the safe way
            self.cancelled.set()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        if self.phase == "running":
            yield PaletteCommand(f"Cancel the {self.action}",
                                 "Stops after the current step and undoes it.",
                                 self.action_cancel_run)
        else:
            yield PaletteCommand("Back", "Leave this screen.", self.action_close)


def outcome_style(outcome: str, palette: Palette) -> Style:
    if outcome == OK:
        return palette.ok
    if outcome in (CANCELLED, REFUSED, "rolled back"):
        return palette.warn
    return palette.bad


def tag_prompt(choice: TagChoice, width: int, palette: Palette, now: datetime) -> Text:
    """One line of the tag list: tag, current marker, age, where it is."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f" {clean(choice.tag, 128):<{width}}",
                style=palette.primary if choice.current else palette.strong)
    text.append("  ● current " if choice.current else " " * 12, style=palette.ok)
    age = since(choice.created, now)
    text.append(f"{(age + ' ago') if age else 'age unknown':>12}", style=palette.muted)
    text.append("  on host" if choice.on_host else " " * 9, style=palette.accent)
    text.append("  registry" if choice.in_registry else "", style=palette.accent)
    return text


class DeployScreen(ReleaseRunScreen):
    """Pick a tag (or type one), confirm the plan, watch it run."""

    BINDINGS = [
        Binding("slash", "type_tag", "Type a tag", id="deploy.type_tag",
                tooltip="Type any tag of the image (one the list does not show)."),
    ]

    AUTO_FOCUS = "#deploy-tags"

    class TagsLoaded(Message):
        """The tag worker finished."""

        def __init__(self, choices: list[TagChoice]) -> None:
            super().__init__()
            self.choices = choices
            """Newest first."""

    class Planned(Message):
        """The plan worker finished; the plan waits for its confirmation."""

        def __init__(self, plan: DeployPlan | SwarmDeployPlan) -> None:
            super().__init__()
            self.plan = plan

    def __init__(self, session: ReleaseSession, clock: Callable[[], datetime]) -> None:
        super().__init__(session, "deploy", clock)
        self.phase = "pick"
        self.choices: list[TagChoice] = []

    def compose_picker(self) -> ComposeResult:
        with Vertical(id="deploy-picker"):
            yield Static(Text("Reading the tags on the host and in the registry…"),
                         id="deploy-note")
            yield OptionList(id="deploy-tags")
            yield Input(placeholder="or type a tag and press Enter (/ to get here)",
                        id="deploy-tag", restrict=r"[A-Za-z0-9_.\-]*", max_length=128)

    def on_mount(self) -> None:
        self.query_one("#release-run").display = False
        self.load_tags()

    @work(thread=True, exclusive=True, exit_on_error=False, group="tags",
          description="Cannot read the tags")
    def load_tags(self) -> None:
        self.session.app()
        self.post_message(self.TagsLoaded(self.session.tag_choices()))

    def on_deploy_screen_tags_loaded(self, message: TagsLoaded) -> None:
        self.choices = message.choices
        self._title()
        palette, now = Palette.of(self.app), self.clock()
        width = min(40, max((len(c.tag) for c in self.choices), default=5))
        options = self.query_one("#deploy-tags", OptionList)
        options.clear_options()
        options.add_options([Option(tag_prompt(c, width, palette, now)) for c in self.choices])
        current = next((c for c in self.choices if c.current), None)
        note = Text()
        if current is not None:
            note.append("Serving now: ", style=palette.muted)
            note.append(clean(current.tag, 128), style=palette.primary)
            note.append(". ", style=palette.muted)
        note.append("Enter deploys the highlighted tag (after a preview and a confirmation)."
                    if self.choices else "No tags found: type one below.", style=palette.muted)
        self.query_one("#deploy-note", Static).update(note)
        newest = next((i for i, c in enumerate(self.choices) if not c.current), None)
        if newest is not None:
            options.highlighted = newest
        if not self.choices:
            self.query_one("#deploy-tag", Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self.choices):
            self.plan(self.choices[event.option_index].tag)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.plan(event.value.strip())

    def plan(self, tag: str) -> None:
        """Plan a deploy of ``tag`` (in a worker), then ask for the confirmation."""
        if self.phase != "pick":
            return
        self.phase = "planning"
        self._title()
        self.query_one("#deploy-note", Static).update(Text(f"Planning the deploy of {tag}…"))
        self.plan_deploy(tag)

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan",
          description="Cannot plan the deploy")
    def plan_deploy(self, tag: str) -> None:
        self.post_message(self.Planned(self.session.plan_deploy(tag)))

    def on_deploy_screen_planned(self, message: Planned) -> None:
        plan = message.plan
        try:
            confirmation = self.session.confirmation(plan)
        except ActionRefused as refused:
            notify_error(self.app, refused, title="Read-only")
            self._back_to_picking()
            return
        ask_to_run(self.app, confirmation, deploy_preview(plan, Palette.of(self.app)),
                   lambda answer: self.start_run(plan, answer, deploy_summary(plan)),
                   declined=self._back_to_picking)

    def _back_to_picking(self, note: str = "") -> None:
        self.phase = "pick"
        self._title()
        self.query_one("#deploy-note", Static).update(Text(
            note or "Nothing was changed. Pick a tag, or Esc to go back."))

    def start_run(self, plan: ReleasePlan, answer: Answer, summary: str) -> None:
        self.query_one("#deploy-picker").display = False
        super().start_run(plan, answer, summary)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The base class reports the error; here only what it means for the picker.
        if event.state is not WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        message = explain(error) if isinstance(error, OpsuiError) else str(error)
        if event.worker.group == "plan":
            self._back_to_picking(f"No deploy: {message}")
        elif event.worker.group == "tags":
            self.query_one("#deploy-note", Static).update(Text(
                f"Cannot list the tags: {message}\nYou can still type a tag below."))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "type_tag":
            return self.phase == "pick"
        return super().check_action(action, parameters)

    def action_type_tag(self) -> None:
        self.query_one("#deploy-tag", Input).focus()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        if self.phase == "pick":
            yield PaletteCommand("Type a tag to deploy", "Any tag of the image (/).",
                                 self.action_type_tag)
        yield from super().palette_commands()
