"""A host with hundreds of containers: updates by key, stats only for visible rows."""

from __future__ import annotations

import dataclasses
from typing import Any

from opsui.domain.models import ContainerStats, Health
from opsui.domain.monitor import HostMonitor, MonitorListener
from opsui.domain.operations.gate import ActionGate
from opsui.ui.app import OpsuiApp
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import NO_USER_THEMES, until
from fakes import NOW, FakeConnection, FakeEngine, ScriptedMonitor, config, container, frozen_clock

COUNT = 240


class WatchingMonitor(ScriptedMonitor):
    """Records what the UI asks it to sample."""

    watched: list[frozenset[str]]

    def watch_stats(self, container_ids: Any) -> None:
        self.watched.append(frozenset(container_ids))
        super().watch_stats(container_ids)


def big_app() -> tuple[OpsuiApp, list[WatchingMonitor], FakeEngine]:
    engine = FakeEngine([container(f"c{i:03d}", f"svc-{i:03d}", project=f"p{i % 7}",
                                   service="app") for i in range(COUNT)])
    gate = ActionGate()
    monitors: list[WatchingMonitor] = []

    def build(listener: MonitorListener) -> list[HostMonitor]:
        monitor = WatchingMonitor(FakeConnection("local", engine), listener, gate)
        monitor.watched = []
        monitors.append(monitor)
        return [monitor]

    return (OpsuiApp(config(), gate, build, clock=frozen_clock, theme_dir=NO_USER_THEMES),
            monitors, engine)


async def test_one_change_updates_one_row_without_rebuilding() -> None:
    app, _, engine = big_app()
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == COUNT, f"{COUNT} rows")
        calls: list[str] = []
        for name in ("clear", "add_row", "remove_row"):
            original = getattr(table, name)

            def spy(*args: Any, _name: str = name, _original: Any = original,
                    **kwargs: Any) -> Any:
                calls.append(_name)
                return _original(*args, **kwargs)

            setattr(table, name, spy)
        target = next(c for c in engine.containers.values() if c.name == "svc-123")
        app.bridge.container_changed("local", dataclasses.replace(target,
                                                                  health=Health.UNHEALTHY))
        await until(pilot, lambda: table.get_cell(target.id, "health").plain == "✗ unhealthy",
                    "the one row to change")
        assert calls == []  # no rebuild, no row churn (timings live in bench/)


async def test_stats_are_requested_only_for_rows_on_screen() -> None:
    app, monitors, _ = big_app()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == COUNT, f"{COUNT} rows")
        monitor = monitors[0]
        await until(pilot, lambda: bool(monitor.watched and monitor.watched[-1]), "a watch set")
        first = monitor.watched[-1]
        assert 10 < len(first) < 40  # about one screenful, not all 240
        await pilot.press("pagedown", "pagedown")
        await until(pilot, lambda: monitor.watched[-1] != first, "a new watch set")
        assert not (monitor.watched[-1] & first)


async def test_burst_of_stats_is_applied_in_one_redraw() -> None:
    app, _, engine = big_app()
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == COUNT, f"{COUNT} rows")
        redraws = 0
        dashboard = app.dashboard
        assert dashboard is not None
        original = dashboard.apply

        def counting(changes: Any) -> None:
            nonlocal redraws
            redraws += 1
            original(changes)

        dashboard.apply = counting  # type: ignore[method-assign]
        ids = list(engine.containers)
        for round_ in range(20):
            app.bridge.container_stats("local", [
                ContainerStats(cid, float(round_), 1024 * round_, 2**30, NOW) for cid in ids])
        await until(pilot, lambda: table.get_cell(ids[0], "cpu").plain == "19.0%", "last round")
        assert redraws < 20  # coalesced: the table did not redraw once per message
