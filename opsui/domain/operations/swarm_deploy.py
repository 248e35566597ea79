"""Deploying and rolling back a Swarm service: the engine does the rolling, opsui records it.

A Swarm service already has what the container deploy builds by hand: the engine starts
each new task before it stops an old one (start-first), waits for its health check,
and rolls the update back by itself when a new task fails; it also keeps the previous
spec, so a rollback is one native request. What opsui adds is the same as for a
container: the gate (read-only, confirmation, audit), the app's lock on the host, the
pulled digest pinned in the new spec (so every node runs the image that was tested,
whatever the tag points at by then), and the release in the host's journal with the
engine's verdict. A cancelled deploy asks the engine to roll back; a rollback is never
rolled back (the engine's previous spec is then the release it replaced).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from opsui.domain.errors import ActionFailed, ActionRefused, EngineUnavailable, OpsuiError
from opsui.domain.logfeed import RELEASE_LABEL
from opsui.domain.models import split_image
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.operations.policy import Action
from opsui.domain.operations.release_run import Cancelled, ReleaseRun, labels_for
from opsui.domain.operations.swarm_node_loss import NodeWatch
from opsui.domain.operations.swarm_tasks import TaskVerdict, gate_tasks
from opsui.domain.ports import ContainerEngine, SwarmEngine, SwarmService
from opsui.domain.releases import CANCELLED, FAILED, OK, Release
from opsui.domain.sanitize import clean

SWARM_STRATEGY = "start-first rolling update, failure rollback"
SWARM_DEPLOY_STEPS = ("lock", "pull", "rolling update", "converge", "record")
SWARM_ROLLBACK_STEPS = ("lock", "rollback", "converge", "record")
_IN_FLIGHT = frozenset({"updating", "rollback_started"})
_NEVER_AGAIN = "nothing more was tried: opsui never rolls back a rollback"
TASK_GATE_SECONDS = 30.0
"""How long after the engine's "completed" the tasks may take to show healthy in the
manager's view (they passed the engine's monitor window already)."""
WATCH_SLICE_SECONDS = 2.0
"""How often a deploy looks at the cluster's nodes while the engine updates."""
ENGINE_SILENCE_SECONDS = 30.0
"""How long the manager may fail to answer (timeouts under load, a leader election)
before a deploy watching its update gives up waiting."""
STRANDED_SECONDS = 5.0
"""How long an update left "in progress" only for a dead node's sake must stay done on
every other node before the deploy calls it (the engine's monitor window, which
DockerSwarm sets to 5 s: a new task failing within it still rolls the update back)."""


def pinned(image: str, digest: str) -> str:
    """``repo:tag@digest``: the tag for people, the digest for the nodes."""
    return f"{image}@{digest}" if digest else image


def digest_of(image: str) -> str:
    return image.partition("@")[2]


def _refuse_in_flight(app: str, service: SwarmService) -> None:
    """A second writer mid-update would only race the engine: say so instead."""
    if service.update_state in _IN_FLIGHT:
        raise ActionRefused(
            f"{app}: the engine is still changing service {service.name} "
            f"({service.update_state}: {clean(service.update_message, 200)})",
            hint="Wait until it ends; `docker service ps` shows its tasks.")


@dataclass(frozen=True)
class SwarmDeployPlan:
    """What the confirmation shows before a service changes."""

    app: str
    host: str
    service_id: str
    service_name: str
    current_image: str
    image: str
    """``repo:tag`` to pull; the spec gets it pinned to the pulled digest."""
    version: str
    current_release: str = ""
    strategy: str = SWARM_STRATEGY
    steps: tuple[str, ...] = SWARM_DEPLOY_STEPS
    notes: tuple[str, ...] = ()
    """Shown under the plan: where the tasks run now (swarm_tasks.tasks_note)."""

    @property
    def request(self) -> ActionRequest:
        return ActionRequest(Action.DEPLOY, self.host, self.service_id, self.app,
                             app=self.app, detail=f"to {self.version}")


def plan_swarm_deploy(host: str, app: str, service: SwarmService, tag: str,
                      image_repository: str | None = None) -> SwarmDeployPlan:
    """Another tag of the service's image (or of ``image_repository``); refused while
    the engine is still busy with an earlier change."""
    _refuse_in_flight(app, service)
    repository = image_repository or split_image(service.image)[0]
    return SwarmDeployPlan(app, host, service.id, service.name, clean(service.image, 300),
                           f"{repository}:{tag}", tag,
                           current_release=service.labels.get(RELEASE_LABEL, ""))


@dataclass(frozen=True)
class SwarmRollbackPlan:
    """What the rollback confirmation shows: the engine's previous spec comes back."""

    app: str
    host: str
    service_id: str
    service_name: str
    current_image: str
    target_image: str
    version: str
    current_release: str = ""
    target_release: str = ""
    """The journaled release that ran ``target_image``, when one did."""
    steps: tuple[str, ...] = SWARM_ROLLBACK_STEPS

    @property
    def request(self) -> ActionRequest:
        return ActionRequest(Action.ROLLBACK, self.host, self.service_id, self.app,
                             app=self.app, detail=f"to {self.version}")


def plan_swarm_rollback(host: str, app: str, service: SwarmService,
                        releases: Sequence[Release] = ()) -> SwarmRollbackPlan:
    """Back to the spec the engine kept; refused when there is none, when the last
    change already was a rollback (its previous spec is what it replaced), or while the
    engine is busy."""
    _refuse_in_flight(app, service)
    if service.in_rollback:
        raise ActionRefused(
            f"{app}: the last change to service {service.name} was a rollback; rolling "
            f"back again would bring back {clean(service.previous_image, 300) or 'nothing'}",
            hint="opsui never rolls back a rollback: deploy the version you want.")
    if not service.previous_image:
        raise ActionRefused(
            f"{app}: service {service.name} has no previous spec to roll back to",
            hint="The engine keeps one previous spec, and none after it rolled a failed "
                 "update back: deploy the version you want instead.")
    target = clean(service.previous_image, 300)
    return SwarmRollbackPlan(app, host, service.id, service.name, clean(service.image, 300),
                             target, split_image(target)[1],
                             current_release=service.labels.get(RELEASE_LABEL, ""),
                             target_release=_release_running(releases, target))


def _release_running(releases: Sequence[Release], image: str) -> str:
    """The newest good release whose digest is the one ``image`` pins."""
    digest = digest_of(image)
    found = [r for r in releases if digest and r.digest == digest and r.outcome == OK]
    return found[-1].id if found else ""


def update_went_through(service: SwarmService) -> bool:
    """A deploy's verdict: the update completed, neither paused nor rolled back."""
    return service.settled and not service.in_rollback and service.update_state != "paused"


def rollback_went_through(service: SwarmService) -> bool:
    """A rollback's verdict: the engine finished it (or a later update it ran instead)."""
    return service.update_state in ("rollback_completed", "completed")


def converge(run: ReleaseRun, swarm: SwarmEngine, name: str, timeout: float,
             good: Callable[[SwarmService], bool], *, tasks: bool = False,
             watch: NodeWatch | None = None) -> SwarmService:
    """The "converge" step: wait for the engine to finish what it was asked, journal
    its verdict (``good`` says whether it is the one hoped for), and raise Cancelled
    when the operator stopped watching. With ``tasks`` (a deploy), a good verdict
    also needs every task of the new spec running and healthy on its node
    (swarm_tasks.py), and the step names the nodes; ActionFailed when they are not.
    With ``watch``, the cluster is read while waiting: a node that goes down is named
    in the step, and an update the engine leaves "in progress" only for a dead node's
    sake ends the wait (``watch.stranded``; swarm_node_loss.py)."""
    run.started("converge")
    started = time.monotonic()
    final = _wait(run, swarm, name, timeout, watch)
    stranded = watch is not None and watch.stranded
    verdict = TaskVerdict(good(final) or stranded, "")
    if stranded and watch is not None:  # checked already, slot by slot, on the nodes left
        verdict = TaskVerdict(True, watch.tasks_detail(final))
    elif tasks and verdict.good and not run.cancelled.is_set():
        verdict = gate_tasks(swarm, final, min(timeout, TASK_GATE_SECONDS), run.cancelled)
    seconds = time.monotonic() - started
    # A node lost comes first: the one line a command line shows of the step.
    lost = watch.note() if watch is not None else ""
    detail = "\n".join(part for part in (lost, describe(final), verdict.detail) if part)
    if run.cancelled.is_set():
        run.ended("converge", CANCELLED, seconds, detail)
        raise Cancelled()
    run.ended("converge", OK if verdict.good else FAILED, seconds, detail)
    if tasks and (good(final) or stranded) and not verdict.good:
        raise ActionFailed(f"the engine completed the update, but not every task of it "
                           f"runs healthy: {verdict.detail}")
    return final


def _wait(run: ReleaseRun, swarm: SwarmEngine, name: str, timeout: float,
          watch: NodeWatch | None) -> SwarmService:
    """``wait_update``; with ``watch``, in slices with a look at the cluster between
    them, until the engine settles or the update is stranded on a dead node (and has
    stayed so for :data:`STRANDED_SECONDS`, the engine's monitor window)."""
    if watch is None:
        return swarm.wait_update(name, timeout, run.cancelled)
    deadline = time.monotonic() + timeout
    why_rolled_back = ""
    done_since: float | None = None
    silent_since: float | None = None
    _look(swarm, watch)
    while True:
        left = max(0.0, deadline - time.monotonic())
        try:
            final = swarm.wait_update(name, min(WATCH_SLICE_SECONDS, left), run.cancelled)
        except EngineUnavailable:
            # One slow answer is not the update's verdict: the engine goes on without
            # opsui. Only a manager silent for ENGINE_SILENCE_SECONDS ends the wait.
            now = time.monotonic()
            silent_since = now if silent_since is None else silent_since
            if now - silent_since >= ENGINE_SILENCE_SECONDS or now >= deadline:
                raise
            if run.cancelled.wait(WATCH_SLICE_SECONDS):
                return swarm.wait_update(name, 0, run.cancelled)
            continue
        silent_since = None
        if final.update_state == "rollback_started" and not why_rolled_back:
            why_rolled_back = final.update_message
        if final.settled or run.cancelled.is_set() or time.monotonic() >= deadline:
            _look(swarm, watch)
            return _with_reason(final, why_rolled_back)
        _look(swarm, watch)
        if not watch.done_on_nodes_left(final):
            done_since = None
        elif done_since is None:
            done_since = time.monotonic()
        elif time.monotonic() - done_since >= STRANDED_SECONDS:
            watch.stranded = True
            return final


def _look(swarm: SwarmEngine, watch: NodeWatch) -> None:
    """One reading for ``watch``; a failed read is only a reading missed (the managers
    may be electing a leader after losing one): the wait's own polls judge the update."""
    try:
        cluster = swarm.cluster()
    except OpsuiError:
        return
    if cluster is not None:
        watch.look(cluster)


def _with_reason(service: SwarmService, why: str) -> SwarmService:
    """Why the engine rolled back, seen in an earlier slice of the wait: once the
    rollback completed, its own message says only "rollback completed"."""
    if not why or why in service.update_message:
        return service
    message = f"{why}; {service.update_message}" if service.update_message else why
    return replace(service, update_message=clean(message, 800))


def describe(service: SwarmService) -> str:
    """One line of the engine's state: ``completed: update completed (2/2 tasks on
    IMAGE)``; when things went wrong, the newest task errors too (an old crash of a
    healthy release would only mislead)."""
    state = service.update_state or "no update recorded"
    message = f": {clean(service.update_message, 500)}" if service.update_message else ""
    troubled = not update_went_through(service) or service.running < service.desired
    errors = "; ".join(clean(e, 300) for e in service.task_errors[:2]) if troubled else ""
    failed = f"; failed tasks: {errors}" if errors else ""
    return (f"{state}{message} ({service.running}/{service.desired} tasks on "
            f"{clean(service.image, 300)}){failed}")


class SwarmDeployment:
    """Runs one :class:`SwarmDeployPlan`; ``run`` returns the outcome (ok / failed /
    cancelled). ``engine`` pulls (so the digest is known before the spec changes);
    ``timeout`` bounds the wait for the engine, per phase."""

    def __init__(self, plan: SwarmDeployPlan, engine: ContainerEngine, swarm: SwarmEngine,
                 run: ReleaseRun, timeout: float = 180.0) -> None:
        self.plan = plan
        self._engine = engine
        self._swarm = swarm
        self._run = run
        self._timeout = timeout
        self._watch = NodeWatch(plan.service_name)
        self.release_id = run.release_id

    def run(self, gate: ActionGate, answer: bool | str | None) -> str:
        """Through the gate (read-only, confirmation policy, audit), then under the lock."""
        return self._run.gated(gate, self.plan.request, answer, self.plan.version,
                               self._locked)

    def _locked(self) -> str:
        plan, run = self.plan, self._run
        run.begin("deploy", kind="swarm", host=plan.host, image=plan.image,
                  version=plan.version, strategy=plan.strategy, service=plan.service_name,
                  replaces=plan.current_release, replaces_image=plan.current_image)
        updated = False
        try:
            digest = run.step("pull", lambda: self._engine.pull(plan.image))
            run.note("digest", digest=digest)
            image = pinned(plan.image, digest)
            labels = labels_for(plan.app, self.release_id, plan.version, digest)
            run.step("rolling update",
                     lambda: self._swarm.update_image(plan.service_name, image, labels))
            updated = True
            final = converge(run, self._swarm, plan.service_name, self._timeout,
                             update_went_through, tasks=True, watch=self._watch)
        except Cancelled as exc:
            return self._undo(CANCELLED, str(exc), updated)
        except OpsuiError as exc:
            return self._undo(FAILED, str(exc), updated)
        return self._judge(final, image, digest)

    def _finish(self, outcome: str, reason: str) -> None:
        """The release's outcome, with the nodes that went down during it."""
        lost = self._watch.note()
        self._run.finish(outcome, f"{reason}\n{lost}" if lost else reason)

    def _judge(self, final: SwarmService, image: str, digest: str) -> str:
        """The engine's verdict as the release's outcome."""
        run = self._run
        if self._watch.stranded and final.image == image:
            run.note("container", id=final.id, image_id=digest)
            nodes = ", ".join(self._watch.down_nodes())
            self._finish(OK, f"{image} serves ({final.running}/{final.desired} tasks): "
                             f"the engine finished the update on the nodes left; it "
                             f"calls it in progress while {nodes} is down, and refuses "
                             f"another deploy or rollback until then (or `docker node "
                             f"rm` of the dead node)")
            return OK
        if final.in_rollback:
            self._finish(FAILED, f"the engine rolled back: {describe(final)}")
            return FAILED
        if final.update_state == "paused":
            self._finish(FAILED, f"the engine paused the update: {describe(final)}\n"
                                 f"tasks may run both versions: `opsui rollback "
                                 f"{self.plan.app}` goes back to the previous spec")
            return FAILED
        if not final.settled:
            return self._undo(FAILED, f"not done after {self._timeout:g} s: "
                                      f"{describe(final)}", updated=True)
        if final.image != image:
            self._finish(FAILED, f"the service runs {clean(final.image, 300)}, "
                                 f"not {image}: someone else changed it")
            return FAILED
        run.note("container", id=final.id, image_id=digest)
        self._finish(OK, f"{image} serves ({final.running}/{final.desired} tasks)")
        return OK

    def _undo(self, outcome: str, reason: str, updated: bool) -> str:
        """Once the spec changed, a failed or cancelled deploy asks the engine for its
        previous spec (unless it is rolling back already) and waits for that, so the
        lock covers the rollback and the journal says how it ended."""
        if updated:
            reason += "\n" + self._engine_rollback()
        self._finish(outcome, reason)
        return outcome

    def _engine_rollback(self) -> str:
        name = self.plan.service_name
        try:
            current = self._swarm.service(name)
            if current is None:
                return f"service {name} is gone"
            if not current.in_rollback:
                self._swarm.rollback(name)
            final = self._swarm.wait_update(name, self._timeout, threading.Event())
        except OpsuiError as exc:
            return f"COULD NOT ROLL {name} BACK: {exc}; look at `docker service ps {name}`"
        return f"asked the engine to roll back: {describe(final)}"


class SwarmRollback:
    """Runs one :class:`SwarmRollbackPlan`; ``run`` returns the outcome. A failed
    rollback is reported and left as the engine left it, never rolled back."""

    def __init__(self, plan: SwarmRollbackPlan, swarm: SwarmEngine, run: ReleaseRun,
                 timeout: float = 180.0) -> None:
        self.plan = plan
        self._swarm = swarm
        self._run = run
        self._timeout = timeout
        self.release_id = run.release_id

    def run(self, gate: ActionGate, answer: bool | str | None) -> str:
        return self._run.gated(gate, self.plan.request, answer, self.plan.version,
                               self._locked)

    def _locked(self) -> str:
        plan, run = self.plan, self._run
        run.begin("rollback", kind="swarm", host=plan.host, image=plan.target_image,
                  digest=digest_of(plan.target_image), version=plan.version,
                  target=plan.target_release, strategy=SWARM_STRATEGY,
                  service=plan.service_name, replaces=plan.current_release,
                  replaces_image=plan.current_image)
        try:
            run.step("rollback", lambda: self._swarm.rollback(plan.service_name))
            final = converge(run, self._swarm, plan.service_name, self._timeout,
                             rollback_went_through)
        except Cancelled as exc:
            run.finish(CANCELLED, f"{exc}: the engine goes on rolling back; {_NEVER_AGAIN}")
            return CANCELLED
        except OpsuiError as exc:
            run.finish(FAILED, f"rollback failed: {exc}\n{_NEVER_AGAIN}")
            return FAILED
        return self._judge(final)

    def _judge(self, final: SwarmService) -> str:
        plan, run = self.plan, self._run
        if not (rollback_went_through(final) and final.image == plan.target_image):
            run.finish(FAILED, f"rollback failed: {describe(final)}\n{_NEVER_AGAIN}")
            return FAILED
        run.note("container", id=final.id, image_id=digest_of(plan.target_image))
        if plan.current_release:
            run.journal.append({"type": "rolled_back", "release": plan.current_release,
                                "by": self.release_id})
        run.finish(OK, f"{plan.target_image} serves again "
                       f"({final.running}/{final.desired} tasks)")
        return OK
