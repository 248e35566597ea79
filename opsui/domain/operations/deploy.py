"""Deploying another tag of a container's image: the steps, their order and their undo.

Kept here, in the domain, so the TUI and ``opsui deploy`` run the same thing: take the
app's lock on the host, record the release in the host's journal, pull (recording the
digest), create the new container with everything the old one had, start it (after
stopping the old one when it publishes fixed host ports the new one could not bind
alongside), gate on health, switch names, stop the old one and keep it for rollback,
record the outcome, release the lock. A new version that fails its gate never takes
over: it is stopped (kept, with its last log lines in the journal) and the old one
serves again. Backup and migrate steps (issue 5) go between pull and start.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from opsui.domain.errors import ActionFailed, ActionRefused, OpsuiError
from opsui.domain.history import Journal
from opsui.domain.logfeed import APP_LABEL, RELEASE_LABEL
from opsui.domain.models import Container, ContainerState, split_image
from opsui.domain.operations.gate import ActionGate, ActionRequest, operator_identity
from opsui.domain.operations.health_gate import GateSettings, wait_healthy
from opsui.domain.operations.lock import DeployLock, LockHolder
from opsui.domain.operations.policy import Action
from opsui.domain.ports import ContainerEngine, HealthProber, HostFiles
from opsui.domain.releases import CANCELLED, FAILED, OK
from opsui.domain.sanitize import clean

DIGEST_LABEL = "opsui.digest"
START_FIRST, STOP_FIRST = "start-first", "stop-first"


@dataclass(frozen=True)
class DeployPlan:
    """What the confirmation shows before anything changes."""

    app: str
    host: str
    current: Container
    image: str
    version: str
    strategy: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class StepEvent:
    """One step's start (``outcome`` None) or end, streamed to the screen or terminal."""

    step: str
    outcome: str | None = None
    seconds: float = 0.0
    detail: str = ""


def plan_deploy(host: str, current: Container, tag: str, app: str | None = None) -> DeployPlan:
    repository, _ = split_image(current.image)
    fixed_ports = any(p.host_port for p in current.ports)
    strategy = STOP_FIRST if fixed_ports else START_FIRST
    steps = ("lock", "pull", "create", *(("stop old",) if fixed_ports else ()), "start",
             "health gate", "switch", "record")
    return DeployPlan(app or current.name, host, current, f"{repository}:{tag}", tag,
                      strategy, steps)


def operator() -> str:
    user, machine = operator_identity()
    return f"{user}@{machine}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Deployment:
    """Runs one :class:`DeployPlan`; ``run`` returns the outcome (ok / failed / ...)."""

    def __init__(self, plan: DeployPlan, engine: ContainerEngine, prober: HealthProber | None,
                 files: HostFiles, state_dir: str, gate: GateSettings,
                 report: Callable[[StepEvent], None] = lambda event: None,
                 cancelled: threading.Event | None = None) -> None:
        self.plan = plan
        self._engine = engine
        self._prober = prober
        self._journal = Journal(files, state_dir, plan.app)
        self._lock = DeployLock(files, state_dir, plan.app)
        self._gate = gate
        self._report = report
        self._cancelled = cancelled or threading.Event()
        self.release_id = f"r{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:4]}"
        self.new_id: str | None = None

    def _step(self, name: str, action: Callable[[], str | None]) -> str:
        self._report(StepEvent(name))
        started = time.monotonic()
        try:
            detail = action() or ""
        except OpsuiError as exc:
            self._ended(name, FAILED, time.monotonic() - started, str(exc))
            raise
        self._ended(name, OK, time.monotonic() - started, detail)
        return detail

    def _ended(self, name: str, outcome: str, seconds: float, detail: str) -> None:
        """A step ended: into the journal, then to whoever watches."""
        self._journal.append({"type": "step", "release": self.release_id, "name": name,
                              "outcome": outcome, "seconds": round(seconds, 3),
                              "detail": clean(detail, 2000)})
        self._report(StepEvent(name, outcome, seconds, detail))

    def request(self) -> ActionRequest:
        return ActionRequest(Action.DEPLOY, self.plan.host, self.plan.current.id,
                             self.plan.current.name)

    def run(self, gate: ActionGate, answer: bool | str | None) -> str:
        """Through the gate (read-only, confirmation policy, audit), then under the lock."""
        return gate.execute(self.request(), answer, self._run_under_lock)

    def _run_under_lock(self) -> str:
        plan = self.plan
        user, machine = operator_identity()
        holder = self._lock.acquire(LockHolder(user, machine, _now(), version=plan.version))
        if holder is not None:
            raise ActionRefused(f"{plan.app} is locked: {holder.describe()}",
                                hint="Wait for that deploy, or ask its owner; "
                                     "`opsui unlock` only if it is stale.")
        try:
            return self._run_locked()
        finally:
            self._lock.release()

    def _run_locked(self) -> str:
        plan, engine = self.plan, self._engine
        self._journal.append({"type": "release", "id": self.release_id, "action": "deploy",
                              "app": plan.app, "host": plan.host, "image": plan.image,
                              "version": plan.version, "who": operator(), "at": _now(),
                              "replaces_container": plan.current.id,
                              "replaces_image": plan.current.image})
        old_stopped = False
        try:
            digest = self._step("pull", lambda: engine.pull(plan.image))
            self._journal.append({"type": "digest", "release": self.release_id,
                                  "digest": digest})
            labels = {APP_LABEL: plan.app, RELEASE_LABEL: self.release_id,
                      DIGEST_LABEL: digest}
            self.new_id = self._step("create", lambda: engine.create_like(
                plan.current.id, plan.image, f"{plan.current.name}.{self.release_id}", labels))
            if plan.strategy == STOP_FIRST:
                self._step("stop old", lambda: engine.stop(plan.current.id))
                old_stopped = True
            new_id = self.new_id
            self._step("start", lambda: engine.start(new_id))
            result = wait_healthy(engine, self._prober, new_id, self._gate,
                                  cancelled=self._cancelled)
            self._ended("health gate", OK if result.passed else FAILED, result.waited,
                        result.reason)
            if not result.passed:
                outcome = CANCELLED if result.reason == "cancelled" else FAILED
                return self._undo(outcome, result.reason, old_stopped)
            self._step("switch", self._switch)
        except OpsuiError as exc:
            return self._undo(FAILED, str(exc), old_stopped)
        self._finish(OK, f"{plan.image} ({digest}) serves")
        return OK

    def _switch(self) -> str:
        plan, engine = self.plan, self._engine
        assert self.new_id is not None
        old = engine.get_container(plan.current.id)
        if old is not None and old.state is ContainerState.RUNNING:
            engine.stop(plan.current.id)
        kept = f"{plan.current.name}.before-{self.release_id}"
        engine.rename(plan.current.id, kept)
        engine.rename(self.new_id, plan.current.name)
        return f"old container kept as {kept}"

    def _undo(self, outcome: str, reason: str, old_stopped: bool) -> str:
        engine, detail = self._engine, reason
        if self.new_id is not None:
            detail += "\nlast lines of the new container:\n" + self._last_lines(self.new_id)
            try:
                engine.stop(self.new_id)
            except OpsuiError as exc:
                detail += f"\n(could not stop it: {exc})"
        if old_stopped:
            try:
                engine.start(self.plan.current.id)
            except OpsuiError as exc:
                detail += f"\nTHE OLD CONTAINER DID NOT START AGAIN: {exc}"
                self._finish(outcome, detail)
                raise ActionFailed(f"deploy failed and {self.plan.current.name} did not "
                                   f"start again: {exc}",
                                   hint=f"Start it by hand: opsui start {self.plan.current.name}"
                                   ) from None
        self._finish(outcome, detail)
        return outcome

    def _last_lines(self, container_id: str, count: int = 20) -> str:
        try:
            stream = self._engine.logs(container_id, tag=0, tail=count, follow=False)
            lines = [raw for batch in stream for _, _, raw in batch]
        except OpsuiError as exc:
            return f"(unavailable: {exc})"
        return clean(b"\n".join(lines).decode("utf-8", "replace"), 4000)

    def _finish(self, outcome: str, reason: str) -> None:
        self._journal.append({"type": "outcome", "release": self.release_id,
                              "outcome": outcome, "reason": clean(reason, 6000),
                              "at": _now()})
