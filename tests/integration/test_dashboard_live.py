"""The real app on the real engine, locally and over the sshd: what an operator sees.

These drive OpsuiApp with the production wiring (opsui.wiring), so the rows come from
docker events through the real backends, not from fakes.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container
from rich.console import Console
from textual.pilot import Pilot

from opsui.config import Config, HostConfig
from opsui.ui.app import OpsuiApp
from opsui.ui.widgets.container_table import ContainerTable
from opsui.wiring import build_gate, build_monitor_factory

from .helpers import APP_HEALTHY, Testbed, wait_for_health

pytestmark = pytest.mark.integration


def screen_text(app: OpsuiApp) -> str:
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      record=True)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], what: str,
                timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)


def real_app(host: HostConfig, config: Config | None = None) -> OpsuiApp:
    config = config or Config(hosts=(host,))
    gate = build_gate(config, [host], read_only=False)
    return OpsuiApp(config, gate, build_monitor_factory(config, gate, [host]),
                    theme_dir=Path("/nonexistent"))


def health_cell(app: OpsuiApp, container: Container) -> str:
    table = app.screen.query_one(ContainerTable)
    try:
        return str(table.get_cell(container.id, "health").plain)
    except Exception:  # row not there yet
        return ""


async def _turns_unhealthy_without_a_keypress(app: OpsuiApp, container: Container) -> None:
    async with app.run_test(size=(180, 50)) as pilot:
        await until(pilot, lambda: "healthy" in health_cell(app, container), "healthy row")
        # Break the app's health endpoint; Docker's check then fails and emits an event.
        container.exec_run(["rm", "-f", "/www/api/health"])
        await until(pilot, lambda: "unhealthy" in health_cell(app, container),
                    "the row to turn unhealthy by itself")
        assert container.name in screen_text(app)


async def test_local_container_turning_unhealthy_shows_without_a_keypress(
        make_container: Callable[..., Container]) -> None:
    container = make_container(APP_HEALTHY)
    wait_for_health(container, "healthy")
    await _turns_unhealthy_without_a_keypress(real_app(HostConfig("local")), container)


async def test_over_ssh_container_turning_unhealthy_shows_without_a_keypress(
        make_container: Callable[..., Container], testbed: Testbed) -> None:
    container = make_container(APP_HEALTHY)
    wait_for_health(container, "healthy")
    host = HostConfig("test", ssh=testbed.ssh_url)
    config = Config(hosts=(host,), known_hosts=str(testbed.ssh_known_hosts),
                    ssh_config=str(testbed.ssh_config))
    await _turns_unhealthy_without_a_keypress(real_app(host, config), container)


async def test_unreachable_host_is_shown_while_the_local_one_keeps_working(
        make_container: Callable[..., Container]) -> None:
    container = make_container(APP_HEALTHY)
    local = HostConfig("local")
    dead = HostConfig("dead", ssh="ssh://root@127.0.0.1:1")
    config = Config(hosts=(local, dead))
    gate = build_gate(config, [local, dead], read_only=False)
    app = OpsuiApp(config, gate, build_monitor_factory(config, gate, [local, dead]),
                   theme_dir=Path("/nonexistent"))
    async with app.run_test(size=(180, 50)) as pilot:
        await until(pilot, lambda: "unreachable" in screen_text(app), "dead host marked")
        await until(pilot, lambda: health_cell(app, container) != "", "local rows present")
