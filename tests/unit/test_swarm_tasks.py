"""The per-task gate of a Swarm deploy (issue 15): every wanted task of the new spec,
running and healthy on its node, and the verdict names each node."""

from __future__ import annotations

from opsui.domain.operations.swarm_tasks import judge_tasks, tasks_note
from opsui.domain.ports import SwarmService
from opsui.domain.swarm_cluster import ServiceTasks, SwarmTask

NEW = "reg:5000/app:2.0.0@sha256:bbb"


def service() -> SwarmService:
    return SwarmService("s1", "web", NEW, 7, {}, update_state="completed", running=3,
                        desired=3)


def task(slot: int, node: str, *, health: str = "healthy", image: str = NEW,
         desired: str = "running", state: str = "running") -> SwarmTask:
    repo, _, digest = image.partition("@")
    return SwarmTask(f"t{slot}{node}", "web", slot, f"id-{node}", node, desired, state,
                     health=health, image=repo, digest=digest)


def test_every_task_healthy_on_its_node_passes_and_names_the_nodes() -> None:
    verdict = judge_tasks((task(1, "sw1"), task(2, "sw2"), task(3, "sw3"),
                           task(1, "sw2", desired="shutdown", image="reg:5000/app:1.0.0")),
                          service())
    assert verdict.good
    assert verdict.detail == ("tasks: sw1: web.1 running, healthy, reg:5000/app:2.0.0; "
                              "sw2: web.2 running, healthy, reg:5000/app:2.0.0; "
                              "sw3: web.3 running, healthy, reg:5000/app:2.0.0")


def test_a_task_still_starting_or_on_the_old_image_or_missing_fails_the_gate() -> None:
    good = (task(1, "sw1"), task(2, "sw2"))
    for odd in (task(3, "sw3", health="starting", state="starting"),
                task(3, "sw3", health="unhealthy"),
                task(3, "sw3", image="reg:5000/app:1.0.0@sha256:aaa")):
        verdict = judge_tasks((*good, odd), service())
        assert not verdict.good
        assert "sw3: web.3" in verdict.detail
    assert not judge_tasks(good, service()).good  # two of three


def test_a_task_without_a_health_check_counts_when_running() -> None:
    verdict = judge_tasks((task(1, "sw1", health=""), task(2, "sw2"), task(3, "sw3")),
                          service())
    assert verdict.good and "sw1: web.1 running, no health check" in verdict.detail


def test_the_plan_says_where_each_task_runs_now() -> None:
    found = ServiceTasks("s1", "web", "reg:5000/app", "replicated", 3, (
        task(2, "sw2"), task(1, "sw1"), task(1, "sw3", desired="shutdown")))
    note = tasks_note(found)
    assert note.startswith("tasks now: sw1: web.1 running, healthy, reg:5000/app:2.0.0; "
                           "sw2: web.2 running, healthy")
    assert "sw3" not in note  # an ended task is not where the service runs
    assert tasks_note(None) == ""
