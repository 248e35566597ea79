"""The real app on the real engine, locally and over the sshd: what an operator sees.

These drive OpsuiApp with the production wiring (opsui.wiring), so the rows come from
docker events through the real backends, not from fakes.
"""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from opsui.config import AppConfig, Config, HostConfig
from opsui.ui.app import OpsuiApp
from opsui.ui.widgets.container_table import ContainerTable
from opsui.wiring import build_gate, build_monitor_factory

from .helpers import (
    APP_HEALTHY,
    Testbed,
    client_ports_to,
    host_port,
    sshd_children_serving,
    wait_for_health,
)

pytestmark = pytest.mark.integration


def screen_text(app: App[Any]) -> str:
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


def cell(app: OpsuiApp, container: Container, column: str) -> str:
    """What the table shows for ``container`` in ``column``; empty while the row is absent."""
    table = app.screen.query_one(ContainerTable)
    try:
        return str(table.get_cell(str(container.id), column).plain)
    except Exception:  # row not there yet
        return ""


def health_cell(app: OpsuiApp, container: Container) -> str:
    return cell(app, container, "health")


async def _turns_unhealthy_without_a_keypress(app: OpsuiApp, container: Container) -> None:
    async with app.run_test(size=(180, 50)) as pilot:
        await until(pilot, lambda: "healthy" in health_cell(app, container), "healthy row")
        # Break the app's health endpoint; Docker's check then fails and emits an event.
        container.exec_run(["rm", "-f", "/www/api/health"])
        await until(pilot, lambda: "unhealthy" in health_cell(app, container),
                    "the row to turn unhealthy by itself")
        assert cell(app, container, "name") == container.name


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


async def test_dropped_ssh_link_shows_reconnecting_then_recovers(
        make_container: Callable[..., Container], testbed: Testbed) -> None:
    container = make_container(APP_HEALTHY)
    host = HostConfig("test", ssh=testbed.ssh_url)
    config = Config(hosts=(host,), known_hosts=str(testbed.ssh_known_hosts),
                    ssh_config=str(testbed.ssh_config))
    app = real_app(host, config)
    pid_file = testbed.state_dir / "sshd.pid"
    async with app.run_test(size=(180, 50)) as pilot:
        await until(pilot, lambda: health_cell(app, container) != "", "rows over SSH")
        ours = sshd_children_serving(pid_file, testbed.ssh_port,
                                     client_ports_to(testbed.ssh_port))
        assert ours, "no sshd child serves this test's connection"
        for pid in ours:
            os.kill(pid, signal.SIGKILL)
        await until(pilot, lambda: "reconnecting" in screen_text(app)
                    or "connecting" in screen_text(app), "the sidebar to show the drop", 15)
        # One host: the sidebar folds away once it is connected again, so "back" is the
        # drop's words gone from the screen (and the events below flowing).
        await until(pilot, lambda: "reconnecting" not in screen_text(app)
                    and "connecting" not in screen_text(app), "the link to come back", 30)
        container.stop(timeout=1)
        await until(pilot, lambda: "exited" in cell(app, container, "state"),
                    "events to flow again after the reconnect")


async def test_http_health_url_is_probed_through_ssh_from_the_hosts_side(
        make_container: Callable[..., Container], testbed: Testbed) -> None:
    """An app's health URL on an SSH host is probed by that host's prober (the tunnel).

    The sshd is on this machine, so the URL would also answer locally; that the probe
    really travels through the SSH channel is shown in test_ssh_host.py.
    """
    container = make_container(APP_HEALTHY, ports={"8080/tcp": ("127.0.0.1", None)})
    port = host_port(container)
    host = HostConfig("test", ssh=testbed.ssh_url)
    app_config = AppConfig("web", host="test", container=str(container.name),
                           health_urls=(f"http://127.0.0.1:{port}/api/health",))
    config = Config(hosts=(host,), apps=(app_config,), health_seconds=1.0,
                    known_hosts=str(testbed.ssh_known_hosts),
                    ssh_config=str(testbed.ssh_config))
    app = real_app(host, config)
    async with app.run_test(size=(180, 50)) as pilot:
        await until(pilot, lambda: "ok" in cell(app, container, "http"), "HTTP health ok")
        container.exec_run(["rm", "-f", "/www/api/health"])
        await until(pilot, lambda: "ok" not in cell(app, container, "http")
                    and cell(app, container, "http") != "", "HTTP health failing")


async def test_dead_engine_shows_how_to_start_one() -> None:
    host = HostConfig("local", docker_host="unix:///nonexistent/docker.sock")
    app = real_app(host)
    async with app.run_test(size=(180, 50)) as pilot:
        await until(pilot, lambda: "/nonexistent/docker.sock" in screen_text(app),
                    "the no-engine panel naming the socket")
        text = screen_text(app)
        assert "dockerd" in text or "systemctl start docker" in text
