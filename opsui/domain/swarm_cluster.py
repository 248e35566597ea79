"""A Swarm cluster as one of its managers sees it: nodes, services, tasks on every node.

Why this exists (issue 15): opsui otherwise lists the containers of the one engine it is
connected to, so in a swarm the tasks running on other nodes are invisible. A manager
knows every node and every task, including the ones that ended: a task replaced after
its node went down stays listed (desired ``shutdown``) next to its replacement, which is
how a rescheduling shows. Built by the backend from the engine's answers, text already
sanitised; the rules about which tasks belong together (a replicated service's slot, a
global service's node) and how many ended are here, plain Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

ENDED_DESIRED_STATES = frozenset({"shutdown", "remove", "orphaned"})
"""Desired states of a task the orchestrator has given up on (replaced, scaled down)."""


@dataclass(frozen=True)
class SwarmNode:
    """One node of the swarm."""

    id: str
    hostname: str
    role: str
    """``manager`` or ``worker``."""
    state: str
    """``ready``, ``down`` (a missed heartbeat: the engine is gone or cut off),
    ``disconnected`` or ``unknown``."""
    availability: str = "active"
    """``active``, ``pause`` or ``drain``."""
    address: str = ""
    leader: bool = False
    reachability: str = ""
    """A manager's raft reachability (``reachable``/``unreachable``); "" for a worker."""
    engine_version: str = ""
    message: str = ""

    @property
    def down(self) -> bool:
        return self.state != "ready"


@dataclass(frozen=True)
class SwarmTask:
    """One task of a service: the unit the orchestrator places on a node."""

    id: str
    service: str
    slot: int | None
    """A replicated service's replica number; None for a global service's tasks (one
    per node: the node is what tells them apart)."""
    node_id: str
    node: str
    """The node's hostname; its id when the manager no longer knows the node."""
    desired_state: str
    state: str
    """The task's own state as last reported: a task whose node went down keeps its
    last one (often ``running``) while its desired state becomes ``shutdown``."""
    message: str = ""
    error: str = ""
    health: str = ""
    """``healthy``, ``unhealthy``, ``starting`` or "" when nothing is known (no health
    check): see :func:`task_health`."""
    image: str = ""
    """``repo:tag`` the task runs."""
    digest: str = ""
    """``sha256:...`` the spec pinned the image to; "" when the spec names a tag only."""
    updated_at: datetime | None = None
    container_id: str = ""
    restarts: int = 0
    """Tasks of the same slot (global: node) that ended before this one."""

    @property
    def current(self) -> bool:
        """The orchestrator still wants this task (the others are history)."""
        return self.desired_state not in ENDED_DESIRED_STATES

    @property
    def name(self) -> str:
        """``service.slot`` as ``docker service ps`` names it (``service`` for global)."""
        return f"{self.service}.{self.slot}" if self.slot is not None else self.service


@dataclass(frozen=True)
class ServiceTasks:
    """One service and its tasks, current ones first."""

    id: str
    name: str
    image: str
    mode: str
    """``replicated`` or ``global``."""
    replicas: int | None
    """Desired replicas of a replicated service; None for a global one."""
    tasks: tuple[SwarmTask, ...] = ()
    update_state: str = ""

    @property
    def current(self) -> tuple[SwarmTask, ...]:
        return tuple(t for t in self.tasks if t.current)

    @property
    def running(self) -> int:
        return sum(1 for t in self.current if t.state == "running")


@dataclass(frozen=True)
class SwarmCluster:
    """What one manager knows of the swarm."""

    manager: str
    """Hostname of the node opsui asked."""
    nodes: tuple[SwarmNode, ...]
    services: tuple[ServiceTasks, ...]

    def node(self, hostname: str) -> SwarmNode | None:
        return next((n for n in self.nodes if n.hostname == hostname), None)

    def service(self, name: str) -> ServiceTasks | None:
        return next((s for s in self.services if s.name == name or s.id == name), None)


def _group(task: SwarmTask) -> tuple[str, str]:
    return task.service, str(task.slot) if task.slot is not None else f"node:{task.node_id}"


def _newest_first(task: SwarmTask) -> float:
    return -(task.updated_at.timestamp() if task.updated_at else 0.0)


def ordered_tasks(tasks: Iterable[SwarmTask]) -> tuple[SwarmTask, ...]:
    """``tasks`` grouped by slot (global: node), each group's current task first with
    ``restarts`` set to how many of the group ended, then the ended ones newest first:
    the order ``docker service ps`` uses, so a replacement sits above what it replaced."""
    groups: dict[tuple[str, str], list[SwarmTask]] = defaultdict(list)
    for task in tasks:
        groups[_group(task)].append(task)

    def group_order(key: tuple[str, str]) -> tuple[str, int, str]:
        service, slot = key
        return (service, int(slot), "") if slot.isdigit() else (service, 1 << 30, slot)

    ordered: list[SwarmTask] = []
    for key in sorted(groups, key=group_order):
        members = sorted(groups[key], key=_newest_first)
        ended = sum(1 for t in members if not t.current)
        ordered.extend(replace(t, restarts=ended) if t.current else t
                       for t in sorted(members, key=lambda t: not t.current))
    return tuple(ordered)


def task_health(reported: str, state: str, error: str, *, checked: bool) -> str:
    """The container health to show for a task: what its status reported when it did,
    else what the task's state and error imply ("" when they imply nothing). The engine
    holds a task whose container has a health check (``checked``) in ``starting`` until
    the check first passes, and fails it as "unhealthy container" when it stops passing,
    so such a task that is ``running`` was healthy at its last report."""
    if reported:
        return reported
    if "unhealthy" in error.lower():
        return "unhealthy"
    if checked and state == "starting":
        return "starting"
    if checked and state == "running":
        return "healthy"
    return ""
