"""The ``/`` filter: narrows the table as you type; Esc clears it, Enter keeps it."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """A one-line filter over name, image, compose project, state and health."""

    BINDINGS = [
        Binding("escape", "clear_filter", "Clear filter", id="filter.clear",
                tooltip="Clear the filter and go back to the table."),
    ]

    class Filtered(Message):
        """The filter text changed (or was cleared)."""

        def __init__(self, needle: str) -> None:
            super().__init__()
            self.needle = needle
            """The text rows must contain."""

    class Done(Message):
        """The operator left the filter (Enter keeps it, Esc cleared it)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="filter: name, image, project, state, health  (Esc clears)",
                         id=id)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Filtered(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Done())

    def action_clear_filter(self) -> None:
        self.value = ""  # posts Input.Changed, hence our Filtered, when it was not empty
        self.post_message(self.Done())
