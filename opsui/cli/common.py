"""What the headless app commands share: resolving the app, asking, speaking, Ctrl-C.

``opsui deploy`` and ``opsui backup`` (and their siblings) each run one command against
one host's facade; this is the part that is the same for all of them, so a question
asked, a refusal or a cancelled run reads the same whatever the command.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Protocol

from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.operations.policy import ConfirmPolicy

if TYPE_CHECKING:  # the dashboard's launch imports this module, and needs none of them
    from opsui.domain.operations.app_spec import AppSpec
    from opsui.domain.operations.gate import ActionGate, ActionRequest
    from opsui.domain.operations.release_run import StepEvent

AskAnswer = Callable[[str, ConfirmPolicy, str], "bool | str | None"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_PIPE_CLOSED = 141
"""128 + SIGPIPE, what a shell reports for a writer whose reader went away (``| head``)."""
EXIT_INTERRUPTED = 130
"""128 + SIGINT: Ctrl-C outside a run that handles it."""

NEWLINE_MARK = "\u2424"
"""How the sanitiser and the journal keep a newline inside a one-line field (␤)."""


class UsageError(OpsuiError):
    """A command-line argument is wrong (exit 2), found after argparse let it through."""


def multiline(text: str, indent: str = "  ") -> str:
    """Text from a one-line field (journal, sanitised output) with its lines back, the
    continuation lines indented under the first: a terminal shows ``␤`` literally."""
    return text.replace(NEWLINE_MARK, "\n").replace("\n", "\n" + indent).rstrip()


class TerminalAsk:
    """Asks on the terminal when neither --yes nor --confirm was given, and remembers
    when it could not (no terminal), so the refusal can say which option to pass."""

    def __init__(self) -> None:
        self.unasked: tuple[ConfirmPolicy, str] | None = None

    def __call__(self, question: str, policy: ConfirmPolicy, expected: str
                 ) -> bool | str | None:
        if not sys.stdin.isatty():
            self.unasked = (policy, expected)
            return None
        if policy is ConfirmPolicy.TYPE:
            return input(f"{question}\n> ").strip()
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")

    def explain(self, error: OpsuiError) -> OpsuiError:
        """A refusal because nobody could be asked, with the option that answers."""
        if self.unasked is None or not isinstance(error, ActionRefused):
            return error
        policy, expected = self.unasked
        option = f"--confirm '{expected}'" if policy is ConfirmPolicy.TYPE else "--yes"
        return ActionRefused(str(error), hint=f"There is no terminal to ask on: pass "
                             f"{option} to confirm.")


class Resolves(Protocol):
    def resolve(self, ref: str) -> AppSpec: ...


class AppCommand:
    """One subcommand (``args.command``, run by the method ``_COMMAND``) on one app."""

    def __init__(self, facade: Resolves, gate: ActionGate, args: argparse.Namespace,
                 ask: AskAnswer) -> None:
        self._facade = facade
        self.gate = gate
        self.args = args
        self.ask = ask

    def run(self) -> int:
        app = self._facade.resolve(self.args.app)
        command: Callable[[AppSpec], int] = getattr(self, f"_{self.args.command}")
        return command(app)

    def _answer(self, request: ActionRequest) -> bool | str | None:
        """--confirm, --yes, or a question on the terminal, as the policy wants."""
        confirmation = self.gate.confirmation_for(request)  # read-only refuses here
        answer: bool | str | None = self.args.confirm or (True if self.args.yes else None)
        if answer is None and confirmation.policy is not ConfirmPolicy.NONE:
            answer = self.ask(confirmation.question, confirmation.policy,
                              confirmation.expected_text)
        return answer

    def _say(self, text: str) -> None:
        """Human words: stdout, or stderr when stdout is the JSON result."""
        print(text, file=sys.stderr if self.args.json else sys.stdout, flush=True)


def print_step(event: StepEvent, *, with_outcome: bool = False) -> None:
    """A run's step on stderr, as every command shows steps: ``… step`` when it starts,
    ``✓``/``✗ step (seconds): first line of its detail`` when it ends. The run's own
    "outcome" event is printed only ``with_outcome`` (commands that say the outcome
    themselves leave it out)."""
    if event.step == "outcome" and not with_outcome:
        return
    if event.outcome is None:
        print(f"  … {event.step}", file=sys.stderr, flush=True)
        return
    from opsui.domain.releases import OK

    mark = "✓" if event.outcome == OK else "✗"
    first = event.detail.splitlines()[0] if event.detail else ""
    print(f"  {mark} {event.step} ({event.seconds:.1f} s){': ' + first if first else ''}",
          file=sys.stderr, flush=True)


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@contextmanager
def cancellable(what: str | Callable[[], str] = "the run") -> Iterator[threading.Event]:
    """The first Ctrl-C asks the run to cancel (it cleans up and records it); a second
    one interrupts at once. ``what``: what cancelling does, or a function saying it
    at the moment of the Ctrl-C (a deploy's effect depends on its step)."""
    cancelled = threading.Event()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if cancelled.is_set():
            raise KeyboardInterrupt
        cancelled.set()
        said = what() if callable(what) else what
        print(f"\n  cancelling {said} (Ctrl-C again to stop at once)", file=sys.stderr,
              flush=True)

    if threading.current_thread() is not threading.main_thread():
        yield cancelled
        return
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield cancelled
    finally:
        signal.signal(signal.SIGINT, previous)
