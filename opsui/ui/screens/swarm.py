"""A Swarm cluster as the selected host (a manager) sees it: nodes, and every service's
tasks on every node (issue 15). Read-only.

The dashboard lists the containers of the engine opsui is connected to, so the tasks
other nodes run are not in it; a manager knows them all. The screen reads the cluster
every few seconds: a node whose engine dies turns ``down``, and the task that replaces
one of its tasks appears on another node with the old one listed under it (dimmed, no
longer wanted), as ``docker service ps`` shows it. Engine text is drawn as ``Text``.
``l`` opens the logs of the selected task's service, merged across nodes by the manager
(:mod:`opsui.domain.service_tail`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from opsui.domain.swarm_cluster import SwarmCluster, SwarmTask
from opsui.ui.errors import explain, report_worker_failure
from opsui.ui.palette import Palette

REFRESH_SECONDS = 3.0
"""How often the cluster is read again while the screen is open (four API calls)."""

ClusterReader = Callable[[], SwarmCluster | None]
"""Reads the cluster (blocking; called from a worker thread); None: not a manager."""


class SwarmScreen(Screen[None]):
    """Nodes and tasks of the swarm the host ``host`` manages."""

    DEFAULT_CSS = """
    SwarmScreen #swarm-title { dock: top; height: 1; background: $panel; }
    SwarmScreen #swarm-note { height: auto; padding: 0 1; }
    SwarmScreen #swarm-nodes { height: auto; max-height: 12; background: $background; }
    SwarmScreen #swarm-tasks { height: 1fr; background: $background; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="swarm.back", tooltip="Back to where you were."),
        Binding("ctrl+r", "reload", "Refresh", id="swarm.refresh",
                tooltip="Read the cluster from the manager again now."),
        Binding("l", "logs", "Logs", id="swarm.logs",
                tooltip="Follow the selected task's service: every task on every node, "
                "merged by the manager."),
    ]

    AUTO_FOCUS = "#swarm-tasks"

    class Loaded(Message):
        """The manager answered (``cluster`` None: the host is no manager)."""

        def __init__(self, cluster: SwarmCluster | None) -> None:
            super().__init__()
            self.cluster = cluster

    class OpenServiceLogs(Message):
        """Follow the logs of the Swarm service ``service`` through ``host``."""

        def __init__(self, host: str, service: str) -> None:
            super().__init__()
            self.host = host
            self.service = service

    def __init__(self, host: str, read: ClusterReader,
                 refresh_seconds: float = REFRESH_SECONDS) -> None:
        super().__init__()
        self.host = host
        self.read = read
        self.refresh_seconds = refresh_seconds
        self.cluster: SwarmCluster | None = None
        """The last answer."""

    def compose(self) -> ComposeResult:
        yield Static(Text(f" Swarm of {self.host}"), id="swarm-title")
        yield Static(Text("Asking the manager…"), id="swarm-note")
        yield DataTable(id="swarm-nodes", cursor_type="none", zebra_stripes=True)
        yield DataTable(id="swarm-tasks", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        nodes = self.query_one("#swarm-nodes", DataTable)
        for label in ("node", "role", "state", "availability", "address", "engine"):
            nodes.add_column(label, key=label)
        tasks = self.query_one("#swarm-tasks", DataTable)
        for label in ("task", "node", "desired", "state", "health", "restarts", "image",
                      "error"):
            tasks.add_column(label, key=label)
        self.action_reload()
        self.set_interval(self.refresh_seconds, self.action_reload)

    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.load()

    def action_logs(self) -> None:
        """The service of the task under the cursor, to the app (which opens its logs)."""
        table: DataTable[Any] = self.query_one("#swarm-tasks", DataTable)
        if self.cluster is None or not table.row_count:
            self.notify("No task selected.", severity="warning", markup=False)
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        service = next((s for s in self.cluster.services
                        if any(t.id == key for t in s.tasks)), None)
        if service is not None:
            self.post_message(self.OpenServiceLogs(self.host, service.name))

    @work(thread=True, exclusive=True, exit_on_error=False, group="swarm",
          description="Cannot read the swarm")
    def load(self) -> None:
        self.post_message(self.Loaded(self.read()))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self.app, event)
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.query_one("#swarm-note", Static).update(
                Text(f"Cannot read the swarm: {explain(event.worker.error)}",
                     style=Palette.of(self.app).bad))

    def on_swarm_screen_loaded(self, message: Loaded) -> None:
        self.cluster = cluster = message.cluster
        palette = Palette.of(self.app)
        note = self.query_one("#swarm-note", Static)
        if cluster is None:
            note.update(Text(f"{self.host} is not a Swarm manager: point opsui at a manager "
                             f"node to see the cluster's tasks.", style=palette.warn))
            return
        down = [n.hostname for n in cluster.nodes if n.down]
        text = Text(f"asked {cluster.manager}: {len(cluster.nodes)} node(s), "
                    f"{len(cluster.services)} service(s)", style=palette.muted)
        if down:
            text.append(f"   ⚠ down: {', '.join(down)}", style=palette.bad)
        note.update(text)
        self._draw_nodes(cluster, palette)
        self._draw_tasks(cluster, palette)

    def _draw_nodes(self, cluster: SwarmCluster, palette: Palette) -> None:
        table: DataTable[Any] = self.query_one("#swarm-nodes", DataTable)
        table.clear()
        for node in cluster.nodes:
            here = " *" if node.hostname == cluster.manager else ""
            table.add_row(
                Text(node.hostname + here, style=palette.strong),
                Text(node.role + (" (leader)" if node.leader else "")),
                Text(node.state, style=palette.bad if node.down else palette.ok),
                Text(node.availability, style=palette.muted),
                Text(node.address, style=palette.muted),
                Text(node.engine_version, style=palette.muted),
                key=node.id)

    def _draw_tasks(self, cluster: SwarmCluster, palette: Palette) -> None:
        table: DataTable[Any] = self.query_one("#swarm-tasks", DataTable)
        keep = table.cursor_row
        table.clear()
        down = {n.id for n in cluster.nodes if n.down}
        for service in cluster.services:
            for task in service.tasks:
                table.add_row(*_task_cells(task, task.node_id in down, palette), key=task.id)
        if table.row_count:
            table.move_cursor(row=min(max(keep, 0), table.row_count - 1))


def _health_style(health: str, palette: Palette) -> Style:
    return {"healthy": palette.ok, "unhealthy": palette.bad,
            "starting": palette.warn}.get(health, palette.muted)


def _task_cells(task: SwarmTask, node_down: bool, palette: Palette) -> list[Text]:
    if not task.current:  # history: what a replacement replaced
        muted = palette.muted
        return [Text(f" \\_ {task.name}", style=muted),
                Text(task.node, style=palette.bad if node_down else muted),
                Text(task.desired_state, style=muted), Text(task.state, style=muted),
                Text(task.health or "-", style=muted), Text(""),
                Text(task.image, style=muted), Text(task.error, style=muted)]
    running = task.state == "running"
    return [Text(task.name, style=palette.strong),
            Text(task.node, style=palette.bad if node_down else Style()),
            Text(task.desired_state),
            Text(task.state, style=palette.ok if running else palette.warn),
            Text(task.health or "-", style=_health_style(task.health, palette)),
            Text(str(task.restarts), style=palette.warn if task.restarts else palette.muted,
                 justify="right"),
            Text(task.image, style=palette.muted),
            Text(task.error, style=palette.bad)]
