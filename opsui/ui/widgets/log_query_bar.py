"""The log pane's one-line search / filter box, with regex and invert switches.

One box serves both jobs so the pane keeps a single line for input; each job keeps
its own text, so opening search does not lose the filter. Typing applies as you go
(search highlights, the filter narrows) once the keys pause for
:data:`SETTLE_SECONDS`; Enter keeps it at once and returns to the lines; Esc clears it.
The label in front says which job and which switches are on.

A key's echo comes first (issue 14): applying a query redraws every row of the pane
(and a filter re-scans the buffer), so doing it on every key made each echo wait for
a full redraw, and while a log pours in new lines were drawn in the same frame. Now a
key only tells the pane to hold its new lines until the echo is drawn, and the query
is applied when typing pauses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static

from opsui.domain.logquery import LogQuery, QueryError
from opsui.ui.palette import Palette

QueryMode = Literal["search", "filter"]

SETTLE_SECONDS = 0.12
"""A typed query is applied this long after the last key (a burst applies once)."""


class LogQueryInput(Input):
    """The text field; its keys toggle the switches without leaving it."""

    BINDINGS = [
        Binding("escape", "clear", "Clear", id="logs.query_clear",
                tooltip="Clear this search or filter and go back to the lines."),
        Binding("ctrl+r", "toggle_regex", "Regex", id="logs.query_regex",
                tooltip="Treat the text as a regular expression (on/off)."),
        Binding("ctrl+n", "toggle_invert", "Invert", id="logs.query_invert",
                tooltip="Filter: keep the lines that do NOT match (on/off)."),
    ]

    def action_clear(self) -> None:
        bar = self.parent
        if isinstance(bar, LogQueryBar):
            bar.clear()

    def action_toggle_regex(self) -> None:
        bar = self.parent
        if isinstance(bar, LogQueryBar):
            bar.toggle(regex=True)

    def action_toggle_invert(self) -> None:
        bar = self.parent
        if isinstance(bar, LogQueryBar):
            bar.toggle(invert=True)

    async def _on_key(self, event: events.Key) -> None:
        bar = self.parent
        if isinstance(bar, LogQueryBar) and bar.before_echo is not None:
            bar.before_echo()  # called, not posted: a message would arrive after the echo
        await super()._on_key(event)

    async def action_submit(self) -> None:
        """Apply and leave within the Enter key itself, not via a Submitted message:
        keys typed right after Enter must already reach the lines, not this box."""
        bar = self.parent
        if isinstance(bar, LogQueryBar):
            bar.submit()


class LogQueryBar(Horizontal):
    """Label plus input; posts :class:`Applied` with a compiled query as the text changes."""

    DEFAULT_CSS = """
    LogQueryBar {
        height: 1;
        background: $boost;
    }

    LogQueryBar #logs-query-label {
        width: auto;
        height: 1;
        color: $text-primary;
    }

    LogQueryBar #logs-query-input {
        width: 1fr;
        height: 1;
        border: none;
        padding: 0 1;
        background: $boost;
    }

    LogQueryBar #logs-query-input:focus {
        border: none;
        background: $primary-background;
    }
    """

    class Applied(Message):
        """The query of ``mode`` changed (``done``: Enter or Esc, leave the box)."""

        def __init__(self, mode: QueryMode, query: LogQuery, done: bool) -> None:
            super().__init__()
            self.mode = mode
            """Search (highlight and jump) or filter (keep only matching lines)."""
            self.query = query
            """The compiled query; empty when cleared."""
            self.done = done
            """True when the operator left the box (Enter or Esc)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode: QueryMode = "search"
        self.texts: dict[QueryMode, str] = {"search": "", "filter": ""}
        self.regex: dict[QueryMode, bool] = {"search": False, "filter": False}
        self.invert = False
        """Only the filter can be inverted (a search for "not x" has no next match)."""
        self.error = ""
        self.return_to: Widget | None = None
        self.before_echo: Callable[[], None] | None = None
        """Called as each key reaches the box, before it is echoed (the pane holds back
        its new lines until the echo is drawn)."""
        self._settle: Timer | None = None
        """Applies the text typed so far once the keys pause (see :data:`SETTLE_SECONDS`)."""

    def compose(self) -> ComposeResult:
        yield Static(id="logs-query-label")
        yield LogQueryInput(id="logs-query-input")

    @property
    def input(self) -> LogQueryInput:
        return self.query_one(LogQueryInput)

    def open(self, mode: QueryMode, return_to: Widget) -> None:
        """Show the box for ``mode`` with that job's text, and take the keyboard now."""
        if self._settle is not None:
            self._apply(done=False)  # what was typed for the other job first
        self.mode = mode
        self.return_to = return_to
        self.display = True
        self.error = ""
        with self.input.prevent(Input.Changed):
            self.input.value = self.texts[mode]
        self.input.cursor_position = len(self.input.value)
        self._label()
        self.screen.set_focus(self.input)

    def compiled(self, mode: QueryMode) -> LogQuery:
        """The query of ``mode`` as it stands (raises :class:`QueryError`)."""
        return LogQuery.build(self.texts[mode], regex=self.regex[mode],
                              invert=self.invert and mode == "filter")

    def toggle(self, *, regex: bool = False, invert: bool = False) -> None:
        if regex:
            self.regex[self.mode] = not self.regex[self.mode]
        if invert:
            self.invert = not self.invert
        self._apply(done=False)

    def clear(self) -> None:
        self.texts[self.mode] = ""
        with self.input.prevent(Input.Changed):
            self.input.value = ""
        if self.mode == "filter":
            self.invert = False
        self._apply(done=True)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.texts[self.mode] = event.value
        if self._settle is not None:
            self._settle.stop()
        self._settle = self.set_timer(SETTLE_SECONDS, self._settled)

    def _settled(self) -> None:
        self._settle = None
        self._apply(done=False)

    def submit(self) -> None:
        self._apply(done=True)

    def _apply(self, done: bool) -> None:
        if self._settle is not None:  # applied now: the pending one would repeat it
            self._settle.stop()
            self._settle = None
        try:
            query = self.compiled(self.mode)
        except QueryError as exc:
            self.error = str(exc)
            self._label()
            if done:
                self._leave()
            return
        self.error = ""
        self._label()
        self.post_message(self.Applied(self.mode, query, done))
        if done:
            self._leave()

    def _leave(self) -> None:
        if not self.texts[self.mode] or self.error:
            self.display = False
        if self.return_to is not None:
            self.screen.set_focus(self.return_to)

    def _label(self) -> None:
        label = Text(no_wrap=True, end="")
        label.append(f" {self.mode} ", "bold")
        switches = []
        if self.regex[self.mode]:
            switches.append("regex")
        if self.mode == "filter" and self.invert:
            switches.append("NOT")
        if switches:
            label.append(f"[{' '.join(switches)}] ")
        if self.error:
            label.append(self.error + " ", Palette.of(self.app).bad)
        self.query_one("#logs-query-label", Static).update(label)
