"""Rolling back: boot the release that is still on the host, gate it, then stop the current.

A rollback never pulls: a moving tag (``latest``) may mean another image today. It
starts the kept container of the target release, or, when only that container was
removed, a new one from the exact image id still on the host; when neither is there
the plan is refused before anything is touched. The current release keeps serving
until the target passes its health gate (unless fixed host ports force stop-first). A
rollback that fails is stopped and reported; opsui never rolls back a rollback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from opsui.domain.errors import ActionFailed, ActionRefused, OpsuiError
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.deploy import (
    needs_stop_first,
    post_mortem,
    stop_quietly,
    switch_names,
)
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.operations.health_gate import GateSettings, gate_step
from opsui.domain.operations.policy import Action
from opsui.domain.operations.release_run import (
    START_FIRST,
    STOP_FIRST,
    Cancelled,
    ReleaseRun,
    labels_for,
)
from opsui.domain.ports import ContainerEngine, HealthProber
from opsui.domain.releases import CANCELLED, FAILED, OK, Release


@dataclass(frozen=True)
class EnvChange:
    """One env variable that differs between the current and the target release."""

    key: str
    current: str | None
    target: str | None


@dataclass(frozen=True)
class RollbackPlan:
    """What the rollback confirmation previews."""

    app: str
    host: str
    current: Container
    current_release: Release | None
    target: Release
    target_container: Container | None
    """The kept container of the target, or None when it boots from the image."""
    strategy: str
    env_changes: tuple[EnvChange, ...] = ()

    @property
    def boots(self) -> str:
        if self.target_container is not None:
            return f"kept container {self.target_container.name}"
        return f"image {self.target.image_id[:19]} (its container was removed)"

    @property
    def steps(self) -> tuple[str, ...]:
        prepare = () if self.target_container is not None else ("create",)
        stop = ("stop current",) if self.strategy == STOP_FIRST else ()
        return ("lock", *prepare, *stop, "start", "health gate", "switch", "record")

    def age_seconds(self, now: datetime | None = None) -> float | None:
        try:
            started = datetime.fromisoformat(self.target.started_at)
        except ValueError:
            return None
        return ((now or datetime.now(UTC)) - started).total_seconds()

    @property
    def request(self) -> ActionRequest:
        return ActionRequest(Action.ROLLBACK, self.host, self.current.id, self.app,
                             app=self.app, detail=f"to {self.target.version or self.target.id}")


def env_changes(current: tuple[tuple[str, str], ...],
                target: tuple[tuple[str, str], ...]) -> tuple[EnvChange, ...]:
    """Env that differs (values as inspect shows them: secrets already masked)."""
    now, then = dict(current), dict(target)
    return tuple(EnvChange(key, now.get(key), then.get(key))
                 for key in sorted(now.keys() | then.keys()) if now.get(key) != then.get(key))


def plan_rollback(host: str, app: str, engine: ContainerEngine, current: Container,
                  current_release: Release | None, target: Release | None) -> RollbackPlan:
    """Check the target is still on the host and preview it; refuse before any change."""
    if target is None:
        raise ActionRefused(f"{app}: no earlier release to roll back to",
                            hint="Only releases that ended ok (and were not rolled back) "
                                 "are rollback targets; see `opsui history`.")
    kept = engine.get_container(target.container_id) if target.container_id else None
    if kept is None and not (target.image_id and engine.image_exists(target.image_id)):
        raise ActionRefused(
            f"{app}: release {target.id} ({target.version}) is no longer on {host}: its "
            f"container and image were removed",
            hint="Deploy that version again (`opsui deploy APP TAG`): it will be pulled.")
    changes: tuple[EnvChange, ...] = ()
    try:
        now_env = engine.inspect(current.id).env
        then_env = engine.inspect(kept.id).env if kept is not None else now_env
        changes = env_changes(now_env, then_env)
    except OpsuiError:
        pass
    strategy = STOP_FIRST if needs_stop_first(engine, current) else START_FIRST
    return RollbackPlan(app, host, current, current_release, target, kept, strategy, changes)


class Rollback:
    """Runs one :class:`RollbackPlan`; ``run`` returns the outcome."""

    def __init__(self, plan: RollbackPlan, engine: ContainerEngine,
                 prober: HealthProber | None, run: ReleaseRun, gate: GateSettings) -> None:
        self.plan = plan
        self._engine = engine
        self._prober = prober
        self._run = run
        self._gate = gate
        self.release_id = run.release_id
        self.after_success: Callable[[], str] = lambda: ""
        """Called after a good switch (the facade prunes old releases)."""

    def run(self, gate: ActionGate, answer: bool | str | None) -> str:
        return self._run.gated(gate, self.plan.request, answer, self.plan.target.version,
                               self._locked)

    def _locked(self) -> str:
        plan, engine, run = self.plan, self._engine, self._run
        target = plan.target
        run.begin("rollback", host=plan.host, image=target.image, digest=target.digest,
                  version=target.version, target=target.id, strategy=plan.strategy,
                  replaces=plan.current_release.id if plan.current_release else "",
                  replaces_container=plan.current.id, replaces_image=plan.current.image)
        target_id: str | None = None
        current_stopped = False
        try:
            target_id = self._prepare()
            run.note("container", id=target_id, image_id=target.image_id)
            if plan.strategy == STOP_FIRST:
                run.step("stop current", lambda: engine.stop(plan.current.id))
                current_stopped = True
            chosen = target_id
            run.step("start", lambda: engine.start(chosen))
            result = gate_step(run, engine, self._prober, chosen, self._gate)
            if not result.passed:
                outcome = CANCELLED if result.reason == "cancelled" else FAILED
                return self._stop(outcome, result.reason, target_id, current_stopped)
            run.step("switch", lambda: switch_names(
                engine, plan.current, chosen, plan.current.name,
                f"{plan.current.name}.before-{self.release_id}"))
        except Cancelled as exc:
            return self._stop(CANCELLED, str(exc), target_id, current_stopped)
        except OpsuiError as exc:
            return self._stop(FAILED, str(exc), target_id, current_stopped)
        if plan.current_release is not None:
            self._run.journal.append({"type": "rolled_back",
                                      "release": plan.current_release.id,
                                      "by": self.release_id})
        pruned = run.optional_step("retention", self.after_success)
        run.finish(OK, f"{target.version} ({target.image_id[:19]}) serves again{pruned}")
        return OK

    def _prepare(self) -> str:
        """The target's kept container, or a new one from its image (never pulled)."""
        plan = self.plan
        if plan.target_container is not None:
            kept = self._engine.get_container(plan.target_container.id)
            if kept is None:
                raise ActionFailed(f"the kept container {plan.target_container.name} "
                                   f"vanished")
            if kept.state is ContainerState.RUNNING:
                raise ActionFailed(f"the kept container {kept.name} is already running",
                                   hint="Stop it, or look at what started it.")
            return kept.id
        labels = labels_for(plan.app, self.release_id, plan.target.version,
                            plan.target.digest)
        return self._run.step("create", lambda: self._engine.create_like(
            plan.current.id, plan.target.image_id, f"{plan.current.name}.{self.release_id}",
            labels))

    def _stop(self, outcome: str, reason: str, target_id: str | None,
              current_stopped: bool) -> str:
        """A failed rollback stops here: the target is stopped, and the release that was
        serving is started again if the rollback had stopped it. Nothing more is tried."""
        plan, run = self.plan, self._run
        detail = f"rollback failed: {reason}" if outcome == FAILED else reason
        if target_id is not None:
            detail += post_mortem(self._engine, target_id)
            detail += stop_quietly(self._engine, target_id)
        if current_stopped:
            try:
                self._engine.start(plan.current.id)
                detail += f"\n{plan.current.name} (the release that was serving) started again"
            except OpsuiError as exc:
                detail += f"\nTHE CURRENT CONTAINER DID NOT START AGAIN: {exc}"
        if outcome == FAILED:
            detail += "\nnothing more was tried: opsui never rolls back a rollback"
        run.finish(outcome, detail)
        return outcome
