"""The steps of a deploy, rollback or recovery as they happen: spinner, ✓ or ✗, and timings.

The run's worker thread reports :class:`~opsui.domain.operations.release_run.StepEvent`
objects (a step's start, then its end; the final one is the ``outcome``); the screen
hands each to :meth:`StepLog.apply` on the event loop. The planned steps are listed up
front, pending, so the operator sees what is still to come; a step the plan did not
name (a "retention" after the switch) is slotted in before "record". While a step
runs the widget redraws itself ten times a second for the spinner and the elapsed time;
otherwise it is drawn only when something changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.widget import Widget

from opsui.domain.operations.release_run import StepEvent
from opsui.ui.palette import Palette

PENDING, RUNNING, OK, FAILED, SKIPPED, CANCELLED = (
    "pending", "running", "ok", "failed", "skipped", "cancelled")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SYMBOL = {PENDING: "·", OK: "✓", FAILED: "✗", SKIPPED: "-", CANCELLED: "✗"}
OUTCOME_STEP = "outcome"
"""The name of the final event a run reports."""
RECORD_STEP = "record"
"""The planned last step: the outcome written to the journal."""
NAME_WIDTH = 14
DETAIL_LINES = 6
"""Lines of a failed step's detail shown under it (the full text is in the history)."""


def step_seconds(seconds: float) -> str:
    """``0.4s``, ``12s``, ``2m 05s``: short, fixed meaning."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s"


@dataclass
class StepLine:
    """One step as shown."""

    name: str
    state: str = PENDING
    started: datetime | None = None
    seconds: float | None = None
    detail: str = ""
    expected: float = 0.0
    """How long the step takes when known (a drain): counted down while it runs."""


class StepLog(Widget):
    """The live list of a release's steps."""

    DEFAULT_CSS = """
    StepLog {
        height: auto;
    }
    """

    def __init__(self, clock: Callable[[], datetime], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        """Now: elapsed time of the running step and the spinner's frame."""
        self.steps: list[StepLine] = []
        self.outcome: str | None = None
        """The run's outcome once the final event arrived."""
        self.reason = ""

    # -- feeding ------------------------------------------------------------------------

    def plan(self, names: Iterable[str]) -> None:
        """Show the planned steps, all pending."""
        self.steps = [StepLine(name) for name in names]
        self.outcome = None
        self.reason = ""
        self._changed()

    def apply(self, event: StepEvent) -> None:
        """One report from the run (a start, an end, or the final outcome)."""
        if event.step == OUTCOME_STEP:
            self.finish(event.outcome or FAILED, event.detail)
            return
        if event.outcome is None:
            line = self._find(event.step, (PENDING,)) or self._insert(event.step)
            line.state, line.started, line.seconds = RUNNING, self.clock(), None
            line.expected = event.expected
        else:
            line = self._find(event.step, (RUNNING, PENDING)) or self._insert(event.step)
            line.state = OK if event.outcome == OK else FAILED
            line.seconds = event.seconds
            line.detail = event.detail
        self._changed()

    def finish(self, outcome: str, reason: str = "", *, recorded: bool = True) -> None:
        """The run ended: what was still running stopped, what was pending was skipped.

        ``recorded``: the outcome reached the journal (the "record" step is done)."""
        self.outcome, self.reason = outcome, reason
        for line in self.steps:
            if line.state == RUNNING:
                line.state = CANCELLED if outcome == CANCELLED else FAILED
                if line.started is not None:
                    line.seconds = (self.clock() - line.started).total_seconds()
            elif line.state == PENDING:
                if line.name == RECORD_STEP and recorded:
                    line.state, line.seconds = OK, 0.0
                else:
                    line.state = SKIPPED
        self._changed()

    @property
    def running(self) -> StepLine | None:
        return next((line for line in self.steps if line.state == RUNNING), None)

    def state_of(self, name: str) -> str | None:
        """The state of the last step called ``name`` (for tests and the palette)."""
        found = [line.state for line in self.steps if line.name == name]
        return found[-1] if found else None

    def _find(self, name: str, states: tuple[str, ...]) -> StepLine | None:
        return next((line for line in self.steps
                     if line.name == name and line.state in states), None)

    def _insert(self, name: str) -> StepLine:
        """A step the plan did not list: before "record" while that is still to come."""
        line = StepLine(name)
        at = next((i for i, known in enumerate(self.steps)
                   if known.name == RECORD_STEP and known.state == PENDING), len(self.steps))
        self.steps.insert(at, line)
        return line

    def _changed(self) -> None:
        self.auto_refresh = 0.1 if self.running is not None else None
        self.refresh(layout=True)

    # -- drawing ------------------------------------------------------------------------

    def render(self) -> Text:
        return Text("\n").join(self._step_texts())

    def running_row(self) -> int | None:
        """The row (from this widget's top) the running step is drawn on: the steps
        before it take a row each, more where a detail wraps at this width."""
        running = self.running
        if running is None:
            return None
        before = self._step_texts()[:self.steps.index(running)]
        width = max(1, self.content_region.width)
        rows = 0
        for text in before:  # wrapped (long ids folded) as Textual draws them
            drawn = text.copy()
            drawn.no_wrap, drawn.overflow = False, "fold"
            rows += len(drawn.wrap(self.app.console, width))
        return rows

    def _step_texts(self) -> list[Text]:
        palette = Palette.of(self.app)
        now = self.clock()
        texts: list[Text] = []
        # names line up however long they are (a release across hosts: "web1: pull")
        width = max([NAME_WIDTH, *(len(line.name) + 1 for line in self.steps)])
        for line in self.steps:
            text = Text(no_wrap=True, overflow="ellipsis")
            texts.append(text)
            if line.state == RUNNING:
                frame = int(now.timestamp() * 10) % len(SPINNER)
                symbol, style = SPINNER[frame], palette.accent
                elapsed = (now - line.started).total_seconds() if line.started else 0.0
                seconds = step_seconds(max(0.0, elapsed))
            else:
                symbol = SYMBOL[line.state]
                style = {OK: palette.ok, FAILED: palette.bad, CANCELLED: palette.warn,
                         }.get(line.state, palette.muted)
                seconds = "" if line.seconds is None else step_seconds(line.seconds)
            text.append(f" {symbol} ", style=style)
            name_style = palette.muted if line.state in (PENDING, SKIPPED) else palette.strong
            text.append(line.name.ljust(width), style=name_style)
            text.append(seconds.rjust(8), style=palette.muted)
            detail = line.detail.strip()
            if line.state == RUNNING and line.expected > 0:
                left = max(0.0, line.expected - ((now - line.started).total_seconds()
                                                 if line.started else 0.0))
                detail = f"{step_seconds(left)} left of {step_seconds(line.expected)}"
            if not detail:
                if line.state == SKIPPED:
                    text.append("  skipped", style=palette.muted)
                continue
            first, *rest = detail.splitlines()
            text.append("  ")
            text.append(first, style=palette.bad if line.state == FAILED else palette.muted)
            if line.state == FAILED:
                for more in rest[:DETAIL_LINES - 1]:
                    text.append("\n" + " " * (width + 13))
                    text.append(more, style=palette.bad)
        return texts
