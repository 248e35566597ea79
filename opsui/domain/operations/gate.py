"""The one gate every host-changing action passes: read-only, confirmation, audit.

Screens and CLI commands never decide on their own whether an action may run. They
ask :meth:`ActionGate.confirmation_for` what to ask the operator, show it however
they show things, and hand the answer to :meth:`ActionGate.execute`, which refuses
or runs the action and records the outcome. Keeping this in one place means a new
screen cannot forget read-only mode or skip a type-the-name confirmation.

Read-only means nothing on the host changes: every path that would run or write
anything there asks :meth:`ActionGate.check` first (the facades do, before they plan),
and a refusal is audited locally, never in the host's journal.
"""

from __future__ import annotations

import getpass
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.history import Journal
from opsui.domain.operations.policy import DEFAULT_CONFIRMATIONS, Action, ConfirmPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")
_OUTCOMES = frozenset({"ok", "failed", "cancelled", "rolled back", "interrupted"})
"""An action that returns one of these (a deploy's outcome) is audited with it."""


@dataclass(frozen=True)
class ActionRequest:
    """What the operator wants to do, to what, where."""

    action: Action
    host: str
    target_id: str
    target_name: str
    app: str = ""
    """The app it belongs to, when known: its own confirmation policy applies."""
    detail: str = ""
    """A few words of what exactly (``to 2.0.0``), for the question and the audit line."""

    def describe(self) -> str:
        detail = f" {self.detail}" if self.detail else ""
        return f"{self.action.value} {self.target_name}{detail} on {self.host}"


RELEASES = frozenset({Action.DEPLOY, Action.ROLLBACK})
"""Actions whose confirmation names the version (``to 2.0.0``)."""


@dataclass(frozen=True)
class Confirmation:
    """What must be asked before the action runs."""

    request: ActionRequest
    policy: ConfirmPolicy
    question: str

    @property
    def expected_text(self) -> str:
        """What the operator must type under the ``type`` policy."""
        return self.request.target_name

    def accepts(self, answer: bool | str | None) -> bool:
        if self.policy is ConfirmPolicy.NONE:
            return True
        if self.policy is ConfirmPolicy.YES:
            return answer is True or (isinstance(answer, str) and answer == self.expected_text)
        return isinstance(answer, str) and answer == self.expected_text


@dataclass(frozen=True)
class AuditRecord:
    """Who did what, where, when, and how it ended."""

    request: ActionRequest
    user: str
    machine: str
    started_at: datetime
    duration_s: float
    outcome: str  # "ok" | "failed" | "refused" | "cancelled" (or a deploy's outcome)
    error: str = ""


class AuditSink(Protocol):
    def record(self, entry: AuditRecord) -> None: ...


@dataclass
class JournalAudit:
    """Audit records of one app, appended to its journal on the host (every operator
    sees them), as well as to the process-wide sink."""

    journal: Journal
    also: AuditSink

    def record(self, entry: AuditRecord) -> None:
        self.also.record(entry)
        self.journal.append({
            "type": "action", "action": entry.request.action.value,
            "host": entry.request.host, "target": entry.request.target_name,
            "detail": entry.request.detail, "who": f"{entry.user}@{entry.machine}",
            "at": entry.started_at.isoformat(timespec="seconds"),
            "seconds": round(entry.duration_s, 3), "outcome": entry.outcome,
            "error": entry.error[:2000]})


@dataclass
class MemoryAudit:
    """Keeps records in memory and logs them; the host journal replaces it later."""

    entries: list[AuditRecord] = field(default_factory=list)

    def record(self, entry: AuditRecord) -> None:
        self.entries.append(entry)
        log.info(
            "audit: %s by %s@%s: %s %s",
            entry.request.describe(), entry.user, entry.machine, entry.outcome, entry.error,
        )


def operator_identity() -> tuple[str, str]:
    """(user, machine) of the operator, for audit lines."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return user, socket.gethostname()


class ActionGate:
    """Applies read-only mode and confirmation policy, runs the action, audits it."""

    def __init__(
        self,
        confirm: Mapping[str, ConfirmPolicy] = DEFAULT_CONFIRMATIONS,
        read_only: bool = False,
        read_only_hosts: frozenset[str] = frozenset(),
        audit: AuditSink | None = None,
        app_confirm: Mapping[str, Mapping[str, ConfirmPolicy]] | None = None,
    ) -> None:
        self._confirm = confirm
        self._app_confirm = app_confirm or {}
        self._read_only = read_only
        self._read_only_hosts = read_only_hosts
        self.audit: AuditSink = audit or MemoryAudit()

    def is_read_only(self, host: str) -> bool:
        return self._read_only or host in self._read_only_hosts

    def refusal(self, request: ActionRequest) -> str | None:
        """Why the action may not run at all, or None when it may."""
        if self._read_only:
            return "opsui runs in read-only mode (--read-only or read_only = true)"
        if request.host in self._read_only_hosts:
            return f"host '{request.host}' is read-only in opsui.toml"
        return None

    def policy_for(self, request: ActionRequest) -> ConfirmPolicy:
        """The app's own policy for the action, else the global one."""
        own = self._app_confirm.get(request.app, {}).get(request.action.value)
        return own or self._confirm.get(request.action.value, ConfirmPolicy.YES)

    def check(self, request: ActionRequest) -> None:
        """Raise ActionRefused when read-only mode forbids ``request``: the first thing
        every host-changing path does, before it plans, reads or runs anything for it.

        The refusal is audited here, in the local audit sink only: read-only means
        nothing on the host changes, not even its journal.
        """
        reason = self.refusal(request)
        if reason:
            error = ActionRefused(f"Refused to {request.describe()}: {reason}.",
                                  hint="Run without --read-only, or change read_only in "
                                       "opsui.toml.")
            user, machine = operator_identity()
            self.audit.record(AuditRecord(request, user, machine, datetime.now(UTC), 0.0,
                                          "refused", str(error)))
            raise error

    def confirmation_for(self, request: ActionRequest) -> Confirmation:
        """What to ask; raises ActionRefused (audited) when the action is not allowed."""
        self.check(request)
        policy = self.policy_for(request)
        # A release's question names the version it ends on: where the plan above it
        # does not fit (80x24), the operator still confirms knowing what will serve.
        what = (f"{request.target_name} {request.detail}"
                if request.detail and request.action in RELEASES else request.target_name)
        question = f"{request.action.value.capitalize()} {what} on {request.host}?"
        if policy is ConfirmPolicy.TYPE:
            question += f" Type '{request.target_name}' to confirm."
        return Confirmation(request, policy, question)

    def execute(self, request: ActionRequest, answer: bool | str | None,
                run: Callable[[], T], journal: Journal | None = None) -> T:
        """Check the answer against the policy, run the action, record the outcome (also
        in ``journal``, the app's journal on the host, when given)."""
        user, machine = operator_identity()
        started = datetime.now(UTC)
        clock = time.monotonic()

        def record(outcome: str, error: str = "") -> None:
            self._record(AuditRecord(request, user, machine, started,
                                     time.monotonic() - clock, outcome, error), journal)

        confirmation = self.confirmation_for(request)  # read-only: refused and audited
        if not confirmation.accepts(answer):
            record("refused", "not confirmed")
            raise ActionRefused(f"Not confirmed: {request.describe()}.",
                                hint=f"Confirm with '{confirmation.expected_text}'"
                                if confirmation.policy is ConfirmPolicy.TYPE else "Answer yes.")
        try:
            result = run()
        except ActionRefused as exc:  # refused by the action itself (the lock is held)
            record("refused", str(exc))
            raise
        except OpsuiError as exc:
            record("failed", str(exc))
            raise
        except KeyboardInterrupt:
            record("cancelled", "interrupted by the operator")
            raise
        record(result if isinstance(result, str) and result in _OUTCOMES else "ok")
        return result

    def not_confirmed(self, request: ActionRequest, journal: Journal | None = None) -> None:
        """Audit a question the operator left without the expected answer (the dashboard
        cancelled a type-the-name question, say), as :meth:`execute` audits a wrong
        ``--confirm``: refused, "not confirmed", in the app's journal when given."""
        user, machine = operator_identity()
        self._record(AuditRecord(request, user, machine, datetime.now(UTC), 0.0, "refused",
                                 "not confirmed"), journal)

    def record_consequence(self, request: ActionRequest, detail: str,
                           journal: Journal | None = None) -> None:
        """Audit what opsui did by itself as part of an action already confirmed and
        audited (a refused multi-host lock giving back the hosts it had frozen): no
        question of its own, and the journal still says the host is free again."""
        user, machine = operator_identity()
        self._record(AuditRecord(request, user, machine, datetime.now(UTC), 0.0, "ok",
                                 detail), journal)

    def _record(self, entry: AuditRecord, journal: Journal | None) -> None:
        """Into the app's journal on the host (and the local sink); only locally when
        there is no journal or the host is read-only (nothing on it may change)."""
        if journal is None or self.is_read_only(entry.request.host):
            self.audit.record(entry)
            return
        try:
            JournalAudit(journal, self.audit).record(entry)
        except OpsuiError as exc:  # the host's journal is unwritable: still say so
            log.warning("audit to the host journal failed: %s", exc)
            self.audit.record(entry)
