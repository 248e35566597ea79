"""Deploying another tag of a container's image: the steps, their order and their undo.

Kept here, in the domain, so the TUI and ``opsui deploy`` run the same thing: take the
app's lock on the host, record the release in the host's journal, pull (recording the
digest), create the new container with everything the old one had, start it (after
stopping the old one when it publishes fixed host ports the new one could not bind
alongside), gate on health, switch names, stop the old one and keep it for rollback,
record the outcome, prune old releases, release the lock. A new version that fails its
gate never takes over: it is stopped (kept, with its last log lines in the journal) and
the old one serves again. An app with a migration gets "backup" and "migrate" steps
between pull and create (:attr:`Deployment.before_start`): lock, pull, backup, migrate,
swap, record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from opsui.domain.errors import ActionFailed, ActionRefused, OpsuiError
from opsui.domain.logfeed import RELEASE_LABEL
from opsui.domain.models import Container, ContainerState, find_container, split_image
from opsui.domain.operations.compose_keep import restore_to_serve
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.operations.health_gate import GateSettings, gate_step
from opsui.domain.operations.policy import Action
from opsui.domain.operations.release_run import (
    DIGEST_LABEL,
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
from opsui.domain.releases import CANCELLED, FAILED, OK
from opsui.domain.sanitize import clean

DEPLOY_STEPS = ("lock", "pull", "create", "start", "health gate", "switch", "retention",
                "record")
"""The order of a container deploy; ``pre_start`` steps ("backup", "migrate") go after
"pull"; "switch" grows into the traffic steps (:func:`traffic_steps`) of an app reached
by network alias or through a named proxy; replicas repeat create .. switch each."""

REPLICA_STEPS = ("create", "start", "health gate")


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
    current_digest: str = ""
    current_release: str = ""
    replicas: tuple[Container, ...] = ()
    """The other running containers of the app's compose service, released one after
    the other after ``current`` (start-first: never one fewer serving)."""
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(network, aliases) ``current`` is reached by: the new one joins, the old leaves."""
    traffic: TrafficSettings = field(default_factory=TrafficSettings)
    notes: tuple[str, ...] = ()
    """What happens to requests while it switches, in words (shown with the plan)."""

    @property
    def current_image(self) -> str:
        return self.current.image

    @property
    def targets(self) -> tuple[Container, ...]:
        """Every container the release replaces, in order."""
        return (self.current, *self.replicas)

    @property
    def request(self) -> ActionRequest:
        return ActionRequest(Action.DEPLOY, self.host, self.current.id, self.app,
                             app=self.app, detail=f"to {self.version}")


def needs_stop_first(engine: ContainerEngine, container: Container) -> bool:
    """Published on a host port the operator chose: a second copy could not bind it
    alongside, so the old one must stop first (and start again if the new one fails)."""
    return bool(engine.inspect(container.id).fixed_host_ports)


def step_name(step: str, replica: Container, replicas: int) -> str:
    """A replica's own steps carry its name when there are several."""
    return f"{step} ({replica.name})" if replicas > 1 else step


def plan_deploy(host: str, current: Container, tag: str, app: str | None = None,
                repository: str | None = None, stop_first: bool = False,
                pre_start: tuple[str, ...] = (), *, replicas: tuple[Container, ...] = (),
                aliases: dict[str, tuple[str, ...]] | None = None,
                traffic: TrafficSettings | None = None) -> DeployPlan:
    repository = repository or split_image(current.image)[0]
    for other in replicas:  # services of one app share one release: one repository
        if split_image(other.image)[0] != split_image(current.image)[0]:
            raise ActionRefused(
                f"{app or current.name}: {other.name} runs {split_image(other.image)[0]}, "
                f"{current.name} runs {split_image(current.image)[0]}: the services of one "
                "release must run one image repository",
                hint="Declare them as separate apps in opsui.toml.")
    traffic = traffic or TrafficSettings()
    aliases = aliases or {}
    switch = ("switch",) if stop_first else traffic_steps(bool(aliases),
                                                          traffic.proxy is not None)
    targets = (current, *replicas)
    per_replica = tuple(step_name(s, replica, len(targets)) for replica in targets
                        for s in (*(("stop old",) if stop_first else ()), *REPLICA_STEPS,
                                  *switch)
                        if not (stop_first and s == "create"))
    if stop_first:  # create before stopping anything: a bad image stops nothing
        per_replica = tuple(step_name(s, r, len(targets)) for r in targets
                            for s in ("create", "stop old", "start", "health gate", "switch"))
    steps = ("lock", "pull", *pre_start, *per_replica, "retention", "record")
    notes = traffic_notes(aliases, traffic, app or current.name, stop_first)
    if replicas:
        notes += (f"replicas: {len(targets)} containers ({', '.join(c.name for c in targets)})"
                  f", released one at a time, each through its gate before the next; a "
                  "failed gate stops the rollout and returns those already switched to "
                  f"{current.image}",)
    return DeployPlan(app or current.name, host, current, f"{repository}:{tag}", tag,
                      STOP_FIRST if stop_first else START_FIRST, steps,
                      current_digest=current.labels.get(DIGEST_LABEL, ""),
                      current_release=current.labels.get(RELEASE_LABEL, ""),
                      replicas=replicas, aliases=tuple(aliases.items()), traffic=traffic,
                      notes=notes)


@dataclass
class Switched:
    """A replica released so far: what it replaced and what replaced it."""

    old: Container
    new_id: str


class Deployment:
    """Runs one :class:`DeployPlan`; ``run`` returns the outcome (ok / failed / ...)."""

    def __init__(self, plan: DeployPlan, engine: ContainerEngine, prober: HealthProber | None,
                 run: ReleaseRun, gate: GateSettings,
                 traffic: TrafficEngine | None = None) -> None:
        self.plan = plan
        self._engine = engine
        self._prober = prober
        self._run = run
        self._gate = gate
        self._traffic = traffic
        self.release_id = run.release_id
        self.new_id: str | None = None
        """The new container of the replica being released now."""
        self.switched: list[Switched] = []
        self._cut_short = ""
        self._aliases: dict[str, set[str]] = {}
        self.before_body: Callable[[], str] = lambda: ""
        """Called under the lock before the release is recorded (the facade adopts what
        runs now there); returns the id of the release serving now."""
        self.before_start: Callable[[], None] = lambda: None
        """Called under the lock after the pull (the target image is on the host) and
        before the new container is made: the facade's backup and migrate steps, which
        journal themselves on this run. Raising OpsuiError fails the deploy with
        nothing changed: the old version serves on."""
        self.after_success: Callable[[], str] = lambda: ""
        """Called after a good switch (the facade prunes old releases); says what it did."""
        self.compose_labels: Callable[[], dict[str, str]] = dict
        """Labels the facade wants on every new container (compose's view of it)."""

    def run(self, gate: ActionGate, answer: bool | str | None) -> str:
        """Through the gate (read-only, confirmation policy, audit), then under the lock."""
        return self._run.gated(gate, self.plan.request, answer, self.plan.version,
                               self._locked)

    def _handover(self) -> Handover:
        return Handover(self._engine, self._traffic, self._run, self.plan.traffic)

    def _locked(self) -> str:
        plan, engine, run = self.plan, self._engine, self._run
        replaces = self.before_body() or plan.current_release
        run.begin("deploy", host=plan.host, image=plan.image, version=plan.version,
                  strategy=plan.strategy, replaces=replaces,
                  replaces_container=plan.current.id, replaces_image=plan.current.image,
                  **({"replicas": [c.id for c in plan.targets]} if plan.replicas else {}))
        digest = ""
        self._cut_short = ""
        try:
            digest = run.step("pull", lambda: engine.pull(plan.image))
            run.note("digest", digest=digest)
            self.before_start()
            extra = self.compose_labels()  # asks compose: may fail, nothing changed yet
        except Cancelled as exc:
            return self._undo(CANCELLED, str(exc), False, None)
        except OpsuiError as exc:
            return self._undo(FAILED, str(exc), False, None)
        labels = labels_for(plan.app, self.release_id, plan.version, digest, extra)
        self._aliases = self._service_aliases()
        for old in plan.targets:
            ended = self._release_one(old, labels)
            if ended is not None:
                return ended
            if self._cut_short and len(self.switched) < len(plan.targets):
                # cancelled during a drain with replicas left: all back, not half
                return self._undo(CANCELLED, "cancelled by the operator during the drain "
                                  f"of {old.name}", False, None)
        pruned = run.optional_step("retention", self.after_success)
        run.finish(OK, f"{plan.image} ({digest}) serves{self._cut_short}{pruned}")
        return OK

    def _release_one(self, old: Container, labels: dict[str, str]) -> str | None:
        """Release one replica: create, (stop old,) start, gate, switch. None when it
        serves; else the outcome of the undone deploy."""
        plan, engine, run = self.plan, self._engine, self._run
        self.new_id = None
        old_stopped = False
        handover = self._handover()
        count = len(plan.targets)

        def named(step: str) -> str:
            return step_name(step, old, count)

        kept_name = f"{old.name}.before-{self.release_id}"
        try:
            new_id = self.new_id = run.step(named("create"), lambda: engine.create_like(
                old.id, plan.image, f"{old.name}.{self.release_id}", labels))
            kind = "container" if old is plan.current else "replica"
            run.note(kind, id=new_id, image_id=self._image_id(new_id), replaces=old.id,
                     name=old.name)
            self._join_service_aliases(handover, new_id)
            if plan.strategy == STOP_FIRST:
                run.step(named("stop old"), lambda: engine.stop(old.id))
                old_stopped = True
            run.step(named("start"), lambda: engine.start(new_id))
            result = gate_step(run, engine, self._prober, new_id, self._gate,
                               named("health gate"))
            if not result.passed:
                outcome = CANCELLED if result.reason == "cancelled" else FAILED
                return self._undo(outcome, result.reason, old_stopped, handover, old)
            if plan.strategy == STOP_FIRST:
                run.step(named("switch"), lambda: switch_names(engine, old, new_id, old.name,
                                                               kept_name))
            else:
                handover.hand_over(old, new_id, old.name, kept_name, named)
                self._cut_short = handover.cut_short
        except Cancelled as exc:
            return self._undo(CANCELLED, str(exc), old_stopped, handover, old)
        except OpsuiError as exc:
            return self._undo(FAILED, str(exc), old_stopped, handover, old)
        self.switched.append(Switched(old, new_id))
        self.new_id = None
        return None

    def _service_aliases(self) -> dict[str, set[str]]:
        """The aliases the replicas hold between them (a replica an interrupted release
        left without them would otherwise pass its lack on to its new container)."""
        union: dict[str, set[str]] = {}
        if self._traffic is None:
            return union
        for target in self.plan.targets:
            try:
                held = self._traffic.aliases(target.id)
            except OpsuiError:
                continue
            for network, names in held.items():
                union.setdefault(network, set()).update(names)
        return union

    def _join_service_aliases(self, handover: Handover, new_id: str) -> None:
        if not self._aliases:
            return
        own = handover.aliases_of(new_id)
        lacking = {network: tuple(sorted(names | set(own.get(network, ()))))
                   for network, names in self._aliases.items()
                   if not names <= set(own.get(network, ()))}
        if lacking:
            joined = handover.join_like(new_id, lacking)
            self._run.note("aliases", container=new_id, joined=joined,
                           why="its replicas hold them; the container it replaces did not")

    def _image_id(self, container_id: str) -> str:
        try:
            return self._engine.inspect(container_id).image_id
        except OpsuiError:
            return ""

    def _undo(self, outcome: str, reason: str, old_stopped: bool,
              handover: Handover | None, old: Container | None = None) -> str:
        plan, run = self.plan, self._run
        old = old or plan.current
        detail = reason
        if handover is not None:
            detail += handover.undo(old.id)
        if self.new_id is not None:
            detail += post_mortem(self._engine, self.new_id)
            detail += stop_quietly(self._engine, self.new_id)
        if handover is not None:
            detail += handover.reload_after_undo()
        if old_stopped:
            try:
                self._engine.start(old.id)
            except OpsuiError as exc:
                detail += f"\nTHE OLD CONTAINER DID NOT START AGAIN: {exc}"
                detail += self._return_switched()
                run.finish(outcome, detail)
                raise ActionFailed(f"deploy failed and {old.name} did not "
                                   f"start again: {exc}",
                                   hint=f"Start it by hand: opsui start {old.name}"
                                   ) from None
        detail += self._return_switched()
        run.finish(outcome, detail)
        return outcome

    def _return_switched(self) -> str:
        """Replicas released before the one that failed go back to the old version,
        each through the same switch (the old one starts, gates, takes the aliases);
        not cancellable: a cancel is what may have brought us here."""
        detail = ""
        for done in reversed(self.switched):
            handover = replace(self._handover(), cancelled=threading.Event())
            try:
                detail += "\n" + return_replica(self._engine, self._prober, self._run,
                                                 self._gate, handover, done.old,
                                                 done.new_id, self.release_id)
            except OpsuiError as exc:
                detail += f"\nTHE REPLICA {done.old.name} DID NOT GO BACK: {exc}"
        self.switched.clear()
        return detail


def return_replica(engine: ContainerEngine, prober: HealthProber | None, run: ReleaseRun,
                   gate: GateSettings, handover: Handover, old: Container, new_id: str,
                   release_id: str) -> str:
    """Undo one switched replica: its kept container takes the aliases back, starts,
    passes its gate, and the new one drains and stops, keeping its release name."""
    name = old.name
    kept_name = f"{name}.before-{release_id}"  # found by name: keeping may copy it
    kept = engine.get_container(old.id) or find_container(engine.list_containers(),
                                                          kept_name)
    if kept is None:
        raise ActionFailed(f"its kept container {kept_name} is gone")
    kept_id = restore_to_serve(engine, kept, f"{name}.{release_id}-restored")
    if kept_id != kept.id:  # a kept copy: compose's labels back, on a new copy
        engine.remove(kept.id)
    aliases = handover.aliases_of(new_id)
    if aliases:
        run.step(f"rejoin ({name})", lambda: handover.join_like(kept_id, aliases),
                 cancellable=False)
    if kept.state is not ContainerState.RUNNING:
        run.step(f"start again ({name})", lambda: engine.start(kept_id), cancellable=False)
    result = gate_step(run, engine, prober, kept_id, gate, f"health gate ({name})",
                       cancelled=threading.Event())  # going back is not cancellable
    if not result.passed:
        raise ActionFailed(f"{name} failed its gate again: {result.reason}")
    current = engine.get_container(new_id)
    if current is None:
        raise ActionFailed(f"the new container of {name} is gone")
    handover.hand_over(current, kept_id, name, f"{name}.{release_id}",
                       lambda step: f"{step} ({name} back)")
    return f"{name} runs {kept.image} again"

def stop_quietly(engine: ContainerEngine, container_id: str) -> str:
    """Stop a container on the way out of a failure; a failure to stop is reported."""
    try:
        engine.stop(container_id)
    except OpsuiError as exc:
        return f"\n(could not stop it: {exc})"
    return ""


def post_mortem(engine: ContainerEngine, container_id: str) -> str:
    """What the history keeps of a container that failed its gate: its health log and
    its last log lines."""
    text = ""
    try:
        health = engine.inspect(container_id).health_log
    except OpsuiError:
        health = ()
    if health:
        text += "\nhealth checks of the new container:\n" + "\n".join(
            f"exit {entry.exit_code}: {entry.output.strip()[:300]}" for entry in health)
    return text + "\nlast lines of the new container:\n" + last_lines(engine, container_id)


def last_lines(engine: ContainerEngine, container_id: str, count: int = 20) -> str:
    """A failed container's last log lines, kept with its release for the post-mortem."""
    try:
        stream = engine.logs(container_id, tag=0, tail=count, follow=False)
        lines = [raw for batch in stream for _, _, raw in batch]
    except OpsuiError as exc:
        return f"(unavailable: {exc})"
    return clean(b"\n".join(lines).decode("utf-8", "replace"), 4000)
