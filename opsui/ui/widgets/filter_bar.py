"""The ``/`` filter: narrows the table as you type; Esc clears it, Enter keeps it.

Focus moves happen synchronously inside the key's action (``Screen.set_focus``,
Enter included), not through a message: an operator typing ``/web`` fast, or ``Esc`` then ``s``,
must not have the keys after the first land in the wrong widget.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input


class FilterBar(Input):
    """A one-line filter over name, image, compose project, state and health."""

    DEFAULT_CSS = """
    FilterBar {
        height: 1;
        border: none;
        padding: 0 1;
        background: $boost;
    }

    FilterBar:focus {
        border: none;
        background: $primary-background;
    }
    """

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

    def __init__(self, *, id: str | None = None,
                 apply: Callable[[str], None] | None = None) -> None:
        super().__init__(placeholder="filter: name, image, project, state, health  (Esc clears)",
                         id=id)
        self.apply = apply
        """Applies the final text at once on Enter (the messages of the keystrokes before
        it may still be queued when the next key, say ``l``, arrives)."""
        self.return_to: Widget | None = None
        """Where focus goes when the operator leaves the filter."""

    def open(self, return_to: Widget) -> None:
        """Show the bar and take the keyboard now."""
        self.return_to = return_to
        self.display = True
        self.screen.set_focus(self)

    def leave(self) -> None:
        """Give the keyboard back now; an empty filter also hides the bar."""
        if not self.value:
            self.display = False
        if self.return_to is not None:
            self.screen.set_focus(self.return_to)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Filtered(event.value))

    async def action_submit(self) -> None:
        """Leave within the Enter key itself: Input would post a Submitted message,
        handled after the keys typed next (``/web`` Enter Enter opened nothing)."""
        if self.apply is not None:
            self.apply(self.value)
        self.leave()

    def action_clear_filter(self) -> None:
        self.value = ""  # posts Input.Changed, hence our Filtered, when it was not empty
        self.leave()
