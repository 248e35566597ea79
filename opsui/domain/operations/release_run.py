"""What every release run shares: its id, the lock, journaled steps, cancellation, outcome.

A deploy, a rollback, a Swarm update and the recovery of an interrupted release all
take the app's lock, write a ``release`` record, journal each step as it ends (so a
crash leaves the history of what was done), report steps to whoever watches, and
end with one ``outcome`` record. Keeping that here means the journal reads the same
whatever made the release, and a step can never forget to be recorded.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.history import Journal
from opsui.domain.logfeed import APP_LABEL, RELEASE_LABEL
from opsui.domain.operations.gate import ActionGate, ActionRequest, operator_identity
from opsui.domain.operations.lock import DeployLock, LockHolder
from opsui.domain.ports import HostFiles
from opsui.domain.releases import FAILED, OK
from opsui.domain.sanitize import clean

DIGEST_LABEL = "opsui.digest"
VERSION_LABEL = "opsui.version"
START_FIRST, STOP_FIRST = "start-first", "stop-first"


@dataclass(frozen=True)
class StepEvent:
    """One step's start (``outcome`` None) or end, streamed to the screen or terminal."""

    step: str
    outcome: str | None = None
    seconds: float = 0.0
    detail: str = ""
    expected: float = 0.0
    """On a start: how long the step will take when that is known (a drain), so a
    screen can count it down; 0 when unknown."""


Report = Callable[[StepEvent], None]


class Cancelled(OpsuiError):
    """The operator cancelled (Ctrl-C, the cancel key) between two steps."""

    def __init__(self) -> None:
        super().__init__("cancelled by the operator")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_release_id() -> str:
    """Sortable by time, unique across operators: ``r20261201211500-1a2b``."""
    return f"r{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:4]}"


def operator() -> str:
    user, machine = operator_identity()
    return f"{user}@{machine}"


class ReleaseRun:
    """The journal, lock and step reporting of one release of one app."""

    def __init__(self, files: HostFiles, state_dir: str, app: str, *,
                 report: Report | None = None,
                 cancelled: threading.Event | None = None,
                 release_id: str | None = None) -> None:
        self.app = app
        self.journal = Journal(files, state_dir, app)
        self.lock = DeployLock(files, state_dir, app)
        self.release_id = release_id or new_release_id()
        self.cancelled = cancelled or threading.Event()
        self._report = report or (lambda event: None)

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()

    def begin(self, action: str, **fields: Any) -> None:
        """The ``release`` record: written first, so an interrupted run is visible."""
        self.journal.append({"type": "release", "id": self.release_id, "action": action,
                             "app": self.app, "who": operator(), "at": now_iso(),
                             **fields})  # an adopted release says since when it ran

    def note(self, kind: str, **fields: Any) -> None:
        """Another event of this release (``container``, ``digest``, ``rolled_back``...)."""
        self.journal.append({"type": kind, "release": self.release_id, **fields})

    def step(self, name: str, action: Callable[[], str | None], *,
             cancellable: bool = True, expected: float = 0.0) -> str:
        """Run one step: cancellation is checked first (unless the step must run once
        the release is past the point of no return), its end is journaled. ``expected``:
        how long it will take when that is known (a drain), for a countdown."""
        if cancellable:
            self.check_cancelled()
        self._report(StepEvent(name, expected=expected))
        started = time.monotonic()
        try:
            detail = action() or ""
        except OpsuiError as exc:
            self.ended(name, FAILED, time.monotonic() - started, str(exc))
            raise
        self.ended(name, OK, time.monotonic() - started, detail)
        return detail

    def optional_step(self, name: str, action: Callable[[], str | None]) -> str:
        """A step whose failure must not fail the release (retention after a good
        switch): journaled like any step; says what it did, or why it could not."""
        try:
            done = self.step(name, action)
        except OpsuiError as exc:
            return f"; {name} failed: {exc}"
        return f"; {done}" if done else ""

    def started(self, name: str) -> None:
        """A step that reports its own end (:meth:`ended`), like the health gate."""
        self._report(StepEvent(name))

    def ended(self, name: str, outcome: str, seconds: float, detail: str) -> None:
        self.note("step", name=name, outcome=outcome, seconds=round(seconds, 3),
                  detail=clean(detail, 2000))
        self._report(StepEvent(name, outcome, seconds, detail))

    def finish(self, outcome: str, reason: str, **fields: Any) -> None:
        self.note("outcome", outcome=outcome, reason=clean(reason, 6000), at=now_iso(),
                  **fields)
        self._report(StepEvent("outcome", outcome, 0.0, reason))

    def holder(self, version: str, message: str = "") -> LockHolder:
        user, machine = operator_identity()
        return LockHolder(user, machine, now_iso(), version=version, message=message,
                          release=self.release_id, pid=os.getpid())

    def gated(self, gate: ActionGate, request: ActionRequest, answer: bool | str | None,
              version: str, body: Callable[[], str],
              take_over: LockHolder | None = None) -> str:
        """The one way a release runs: through the gate (read-only, confirmation,
        audited in this app's journal), then :meth:`under_lock`."""
        return gate.execute(request, answer,
                            lambda: self.under_lock(version, body, take_over=take_over),
                            journal=self.journal)

    def under_lock(self, version: str, body: Callable[[], str],
                   take_over: LockHolder | None = None) -> str:
        """Run ``body`` holding the app's lock; a held lock refuses (nobody waits).

        ``take_over``: the stale lock of an interrupted release, replaced by ours only
        if it is still exactly that one.
        """
        self._report(StepEvent("lock"))
        started = time.monotonic()
        if take_over is not None:
            current = self.lock.holder()
            if current is not None and current != take_over:
                raise ActionRefused(f"{self.app}: the lock changed hands: "
                                    f"{current.describe()}", hint="Look at the history again.")
            if current is not None:
                self.lock.release()
        holder = self.lock.acquire(self.holder(version))
        if holder is not None:
            raise ActionRefused(f"{self.app} is locked: {holder.describe()}",
                                hint="Wait for that deploy, or ask its owner; "
                                     "`opsui unlock APP` only if it is stale.")
        self._report(StepEvent("lock", OK, time.monotonic() - started))
        try:
            return body()
        finally:
            self.lock.release()


def labels_for(app: str, release_id: str, version: str, digest: str,
               extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Labels a release's container carries, so state can be rebuilt without a journal."""
    return {APP_LABEL: app, RELEASE_LABEL: release_id, VERSION_LABEL: version,
            DIGEST_LABEL: digest, **(extra or {})}
