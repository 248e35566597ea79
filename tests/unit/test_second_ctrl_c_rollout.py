"""Issue 13: a second Ctrl-C while a replica rollout goes back after a cancel.

The cancel returned the first replica: its old version came back as a
``NAME.rID-restored`` copy (its kept copy removed), took the alias, and the new
container had left it and was draining when opsui stopped at once. The recovery must
still roll it back, a plan must not count the copy as a replica, the replica without
its alias must get it back, a later good release closes the interrupted one, and the
cancel question says what a cancel does at the step the release is at.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from opsui.domain.errors import ActionRefused
from opsui.domain.models import ContainerState
from opsui.domain.operations.cancel_words import at_step, deploy_cancel_effect, left_by_stop
from opsui.domain.operations.deploy import Deployment, plan_deploy
from opsui.domain.operations.health_gate import GateSettings
from opsui.domain.operations.recovery import ABORT, FINISH, Recovery, plan_recovery
from opsui.domain.operations.release_run import ReleaseRun, StepEvent
from opsui.domain.operations.replicas import replicas_of
from opsui.domain.operations.traffic import TrafficSettings
from opsui.domain.releases import INTERRUPTED, OK, SUPERSEDED, fold_releases

from fakes import FakeEngine, FakeHostFiles, container
from fakes.traffic import FakeTraffic

NET = "shop_default"
COMPOSE = {"com.docker.compose.project": "shop", "com.docker.compose.service": "app"}
GATE = GateSettings(timeout=5, settle_seconds=0.05)


class CopyingEngine(FakeEngine):
    """Keeps a compose container as a copy, as the Docker engine does."""

    traffic: FakeTraffic

    def copy_container(self, container_id: str, name: str, relabel: Any) -> str:
        with self._lock:
            old = self.containers[container_id]
            self._created += 1
            new_id = f"k{self._created}".ljust(64, "0")
            self.containers[new_id] = dataclasses.replace(
                old, id=new_id, name=name, state=ContainerState.CREATED,
                labels=relabel(dict(old.labels)))
        self.traffic.table[new_id] = dict(self.traffic.table.get(container_id, {}))
        return new_id


class _Stopped(BaseException):
    """The second Ctrl-C: the run stops at once, mid-step (a KeyboardInterrupt)."""


def _setup() -> tuple[CopyingEngine, FakeTraffic]:
    replicas = [dataclasses.replace(container(f"a{i}", f"shop_app_{i}",
                                              image="opsui-test/app:1.0.0"),
                                    labels=dict(COMPOSE)) for i in (1, 2)]
    engine = CopyingEngine(replicas)
    engine.add_image("opsui-test/app:2.0.0")
    engine.add_image("opsui-test/app:3.0.0")
    traffic = engine.traffic = FakeTraffic(engine)
    for replica in replicas:
        traffic.table[replica.id] = {NET: ("app",)}
    return engine, traffic


def _plan(engine: FakeEngine, traffic: FakeTraffic, tag: str) -> Any:
    current = next(c for c in engine.list_containers() if c.name == "shop_app_1")
    return plan_deploy("local", current, tag, "shop",
                       replicas=replicas_of(current, engine.list_containers()),
                       aliases=traffic.aliases(current.id),
                       traffic=TrafficSettings(0.3))


def _cut_off(engine: CopyingEngine, traffic: FakeTraffic, files: FakeHostFiles) -> str:
    """Deploy 2.0.0; Ctrl-C in the first replica's drain, again in its drain back."""
    cancelled = threading.Event()

    def report(event: StepEvent) -> None:
        if event.outcome is None and event.step == "drain (shop_app_1)":
            cancelled.set()
        if event.outcome is None and event.step == "drain (shop_app_1 back)":
            raise _Stopped()

    run = ReleaseRun(files, "/state", "shop", cancelled=cancelled, report=report)
    deployment = Deployment(_plan(engine, traffic, "2.0.0"), engine, None, run, GATE, traffic)
    with pytest.raises(_Stopped):
        run.under_lock("2.0.0", deployment._locked)
    return run.release_id


def _running(engine: FakeEngine) -> dict[str, str]:
    return {c.name: c.image.rsplit(":", 1)[1] for c in engine.list_containers()
            if c.state is ContainerState.RUNNING}


def _release(files: FakeHostFiles, release_id: str) -> Any:
    records = list(ReleaseRun(files, "/state", "shop").journal.read().records)
    return next(r for r in fold_releases(records) if r.id == release_id)


def test_recover_rollback_returns_every_replica_to_the_old_version_with_its_alias() -> None:
    engine, traffic = _setup()
    files = FakeHostFiles()
    release_id = _cut_off(engine, traffic, files)
    running = _running(engine)  # what the operator found (issue 13)
    assert running["shop_app_1"] == "2.0.0" and running["shop_app_2"] == "1.0.0"
    assert running[f"shop_app_1.{release_id}-restored"] == "1.0.0"
    release = _release(files, release_id)
    assert release.outcome is None
    plan = plan_recovery("local", "shop", engine, release, None, ABORT)
    recovery = Recovery(plan, engine, None, ReleaseRun(files, "/state", "shop",
                                                       release_id=release_id),
                        GATE, traffic)
    assert recovery._abort() == INTERRUPTED
    assert _running(engine) == {"shop_app_1": "1.0.0", "shop_app_2": "1.0.0"}
    for c in engine.list_containers():
        if c.state is ContainerState.RUNNING:
            assert traffic.aliases(c.id) == {NET: ("app",)}, c.name
    assert not any(c.name.endswith("-restored") for c in engine.list_containers())
    assert _release(files, release_id).outcome == INTERRUPTED  # closed: rolled back


def test_the_hints_of_a_rollout_never_send_finish_and_rollback_to_each_other() -> None:
    engine, traffic = _setup()
    files = FakeHostFiles()
    release_id = _cut_off(engine, traffic, files)
    for c in list(engine.list_containers()):  # everything of the old version gone
        if c.image.endswith(":1.0.0") and c.name != "shop_app_2":
            engine.remove(c.id)
    release = _release(files, release_id)
    with pytest.raises(ActionRefused) as finish:
        plan_recovery("local", "shop", engine, release, None, FINISH)
    assert "--rollback" in (finish.value.hint or "")
    with pytest.raises(ActionRefused) as rollback:
        plan_recovery("local", "shop", engine, release, None, ABORT)
    assert "finish" not in (rollback.value.hint or "").lower()
    assert "opsui deploy shop" in (rollback.value.hint or "")


def test_a_plan_does_not_count_the_restored_copy_as_a_third_replica() -> None:
    engine, traffic = _setup()
    _cut_off(engine, traffic, FakeHostFiles())
    plan = _plan(engine, traffic, "3.0.0")
    assert [c.name for c in plan.targets] == ["shop_app_1", "shop_app_2"]
    assert not any("3 containers" in note for note in plan.notes)


def test_a_replica_left_without_its_alias_gets_it_back_with_the_next_release() -> None:
    engine, traffic = _setup()
    _cut_off(engine, traffic, FakeHostFiles())
    run = ReleaseRun(FakeHostFiles(), "/state", "shop")
    deployment = Deployment(_plan(engine, traffic, "3.0.0"), engine, None, run, GATE,
                            traffic)
    assert run.under_lock("3.0.0", deployment._locked) == OK
    for name in ("shop_app_1", "shop_app_2"):
        serving = next(c for c in engine.list_containers() if c.name == name)
        assert serving.image.endswith(":3.0.0")
        assert traffic.aliases(serving.id) == {NET: ("app",)}, name


def test_a_later_good_release_closes_the_interrupted_one() -> None:
    files = FakeHostFiles()
    cut = ReleaseRun(files, "/state", "shop")
    cut.begin("deploy", version="2.0.0")  # then opsui was stopped at once
    later = ReleaseRun(files, "/state", "shop")
    later.begin("deploy", version="3.0.0")
    later.finish(OK, "serves")
    releases = fold_releases(list(later.journal.read().records))
    first = next(r for r in releases if r.id == cut.release_id)
    assert first.outcome == SUPERSEDED and first.shown_outcome == SUPERSEDED
    assert later.release_id in first.reason
    again = ReleaseRun(files, "/state", "shop")
    again.begin("deploy", version="4.0.0")  # unfinished after the last good one
    releases = fold_releases(list(again.journal.read().records))
    assert next(r for r in releases if r.id == again.release_id).outcome is None


ROLLOUT = plan_deploy("local", dataclasses.replace(container("a1", "shop_app_1"),
                                                   labels=dict(COMPOSE)), "2.0.0", "shop",
                      replicas=(container("a2", "shop_app_2"),),
                      aliases={NET: ("app",)}).steps


def test_the_cancel_question_during_a_drain_says_the_new_version_already_serves() -> None:
    seen = [s for s in ROLLOUT[: ROLLOUT.index("drain (shop_app_1)") + 1]]
    effect = deploy_cancel_effect("drain (shop_app_1)", ROLLOUT, seen)
    assert "never takes over" not in effect
    assert "already serves" in effect and "cut short" in effect
    assert "full health gate and another drain" in effect
    assert "cut short" in at_step("drain (shop_app_1)")
    last = deploy_cancel_effect("drain (shop_app_2)", ROLLOUT, ROLLOUT[:-3])
    assert "completes on the new version" in last


def test_the_cancel_question_of_a_stop_first_release_says_the_port_is_down() -> None:
    steps = plan_deploy("local", container("a1", "shop"), "2.0.0", "shop",
                        stop_first=True).steps
    for step in ("start", "health gate"):
        seen = steps[: steps.index(step) + 1]
        effect = deploy_cancel_effect(step, steps, seen)
        assert "already stopped" in effect and "port is down" in effect
        assert "keeps serving" not in effect
    assert "keeps serving" in deploy_cancel_effect("pull", steps, steps[:2])
    assert "already stopped" in deploy_cancel_effect("start", (), ["create", "stop old",
                                                                   "start"])


def test_a_second_ctrl_c_says_what_it_left_and_the_recover_command() -> None:
    said = left_by_stop("deploy", "shop", "drain (shop_app_1 back)")
    assert "drain (shop_app_1 back)" in said and "interrupted" in said
    assert "without the app's network aliases" in said
    assert "opsui recover shop --rollback" in said



class _Screen:
    """Stands for the run screen: catches the question it pushes."""

    def __init__(self) -> None:
        self.app = self
        self.pushed: list[Any] = []

    def push_screen(self, modal: Any, callback: Any = None) -> None:
        self.pushed.append(modal)


def test_the_tui_cancel_question_is_true_during_a_drain() -> None:
    from opsui.domain.jobs import Job, JobBoard
    from opsui.ui.screens.release_run import ask_to_cancel

    job = Job(1, "deploy", "local", "shop", "deploy shop 2.0.0", JobBoard())
    for step in ROLLOUT[: ROLLOUT.index("drain (shop_app_1)") + 1]:
        job.emit(StepEvent(step))
    screen = _Screen()
    ask_to_cancel(screen, job)  # type: ignore[arg-type]
    question = screen.pushed[0].confirmation.question
    assert "'drain (shop_app_1)', which is cut short" in question
    assert "never takes over" not in question and "already serves" in question


def test_the_tui_cancel_question_on_the_last_drain_does_not_promise_cancelled() -> None:
    """On the last replica's drain a cancel lets the release complete: the question
    said "The history records 'cancelled'" (operator drive)."""
    from opsui.domain.jobs import Job, JobBoard
    from opsui.ui.screens.release_run import ask_to_cancel

    job = Job(1, "deploy", "local", "shop", "deploy shop 2.0.0", JobBoard())
    for step in ROLLOUT[: ROLLOUT.index("drain (shop_app_2)") + 1]:
        job.emit(StepEvent(step))
    screen = _Screen()
    ask_to_cancel(screen, job)  # type: ignore[arg-type]
    question = screen.pushed[0].confirmation.question
    assert "'cancelled'" not in question and "'ok' when it completes" in question
