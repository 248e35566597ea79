"""One release of an app on several hosts (``[apps.NAME] hosts = [...]``), host by host.

A multi-host release is the existing single-host release run on each host in turn,
every one under the same release id, so each host's journal stays a valid history for
the single-host tools (``opsui history APP --host web2``) and the merged view finds one
release across hosts by its id. Before anything changes the app's lock is taken on
every host (all given back if one is held: nothing was touched); each host then goes
through its own gate, lock check, health gate and journal, one host at a time or
``hosts_at_once`` at a time (operations/host_batches.py). The first host that fails
stops the release after its batch: the hosts already switched are returned to the
release they ran (their own rollback, through the gate), the hosts after it are not
touched; a ``multi_host`` record on every host says what happened to each. A rollback
of every host goes to the same release (the same image on each), and, as any opsui
rollback, stops at a failure without rolling anything back again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace

from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.operations.app_releases import (
    ACTIVE_RELEASES,
    ONE_HOST_NOTE,
    AppReleases,
    P,
)
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.operations.deploy import DeployPlan
from opsui.domain.operations.gate import ActionGate, ActionRequest, operator_identity
from opsui.domain.operations.host_batches import run_in_batches
from opsui.domain.operations.lock import DeployLock, LockHolder
from opsui.domain.operations.policy import Action
from opsui.domain.operations.release_run import Report, new_release_id, now_iso, operator
from opsui.domain.operations.rollback import RollbackPlan
from opsui.domain.releases import CANCELLED, FAILED, OK, Release
from opsui.domain.sanitize import clean

MULTI_HOST = "multi_host"
"""The journal record, on every host of the release, of how it went on each."""

SWITCHED, RETURNED, NOT_RETURNED = "switched", "returned", "NOT returned"
NOT_DEPLOYED, NOT_ROLLED_BACK = "not deployed", "not rolled back"


@dataclass(frozen=True)
class HostPart:
    """One host's share of a multi-host release: its facade, the app there, its plan."""

    releases: AppReleases
    app: AppSpec
    plan: DeployPlan | RollbackPlan

    @property
    def host(self) -> str:
        return self.releases.host


@dataclass(frozen=True)
class MultiPlan:
    """What the confirmation shows: every host's plan, in the order they run."""

    app: str
    action: str
    """deploy or rollback"""
    version: str
    parts: tuple[HostPart, ...]
    at_once: int = 1
    """How many hosts are released at the same time (``hosts_at_once``)."""

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(part.host for part in self.parts)

    @property
    def steps(self) -> tuple[str, ...]:
        """Every host's steps as its run reports them (``web1: pull``), each host's
        ending with its outcome (which is its record): what a run screen lists up
        front, still to come."""
        return tuple(f"{part.host}: {step}" for part in self.parts
                     for step in (*(s for s in part.plan.steps if s != "record"), "outcome"))

    @property
    def request(self) -> ActionRequest:
        """The one question for the whole release (each host's run asks the gate again,
        with the same answer, and audits itself in that host's journal)."""
        action = Action.DEPLOY if self.action == "deploy" else Action.ROLLBACK
        return ActionRequest(action, ", ".join(self.hosts), self.app, self.app, app=self.app,
                             detail=f"to {self.version}")  # the hosts are its host


@dataclass(frozen=True)
class HostResult:
    host: str
    state: str
    """switched, failed, returned, NOT returned, not deployed, cancelled..."""
    release: str = ""
    """The release this host ran for it (its return's own id, for a returned host)."""
    detail: str = ""


@dataclass(frozen=True)
class MultiOutcome:
    release_id: str
    action: str
    outcome: str
    hosts: tuple[HostResult, ...]
    reason: str = ""


class MultiHostApp:
    """Deploy and rollback of one app on the hosts of its ``hosts`` list, in that order."""

    def __init__(self, name: str, releases: Sequence[AppReleases], gate: ActionGate) -> None:
        if not releases:
            raise ActionRefused(f"{name}: no hosts to release on")
        self.name = name
        self.releases = tuple(releases)
        self._gate = gate

    def apps(self) -> list[tuple[AppReleases, AppSpec]]:
        return [(releases, releases.resolve(self.name)) for releases in self.releases]

    # -- planning (reads only) ------------------------------------------------------------

    def plan_deploy(self, tag: str) -> MultiPlan:
        parts = []
        for releases, app in self.apps():
            if app.swarm_service:
                raise ActionRefused(f"{self.name}: a Swarm service is released by its "
                                    "manager, not host by host",
                                    hint="Give it one host in opsui.toml.")
            if app.config is not None and app.config.migrate is not None:
                raise ActionRefused(f"{self.name}: a migration runs once, not once per "
                                    "host: not supported across hosts yet",
                                    hint=f"Run `opsui migrate {self.name} --host HOST` "
                                         "first, then deploy without [migrate].")
            plan = releases.plan_deploy(app, tag)
            assert isinstance(plan, DeployPlan)
            parts.append(HostPart(releases, app, _for_all(plan)))
        return MultiPlan(self.name, "deploy", tag.strip(), tuple(parts), _at_once(parts))

    def plan_rollback(self, to: str | None = None) -> MultiPlan:
        """Every host back to the same release: ``to`` (a release id or a version), else
        where the first host would go. A host where that release has another image, or
        is gone, refuses the whole plan before anything changes."""
        apps = self.apps()
        statuses = [releases.status(app, mark_good=False) for releases, app in apps]
        target = self._target(to, statuses[0].target, [s.releases for s in statuses])
        parts: list[HostPart] = []
        for (releases, app), status in zip(apps, statuses, strict=True):
            own = target.id if any(r.id == target.id for r in status.releases) \
                else target.version
            plan = releases.plan_rollback(app, own)
            if not isinstance(plan, RollbackPlan):
                raise ActionRefused(f"{self.name}: a Swarm service rolls back on its manager")
            theirs, ours = plan.target.identity, target.identity
            if theirs and ours and theirs != ours:
                raise ActionRefused(
                    f"{self.name}: release {plan.target.id} ({plan.target.version}) on "
                    f"{releases.host} runs another image than {target.id} on "
                    f"{self.releases[0].host} ({theirs[:19]} vs {ours[:19]})",
                    hint="Roll back with --to RELEASE naming one every host has.")
            parts.append(HostPart(releases, app, _for_all(plan)))
        return MultiPlan(self.name, "rollback", target.version or target.id, tuple(parts),
                         _at_once(parts))

    def _target(self, to: str | None, first: Release | None,
                journals: list[tuple[Release, ...]]) -> Release:
        if not to:
            if first is None:
                raise ActionRefused(f"{self.name}: no earlier release to roll back to on "
                                    f"{self.releases[0].host}")
            return first
        for releases in journals:
            found = next((r for r in reversed(releases) if r.id == to or r.version == to),
                         None)
            if found is not None:
                return found
        raise ActionRefused(f"{self.name}: no release '{clean(to, 60)}' on any host",
                            hint=f"`opsui history {self.name}` lists them.")

    # -- running ------------------------------------------------------------------------------

    def run(self, plan: MultiPlan, answer: bool | str | None, report: Report | None = None,
            cancelled: threading.Event | None = None) -> MultiOutcome:
        """Through the gate once for all hosts (read-only is checked per host), then
        with every host's lock, host by host."""
        for part in plan.parts:  # read-only may have changed since the plan
            self._gate.check(part.plan.request)
        release_id = new_release_id()
        stop = cancelled or threading.Event()
        ended: list[MultiOutcome] = []

        def body() -> str:  # the outcome's word: the audit line says how it ended
            ended.append(self._locked(plan, release_id, answer, report, stop))
            return ended[0].outcome

        self._gate.execute(plan.request, answer, body)
        return ended[0]

    def _locked(self, plan: MultiPlan, release_id: str, answer: bool | str | None,
                report: Report | None, cancelled: threading.Event) -> MultiOutcome:
        with self._all_locks(plan, release_id) as held:
            ACTIVE_RELEASES.add(release_id)
            try:
                outcome = self._host_by_host(plan, release_id, answer, report, cancelled,
                                             held)
            finally:
                ACTIVE_RELEASES.discard(release_id)
            self._journal(plan, outcome)
            return outcome

    @contextmanager
    def _all_locks(self, plan: MultiPlan, release_id: str) -> Iterator[list[LockHolder]]:
        """Every host's lock for the release, or none: a held one refuses, nothing
        changed; all are given back at the end, whatever happened."""
        user, machine = operator_identity()
        holder = LockHolder(user, machine, now_iso(), version=plan.version,
                            message=f"{plan.action} on {', '.join(plan.hosts)}",
                            release=release_id, pid=os.getpid())
        taken: list[DeployLock] = []
        try:
            for part in plan.parts:
                lock = part.releases.lock_of(part.app)
                held = lock.acquire(holder)
                if held is not None:
                    raise ActionRefused(
                        f"{plan.app} is locked on {part.host}: {held.describe()}",
                        hint="No host was changed. Wait for that release, or ask its "
                             "owner; `opsui unlock APP --host HOST` only if it is stale.")
                taken.append(lock)
            yield [holder] * len(taken)
        finally:
            for mine in reversed(taken):
                # an unreachable host's lock stays: its holder shows it (a dead opsui's)
                with suppress(OpsuiError):
                    mine.release()

    def _host_by_host(self, plan: MultiPlan, release_id: str, answer: bool | str | None,
                      report: Report | None, cancelled: threading.Event,
                      held: list[LockHolder]) -> MultiOutcome:
        """Host by host, or ``plan.at_once`` hosts at a time: the first batch where a
        host fails stops it (the hosts after it are not touched) and a deploy's hosts
        already switched, that batch's too, go back."""

        def one(item: tuple[HostPart, LockHolder]) -> HostResult:
            part, holder = item
            outcome, detail = self._one(part, release_id, answer, report, cancelled, holder)
            return HostResult(part.host, SWITCHED if outcome == OK else outcome,
                              release_id, detail)

        went = run_in_batches(list(zip(plan.parts, held, strict=True)), plan.at_once, one,
                              lambda result: result.state == SWITCHED)
        results = {item[0].host: result for item, result in went.ran}
        if not went.failed:
            return MultiOutcome(release_id, plan.action, OK,
                                tuple(results[h] for h in plan.hosts),
                                f"{plan.version} serves on {', '.join(plan.hosts)}")
        failed = results[went.failed[0][0].host]
        for part, _ in went.not_started:
            results[part.host] = HostResult(part.host, NOT_DEPLOYED if plan.action == "deploy"
                                            else NOT_ROLLED_BACK,
                                            detail=f"stopped at {failed.host}")
        if plan.action == "deploy":
            switched = [item for item, result in went.ran if result.state == SWITCHED]
            results.update((r.host, r) for r in self._return(switched, release_id, report))
        ordered = [results[host] for host in plan.hosts]
        cancelled_only = all(results[p.host].state == CANCELLED for p, _ in went.failed)
        outcome = CANCELLED if cancelled_only else FAILED
        said = ", ".join(f"{r.host} {r.state}" for r in ordered)
        return MultiOutcome(release_id, plan.action, outcome, tuple(ordered),
                            f"{plan.action} of {plan.version} stopped at {failed.host}: {said}")

    def _one(self, part: HostPart, release_id: str, answer: bool | str | None,
             report: Report | None, cancelled: threading.Event,
             holder: LockHolder) -> tuple[str, str]:
        """One host's own release under the lock taken for it: (outcome, why)."""
        shown = _on_host(report, part.host)
        try:
            if isinstance(part.plan, DeployPlan):
                outcome = part.releases.deploy(part.app, part.plan, answer, shown, cancelled,
                                               release_id=release_id, held=holder)
            else:
                outcome = part.releases.rollback(part.app, part.plan, answer, shown,
                                                 cancelled, release_id=release_id,
                                                 held=holder)
        except OpsuiError as exc:
            return FAILED, str(exc)
        if outcome == OK:
            return OK, ""
        status = part.releases.status(part.app, mark_good=False)
        ours = next((r for r in status.releases if r.id == release_id), None)
        return outcome, ours.reason if ours is not None else ""

    def _return(self, switched: list[tuple[HostPart, LockHolder]], release_id: str,
                report: Report | None) -> list[HostResult]:
        """The hosts already switched go back to the release each ran before, last
        first, each through its own rollback and gate (not cancellable: a cancel may
        be what brought us here)."""
        results = []
        for part, holder in reversed(switched):
            releases, app = part.releases, part.app
            try:
                ours = next(r for r in releases.status(app, mark_good=False).releases
                            if r.id == release_id)
                plan = releases.plan_rollback(app, ours.replaces or None)
                # the operator confirmed the release, and with it its return
                answer = self._gate.confirmation_for(plan.request).expected_text
                outcome = releases.rollback(app, plan, answer,
                                            _on_host(report, f"{part.host} return"),
                                            threading.Event(), held=holder)
                back = releases.status(app, mark_good=False).newest_first[0]
            except (OpsuiError, StopIteration) as exc:
                results.append(HostResult(part.host, NOT_RETURNED, detail=str(exc)))
                continue
            state = RETURNED if outcome == OK else NOT_RETURNED
            results.append(HostResult(part.host, state, back.id,
                                      f"{back.version} serves again" if outcome == OK
                                      else back.reason))
        return results

    def _journal(self, plan: MultiPlan, outcome: MultiOutcome) -> None:
        """The same record on every host, untouched ones too: each host's history says
        what the release did there and on the others."""
        record = {"type": MULTI_HOST, "release": outcome.release_id, "app": plan.app,
                  "action": plan.action, "version": plan.version, "who": operator(),
                  "at": now_iso(), "hosts": list(plan.hosts), "outcome": outcome.outcome,
                  "reason": clean(outcome.reason, 2000),
                  "results": [{"host": r.host, "state": r.state, "release": r.release,
                               "detail": clean(r.detail, 1000)} for r in outcome.hosts]}
        for part in plan.parts:
            with suppress(OpsuiError):  # that host is unreachable now; the others say it
                part.releases.journal(part.app).append(record)


def _at_once(parts: Sequence[HostPart]) -> int:
    """The app's ``hosts_at_once`` (its first host's configuration: the same app)."""
    config = parts[0].app.config if parts else None
    return config.hosts_at_once if config is not None else 1


def _for_all(plan: P) -> P:
    """Without the note that the plan is one host's alone: here every host runs it."""
    return replace(plan, notes=tuple(n for n in plan.notes if not n.startswith(ONE_HOST_NOTE)))


def _on_host(report: Report | None, host: str) -> Report | None:
    """Steps streamed with the host they ran on."""
    if report is None:
        return None
    shown: Callable[..., None] = report
    return lambda event: shown(replace(event, step=f"{host}: {event.step}"))
