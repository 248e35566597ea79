"""The per-task gate of a Swarm deploy: every task of the new version, on its node.

The engine's "update completed" says each new task passed its monitor window; it does
not say where the tasks are, and a task can fail between that and opsui looking. So a
deploy is called done only once the manager's view of the cluster shows every wanted
task of the service running the pinned image, healthy (or running, for an image with
no health check), and the converge step names each task's node, which is what an
operator asks first after a rolling update across nodes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from opsui.domain.errors import EngineUnavailable
from opsui.domain.ports import Cancellation, SwarmEngine, SwarmService
from opsui.domain.sanitize import clean
from opsui.domain.swarm_cluster import ServiceTasks, SwarmTask


@dataclass(frozen=True)
class TaskVerdict:
    good: bool
    detail: str
    """One line per wanted task: ``node: name state health image``."""


def runs_image(task: SwarmTask, image: str) -> bool:
    """The task runs ``image`` (``repo:tag@digest`` when the spec pins one)."""
    full = f"{task.image}@{task.digest}" if task.digest else task.image
    return full == image


def _line(task: SwarmTask) -> str:
    health = task.health or "no health check"
    return (f"{clean(task.node, 100)}: {clean(task.name, 200)} {clean(task.state, 40)}, "
            f"{clean(health, 40)}, {clean(task.image, 200)}")


def judge_tasks(tasks: tuple[SwarmTask, ...], service: SwarmService) -> TaskVerdict:
    """Good when exactly ``service.desired`` tasks are wanted running and each runs the
    service's image, running and healthy (or with no health check)."""
    wanted = sorted((t for t in tasks if t.desired_state == "running"),
                    key=lambda t: (t.slot or 0, t.node))
    good = len(wanted) == service.desired and all(
        runs_image(t, service.image) and t.state == "running" and t.health in ("healthy", "")
        for t in wanted)
    lines = [_line(t) for t in wanted] or ["no task is wanted running"]
    return TaskVerdict(good, "tasks: " + "; ".join(lines))


def gate_tasks(swarm: SwarmEngine, service: SwarmService, timeout: float,
               cancelled: Cancellation, poll: float = 0.5) -> TaskVerdict:
    """Poll the manager's cluster view until :func:`judge_tasks` is good, ``timeout``
    passes or the deploy is cancelled; the last verdict (good, saying so, when the
    engine gives no cluster view at all)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cluster = swarm.cluster()
        except EngineUnavailable as exc:  # a slow answer (a loaded manager): not a verdict
            if time.monotonic() >= deadline:
                raise
            verdict = TaskVerdict(False, f"tasks: the manager did not answer: {exc}")
            if cancelled.wait(poll):
                return verdict
            continue
        if cluster is None:  # updated through it, yet no manager: nothing more to see
            return TaskVerdict(True, "tasks: the engine shows no cluster view")
        found = cluster.service(service.name)
        if found is None:
            verdict = TaskVerdict(False, f"tasks: the manager lists no service "
                                         f"{clean(service.name, 100)}")
        else:
            verdict = judge_tasks(found.tasks, service)
        if verdict.good or time.monotonic() >= deadline or cancelled.wait(poll):
            return verdict


def tasks_note(found: ServiceTasks | None) -> str:
    """The plan's line saying where the service's tasks run now, each to be replaced
    on the cluster's nodes and gated: ``tasks now: sw1: web.1 running, healthy, IMAGE;
    ...``; "" when the manager shows none."""
    if found is None:
        return ""
    wanted = sorted((t for t in found.tasks if t.desired_state == "running"),
                    key=lambda t: (t.slot or 0, t.node))
    if not wanted:
        return ""
    return ("tasks now: " + "; ".join(_line(t) for t in wanted)
            + " (replaced one at a time, start-first; done once every new task runs "
              "healthy on its node)")
