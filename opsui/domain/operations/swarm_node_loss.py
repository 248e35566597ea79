"""A node lost while a Swarm deploy waits for the engine: name it, and know when to stop.

Why this exists (issue 15): when a node's engine dies mid-update, the manager marks
the node down after a few missed heartbeats, gives up on its tasks (their last state
stays ``running``, their desired state becomes ``shutdown``) and reschedules them on
the nodes left. Engine 20.10's updater, though, keeps waiting for the task it handed
to the dead node: the service says "update in progress" for as long as the node is
down, even when every wanted task already runs the new version, healthy, elsewhere.
Waiting for the engine's "completed" would then time out and roll a good release back
for a reason that has nothing to do with it, without ever saying a node went down.

:class:`NodeWatch` follows the manager's cluster view during the converge step: it
remembers which nodes were seen ready, records the tasks of the service that were
lost when one of them went down, says where they were rescheduled, and tells the
deploy when the update is *stranded*: the engine still updating, yet done on every
node that is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opsui.domain.operations.swarm_tasks import judge_tasks, runs_image
from opsui.domain.ports import SwarmService
from opsui.domain.sanitize import clean
from opsui.domain.swarm_cluster import ServiceTasks, SwarmCluster, SwarmTask

ENDED_STATES = frozenset({"shutdown", "failed", "complete", "rejected", "orphaned",
                          "remove"})
"""Task states a node reported before it went: such a task was not lost with it."""


@dataclass(frozen=True)
class LostTask:
    node: str
    name: str
    slot: int | None


@dataclass
class NodeWatch:
    """What happened to the nodes holding ``service``'s tasks while a deploy watched."""

    service: str
    seen_ready: set[str] = field(default_factory=set)
    lost: dict[str, LostTask] = field(default_factory=dict)
    """Task id -> the task lost with its node, in the order found."""
    last: ServiceTasks | None = None
    down_now: set[str] = field(default_factory=set)
    """The nodes down at the last look (a loaded node may come back: it is said)."""
    stranded: bool = False
    """Set by the deploy when it stopped waiting for an engine that stays "updating"
    although every task runs the new version on the nodes left."""

    def look(self, cluster: SwarmCluster) -> None:
        """Take in one reading of the cluster."""
        down = {n.hostname for n in cluster.nodes if n.down}
        self.down_now = down
        self.seen_ready.update(n.hostname for n in cluster.nodes if not n.down)
        found = cluster.service(self.service)
        if found is None:
            return
        self.last = found
        for task in found.tasks:
            if (task.node in down and task.node in self.seen_ready
                    and task.state not in ENDED_STATES and task.id not in self.lost):
                self.lost[task.id] = LostTask(task.node, task.name, task.slot)

    def down_nodes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.node for t in self.lost.values()))

    def done_on_nodes_left(self, service: SwarmService) -> bool:
        """A node went down, and every replica of ``service`` runs its image healthy
        on a node that is still up, none the old one there: nothing is left for the
        engine but the dead node. Tasks on a down node serve nothing anyone can see,
        whatever the manager still wants of them; a new task it cannot place (the
        nodes left are full) is tolerated when its slot runs the new version already."""
        found = self.last
        if not self.lost or found is None:
            return False
        up = [t for t in found.tasks if t.desired_state == "running"
              and t.node not in self.down_now]
        if any(t.slot is None for t in up):  # a global service: one task per node
            return judge_tasks(tuple(up), service).good
        serving = {t.slot for t in up
                   if runs_image(t, service.image) and t.state == "running"
                   and t.health in ("healthy", "")}
        stale = any(t.state == "running" and not runs_image(t, service.image) for t in up)
        return not stale and len(serving) >= service.desired

    def tasks_detail(self, service: SwarmService) -> str:
        """The wanted tasks as the deploy's task gate lists them."""
        return judge_tasks(self.last.tasks, service).detail if self.last else ""

    def note(self) -> str:
        """``opsui-sw2 went down during the update (node down): task web.2 lost with
        it, rescheduled on opsui-sw1 (running, healthy)``; "" when no node went."""
        if not self.lost:
            return ""
        current = self.last.current if self.last is not None else ()
        parts = []
        for node in self.down_nodes():
            tasks = [t for t in self.lost.values() if t.node == node]
            where = "; ".join(_fate(t, current) for t in tasks)
            state = "node down" if node in self.down_now else "node down, ready again since"
            parts.append(f"{clean(node, 100)} went down during the update ({state}): "
                         f"{where}")
        return "\n".join(parts)


def _fate(lost: LostTask, current: tuple[SwarmTask, ...]) -> str:
    """Where the orchestrator put the lost task's replacement, if it did yet."""
    name = clean(lost.name, 200)
    instead = next((t for t in current if t.slot is not None and t.slot == lost.slot
                    and t.node != lost.node), None)
    if instead is None:
        return f"task {name} lost with it, not rescheduled yet"
    health = instead.health or "no health check"
    return (f"task {name} lost with it, rescheduled on {clean(instead.node, 100)} "
            f"({clean(instead.state, 40)}, {clean(health, 40)}, "
            f"{clean(instead.image, 200)})")
