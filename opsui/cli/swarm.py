"""``opsui tasks``: a Swarm cluster's nodes and every service's tasks, on any node.

``opsui ps`` lists the containers of the engine it is connected to, so in a swarm it
cannot show the tasks other nodes run; asked of a manager, this command shows them all
(issue 15): each node's state (a node whose engine died is ``down``), and per service
its tasks with their node, desired and current state, health, restarts and image. Ended
tasks stay listed under the task that replaced them, as ``docker service ps`` does, so a
rescheduling shows; ``--current`` leaves them out.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from opsui.cli.context import Context, single_host, with_connection
from opsui.cli.options import json_option
from opsui.domain.errors import ActionRefused
from opsui.domain.ports import HostConnection
from opsui.domain.swarm_cluster import ServiceTasks, SwarmCluster, SwarmNode, SwarmTask


def add_swarm_commands(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """The subcommands, on the parser's subparsers (``common``: the global options)."""
    tasks = sub.add_parser("tasks", parents=[*common, json_option()],
                           help="a Swarm manager's nodes and services' tasks on every node")
    tasks.add_argument("service", nargs="?", help="only this service (name or id)")
    tasks.add_argument("--current", action="store_true",
                       help="leave out tasks that ended (replaced, rescheduled)")
    tasks.set_defaults(handler=run_tasks)


def run_tasks(context: Context) -> int:
    host = single_host(context)

    def show(connection: HostConnection) -> int:
        cluster = connection.engine.swarm.cluster()
        if cluster is None:
            raise ActionRefused(f"{host.name} is not a Swarm manager",
                                hint="Point --host at a manager node of the swarm "
                                     "(`opsui ps` lists a plain engine's containers).")
        services = cluster.services
        if context.args.service:
            found = cluster.service(context.args.service)
            if found is None:
                raise ActionRefused(f"no service '{context.args.service}' in the swarm",
                                    hint=f"`opsui tasks --host {host.name}` lists them.")
            services = (found,)
        if context.args.json:
            print(json.dumps(cluster_json(cluster, services, host.name,
                                          current_only=context.args.current), indent=2))
        else:
            _print(cluster, services, current_only=context.args.current)
        return 0

    return with_connection(context, host, show)


def _node_json(node: SwarmNode) -> dict[str, object]:
    return {"id": node.id, "hostname": node.hostname, "role": node.role, "state": node.state,
            "availability": node.availability, "address": node.address,
            "leader": node.leader, "reachability": node.reachability,
            "engine_version": node.engine_version, "message": node.message}


def _task_json(task: SwarmTask) -> dict[str, object]:
    return {"id": task.id, "name": task.name, "slot": task.slot, "node": task.node,
            "node_id": task.node_id, "desired_state": task.desired_state,
            "state": task.state, "current": task.current, "health": task.health or None,
            "restarts": task.restarts, "image": task.image, "digest": task.digest or None,
            "message": task.message, "error": task.error or None,
            "updated": task.updated_at.isoformat() if task.updated_at else None,
            "container_id": task.container_id or None}


def cluster_json(cluster: SwarmCluster, services: tuple[ServiceTasks, ...], host: str, *,
                 current_only: bool) -> dict[str, object]:
    return {
        "host": host,
        "manager": cluster.manager,
        "nodes": [_node_json(n) for n in cluster.nodes],
        "services": [{
            "id": s.id, "name": s.name, "image": s.image, "mode": s.mode,
            "replicas": s.replicas, "running": s.running, "update_state": s.update_state,
            "tasks": [_task_json(t) for t in s.tasks if t.current or not current_only],
        } for s in services],
    }


def _table(columns: tuple[str, ...], rows: list[list[str]]) -> None:
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _print(cluster: SwarmCluster, services: tuple[ServiceTasks, ...], *,
           current_only: bool) -> None:
    _table(("node", "role", "state", "availability", "address"),
           [[n.hostname + (" *" if n.hostname == cluster.manager else ""),
             n.role + (" (leader)" if n.leader else ""), n.state, n.availability, n.address]
            for n in cluster.nodes])
    rows: list[list[str]] = []
    for service in services:
        for task in service.tasks:
            if current_only and not task.current:
                continue
            rows.append([task.name if task.current else f" \\_ {task.name}", task.node,
                         task.desired_state, task.state, task.health or "-",
                         str(task.restarts) if task.current else "", task.image,
                         task.error or ""])
    print()
    _table(("task", "node", "desired", "state", "health", "restarts", "image", "error"), rows)
