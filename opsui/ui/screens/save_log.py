"""Ask where to save the log pane's lines, and whether all of them or the filtered view.

A modal with a path already filled in (a timestamped file in the current folder), so
saving during an incident is two keys: ``s`` then Enter. The writing itself happens in
the log screen's worker; this only asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static


@dataclass(frozen=True)
class SaveRequest:
    """Where to write, and which lines."""

    path: Path
    filtered: bool
    """Only the lines the filter keeps (else every line held in the buffer)."""


class SaveLogModal(ModalScreen[SaveRequest | None]):
    """Path field (Enter saves), "only the filtered view" switch, Save / Cancel."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="logs.save_cancel",
                tooltip="Close without saving."),
    ]

    AUTO_FOCUS = "#save-path"

    def __init__(self, default: Path, filtering: bool, counts: tuple[int, int]) -> None:
        super().__init__()
        self.default = default
        """The path offered."""
        self.filtering = filtering
        """Whether a filter is active (the switch is offered, and on, only then)."""
        self.counts = counts
        """(lines in the filtered view, lines in the buffer), for the labels."""

    def compose(self) -> ComposeResult:
        shown, held = self.counts
        with Vertical(id="save-dialog"):
            yield Static(Text(f"Save {held:,} buffered lines as sanitised text, one per line."),
                         id="save-question")
            yield Input(str(self.default), id="save-path")
            yield Checkbox(f"Only the filtered view ({shown:,} lines)", self.filtering,
                           id="save-filtered", disabled=not self.filtering)
            with Horizontal(id="save-buttons"):
                yield Button("Save", variant="primary", id="save-yes")
                yield Button("Cancel", id="save-no")

    def on_mount(self) -> None:
        self.query_one("#save-dialog").border_title = "Save logs"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save-yes":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        text = self.query_one("#save-path", Input).value.strip()
        if not text:
            self.notify("Give a file name.", severity="warning", markup=False)
            return
        filtered = self.filtering and self.query_one("#save-filtered", Checkbox).value
        self.dismiss(SaveRequest(Path(text).expanduser(), filtered))

    def action_cancel(self) -> None:
        self.dismiss(None)
