"""Lines of a Swarm service's merged log stream, told apart by task (issue 15).

A manager's ``GET /services/{id}/logs`` (with ``timestamps`` and ``details``) merges the
lines of every task on every node; each line says which task wrote it in its details,
between the timestamp and the text::

    2026-12-07T14:26:10.701081485Z com.docker.swarm.node.id=N,...,com.docker.swarm.task.id=T text

Why this is parsed here: the log pane and ``opsui logs`` show one source per container
(its name before the line), so each task becomes a source named as ``docker service
logs --no-task-ids`` names it, ``web.2@node``, and the details are cut from the line,
which then looks like any container's (timestamp, text). Plain bytes, no decoding: the
sanitiser runs when a line is shown, as for every other log line.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import unquote_plus

from opsui.domain.logtime import STAMP_WIDTH, stamp_of
from opsui.domain.sanitize import clean
from opsui.domain.swarm_cluster import SwarmCluster

TASK_KEY = "com.docker.swarm.task.id"
NODE_KEY = "com.docker.swarm.node.id"


@dataclass(frozen=True)
class TaskLine:
    """One line of the merged stream, split: which task, and the line without details."""

    task_id: str
    """"" when the line carried no task (an engine message such as "Error grabbing logs")."""
    node_id: str
    raw: bytes
    """Timestamp (when there was one), a space, and the text: a container log line."""


def split_line(raw: bytes) -> TaskLine:
    """``raw`` as the service-logs API sends it (timestamps and details on)."""
    stamp = stamp_of(raw)
    head, rest = (raw[:STAMP_WIDTH + 1], raw[STAMP_WIDTH + 1:]) if stamp else (b"", raw)
    details, space, text = rest.partition(b" ")
    if not space or b"=" not in details or details.startswith(b"="):
        return TaskLine("", "", raw)
    task, node = _task_of(details)
    if not task:
        return TaskLine("", "", raw)
    return TaskLine(task, node, head + text)


@functools.lru_cache(maxsize=512)
def _task_of(details: bytes) -> tuple[str, str]:
    """(task id, node id) of a line's details: the same few strings, once per task, so
    a chatty service's lines are not each parsed again."""
    attrs = parse_details(details)
    return attrs.get(TASK_KEY, ""), attrs.get(NODE_KEY, "")


def parse_details(details: bytes) -> dict[str, str]:
    """``k=v,k=v`` (keys and values query-escaped by the engine) as a dict."""
    found: dict[str, str] = {}
    for pair in details.split(b","):
        key, eq, value = pair.partition(b"=")
        if eq:
            found[unquote_plus(key.decode("utf-8", "replace"))] = unquote_plus(
                value.decode("utf-8", "replace"))
    return found


def task_label(cluster: SwarmCluster | None, service: str, task_id: str, node_id: str) -> str:
    """``service.slot@node`` (``service@node`` for a global service's task) as the
    manager names them; the ids, shortened, when it does not know the task (yet)."""
    found = cluster.service(service) if cluster is not None else None
    task = next((t for t in found.tasks if t.id == task_id), None) if found else None
    if task is not None:
        return f"{task.name}@{task.node}"
    node = next((n.hostname for n in cluster.nodes if n.id == node_id), None) \
        if cluster is not None else None
    return f"{clean(service, 200)}.{clean(task_id[:12], 12)}@{node or clean(node_id[:12], 12)}"
