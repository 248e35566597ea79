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

from collections.abc import Callable
from dataclasses import dataclass

from opsui.domain.errors import ActionFailed, OpsuiError
from opsui.domain.logfeed import RELEASE_LABEL
from opsui.domain.models import Container, ContainerState, split_image
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
from opsui.domain.ports import ContainerEngine, HealthProber
from opsui.domain.releases import CANCELLED, FAILED, OK
from opsui.domain.sanitize import clean

DEPLOY_STEPS = ("lock", "pull", "create", "start", "health gate", "switch", "retention",
                "record")
"""The order of a container deploy; ``pre_start`` steps ("backup", "migrate") go after
"pull"."""


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

    @property
    def current_image(self) -> str:
        return self.current.image

    @property
    def request(self) -> ActionRequest:
        return ActionRequest(Action.DEPLOY, self.host, self.current.id, self.app,
                             app=self.app, detail=f"to {self.version}")


def needs_stop_first(engine: ContainerEngine, container: Container) -> bool:
    """Published on a host port the operator chose: a second copy could not bind it
    alongside, so the old one must stop first (and start again if the new one fails)."""
    return bool(engine.inspect(container.id).fixed_host_ports)


def plan_deploy(host: str, current: Container, tag: str, app: str | None = None,
                repository: str | None = None, stop_first: bool = False,
                pre_start: tuple[str, ...] = ()) -> DeployPlan:
    repository = repository or split_image(current.image)[0]
    steps = tuple(s for step in DEPLOY_STEPS
                  for s in (("stop old", step) if stop_first and step == "start" else
                            (step, *pre_start) if step == "pull" else (step,)))
    return DeployPlan(app or current.name, host, current, f"{repository}:{tag}", tag,
                      STOP_FIRST if stop_first else START_FIRST, steps,
                      current_digest=current.labels.get(DIGEST_LABEL, ""),
                      current_release=current.labels.get(RELEASE_LABEL, ""))


class Deployment:
    """Runs one :class:`DeployPlan`; ``run`` returns the outcome (ok / failed / ...)."""

    def __init__(self, plan: DeployPlan, engine: ContainerEngine, prober: HealthProber | None,
                 run: ReleaseRun, gate: GateSettings) -> None:
        self.plan = plan
        self._engine = engine
        self._prober = prober
        self._run = run
        self._gate = gate
        self.release_id = run.release_id
        self.new_id: str | None = None
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

    def run(self, gate: ActionGate, answer: bool | str | None) -> str:
        """Through the gate (read-only, confirmation policy, audit), then under the lock."""
        return self._run.gated(gate, self.plan.request, answer, self.plan.version,
                               self._locked)

    def _locked(self) -> str:
        plan, engine, run = self.plan, self._engine, self._run
        replaces = self.before_body() or plan.current_release
        run.begin("deploy", host=plan.host, image=plan.image, version=plan.version,
                  strategy=plan.strategy, replaces=replaces,
                  replaces_container=plan.current.id, replaces_image=plan.current.image)
        old_stopped = False
        digest = ""
        try:
            digest = run.step("pull", lambda: engine.pull(plan.image))
            run.note("digest", digest=digest)
            self.before_start()
            labels = labels_for(plan.app, self.release_id, plan.version, digest)
            self.new_id = run.step("create", lambda: engine.create_like(
                plan.current.id, plan.image, f"{plan.current.name}.{self.release_id}", labels))
            run.note("container", id=self.new_id, image_id=self._image_id(self.new_id))
            if plan.strategy == STOP_FIRST:
                run.step("stop old", lambda: engine.stop(plan.current.id))
                old_stopped = True
            new_id = self.new_id
            run.step("start", lambda: engine.start(new_id))
            result = gate_step(run, engine, self._prober, new_id, self._gate)
            if not result.passed:
                outcome = CANCELLED if result.reason == "cancelled" else FAILED
                return self._undo(outcome, result.reason, old_stopped)
            run.step("switch", self._switch)
        except Cancelled as exc:
            return self._undo(CANCELLED, str(exc), old_stopped)
        except OpsuiError as exc:
            return self._undo(FAILED, str(exc), old_stopped)
        pruned = run.optional_step("retention", self.after_success)
        run.finish(OK, f"{plan.image} ({digest}) serves{pruned}")
        return OK

    def _image_id(self, container_id: str) -> str:
        try:
            return self._engine.inspect(container_id).image_id
        except OpsuiError:
            return ""

    def _switch(self) -> str:
        plan, engine = self.plan, self._engine
        assert self.new_id is not None
        return switch_names(engine, plan.current, self.new_id, plan.current.name,
                            f"{plan.current.name}.before-{self.release_id}")

    def _undo(self, outcome: str, reason: str, old_stopped: bool) -> str:
        plan, run = self.plan, self._run
        detail = reason
        if self.new_id is not None:
            detail += post_mortem(self._engine, self.new_id)
            detail += stop_quietly(self._engine, self.new_id)
        if old_stopped:
            try:
                self._engine.start(plan.current.id)
            except OpsuiError as exc:
                detail += f"\nTHE OLD CONTAINER DID NOT START AGAIN: {exc}"
                run.finish(outcome, detail)
                raise ActionFailed(f"deploy failed and {plan.current.name} did not "
                                   f"start again: {exc}",
                                   hint=f"Start it by hand: opsui start {plan.current.name}"
                                   ) from None
        run.finish(outcome, detail)
        return outcome


def switch_names(engine: ContainerEngine, old: Container, new_id: str, name: str,
                 kept_name: str) -> str:
    """The new container takes the app's name (so log tails and scripts follow it); the
    old one is stopped and kept under ``kept_name`` for a rollback."""
    current = engine.get_container(old.id)
    if current is not None and current.state is ContainerState.RUNNING:
        engine.stop(old.id)
    engine.rename(old.id, kept_name)
    engine.rename(new_id, name)
    return f"old container kept as {kept_name}"


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
