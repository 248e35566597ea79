"""Rolling back: boot the release that is still on the host, gate it, then stop the current.

A rollback never pulls: a moving tag (``latest``) may mean another image today. It
starts the kept container of the target release, or, when only that container was
removed, a new one from the exact image id still on the host; when neither is there
the plan is refused before anything is touched. The current release keeps serving
until the target passes its health gate (unless fixed host ports force stop-first). A
rollback that fails is stopped and reported; opsui never rolls back a rollback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from opsui.domain.errors import ActionFailed, ActionRefused, OpsuiError
from opsui.domain.logfeed import RELEASE_LABEL
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.compose_keep import restore_to_serve
from opsui.domain.operations.deploy import (
    Switched,
    needs_stop_first,
    post_mortem,
    return_replica,
    step_name,
    stop_quietly,
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
from opsui.domain.operations.traffic import (
    Handover,
    TrafficSettings,
    switch_names,
    traffic_notes,
    traffic_steps,
)
from opsui.domain.ports import ContainerEngine, HealthProber, TrafficEngine
from opsui.domain.release_copies import base_name
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
    replicas: tuple[tuple[Container, Container | None], ...] = ()
    """The other running replicas, each with the target's container for it (None: made
    from the target's image), rolled back one after the other after ``current``."""
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()
    traffic: TrafficSettings = field(default_factory=TrafficSettings)
    notes: tuple[str, ...] = ()

    @property
    def pairs(self) -> tuple[tuple[Container, Container | None], ...]:
        """(serving container, the target's container for it), in order."""
        return ((self.current, self.target_container), *self.replicas)

    @property
    def boots(self) -> str:
        if self.target_container is not None:
            return f"kept container {self.target_container.name}"
        return f"image {self.target.image_id[:19]} (its container was removed)"

    @property
    def steps(self) -> tuple[str, ...]:
        count = len(self.pairs)
        switch = ("switch",) if self.strategy == STOP_FIRST else traffic_steps(
            bool(self.aliases), self.traffic.proxy is not None)
        steps: list[str] = []
        for current, kept in self.pairs:
            prepare = ("create",) if kept is None else (
                ("join aliases",) if self.aliases and self.strategy != STOP_FIRST else ())
            stop = ("stop current",) if self.strategy == STOP_FIRST else ()
            steps += [step_name(s, current, count)
                      for s in (*prepare, *stop, "start", "health gate", *switch)]
        return ("lock", *steps, "record")

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
                  current_release: Release | None, target: Release | None, *,
                  replicas: tuple[Container, ...] = (),
                  aliases: dict[str, tuple[str, ...]] | None = None,
                  traffic: TrafficSettings | None = None) -> RollbackPlan:
    """Check the target is still on the host and preview it; refuse before any change."""
    if target is None:
        raise ActionRefused(f"{app}: no earlier release to roll back to",
                            hint="Only releases that ended ok (and were not rolled back) "
                                 "are rollback targets; see `opsui history`.")
    kept = engine.get_container(target.container_id) if target.container_id else None
    if kept is not None and replicas and base_name(kept.name) != current.name:
        # the release's container is another replica's: this one boots its own kept one
        kept = target_replica(current, engine.list_containers(), target, current_release)
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
    traffic = traffic or TrafficSettings()
    aliases = aliases or {}
    pairs = tuple((replica, target_replica(replica, engine.list_containers(), target,
                                           current_release))
                   for replica in replicas)
    notes = traffic_notes(aliases, traffic, app, strategy == STOP_FIRST)
    if pairs:
        notes += (f"replicas: {len(pairs) + 1} containers ({current.name}, "
                  f"{', '.join(c.name for c, _ in pairs)}), rolled back one at a time, each "
                  "through its gate before the next; a failed gate stops it and returns "
                  "those already switched",)
    return RollbackPlan(app, host, current, current_release, target, kept, strategy, changes,
                        replicas=pairs, aliases=tuple(aliases.items()), traffic=traffic,
                        notes=notes)


def target_replica(replica: Container, containers: list[Container], target: Release,
                   current_release: Release | None) -> Container | None:
    """The target release's stopped container for one replica: one labelled with the
    target's release and made from (or kept as) this replica's name, else the one the
    current release kept when it replaced this replica; None: boot the image."""
    def made_from(container: Container) -> bool:
        return (container.state is not ContainerState.RUNNING
                and base_name(container.name) == replica.name)

    labelled = [c for c in containers if made_from(c)
                and c.labels.get(RELEASE_LABEL) == target.id]
    if labelled:
        return labelled[0]
    if current_release is not None and str(current_release.extra.get("replaces") or "") \
            == target.id:
        kept = f"{replica.name}.before-{current_release.id}"
        return next((c for c in containers if c.name == kept and made_from(c)), None)
    return None


class Rollback:
    """Runs one :class:`RollbackPlan`; ``run`` returns the outcome."""

    def __init__(self, plan: RollbackPlan, engine: ContainerEngine,
                 prober: HealthProber | None, run: ReleaseRun, gate: GateSettings,
                 traffic: TrafficEngine | None = None) -> None:
        self.plan = plan
        self._engine = engine
        self._prober = prober
        self._run = run
        self._gate = gate
        self._traffic = traffic
        self.release_id = run.release_id
        self.switched: list[Switched] = []
        self.after_success: Callable[[], str] = lambda: ""
        """Called after a good switch (the facade prunes old releases)."""
        self.compose_labels: Callable[[], dict[str, str]] = dict
        """Labels the facade wants on a container made from the target's image."""

    def run(self, gate: ActionGate, answer: bool | str | None) -> str:
        return self._run.gated(gate, self.plan.request, answer, self.plan.target.version,
                               self._locked)

    def _handover(self) -> Handover:
        return Handover(self._engine, self._traffic, self._run, self.plan.traffic)

    def _locked(self) -> str:
        plan, run = self.plan, self._run
        target = plan.target
        run.begin("rollback", host=plan.host, image=target.image, digest=target.digest,
                  version=target.version, target=target.id, strategy=plan.strategy,
                  replaces=plan.current_release.id if plan.current_release else "",
                  replaces_container=plan.current.id, replaces_image=plan.current.image,
                  **({"replicas": [c.id for c, _ in plan.pairs]} if plan.replicas else {}))
        cut_short = ""
        for index, (current, kept) in enumerate(plan.pairs):
            ended = self._roll_one(current, kept, index == 0)
            if ended is not None:
                return ended
            cut_short = self._cut_short
            if cut_short and len(self.switched) < len(plan.pairs):
                return self._stop(CANCELLED, "cancelled by the operator during the drain "
                                  f"of {current.name}", None, False)
        if plan.current_release is not None:
            self._run.journal.append({"type": "rolled_back",
                                      "release": plan.current_release.id,
                                      "by": self.release_id})
        pruned = run.optional_step("retention", self.after_success)
        run.finish(OK, f"{target.version} ({target.image_id[:19]}) serves "
                       f"again{cut_short}{pruned}")
        return OK

    _cut_short = ""

    def _roll_one(self, current: Container, kept: Container | None,
                  first: bool) -> str | None:
        """One replica back to the target: None when it serves, else the outcome."""
        plan, engine, run = self.plan, self._engine, self._run
        count = len(plan.pairs)
        handover = self._handover()
        target_id: str | None = None
        current_stopped = False

        def named(step: str) -> str:
            return step_name(step, current, count)

        try:
            target_id = self._prepare(current, kept, named)
            run.note("container" if first else "replica", id=target_id,
                     image_id=plan.target.image_id, replaces=current.id, name=current.name)
            chosen = target_id
            if kept is not None and plan.aliases and plan.strategy != STOP_FIRST:
                like = handover.aliases_of(current.id)
                run.step(named("join aliases"), lambda: handover.join_like(chosen, like))
            if plan.strategy == STOP_FIRST:
                run.step(named("stop current"), lambda: engine.stop(current.id))
                current_stopped = True
            run.step(named("start"), lambda: engine.start(chosen))
            result = gate_step(run, engine, self._prober, chosen, self._gate,
                               named("health gate"))
            if not result.passed:
                outcome = CANCELLED if result.reason == "cancelled" else FAILED
                return self._stop(outcome, result.reason, target_id, current_stopped,
                                  handover, current)
            kept_name = f"{current.name}.before-{self.release_id}"
            if plan.strategy == STOP_FIRST:
                run.step(named("switch"), lambda: switch_names(engine, current, chosen,
                                                               current.name, kept_name))
            else:
                handover.hand_over(current, chosen, current.name, kept_name, named)
                self._cut_short = handover.cut_short
        except Cancelled as exc:
            return self._stop(CANCELLED, str(exc), target_id, current_stopped, handover,
                              current)
        except OpsuiError as exc:
            return self._stop(FAILED, str(exc), target_id, current_stopped, handover,
                              current)
        self.switched.append(Switched(current, chosen))
        return None

    def _prepare(self, current: Container, kept: Container | None,
                 named: Callable[[str], str]) -> str:
        """The target's kept container, or a new one from its image (never pulled)."""
        plan = self.plan
        if kept is not None:
            found = self._engine.get_container(kept.id)
            if found is None:
                raise ActionFailed(f"the kept container {kept.name} vanished")
            if found.state is ContainerState.RUNNING:
                raise ActionFailed(f"the kept container {found.name} is already running",
                                   hint="Stop it, or look at what started it.")
            return restore_to_serve(self._engine, found,  # compose's labels back on
                                    f"{current.name}.{self.release_id}",
                                    self.compose_labels())
        labels = labels_for(plan.app, self.release_id, plan.target.version,
                            plan.target.digest, self.compose_labels())
        return self._run.step(named("create"), lambda: self._engine.create_like(
            current.id, plan.target.image_id, f"{current.name}.{self.release_id}", labels))

    def _stop(self, outcome: str, reason: str, target_id: str | None,
              current_stopped: bool, handover: Handover | None = None,
              current: Container | None = None) -> str:
        """A failed rollback stops here: the target is stopped, and the release that was
        serving is started again if the rollback had stopped it; replicas already
        rolled back return to the release that was serving. Nothing more is tried."""
        plan, run = self.plan, self._run
        current = current or plan.current
        detail = f"rollback failed: {reason}" if outcome == FAILED else reason
        if handover is not None:
            detail += handover.undo(current.id)
        if target_id is not None:
            detail += post_mortem(self._engine, target_id)
            detail += stop_quietly(self._engine, target_id)
        if handover is not None:
            detail += handover.reload_after_undo()
        if current_stopped:
            try:
                self._engine.start(current.id)
                detail += f"\n{current.name} (the release that was serving) started again"
            except OpsuiError as exc:
                detail += f"\nTHE CURRENT CONTAINER DID NOT START AGAIN: {exc}"
        for done in reversed(self.switched):
            handover = replace(self._handover(), cancelled=threading.Event())
            try:
                detail += "\n" + return_replica(self._engine, self._prober, run, self._gate,
                                                 handover, done.old, done.new_id,
                                                 self.release_id)
            except OpsuiError as exc:
                detail += f"\nTHE REPLICA {done.old.name} DID NOT GO BACK: {exc}"
        self.switched.clear()
        if outcome == FAILED:
            detail += "\nnothing more was tried: opsui never rolls back a rollback"
        run.finish(outcome, detail)
        return outcome
