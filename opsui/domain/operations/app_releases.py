"""Deploy, rollback, history, lock and recovery of the apps on one host: one entry point.

The TUI and the CLI both come here, so ``opsui deploy`` and the deploy key share the
same plans, the same gate (read-only mode, confirmation policy, audit), the same lock
and the same journal on the host. Every method blocks: the UI calls them from worker
threads. A plan is made first (it reads, never changes) so the confirmation can show
what will happen; running it re-checks everything through the gate.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from opsui.domain.compose_drift import replacement_note
from opsui.domain.compose_project import ComposeHost
from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.history import Journal
from opsui.domain.logfeed import RELEASE_LABEL
from opsui.domain.models import Container, ContainerState, Health, split_image
from opsui.domain.operations.app_backups import AppBackups
from opsui.domain.operations.app_spec import AppSpec, resolve_app
from opsui.domain.operations.app_state import AppLock, journal_of, lock_of, run_of
from opsui.domain.operations.compose_keep import with_kept_copies
from opsui.domain.operations.compose_pin import ComposeAgreement, joined
from opsui.domain.operations.deploy import (
    Deployment,
    DeployPlan,
    needs_stop_first,
    plan_deploy,
)
from opsui.domain.operations.downtime import estimate as downtime_estimate
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.operations.lock import HeldLock, LockHolder
from opsui.domain.operations.policy import Action
from opsui.domain.operations.recovery import FINISH, Recovery, RecoveryPlan, plan_recovery
from opsui.domain.operations.release_run import (
    DIGEST_LABEL,
    STOP_FIRST,
    ReleaseRun,
    Report,
    now_iso,
    operator,
)
from opsui.domain.operations.replicas import (
    aliases_of,
    replicas_of,
    services_of,
    traffic_engine,
    traffic_settings,
)
from opsui.domain.operations.retention import prune, prune_candidates
from opsui.domain.operations.rollback import Rollback, RollbackPlan, plan_rollback
from opsui.domain.operations.swarm_deploy import (
    SwarmDeployment,
    SwarmDeployPlan,
    SwarmRollback,
    SwarmRollbackPlan,
    plan_swarm_deploy,
    plan_swarm_rollback,
)
from opsui.domain.operations.swarm_recovery import SwarmRecovery, SwarmRecoveryPlan
from opsui.domain.operations.swarm_tasks import tasks_note
from opsui.domain.ports import (
    ContainerEngine,
    HealthProber,
    HostFiles,
    ImageTags,
    LineSink,
    LocalImage,
    Progress,
    SwarmEngine,
    SwarmService,
)
from opsui.domain.releases import (
    ADOPT,
    OK,
    AuditLine,
    Release,
    audit_lines,
    current_release,
    fold_releases,
    rollback_target,
    unfinished,
)
from opsui.domain.sanitize import clean
from opsui.domain.settings import Config
from opsui.domain.swarm_history import ClusterHistory, merged, records_of

SWARM_TIMEOUT = 180.0
"""How long a rolling update (or the engine's rollback) may take to settle."""

ONE_HOST_NOTE = "hosts: "
"""The note of a plan for one host of an app on several hosts."""

ACTIVE_RELEASES: set[str] = set()
"""Releases this process is making now: their lock is not stale even though the holder
pid is this one (a TUI that lost the link mid-deploy keeps running)."""

P = TypeVar("P", DeployPlan, RollbackPlan)
"""A container release plan (deploy or rollback): both say their strategy and notes."""


@dataclass(frozen=True)
class TagChoice:
    """One entry of the tag picker."""

    tag: str
    created: datetime | None
    on_host: bool
    in_registry: bool
    current: bool


@dataclass(frozen=True)
class AppStatus:
    """What the history screen and ``opsui history`` show of one app."""

    app: AppSpec
    releases: tuple[Release, ...]
    """Oldest first, as journaled."""
    audit: tuple[AuditLine, ...]
    lock: LockHolder | None
    serving: Container | None
    current: Release | None
    target: Release | None
    """Where a rollback would go now."""
    torn: int
    replaced: str = ""
    """Said when the current release's container does not serve (compose or someone
    replaced, removed or stopped it): see compose_drift.replacement_note."""

    @property
    def newest_first(self) -> list[Release]:
        return list(reversed(self.releases))

    @property
    def interrupted(self) -> Release | None:
        """The newest unfinished release nobody is making any more (its lock is gone,
        or held by a dead opsui on this machine)."""
        for release in reversed(unfinished(list(self.releases))):
            if release.id in ACTIVE_RELEASES:
                continue
            if self.lock is None or self.lock.release != release.id or lock_is_stale(self.lock):
                return release
        return None

    @property
    def running(self) -> Release | None:
        """An unfinished release whose holder may still be at work (another machine)."""
        unfinished_now = unfinished(list(self.releases))
        if not unfinished_now or self.lock is None:
            return None
        found = next((r for r in unfinished_now if r.id == self.lock.release), None)
        return found if found is not None and found is not self.interrupted else None

    @property
    def frozen(self) -> bool:
        return self.lock is not None and self.lock.manual


def lock_is_stale(holder: LockHolder) -> bool:
    if holder.pid == os.getpid() and not holder.manual:
        return holder.release not in ACTIVE_RELEASES
    return holder.holder_is_dead()


class AppReleases:
    """The release operations of one host's apps (configured, or any container ad hoc)."""

    def __init__(self, host: str, engine: ContainerEngine, prober: HealthProber | None,
                 files: HostFiles, gate: ActionGate, config: Config,
                 tags: ImageTags | None = None, backups: AppBackups | None = None,
                 compose: ComposeHost | None = None) -> None:
        self.host = host
        self.compose = compose
        """Compose on the host: pins, and what ``up -d`` would do (None: not asked)."""
        self.backups = backups
        """Backup and migrate steps of deploys of apps with a migration; without it such
        a deploy is refused rather than run without its migration."""
        self._engine = engine
        self._prober = prober
        self._files = files
        self._gate = gate
        self._config = config
        self._tags = tags

    # -- reading ----------------------------------------------------------------------

    def resolve(self, ref: str, containers: list[Container] | None = None) -> AppSpec:
        """The app ``ref`` names; ``containers``: the host's list, when already read."""
        listed = self._engine.list_containers() if containers is None else containers
        return resolve_app(self._config, self.host, ref, listed)

    def statuses(self, refs: Sequence[str]) -> list[AppStatus]:
        """The status of each app ``refs`` name (once each; a ref that names nothing is
        skipped), read-only (nothing marked known good), from ONE container list: the
        dashboard asks every few seconds, and each list of a busy host is a few ms of
        CPU here and on its engine."""
        containers = self._engine.list_containers()
        found: list[AppStatus] = []
        seen: set[str] = set()
        for ref in refs:
            try:
                spec = self.resolve(ref, containers)
            except ActionRefused:
                continue  # the selected container vanished; an app with no container
            if spec.name not in seen:
                seen.add(spec.name)
                found.append(self.status(spec, mark_good=False, containers=containers))
        return found

    def journal(self, app: AppSpec) -> Journal:
        """The app's journal, with those of its former names (an app declared after it
        was deployed ad hoc keeps its releases)."""
        return journal_of(self._files, app)

    def lock_of(self, app: AppSpec) -> AppLock:
        return lock_of(self._files, app)

    def status(self, app: AppSpec, *, mark_good: bool = True,
               containers: list[Container] | None = None) -> AppStatus:
        """History, lock and serving container; marks the current release known good
        when it has stayed up and healthy long enough (nobody has to be watching), and
        says once, in an audit line, that it took over the history of a former name.
        ``containers``: the host's list, when the caller has just read it."""
        if containers is None:
            containers = self._engine.list_containers()
        journal = self.journal(app)
        if mark_good and not self._gate.is_read_only(self.host):
            for former in journal.not_yet_adopted():
                journal.adopt(former, operator(), now_iso())
        read = journal.read()
        records = merged(read.records, self._cluster_records(app))
        releases = with_kept_copies(fold_releases(records), containers)
        serving = app.serving(containers)
        if serving is not None:
            serving = self._engine.get_container(serving.id) or serving
        current = current_release(releases)
        if mark_good and not self._gate.is_read_only(self.host) \
                and self._mark_known_good(app, current, serving):  # a journal line
            assert current is not None
            releases = [replace(r, known_good=True) if r.id == current.id else r
                        for r in releases]
            current = current_release(releases)
        replaced = "" if app.swarm_service else replacement_note(
            current, [c for c in containers if app.owns(c)
                      or (current is not None and c.id == current.container_id)], serving)
        return AppStatus(app, tuple(releases), tuple(audit_lines(records)),
                         self.lock_of(app).holder(), serving, current,
                         rollback_target(releases, current), read.torn, replaced)

    def _mark_known_good(self, app: AppSpec, current: Release | None,
                         serving: Container | None) -> bool:
        if current is None or current.known_good or serving is None:
            return False
        if current.container_id and current.container_id != serving.id:
            return False
        if serving.state is not ContainerState.RUNNING or serving.health in (
                Health.UNHEALTHY, Health.STARTING) or serving.started_at is None:
            return False
        now = self._engine.clock.trusted_now()
        if now is None:  # the host's clock unread: this machine's may be hours off
            return False
        up = (now - serving.started_at).total_seconds()  # both on the engine's clock
        if up < app.settings.known_good_seconds:
            return False
        self.journal(app).append({"type": "good", "release": current.id,
                                  "at": now.isoformat(timespec="seconds"),
                                  "container": serving.id, "up_seconds": round(up)})
        return True

    def tag_choices(self, app: AppSpec) -> list[TagChoice]:
        """Registry tags and tags already on the host, newest first, current marked.

        A registry that cannot be read leaves the host's own tags (and typing one)."""
        serving = self.status(app, mark_good=False).serving
        repository = app.image or (split_image(serving.image)[0] if serving else "")
        if not repository:
            raise ActionRefused(f"{app.name}: no image repository known",
                                hint=f"Set image under [apps.{app.name}] in opsui.toml.")
        current_tag = split_image(serving.image)[1] if serving else ""
        local = {image.tag: image for image in self._engine.local_tags(repository)}
        remote: dict[str, LocalImage] = {}
        if self._tags is not None:
            try:
                remote = {image.tag: image for image in self._tags.tags(repository)}
            except OpsuiError:
                remote = {}

        def created(tag: str) -> datetime | None:
            dates = [image.created for image in (remote.get(tag), local.get(tag))
                     if image is not None and image.created is not None]
            return dates[0] if dates else None

        choices = [TagChoice(tag, created(tag), tag in local, tag in remote,
                             tag == current_tag)
                   for tag in dict.fromkeys([*remote, *local])]
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(choices, key=lambda c: c.created or epoch, reverse=True)

    # -- deploy -------------------------------------------------------------------------

    def _serving(self, app: AppSpec) -> Container:
        serving = app.serving(self._engine.list_containers())
        if serving is None:
            raise ActionRefused(f"{app.name}: no container of it on {self.host}",
                                hint="Start one first; opsui deploys over a container.")
        return serving

    def _service(self, app: AppSpec) -> tuple[SwarmEngine, SwarmService]:
        assert app.swarm_service is not None
        swarm = self._engine.swarm
        service = swarm.service(app.swarm_service)
        if service is None:
            raise ActionRefused(f"{app.name}: no Swarm service '{app.swarm_service}' on "
                                f"{self.host}", hint="`docker service ls` on the host.")
        return swarm, service

    def plan_deploy(self, app: AppSpec, tag: str) -> DeployPlan | SwarmDeployPlan:
        self._gate.check(self.lock_request(app, Action.DEPLOY))  # read-only: before a plan
        tag = tag.strip()
        if not tag or any(ch in tag for ch in "/@ \t") or len(tag) > 128:
            raise ActionRefused(f"'{clean(tag, 60)}' is not an image tag",
                                hint="A tag is like 2.1.0 or latest.")
        migrates = app.config is not None and app.config.migrate is not None
        if app.swarm_service:
            if migrates:
                raise ActionRefused(f"{app.name}: migrations before a Swarm rolling update "
                                    "are not supported yet",
                                    hint=f"Run `opsui migrate {app.name}` first, or remove "
                                         f"[apps.{app.name}.migrate].")
            swarm, service = self._service(app)
            rolling = plan_swarm_deploy(self.host, app.name, service, tag, app.image)
            note = self._tasks_note(swarm, service)
            return replace(rolling, notes=(note,)) if note else rolling
        serving = self._serving(app)
        traffic = traffic_engine(self._engine)
        plan = plan_deploy(self.host, serving, tag, app.name, app.image,
                           needs_stop_first(self._engine, serving),
                           ("backup", "migrate") if migrates else (),
                           replicas=replicas_of(serving, self._engine.list_containers(),
                                                services_of(app)),
                           aliases=aliases_of(traffic, serving),
                           traffic=traffic_settings(app.config, app.settings))
        if not plan.current_digest:  # not deployed by opsui: ask the image itself
            plan = replace(plan, current_digest=self._digest(serving.image))
        plan = self._with_downtime(app, plan, serving)
        compose = self.agreement(app).plan_note(serving, tag)
        plan = replace(plan, notes=(*plan.notes, f"compose: {compose}")) if compose else plan
        return self._one_of_several(app, plan, "deploy")

    def _tasks_note(self, swarm: SwarmEngine, service: SwarmService) -> str:
        """Where the service's tasks run now, for the plan; "" when that cannot be read
        (the plan is still good without it)."""
        try:
            cluster = swarm.cluster()
        except OpsuiError:
            return ""
        return tasks_note(cluster.service(service.name) if cluster is not None else None)

    def _with_downtime(self, app: AppSpec, plan: P, serving: Container,
                       releases: Sequence[Release] | None = None) -> P:
        """A stop-first plan says how long the app will be down (from its own last
        stop-first release) and how to avoid it."""
        if plan.strategy != STOP_FIRST:
            return plan
        try:
            ports = self._engine.inspect(serving.id).fixed_host_ports
            known = self.status(app, mark_good=False).releases if releases is None \
                else releases
        except OpsuiError:
            return plan  # the plan still says "stop-first"; the figure is extra
        downtime = downtime_estimate(app.name, ports, known).describe()
        return replace(plan, notes=(*plan.notes, downtime))

    def deploy(self, app: AppSpec, plan: DeployPlan | SwarmDeployPlan,
               answer: bool | str | None, report: Report | None = None,
               cancelled: threading.Event | None = None, *,
               output: LineSink | None = None, progress: Progress | None = None,
               override: str | None = None, release_id: str | None = None,
               held: LockHolder | None = None) -> str:
        """``output``/``progress``/``override``: the migration's lines, the backup's
        bytes, and the typed override to migrate without a verified backup (see
        :meth:`AppBackups.override_text`), for apps with a migration. ``release_id``
        and ``held``: one host's part of a multi-host release (its id, and the lock it
        took on this host before anything changed: see multi_host.py)."""
        run = self._run(app, report, cancelled, release_id, held)
        if isinstance(plan, SwarmDeployPlan):
            swarm = self._service(app)[0]
            rolling = SwarmDeployment(plan, self._engine, swarm, run,
                                      timeout=max(SWARM_TIMEOUT, app.settings.gate_timeout))
            return self._tracked(run, lambda: self._published(
                app, run, lambda: rolling.run(self._gate, answer)))
        deployment = Deployment(plan, self._engine, self._prober, run, app.gate,
                                traffic_engine(self._engine))
        deployment.before_body = lambda: self._adopt(app, plan.current)
        if "migrate" in plan.steps:
            backups = self.backups
            if backups is None:
                raise ActionRefused(f"{app.name} has a migration, and this opsui cannot run "
                                    "it (no backups wired)", hint="Use `opsui deploy`.")
            deployment.before_start = lambda: backups.before_start(
                app, run, plan.image, plan.current, override, output, progress)
        agreement = self.agreement(app)
        deployment.compose_labels = lambda: agreement.labels(plan.current, plan.version)
        deployment.after_success = lambda: joined(
            agreement.after_switch(plan.current, plan.version), self._retain(app))
        return self._tracked(run, lambda: deployment.run(self._gate, answer))

    def _run(self, app: AppSpec, report: Report | None, cancelled: threading.Event | None,
             release_id: str | None, held: LockHolder | None) -> ReleaseRun:
        run = run_of(self._files, app, report=report, cancelled=cancelled,
                     release_id=release_id)
        if held is not None:
            run.lock = HeldLock(run.lock, held)
        return run

    def _cluster_history(self, app: AppSpec) -> ClusterHistory | None:
        swarm = self._engine.swarm if app.swarm_service else None
        return swarm if isinstance(swarm, ClusterHistory) else None

    def _cluster_records(self, app: AppSpec) -> tuple[Mapping[str, Any], ...]:
        """A Swarm service's releases as the cluster keeps them (swarm_history.py):
        made through another manager, or before this host's state folder was lost.
        None when the cluster cannot be read: the host's journal is still the history."""
        history = self._cluster_history(app)
        if history is None or app.swarm_service is None:
            return ()
        try:
            return history.release_records(app.swarm_service)
        except OpsuiError:
            return ()

    def _published(self, app: AppSpec, run: ReleaseRun, body: Callable[[], str]) -> str:
        """Run a Swarm release, then copy its journal records into the cluster, so any
        manager has them; a copy that cannot be written is journaled on the host."""
        try:
            return body()
        finally:
            history = self._cluster_history(app)
            records = records_of(run.release_id, run.journal.read().records)
            if history is not None and app.swarm_service and any(
                    r.get("type") == "release" for r in records):
                try:
                    history.publish_release(app.swarm_service, run.release_id, records)
                except OpsuiError as exc:
                    run.journal.append({"type": "cluster_history", "release": run.release_id,
                                        "outcome": "failed", "at": now_iso(),
                                        "detail": clean(str(exc), 500)})

    def _tracked(self, run: ReleaseRun, body: Callable[[], str]) -> str:
        ACTIVE_RELEASES.add(run.release_id)
        try:
            return body()
        finally:
            ACTIVE_RELEASES.discard(run.release_id)

    def _adopt(self, app: AppSpec, serving: Container) -> str:
        """What serves before opsui's first deploy of an app becomes a release too, so
        the first rollback has somewhere to go."""
        releases = fold_releases(self.journal(app).read().records)
        known = next((r for r in releases if r.container_id == serving.id), None)
        labelled = serving.labels.get(RELEASE_LABEL, "")
        if known is not None:
            return known.id
        if labelled and any(r.id == labelled for r in releases):
            return labelled
        run = run_of(self._files, app)
        _, tag = split_image(serving.image)
        since = serving.started_at.isoformat(timespec="seconds") if serving.started_at else None
        run.begin(ADOPT, host=self.host, image=serving.image, version=tag,
                  digest=serving.labels.get(DIGEST_LABEL) or self._digest(serving.image),
                  **({"at": since} if since else {}))
        try:
            image_id = self._engine.inspect(serving.id).image_id
        except OpsuiError:
            image_id = ""
        run.note("container", id=serving.id, image_id=image_id)
        run.finish(OK, f"{serving.name} was serving when opsui first deployed {app.name}")
        self.status(app)  # known good at once if it has been up long enough
        return run.release_id

    def _digest(self, image: str) -> str:
        try:
            return self._engine.image_digest(image)
        except OpsuiError:
            return ""

    def _retain(self, app: AppSpec) -> str:
        status = self.status(app, mark_good=False)
        protected = {c for c in (status.serving.id if status.serving else "",
                                 status.target.container_id if status.target else "") if c}
        doomed = prune_candidates(app, self._engine.list_containers(), list(status.releases),
                                  app.settings.retain, protected)
        return prune(self._engine, doomed)

    # -- rollback -----------------------------------------------------------------------

    def plan_rollback(self, app: AppSpec, to: str | None = None
                      ) -> RollbackPlan | SwarmRollbackPlan:
        self._gate.check(self.lock_request(app, Action.ROLLBACK))
        status = self.status(app)
        if app.swarm_service:
            if to:
                raise ActionRefused(f"{app.name}: a Swarm service rolls back to its previous "
                                    "spec only", hint=f"Deploy {to} instead.")
            return plan_swarm_rollback(self.host, app.name, self._service(app)[1],
                                       status.releases)
        serving = status.serving
        if serving is None:
            raise ActionRefused(f"{app.name}: no container of it on {self.host}")
        target = status.target
        if to:
            target = next((r for r in reversed(status.releases)
                           if r.id == to or (r.version == to and r.can_be_target)), None)
            if target is None or target.outcome != OK:
                raise ActionRefused(f"{app.name}: no release '{clean(to, 60)}' that ended ok",
                                    hint="`opsui history APP` lists releases and outcomes.")
            if target is status.current:
                raise ActionRefused(f"{app.name}: {target.id} is the release serving now")
        traffic = traffic_engine(self._engine)
        plan = plan_rollback(self.host, app.name, self._engine, serving, status.current,
                             target, replicas=replicas_of(serving,
                                                          self._engine.list_containers(),
                                                          services_of(app)),
                             aliases=aliases_of(traffic, serving),
                             traffic=traffic_settings(app.config, app.settings))
        plan = self._with_downtime(app, plan, serving, status.releases)
        compose = self.agreement(app).plan_note(serving, plan.target.version)
        plan = replace(plan, notes=(*plan.notes, f"compose: {compose}")) if compose else plan
        return self._one_of_several(app, plan, "rollback")

    def _one_of_several(self, app: AppSpec, plan: P, action: str) -> P:
        """A release of one host of an app on several says so: the hosts would then run
        different releases (``opsui deploy APP`` releases every host, see multi_host)."""
        hosts = app.config.every_host if app.config is not None else ()
        if len(hosts) < 2:
            return plan
        return replace(plan, notes=(*plan.notes, f"{ONE_HOST_NOTE}{app.name} runs on "
                                    f"{', '.join(hosts)}; this {action} is {self.host}'s "
                                    f"alone (`opsui {action} {app.name}` does every host)"))

    def rollback(self, app: AppSpec, plan: RollbackPlan | SwarmRollbackPlan,
                 answer: bool | str | None, report: Report | None = None,
                 cancelled: threading.Event | None = None, *,
                 release_id: str | None = None, held: LockHolder | None = None) -> str:
        """``release_id``/``held``: as for :meth:`deploy`."""
        run = self._run(app, report, cancelled, release_id, held)
        if isinstance(plan, SwarmRollbackPlan):
            native = SwarmRollback(plan, self._service(app)[0], run,
                                   timeout=max(SWARM_TIMEOUT, app.settings.gate_timeout))
            return self._tracked(run, lambda: self._published(
                app, run, lambda: native.run(self._gate, answer)))
        rollback = Rollback(plan, self._engine, self._prober, run, app.gate,
                            traffic_engine(self._engine))
        agreement, version = self.agreement(app), plan.target.version
        rollback.compose_labels = lambda: agreement.labels(plan.current, version)
        rollback.after_success = lambda: joined(
            agreement.after_switch(plan.current, version), self._retain(app))
        return self._tracked(run, lambda: rollback.run(self._gate, answer))

    def agreement(self, app: AppSpec) -> ComposeAgreement:
        """The app's agreement with compose: its pin, and compose's view of it."""
        return ComposeAgreement(self.compose, app.config.compose_pin if app.config else None)

    # -- recovery -----------------------------------------------------------------------

    def plan_recovery(self, app: AppSpec, choice: str, *, force: bool = False
                      ) -> RecoveryPlan | SwarmRecoveryPlan:
        self._gate.check(self.lock_request(app, Action.DEPLOY if choice == FINISH
                                           else Action.ROLLBACK))
        status = self.status(app, mark_good=False)
        release = status.interrupted or (status.running if force else None)
        if release is None:
            running = status.running
            if running is not None and status.lock is not None:
                raise ActionRefused(
                    f"{app.name}: release {running.id} may still be running: "
                    f"{status.lock.describe()}",
                    hint="Ask its owner; if that opsui is gone, recover with --force.")
            raise ActionRefused(f"{app.name}: no interrupted release to recover")
        lock = status.lock
        # The release's own stale lock is taken over; a freeze never is (it names no
        # release, and only its owner, or `opsui unlock` after asking them, lifts it).
        holder = lock if lock is not None and not lock.manual and (
            lock.release == release.id or not lock.release) else None
        if lock is not None and holder is None:
            raise ActionRefused(f"{app.name} is locked: {lock.describe()}",
                                hint=f"Recover after `opsui unlock {app.name}`, once its "
                                     "owner agrees." if lock.manual else
                                "Look at the history again.")
        if app.swarm_service:
            return SwarmRecoveryPlan(app.name, self.host, app.swarm_service, release, choice,
                                     holder)
        return plan_recovery(self.host, app.name, self._engine, release, holder, choice)

    def recover(self, app: AppSpec, plan: RecoveryPlan | SwarmRecoveryPlan,
                answer: bool | str | None, report: Report | None = None,
                cancelled: threading.Event | None = None) -> str:
        run = run_of(self._files, app, report=report, cancelled=cancelled,
                     release_id=plan.release.id)
        recovery: Recovery | SwarmRecovery
        if isinstance(plan, SwarmRecoveryPlan):
            recovery = SwarmRecovery(plan, self._service(app)[0], run,
                                     max(SWARM_TIMEOUT, app.settings.gate_timeout))
            return self._tracked(run, lambda: self._published(
                app, run, lambda: recovery.run(self._gate, answer)))
        recovery = Recovery(plan, self._engine, self._prober, run, app.gate,
                            traffic_engine(self._engine))
        return self._tracked(run, lambda: recovery.run(self._gate, answer))

    # -- lock ---------------------------------------------------------------------------

    def lock_request(self, app: AppSpec, action: Action, message: str = "") -> ActionRequest:
        detail = f"({clean(message, 80)})" if message else ""
        return ActionRequest(action, self.host, app.name, app.name, app=app.name,
                             detail=detail)

    def lock(self, app: AppSpec, message: str, answer: bool | str | None) -> LockHolder:
        """Freeze deploys by hand: shown to every operator, never waited on."""
        lock, journal = self.lock_of(app), self.journal(app)

        def take() -> LockHolder:
            run = run_of(self._files, app)
            mine = replace(run.holder("", clean(message, 500)), manual=True, release="",
                           pid=0)
            held = lock.acquire(mine)
            if held is not None:
                raise ActionRefused(f"{app.name} is already locked: {held.describe()}")
            return mine

        return self._gate.execute(self.lock_request(app, Action.LOCK, message), answer, take,
                                  journal=journal)

    def unlock(self, app: AppSpec, answer: bool | str | None) -> LockHolder | None:
        """Release the lock (a freeze, or a stale deploy lock); says whose it was."""
        lock, journal = self.lock_of(app), self.journal(app)

        def free() -> LockHolder | None:
            held = lock.holder()
            if held is None:
                return None
            if not held.manual and held.release in ACTIVE_RELEASES:
                raise ActionRefused(f"{app.name}: a deploy in this opsui holds the lock",
                                    hint="Cancel that deploy instead.")
            lock.release()
            return held

        return self._gate.execute(self.lock_request(app, Action.UNLOCK), answer, free,
                                  journal=journal)
