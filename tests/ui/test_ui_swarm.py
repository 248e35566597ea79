"""The Swarm screen (W): a manager's nodes and every service's tasks on every node.

Pure UI over a fake manager; the cluster reads themselves are tested on the real
three-node swarm (tests/integration/test_swarm_cluster.py).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from textual.pilot import Pilot

from opsui.domain.ports import Cancellation, SwarmEngine, SwarmService
from opsui.domain.swarm_cluster import (
    ServiceTasks,
    SwarmCluster,
    SwarmNode,
    SwarmTask,
    ordered_tasks,
)
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.screens.swarm import SwarmScreen
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import make_app, screen_text, until
from fakes import FakeConnection, FakeEngine, shop_containers

SIZE = (160, 40)
NODES = tuple(SwarmNode(id=f"id{n}", hostname=f"sw{n}", role="manager", state="ready",
                        address=f"10.77.0.{n}", leader=n == 1) for n in (1, 2, 3))


def _task(slot: int, node: int, *, desired: str = "running", minute: int = 1) -> SwarmTask:
    return SwarmTask(id=f"t{slot}-{node}-{minute}", service="web", slot=slot,
                     node_id=f"id{node}", node=f"sw{node}", desired_state=desired,
                     state="running", health="healthy", image="shop/web:1.0.0",
                     updated_at=datetime(2026, 1, 1, 12, minute, tzinfo=UTC))


def _cluster(tasks: list[SwarmTask], nodes: tuple[SwarmNode, ...] = NODES) -> SwarmCluster:
    service = ServiceTasks(id="s1", name="web", image="shop/web:1.0.0", mode="replicated",
                           replicas=3, tasks=ordered_tasks(tasks))
    return SwarmCluster(manager="sw1", nodes=nodes, services=(service,))


class FakeManager:
    """A Swarm manager answering with whatever cluster the test sets."""

    def __init__(self, cluster: SwarmCluster | None) -> None:
        self.answer = cluster

    def cluster(self) -> SwarmCluster | None:
        return self.answer

    def service(self, name: str) -> SwarmService | None:
        return None

    def update_image(self, name: str, image: str,
                     labels: dict[str, str] | None = None) -> None:
        raise AssertionError("the Swarm screen is read-only")

    def rollback(self, name: str) -> None:
        raise AssertionError("the Swarm screen is read-only")

    def wait_update(self, name: str, timeout: float,
                    cancelled: Cancellation) -> SwarmService:
        raise AssertionError("the Swarm screen is read-only")


class ManagerEngine(FakeEngine):
    def __init__(self, manager: FakeManager) -> None:
        super().__init__(shop_containers())
        self.manager = manager

    @property
    def swarm(self) -> SwarmEngine:
        return self.manager


async def _open(pilot: Pilot[Any], app: OpsuiApp) -> None:
    await until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                and app.screen.query_one(ContainerTable).row_count == 6, "six rows")
    await pilot.press("W")
    await until(pilot, lambda: isinstance(app.screen, SwarmScreen), "the swarm screen")


async def test_w_shows_each_task_on_its_node_and_a_rescheduling_after_a_node_died() -> None:
    manager = FakeManager(_cluster([_task(1, 1), _task(2, 2), _task(3, 3)]))
    app = make_app(FakeConnection("local", ManagerEngine(manager)))
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, app)
        await until(pilot, lambda: "web.3" in screen_text(app), "the tasks")
        text = screen_text(app)
        for slot, node in ((1, 1), (2, 2), (3, 3)):
            assert re.search(rf"web\.{slot} +sw{node} +running +running +healthy +0", text)
        assert re.search(r"sw1 \* +manager \(leader\) +ready", text)
        assert "down" not in text

        # Node 3's engine dies; the manager replaces its task on node 1.
        dead = replace(NODES[2], state="down")
        manager.answer = _cluster([_task(1, 1), _task(2, 2),
                                   _task(3, 3, desired="shutdown"),
                                   _task(3, 1, minute=5)], (*NODES[:2], dead))
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "⚠ down: sw3" in screen_text(app), "node 3 down")
        text = screen_text(app)
        assert re.search(r"sw3 +manager +down", text)
        # The replacement on sw1 counts one restart; what it replaced sits under it.
        lines = text.splitlines()
        [new] = [i for i, line in enumerate(lines) if re.search(r"web\.3 +sw1 +running", line)]
        assert re.search(r"web\.3 +sw1 +running +running +healthy +1 ", lines[new])
        assert re.search(r"\\_ web\.3 +sw3 +shutdown", lines[new + 1])
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "back")


async def test_a_host_that_is_no_manager_is_said_so() -> None:
    app = make_app(FakeConnection("local", ManagerEngine(FakeManager(None))))
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, app)
        await until(pilot, lambda: "local is not a Swarm manager" in screen_text(app),
                    "the refusal")


async def test_node_and_task_text_is_drawn_as_text_not_markup() -> None:
    hostile = replace(NODES[1], hostname="[bold red]evil[/]")
    task = replace(_task(1, 2), node="[bold red]evil[/]", error="[link=x]click[/link]")
    app = make_app(FakeConnection("local", ManagerEngine(
        FakeManager(_cluster([task], (NODES[0], hostile, NODES[2]))))))
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, app)
        await until(pilot, lambda: "[link=x]click[/link]" in screen_text(app), "the error")
        assert screen_text(app).count("[bold red]evil[/]") == 2


async def test_the_palette_opens_it_too() -> None:
    app = make_app(FakeConnection("local", ManagerEngine(FakeManager(_cluster([_task(1, 1)])))))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                    and app.screen.query_one(ContainerTable).row_count == 6, "six rows")
        await pilot.press("ctrl+p")
        await pilot.press(*"swarm")
        await until(pilot, lambda: "Swarm: nodes and tasks" in screen_text(app), "the entry")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SwarmScreen)
                    and "web.1" in screen_text(app), "the swarm screen")
