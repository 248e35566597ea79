"""Which tasks of a Swarm service belong together, and what their health is said to be."""

from __future__ import annotations

from datetime import UTC, datetime

from opsui.domain.swarm_cluster import SwarmTask, ordered_tasks, task_health


def _task(task_id: str, slot: int | None, desired: str, minute: int, node: str = "n1",
          service: str = "web") -> SwarmTask:
    return SwarmTask(id=task_id, service=service, slot=slot, node_id=node, node=node,
                     desired_state=desired, state="running",
                     updated_at=datetime(2026, 1, 1, 12, minute, tzinfo=UTC))


def test_a_replacement_comes_first_in_its_slot_counting_what_ended_before_it() -> None:
    tasks = [
        _task("old-1", 1, "shutdown", 1, node="n3"),
        _task("b", 2, "running", 1),
        _task("new-1", 1, "running", 5),
        _task("older-1", 1, "shutdown", 0, node="n2"),
    ]
    ordered = ordered_tasks(tasks)
    assert [t.id for t in ordered] == ["new-1", "old-1", "older-1", "b"]
    assert [t.restarts for t in ordered] == [2, 0, 0, 0]
    assert [t.current for t in ordered] == [True, False, False, True]
    assert ordered[0].name == "web.1"


def test_global_tasks_are_told_apart_by_node_and_slots_sort_as_numbers() -> None:
    tasks = [_task("g2", None, "running", 1, node="b", service="agent"),
             _task("g1-old", None, "shutdown", 0, node="a", service="agent"),
             _task("g1", None, "running", 2, node="a", service="agent"),
             _task("w10", 10, "running", 1), _task("w2", 2, "running", 1)]
    ordered = ordered_tasks(tasks)
    assert [t.id for t in ordered] == ["g1", "g1-old", "g2", "w2", "w10"]
    assert [t.restarts for t in ordered] == [1, 0, 0, 0, 0]
    assert ordered[0].name == "agent"


def test_health_is_the_reported_one_else_what_the_task_state_implies() -> None:
    assert task_health("unhealthy", "running", "", checked=True) == "unhealthy"
    assert task_health("", "running", "", checked=True) == "healthy"
    assert task_health("", "starting", "", checked=True) == "starting"
    assert task_health("", "failed", "task: unhealthy container", checked=True) == "unhealthy"
    # Without a health check a running task says nothing of health.
    assert task_health("", "running", "", checked=False) == ""
