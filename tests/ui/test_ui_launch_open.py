"""``opsui --open`` (issue 14): when the lists came while Textual loaded, the target's
tail is asked for before any screen is built, so its first lines travel while the
dashboard and the log pane are made, and the pane shows them."""

from __future__ import annotations

import threading
from typing import Any

from opsui.domain.models import Container
from opsui.domain.monitor import BufferedListener, HostMonitor, MonitorListener, wait_for
from opsui.domain.operations.gate import ActionGate
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.screens.logs import LogsScreen

from .helpers import NO_USER_THEMES, screen_text, until
from fakes import FAST, FakeEngine, config, container, frozen_clock
from fakes.connection import FakeConnection
from fakes.logs import stamped


class _Held(BufferedListener):
    """Holds updates as the CLI's listener does, and tells when the first list is in."""

    def __init__(self) -> None:
        super().__init__()
        self.listed = threading.Event()

    def containers_snapshot(self, host: str, containers: list[Container]) -> None:
        super().containers_snapshot(host, containers)
        self.listed.set()


async def test_open_asks_for_the_tail_before_building_the_dashboard(
        monkeypatch: Any) -> None:
    rows = [container(f"c{i:02d}", f"svc-{i:02d}") for i in range(30)]
    engine = FakeEngine(rows)
    engine.log_lines[rows[7].id] = [stamped(1, "the line the operator came for")]
    order: list[str] = []
    asked = engine.logs

    def logs(container_id: str, **kwargs: Any) -> Any:
        order.append(f"logs {container_id}")
        return asked(container_id, **kwargs)

    engine.logs = logs  # type: ignore[method-assign]
    mounted = DashboardScreen.on_mount

    def on_mount(self: DashboardScreen) -> None:
        order.append("dashboard")
        mounted(self)

    monkeypatch.setattr(DashboardScreen, "on_mount", on_mount)
    held = _Held()
    monitor = HostMonitor(FakeConnection("local", engine), held, ActionGate(), FAST)
    monitor.start()  # as the CLI does: listing while Textual loads
    try:
        assert wait_for(held.listed.is_set, 5)

        def attach(listener: MonitorListener) -> list[HostMonitor]:
            held.attach(listener)
            return [monitor]

        app = OpsuiApp(config(), ActionGate(), attach, clock=frozen_clock,
                       theme_dir=NO_USER_THEMES, open_target="svc-07")
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, LogsScreen)
                        and "the line the operator came for" in screen_text(app),
                        "the log pane with its first line")
        assert order.index(f"logs {rows[7].id}") < order.index("dashboard"), order
    finally:
        monitor.stop(timeout=2)

