"""The launch path: monitors start before the UI, and the UI picks up what they found."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from typing import Any

from opsui.domain.models import Container, HostStatus, LinkState
from opsui.domain.monitor import BufferedListener, HostMonitor, MonitorListener, wait_for
from opsui.domain.operations.gate import ActionGate
from opsui.ui.app import OpsuiApp
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import NO_USER_THEMES, until
from fakes import FAST, FakeConnection, FakeEngine, config, container, frozen_clock


class Recorder:
    """A listener that writes down every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args[-1]))


def test_buffered_listener_holds_updates_then_replays_them_in_order() -> None:
    held = BufferedListener()
    a, b = container("a1", "one"), container("b1", "two")
    held.host_status(HostStatus("local", LinkState.CONNECTED, 1.0))
    held.containers_snapshot("local", [a])
    held.container_changed("local", b)
    target = Recorder()
    assert target.calls == []
    held.attach(target)
    assert [name for name, _ in target.calls] == ["host_status", "containers_snapshot",
                                                 "container_changed"]
    held.container_removed("local", "a1")  # after attaching: straight through
    assert target.calls[-1] == ("container_removed", "a1")


def test_buffered_listener_keeps_order_across_threads_while_attaching() -> None:
    held = BufferedListener()
    target = Recorder()
    sent = [container(f"c{i}") for i in range(200)]

    def produce() -> None:
        for c in sent:
            held.container_changed("local", c)

    thread = threading.Thread(target=produce)
    thread.start()
    held.attach(target)
    thread.join()
    assert [args for _, args in target.calls] == sent


def _enriching_engine(count: int) -> FakeEngine:
    """Listing leaves restart counts unknown; re-reading (inspect) fills them."""

    class ListOnly(FakeEngine):
        def list_containers(self) -> list[Container]:
            return [dataclasses.replace(c, restart_count=None) for c in super().list_containers()]

    return ListOnly([container(f"c{i:02d}", f"svc-{i:02d}", restarts=1) for i in range(count)])


def test_monitor_for_a_ui_reads_the_rows_on_screen_first() -> None:
    engine = _enriching_engine(20)
    read: list[str] = []
    original = engine.get_container

    def spy(container_id: str) -> Container | None:
        read.append(container_id)
        return original(container_id)

    engine.get_container = spy  # type: ignore[method-assign]
    settings = dataclasses.replace(FAST, enrich_wait_seconds=30.0)
    monitor = HostMonitor(FakeConnection("local", engine), BufferedListener(), ActionGate(),
                          settings)
    monitor.start()
    monitor.start()  # a second start (the app's) does nothing
    try:
        assert wait_for(lambda: monitor.connected, 5)
        assert not wait_for(lambda: bool(read), 0.3)  # waits for the UI's rows on screen
        ids = sorted(engine.containers)
        monitor.watch_stats({ids[17], ids[3]})
        assert wait_for(lambda: len(read) >= 20, 5)
        assert set(read[:2]) == {ids[17], ids[3]}
    finally:
        monitor.stop(timeout=2)


async def test_updates_held_before_mount_are_in_the_first_table() -> None:
    """As launched by the CLI: monitors started first, the app attaches on mount."""
    engine = FakeEngine([container(f"c{i:02d}", f"svc-{i:02d}") for i in range(30)])
    held = BufferedListener()
    monitor = HostMonitor(FakeConnection("local", engine), held, ActionGate(), FAST)
    monitor.start()
    started: list[HostMonitor] = []
    try:
        assert wait_for(lambda: monitor.connected, 5)

        def attach(listener: MonitorListener) -> list[HostMonitor]:
            held.attach(listener)
            started.append(monitor)
            return [monitor]

        app = OpsuiApp(config(), ActionGate(), attach, clock=frozen_clock,
                       theme_dir=NO_USER_THEMES)
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: app.dashboard is not None and app.dashboard.is_mounted,
                        "the dashboard")
            table = app.screen.query_one(ContainerTable)
            await until(pilot, lambda: table.row_count == 30, "30 rows")
            assert started == [monitor]
    finally:
        monitor.stop(timeout=2)


def test_a_local_host_loads_the_docker_sdk_without_paramiko() -> None:
    """Building a local host loads no SDK (the launch's first rows come without it);
    connecting loads it, without paramiko (the connect itself is tested on the real
    engine in tests/integration/test_local_host.py)."""
    code = (
        "import sys\n"
        "from opsui.config import Config, HostConfig\n"
        "from opsui.wiring import build_connection\n"
        "build_connection(Config(), HostConfig('local'))\n"
        "assert 'docker' not in sys.modules, 'docker loaded by building the host'\n"
        "from opsui.backends.local import import_docker_sdk_without_paramiko\n"
        "import_docker_sdk_without_paramiko()  # what LocalHost.connect does first\n"
        "import docker\n"
        "assert 'docker.api.client' in sys.modules, 'docker not loaded'\n"
        "assert 'paramiko' not in sys.modules, 'paramiko loaded'\n"
        "import opsui.backends.ssh_host\n"  # an SSH host later still gets paramiko
        "assert sys.modules['paramiko'] is not None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
