"""A node lost while a Swarm deploy waits (issue 15): named with its tasks and where
they went, and an update the engine leaves "in progress" only for the dead node is
recognised as done on the nodes left, never while an old task still serves."""

from __future__ import annotations

from opsui.domain.operations.swarm_node_loss import NodeWatch
from opsui.domain.ports import SwarmService
from opsui.domain.swarm_cluster import ServiceTasks, SwarmCluster, SwarmNode, SwarmTask

NEW = "reg:5000/app:2.0.0@sha256:bbb"
OLD = "reg:5000/app:1.0.0@sha256:aaa"


def service() -> SwarmService:
    return SwarmService("s1", "web", NEW, 7, {}, update_state="updating", running=3,
                        desired=3)


def task(slot: int, node: str, *, image: str = NEW, desired: str = "running",
         state: str = "running", tid: str = "") -> SwarmTask:
    repo, _, digest = image.partition("@")
    return SwarmTask(tid or f"t{slot}{node}", "web", slot, f"id-{node}", node, desired,
                     state, health="healthy", image=repo, digest=digest)


def cluster(tasks: list[SwarmTask], down: tuple[str, ...] = ()) -> SwarmCluster:
    nodes = tuple(SwarmNode(f"id-{h}", h, "manager", "down" if h in down else "ready")
                  for h in ("sw1", "sw2", "sw3"))
    return SwarmCluster("sw1", nodes, (ServiceTasks("s1", "web", "reg:5000/app",
                                                    "replicated", 3, tuple(tasks)),))


def test_a_node_that_went_down_is_named_with_its_task_and_where_it_went() -> None:
    watch = NodeWatch("web")
    watch.look(cluster([task(1, "sw1"), task(2, "sw2", image=OLD), task(3, "sw3", image=OLD)]))
    assert watch.note() == "" and not watch.done_on_nodes_left(service())
    # sw2 dies; its old task is given up on and slot 2 runs the new version on sw1,
    # the engine has updated slot 3, and one more new task waits for room.
    watch.look(cluster([task(1, "sw1"), task(2, "sw2", image=OLD, desired="shutdown"),
                        task(2, "sw1", tid="new2"), task(3, "sw3"),
                        task(2, "sw3", state="pending", tid="wait2")], down=("sw2",)))
    assert watch.note() == ("sw2 went down during the update (node down): task web.2 "
                            "lost with it, rescheduled on sw1 (running, healthy, "
                            "reg:5000/app:2.0.0)")
    assert watch.down_nodes() == ("sw2",)
    assert watch.done_on_nodes_left(service())
    # A node that only missed heartbeats (a loaded machine) comes back: said too.
    watch.look(cluster([task(1, "sw1"), task(2, "sw2", image=OLD, desired="shutdown"),
                        task(2, "sw1", tid="new2"), task(3, "sw3")]))
    assert watch.note().startswith("sw2 went down during the update (node down, ready "
                                   "again since): task web.2 lost with it")


def test_not_done_while_an_old_task_serves_or_a_slot_has_no_new_task() -> None:
    watch = NodeWatch("web")
    watch.look(cluster([task(1, "sw1"), task(2, "sw2", image=OLD), task(3, "sw3", image=OLD)]))
    watch.look(cluster([task(1, "sw1"), task(2, "sw2", image=OLD, desired="shutdown"),
                        task(3, "sw3", image=OLD)], down=("sw2",)))
    assert "task web.2 lost with it, not rescheduled yet" in watch.note()
    assert not watch.done_on_nodes_left(service())


def test_a_node_down_before_opsui_looked_or_a_task_ended_before_is_not_reported() -> None:
    watch = NodeWatch("web")
    watch.look(cluster([task(1, "sw1"), task(2, "sw1", tid="x"),
                        task(2, "sw2", image=OLD, desired="shutdown"), task(3, "sw3")],
                       down=("sw2",)))
    assert watch.note() == "" and not watch.done_on_nodes_left(service())
    # sw2 stopped its old task (replaced by the update) before it died: nothing lost.
    watch = NodeWatch("web")
    watch.look(cluster([task(1, "sw1"), task(2, "sw2", image=OLD), task(3, "sw3")]))
    watch.look(cluster([task(1, "sw1"), task(2, "sw2", image=OLD, desired="shutdown",
                                             state="shutdown"),
                        task(2, "sw3", tid="new2"), task(3, "sw3")], down=("sw2",)))
    assert watch.note() == "" and watch.down_nodes() == ()


def test_a_task_the_manager_still_wants_on_the_dead_node_serves_nothing() -> None:
    watch = NodeWatch("web")
    watch.look(cluster([task(1, "sw1"), task(2, "sw2", image=OLD), task(3, "sw3", image=OLD)]))
    watch.look(cluster([task(1, "sw1"), task(2, "sw2", image=OLD), task(2, "sw1", tid="n2"),
                        task(3, "sw3")], down=("sw2",)))
    assert watch.done_on_nodes_left(service())
