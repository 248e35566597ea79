"""The one confirmation dialog, shaped by the gate's policy.

The gate decides *what* to ask (:class:`~opsui.domain.operations.gate.Confirmation`);
this modal only asks it. Under the ``yes`` policy it is a yes/no question (y / n
keys or buttons). Under ``type`` the operator must type the target's name, and the
confirm button stays disabled until the text matches exactly, so a reflexive Enter
cannot restart production. The answer goes back to the gate unchanged.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from opsui.domain.operations.gate import Confirmation
from opsui.domain.operations.policy import ConfirmPolicy

Answer = bool | str | None
"""True (yes), the typed text (type policy), or None (cancelled)."""


class ConfirmModal(ModalScreen[Answer]):
    """Asks one question; dismisses with the answer for ``ActionGate.execute``."""

    BINDINGS = [
        Binding("y", "confirm", "Yes", id="confirm.yes",
                tooltip="Confirm the action (under the type policy: when the name matches)."),
        Binding("n", "cancel", "No", id="confirm.no", tooltip="Cancel; nothing is changed."),
        Binding("escape", "cancel", "Cancel", id="confirm.cancel",
                tooltip="Cancel; nothing is changed."),
    ]

    AUTO_FOCUS = "#confirm-input, #confirm-no"
    """Focused as the screen activates, before any key typed after "r" arrives: the name
    field under the type policy (it comes first), else Cancel, so Enter does nothing."""

    def __init__(self, confirmation: Confirmation, *, yes_label: str | None = None,
                 no_label: str = "Cancel") -> None:
        super().__init__()
        self.confirmation = confirmation
        """The gate's question, policy and expected answer."""
        self.yes_label = yes_label or confirmation.request.action.value.capitalize()
        """The confirming button (default: the action, e.g. "Rollback")."""
        self.no_label = no_label

    @property
    def typed(self) -> bool:
        return self.confirmation.policy is ConfirmPolicy.TYPE

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield from self.compose_above_question()
            yield Static(Text(self.confirmation.question), id="confirm-question")
            if self.typed:
                yield Input(placeholder=self.confirmation.expected_text, id="confirm-input")
            with Horizontal(id="confirm-buttons"):
                yield Button(self.yes_label, variant="error", id="confirm-yes",
                             disabled=self.typed)
                yield Button(self.no_label, id="confirm-no")

    def compose_above_question(self) -> ComposeResult:
        """What the dialog shows above the question (a plan's preview, say): nothing."""
        yield from ()

    def on_mount(self) -> None:
        self.query_one("#confirm-dialog").border_title = "Confirm"

    def on_input_changed(self, event: Input.Changed) -> None:
        matched = event.value == self.confirmation.expected_text
        self.query_one("#confirm-yes", Button).disabled = not matched

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm-yes":
            self.action_confirm()
        else:
            self.action_cancel()

    def action_confirm(self) -> None:
        if not self.typed:
            self.dismiss(True)
            return
        typed = self.query_one("#confirm-input", Input).value
        if typed == self.confirmation.expected_text:
            self.dismiss(typed)
        else:
            self.app.bell()

    def action_cancel(self) -> None:
        self.dismiss(None)
