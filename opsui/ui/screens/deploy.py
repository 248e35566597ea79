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
The run itself is a job of the app (:mod:`opsui.ui.screens.release_run`): Esc leaves it
running, cancelling is its own key with its own confirmation.

Every text that came from a host (tags, images, step details, the reason) is drawn as
``Text``; multi-line details are cleaned again here, because a step event carries the
text as the domain had it, before the journal cleaned it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.operations.app_releases import TagChoice
from opsui.domain.operations.deploy import DeployPlan
from opsui.domain.operations.gate import Confirmation
from opsui.domain.operations.multi_host import MultiPlan
from opsui.domain.operations.policy import ConfirmPolicy
from opsui.domain.operations.release_run import START_FIRST, STOP_FIRST
from opsui.domain.operations.rollback import RollbackPlan
from opsui.domain.operations.swarm_deploy import SwarmDeployPlan
from opsui.domain.sanitize import clean
from opsui.ui.commands import PaletteCommand
from opsui.ui.errors import explain, notify_error, report_worker_failure
from opsui.ui.format import since
from opsui.ui.palette import Palette
from opsui.ui.screens.confirm import Answer, ConfirmModal
from opsui.ui.screens.multi_host import multi_preview, multi_summary
from opsui.ui.screens.release_run import ReleaseRunScreen, outcome_style, planned_steps
from opsui.ui.sessions import ReleasePlan, ReleaseSession

__all__ = ["DeployScreen", "PlanConfirmModal", "ReleasePlan", "ReleaseRunScreen",
           "ask_to_run", "deploy_preview", "deploy_summary", "outcome_style", "planned_steps"]


def strategy_text(strategy: str) -> str:
    if strategy == START_FIRST:
        return "start-first: the current container serves until the new one is healthy"
    if strategy == STOP_FIRST:
        return "stop-first (fixed host ports): the current one stops before the new one starts"
    return strategy


def note_rows(plan: DeployPlan | RollbackPlan) -> list[tuple[str, str | Text]]:
    """The plan's notes (replicas, the drain, a proxy, compose), one row each; a plain
    switch of one container says nothing more than its strategy already does."""
    moving = bool(plan.aliases or plan.replicas or plan.traffic.proxy)
    shown = [note for note in plan.notes if moving or not note.startswith("traffic:")]
    return [("notes" if index == 0 else "", note) for index, note in enumerate(shown)]


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
    if isinstance(plan, MultiPlan):
        return multi_preview(plan, palette)
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
        *note_rows(plan),
    ], palette)


def deploy_summary(plan: ReleasePlan) -> str:
    if isinstance(plan, MultiPlan):
        return multi_summary(plan)
    if isinstance(plan, SwarmDeployPlan):
        return (f"{plan.app} on {plan.host}: service {plan.service_name} "
                f"{plan.current_image} → {plan.image} ({plan.strategy})")
    if not isinstance(plan, DeployPlan):
        return plan.request.describe()
    return (f"{plan.app} on {plan.host}: {plan.current.image} → {plan.image} "
            f"({plan.strategy})")


class PlanConfirmModal(ConfirmModal):
    """The confirmation, with the plan's preview above the gate's question.

    The preview scrolls (PageUp/PageDown) within what the terminal leaves once the
    question and the buttons are drawn: at 80x24 a replica rollout's plan is taller than
    the screen, and a dialog taller than the screen lost its top (host, current,
    target) and could not be scrolled back to it."""

    BINDINGS = [
        Binding("pagedown", "scroll_plan(1)", "Plan down", id="confirm.plan_down",
                show=False, tooltip="Scroll the plan (when it does not fit)."),
        Binding("pageup", "scroll_plan(-1)", "Plan up", id="confirm.plan_up", show=False,
                tooltip="Scroll the plan back up."),
    ]

    RESERVED_ROWS = 15
    """Rows the dialog needs besides the plan: borders, padding, question, buttons."""

    def __init__(self, confirmation: Confirmation, preview: Text) -> None:
        super().__init__(confirmation)
        self.preview = preview
        """What will happen: host, images, strategy, steps."""

    def compose_above_question(self) -> ComposeResult:
        with VerticalScroll(id="plan-scroll", can_focus=False):
            yield Static(self.preview, id="plan-preview")

    def on_mount(self) -> None:
        super().on_mount()
        self._fit_plan()

    def on_resize(self) -> None:
        self._fit_plan()

    def _fit_plan(self) -> None:
        reserved = self.RESERVED_ROWS + (3 if self.typed else 0)
        for plan in self.query("#plan-scroll"):
            plan.styles.max_height = max(3, self.app.size.height - reserved)

    def action_scroll_plan(self, pages: int) -> None:
        plan = self.query_one("#plan-scroll", VerticalScroll)
        plan.scroll_to(y=plan.scroll_y + pages * max(1, plan.size.height - 1), animate=False)


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

        def __init__(self, plan: DeployPlan | SwarmDeployPlan | MultiPlan) -> None:
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
        """The tag and plan workers: say what failed, and what it means for the picker."""
        report_worker_failure(self.app, event)
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
