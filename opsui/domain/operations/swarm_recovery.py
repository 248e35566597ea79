"""An interrupted Swarm release: the engine kept going on its own, so ask it how it ended.

A container deploy stops where opsui stopped; a Swarm rolling update does not: the
engine finishes it (or rolls it back) whether opsui is there or not. So recovering
one means reading the service's state, not redoing steps. **Finish** waits for the
engine to settle and records its verdict; **roll back** asks the engine for the
previous spec if the service runs the interrupted release's image, and records that
the release was interrupted. The stale lock is taken over as for containers.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsui.domain.errors import OpsuiError
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.operations.lock import LockHolder
from opsui.domain.operations.policy import Action
from opsui.domain.operations.recovery import FINISH, NO_LOCK
from opsui.domain.operations.release_run import Cancelled, ReleaseRun
from opsui.domain.operations.swarm_deploy import (
    converge,
    describe,
    digest_of,
    rollback_went_through,
    update_went_through,
)
from opsui.domain.ports import SwarmEngine
from opsui.domain.releases import CANCELLED, FAILED, INTERRUPTED, OK, Release


@dataclass(frozen=True)
class SwarmRecoveryPlan:
    app: str
    host: str
    service_name: str
    release: Release
    choice: str
    lock: LockHolder | None

    @property
    def last_step(self) -> str:
        return self.release.steps[-1].name if self.release.steps else "(none)"

    @property
    def steps(self) -> tuple[str, ...]:
        return ("lock", "converge", "record") if self.choice == FINISH else (
            "lock", "rollback", "converge", "record")

    @property
    def request(self) -> ActionRequest:
        action = Action.DEPLOY if self.choice == FINISH else Action.ROLLBACK
        verb = "finish" if self.choice == FINISH else "roll back"
        return ActionRequest(action, self.host, self.release.id, self.app, app=self.app,
                             detail=f"({verb} interrupted release {self.release.id})")


class SwarmRecovery:
    def __init__(self, plan: SwarmRecoveryPlan, swarm: SwarmEngine, run: ReleaseRun,
                 timeout: float) -> None:
        self.plan = plan
        self._swarm = swarm
        self._run = run
        self._timeout = timeout

    def run(self, gate: ActionGate, answer: bool | str | None) -> str:
        plan = self.plan
        body = self._finish if plan.choice == FINISH else self._abort
        return self._run.gated(gate, plan.request, answer, plan.release.version, body,
                               take_over=plan.lock or NO_LOCK)

    def _runs_release(self) -> bool:
        service = self._swarm.service(self.plan.service_name)
        digest = self.plan.release.digest or digest_of(self.plan.release.image)
        return service is not None and bool(digest) and digest_of(service.image) == digest

    def _finish(self) -> str:
        plan, run = self.plan, self._run
        try:
            final = converge(run, self._swarm, plan.service_name, self._timeout,
                             update_went_through)
        except Cancelled as exc:
            run.finish(CANCELLED, str(exc))
            return CANCELLED
        except OpsuiError as exc:
            run.finish(FAILED, f"finishing after the interruption: {exc}")
            return FAILED
        if update_went_through(final) and self._runs_release():
            run.note("container", id=final.id, image_id=plan.release.digest)
            run.finish(OK, f"finished after the interruption: {describe(final)}")
            return OK
        run.finish(FAILED, f"the engine did not end on this release: {describe(final)}")
        return FAILED

    def _abort(self) -> str:
        plan, run = self.plan, self._run
        try:
            if not self._runs_release():
                run.finish(INTERRUPTED, f"interrupted at '{plan.last_step}'; the service "
                                        "never ran it: nothing to undo")
                return INTERRUPTED
            run.step("rollback", lambda: self._swarm.rollback(plan.service_name))
            final = converge(run, self._swarm, plan.service_name, self._timeout,
                             rollback_went_through)
        except Cancelled as exc:
            run.finish(CANCELLED, f"{exc}: the engine goes on rolling back")
            return CANCELLED
        except OpsuiError as exc:
            run.finish(FAILED, f"rolling back after the interruption: {exc}")
            return FAILED
        run.finish(INTERRUPTED, f"interrupted at '{plan.last_step}'; rolled back: "
                                f"{describe(final)}")
        return INTERRUPTED
