"""An interrupted release (opsui killed, the link lost mid-deploy): finish it or undo it.

Nothing is decided on its own. The next opsui shows the unfinished release and the lock
it left, and the operator picks: **finish** (gate the new container, then switch to it)
or **roll back** (stop the new one, make sure the old one runs under the app's name).
Either takes over the stale lock only if it is still the one the release left, and
writes the outcome of that same release, so the history reads as one story.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.models import Container, ContainerState, find_container
from opsui.domain.operations.compose_keep import find_kept_copy, restore_to_serve
from opsui.domain.operations.deploy import post_mortem, stop_quietly
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.operations.health_gate import GateSettings, gate_step
from opsui.domain.operations.lock import LockHolder
from opsui.domain.operations.policy import Action
from opsui.domain.operations.release_run import Cancelled, ReleaseRun
from opsui.domain.operations.replicas import heal_aliases
from opsui.domain.operations.traffic import Handover, TrafficSettings, switch_names
from opsui.domain.ports import ContainerEngine, HealthProber, TrafficEngine
from opsui.domain.releases import CANCELLED, FAILED, INTERRUPTED, OK, Release

FINISH, ABORT = "finish", "rollback"


@dataclass(frozen=True)
class RecoveryPlan:
    app: str
    host: str
    release: Release
    choice: str
    """FINISH or ABORT."""
    name: str
    """The name the serving container must hold."""
    new: Container | None
    old: Container | None
    lock: LockHolder | None

    @property
    def last_step(self) -> str:
        return self.release.steps[-1].name if self.release.steps else "(none)"

    @property
    def request(self) -> ActionRequest:
        action = Action.DEPLOY if self.choice == FINISH else Action.ROLLBACK
        verb = "finish" if self.choice == FINISH else "roll back"
        return ActionRequest(action, self.host, self.release.id, self.app, app=self.app,
                             detail=f"({verb} interrupted release {self.release.id})")


def plan_recovery(host: str, app: str, engine: ContainerEngine, release: Release,
                  lock: LockHolder | None, choice: str) -> RecoveryPlan:
    new = engine.get_container(release.container_id) if release.container_id else None
    old_id = str(release.extra.get("replaces_container") or "")
    rollout = len(release.extra.get("replicas") or ()) > 1
    old = replaced_container(engine, old_id, _app_name(None, new, release), release.id)
    if choice == FINISH and new is None:
        raise ActionRefused(f"{app}: release {release.id} has no new container to finish "
                            "with", hint=f"Roll it back instead: opsui recover {app} --rollback")
    if choice == FINISH and rollout:
        raise ActionRefused(f"{app}: release {release.id} was releasing "
                            f"{len(release.extra['replicas'])} replicas one by one; finishing "
                            "half a rollout is not supported",
                            hint=f"Roll it back (opsui recover {app} --rollback), then deploy "
                                 "again.")
    if choice == ABORT and old is None:
        # never back to --finish when that refuses too (a rollout): no loop of hints
        raise ActionRefused(f"{app}: the container release {release.id} replaced is gone",
                            hint=(f"Deploy a known version: opsui deploy {app} VERSION"
                                  if rollout or new is None else
                                  f"Finish the release instead (opsui recover {app} "
                                  "--finish), or deploy a known version."))
    name = _app_name(old, new, release)
    return RecoveryPlan(app, host, release, choice, name, new, old, lock)


def _app_name(old: Container | None, new: Container | None, release: Release) -> str:
    for candidate in (old, new):
        if candidate is not None:
            base = candidate.name
            for suffix in (f".before-{release.id}", f".{release.id}-restored",
                           f".{release.id}"):
                base = base.removesuffix(suffix)
            return base
    return str(release.extra.get("app") or "")


def replaced_container(engine: ContainerEngine, old_id: str, name: str,
                       release_id: str) -> Container | None:
    """What is left of the container a release replaced: itself, its kept copy (made
    outside compose), or, found by name, the kept ``NAME.before-rID`` or the
    ``NAME.rID-restored`` copy a switch back made before it was cut off (issue 13: a
    second Ctrl-C during a replica's way back)."""
    found = engine.get_container(old_id) if old_id else None
    found = found or find_kept_copy(engine, old_id)
    if found is not None or not name:
        return found
    containers = engine.list_containers()
    for candidate in (f"{name}.{release_id}-restored", f"{name}.before-{release_id}"):
        copy = find_container(containers, candidate)
        if copy is not None:
            return copy
    return None


class Recovery:
    def __init__(self, plan: RecoveryPlan, engine: ContainerEngine,
                 prober: HealthProber | None, run: ReleaseRun, gate: GateSettings,
                 traffic: TrafficEngine | None = None) -> None:
        self.plan = plan
        self._engine = engine
        self._prober = prober
        self._run = run
        self._gate = gate
        self._traffic = traffic
        """To give a drained old container its network aliases back."""

    def run(self, gate: ActionGate, answer: bool | str | None) -> str:
        plan = self.plan
        body = self._finish if plan.choice == FINISH else self._abort
        return self._run.gated(gate, plan.request, answer, plan.release.version, body,
                               take_over=plan.lock or NO_LOCK)

    def _finish(self) -> str:
        plan, engine, run = self.plan, self._engine, self._run
        assert plan.new is not None
        new_id = plan.new.id
        try:
            current = engine.get_container(new_id)
            if current is not None and current.state is not ContainerState.RUNNING:
                run.step("start", lambda: engine.start(new_id))
            result = gate_step(run, engine, self._prober, new_id, self._gate)
            if not result.passed:
                detail = result.reason + post_mortem(engine, new_id) + stop_quietly(engine,
                                                                                    new_id)
                detail += self._old_serves()
                outcome = CANCELLED if result.reason == "cancelled" else FAILED
                run.finish(outcome, f"finishing after the interruption: {detail}")
                return outcome
            run.step("switch", self._switch_to_new)
        except Cancelled as exc:
            run.finish(CANCELLED, str(exc))
            return CANCELLED
        except OpsuiError as exc:
            run.finish(FAILED, f"finishing after the interruption: {exc}")
            return FAILED
        replaced = str(plan.release.extra.get("replaces") or "")
        if plan.release.action == "rollback" and replaced:
            run.journal.append({"type": "rolled_back", "release": replaced,
                                "by": plan.release.id})
        run.finish(OK, "finished after the interruption")
        return OK

    def _switch_to_new(self) -> str:
        """Switch, or finish a half-done switch, or see that it was done before the
        interruption (renaming a container to the name it has is refused by Docker)."""
        plan = self.plan
        assert plan.new is not None
        new = self._engine.get_container(plan.new.id) or plan.new
        if plan.old is None:
            if new.name == plan.name:
                return f"{plan.name} already held the new container"
            self._engine.rename(plan.new.id, plan.name)
            return f"{plan.new.name} renamed {plan.name}"
        old = self._engine.get_container(plan.old.id) or plan.old
        if old.name == f"{plan.name}.before-{plan.release.id}":  # the switch was under way
            done = ""
            if old.state is ContainerState.RUNNING:
                self._engine.stop(old.id)
                done = f"stopped {old.name}; "
            if new.name == plan.name:
                return done + "the switch was done before the interruption"
            self._engine.rename(plan.new.id, plan.name)
            return done + "completed the interrupted switch"
        return switch_names(self._engine, old, plan.new.id, plan.name,
                            f"{plan.name}.before-{plan.release.id}")

    def _abort(self) -> str:
        plan, run = self.plan, self._run
        try:
            detail = run.step("restore", self._restore)
        except OpsuiError as exc:
            run.finish(FAILED, f"rolling back after the interruption: {exc}")
            return FAILED
        run.finish(INTERRUPTED, f"interrupted at '{plan.last_step}'; rolled back: {detail}")
        return INTERRUPTED

    def _restore(self) -> str:
        plan = self.plan
        assert plan.old is not None
        done = [self._put_back(plan.new, plan.old, plan.name)]
        for record in self._replica_notes():  # a rollout of replicas: every one of them
            new = self._engine.get_container(str(record.get("id") or ""))
            old_id = str(record.get("replaces") or "")
            name = str(record.get("name") or "")
            old = replaced_container(self._engine, old_id, name, plan.release.id)
            if old is None or not name:
                done.append(f"replica {name or old_id[:12]}: its old container is gone")
                continue
            done.append(self._put_back(new, old, name))
        done.append(self._heal_aliases(plan.name))
        return "; ".join(d.strip() for d in done if d.strip())

    def _heal_aliases(self, name: str) -> str:
        """Every running replica of the service holds the aliases its others hold: a
        replica cut off between leaving them and stopping serves nothing otherwise."""
        serving = find_container(self._engine.list_containers(), name)
        if serving is None or self._traffic is None:
            return ""
        handover = Handover(self._engine, self._traffic, self._run, TrafficSettings())
        return "; ".join(f"{fixed.name} back in {joined}" for fixed, joined
                         in heal_aliases(self._engine, self._traffic, handover, serving))

    def _replica_notes(self) -> list[dict[str, object]]:
        return [dict(r) for r in self._run.journal.read().records
                if r.get("type") == "replica" and r.get("release") == self.plan.release.id]

    def _put_back(self, new: Container | None, old: Container, name: str) -> str:
        """One replaced container serves again under ``name``, with the network aliases
        it left when it was drained; the release's new one is stopped."""
        engine = self._engine
        done: list[str] = []
        aliases: dict[str, tuple[str, ...]] = {}
        if new is not None and new.id != old.id:
            found = engine.get_container(new.id)
            if found is not None and self._traffic is not None:
                aliases = self._traffic.aliases(found.id)
            if found is not None and found.state is ContainerState.RUNNING:
                engine.stop(found.id)
                done.append(f"stopped {found.name}")
            if found is not None and found.name == name:
                engine.rename(found.id, f"{name}.{self.plan.release.id}")
        done.append(self._serves_again(old, name))
        if aliases:
            serving = find_container(engine.list_containers(), name)
            if serving is not None:
                handover = Handover(engine, self._traffic, self._run, TrafficSettings())
                joined = handover.join_like(serving.id, aliases)
                if joined:
                    done.append(f"{name} back in {joined}")
        return "; ".join(d.strip() for d in done if d.strip())

    def _old_serves(self) -> str:
        """The container the release replaced runs again, under the app's name."""
        plan = self.plan
        if plan.old is None:
            return ""
        return self._serves_again(plan.old, plan.name)

    def _serves_again(self, replaced: Container, name: str) -> str:
        engine = self._engine
        old = engine.get_container(replaced.id)
        if old is None:
            return "\nthe old container is gone"
        serving_id = restore_to_serve(engine, old, f"{name}.{self.plan.release.id}-restored")
        if serving_id != old.id:  # a kept copy: compose's labels back on a new copy
            engine.remove(old.id)
            old = engine.get_container(serving_id) or old
        if old.name != name:
            engine.rename(old.id, name)
        if old.state is not ContainerState.RUNNING:
            engine.start(old.id)
            return f"\n{name} ({old.image}) started again"
        return f"\n{name} ({old.image}) serves"


NO_LOCK = LockHolder("-", "-", "-", message="no lock was left")
"""Stands for "the release left no lock": take-over then checks the lock is still free."""
