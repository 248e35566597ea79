"""Snapshot tests: the screens an operator sees, from fixed fake data and a frozen clock.

Baselines live in ``__snapshots__``; regenerate with ``--snapshot-update`` and look
at the SVGs (the failure report, snapshot_report.html, shows both side by side).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from ui.fakes import (
    SHOP_APP,
    SHOP_HEALTH,
    FakeConnection,
    FakeEngine,
    ScriptedMonitor,
    config,
    frozen_clock,
    shop_containers,
)
from ui.helpers import NO_USER_THEMES, screen_text, until
from ui.log_fakes import FakeFeed, LogsApp

from opsui.domain.errors import EngineUnavailable
from opsui.domain.logbuffer import LineKind
from opsui.domain.logfeed import LogTarget, TargetKind
from opsui.domain.models import HostStatus, LinkState
from opsui.domain.monitor import HostMonitor, MonitorListener
from opsui.domain.operations.gate import ActionGate
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.screens.detail import DetailScreen
from opsui.ui.screens.logs import LogsScreen
from opsui.ui.widgets.container_table import ContainerTable

SIZE = (150, 36)
CPU_HISTORY = [12, 15, 14, 22, 35, 31, 28, 40, 62, 58, 44, 37, 30, 26, 24, 29, 33, 41, 38, 23]


def shop_app(read_only: bool = False, hosts: tuple[str, ...] = ("local",),
             status: Callable[[str], HostStatus] | None = None,
             theme: str = "opsui-dark") -> OpsuiApp:
    """The fixed shop host (plus optional others), delivered by scripted monitors."""
    gate = ActionGate(read_only=read_only)

    def build(listener: MonitorListener) -> list[HostMonitor]:
        return [
            ScriptedMonitor(FakeConnection(name, FakeEngine(shop_containers())), listener, gate,
                            status=status(name) if status else None,
                            metrics_history=CPU_HISTORY, app_health={"shop": SHOP_HEALTH},
                            apps=(SHOP_APP,))
            for name in hosts
        ]

    return OpsuiApp(config(apps=(SHOP_APP,), theme=theme), gate, build, clock=frozen_clock,
                    theme_dir=NO_USER_THEMES)


async def _dashboard(pilot: Pilot[Any]) -> None:
    """The app opens the dashboard once it has started (a message after the pilot's)."""
    while not isinstance(pilot.app.screen, DashboardScreen):
        await pilot.pause()


async def _populated(pilot: Pilot[Any]) -> None:
    await _dashboard(pilot)
    table = pilot.app.screen.query_one(ContainerTable)
    while table.row_count < 6:
        await pilot.pause()
    await pilot.pause()


def test_dashboard(snap_compare: Any) -> None:
    """The dashboard of a healthy-ish host.

    You should see: the host "local" connected in the sidebar with "✗1"; the status
    line "6 containers │ ✗ 1 unhealthy"; CPU/Mem/Disk/Load gauges with a CPU
    sparkline; rows grouped by compose project (billing, then shop, then the
    project-less "scratchpad" last); shop-worker-1 in red with "✗ unhealthy" and
    4 restarts; billing-api-1 "◌ starting" in amber; the HTTP column "✗ cache" on
    both shop-web rows; the footer with Detail, Sort, Filter, Restart, Stop, Start, Logs.
    """
    assert snap_compare(shop_app(), terminal_size=SIZE, run_before=_populated)


def test_dashboard_light_theme(snap_compare: Any) -> None:
    """The same dashboard in opsui-light (theme = "opsui-light" in opsui.toml).

    You should see: a light background with dark text; the same meanings in darker
    colours (green healthy, red unhealthy shop-worker-1 and "✗ cache", amber
    starting), all readable; the cursor row in the primary blue.
    """
    assert snap_compare(shop_app(theme="opsui-light"), terminal_size=SIZE,
                        run_before=_populated)


def test_dashboard_read_only_with_unreachable_host(snap_compare: Any) -> None:
    """Read-only mode, and a second host whose host key is unknown.

    You should see: the yellow READ-ONLY badge at the top right; "RO" next to both
    hosts; "prod" in red as "host key unknown"; and after pressing "]", prod's
    message with the key fingerprint and the `opsui trust-host prod` hint under
    the host list, and "prod: host key unknown. The message on the left says why and
    what to do." in place of the table.
    """
    def status(name: str) -> HostStatus:
        if name == "prod":
            return HostStatus("prod", LinkState.HOST_KEY_UNKNOWN, None,
                              "prod: host key not known (ssh-ed25519 SHA256:Zm9vYmFyYmF6cXV4)",
                              "Verify the fingerprint out of band, then trust it on purpose "
                              "with `opsui trust-host prod`.")
        return HostStatus(name, LinkState.CONNECTED, 2.0)

    async def run_before(pilot: Pilot[Any]) -> None:
        await _populated(pilot)
        await pilot.press("right_square_bracket")
        await pilot.pause()

    app = shop_app(read_only=True, hosts=("local", "prod"), status=status)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_detail_of_unhealthy_container(snap_compare: Any) -> None:
    """Enter on the unhealthy shop-worker-1.

    You should see: the title line "shop-worker-1 on local running ✗ unhealthy"; the
    red-bordered "Health check" section first, with "failing streak: 5" and
    "last exit code: 1", then five probes, newest first, each "✗ exit 1" with its
    time and the probe's output "wget: can't connect ... Connection refused";
    the Overview section starting below it.
    """
    async def run_before(pilot: Pilot[Any]) -> None:
        await _populated(pilot)
        await pilot.press("down", "down", "down", "down", "enter")
        while not isinstance(pilot.app.screen, DetailScreen) or pilot.app.screen.detail is None:
            await pilot.pause()
        await pilot.pause()

    assert snap_compare(shop_app(), terminal_size=(110, 40), run_before=run_before)


def test_detail_of_web_with_http_health(snap_compare: Any) -> None:
    """Enter on shop-web-1, served by the app "shop" with an HTTP health URL.

    Docker says healthy but the HTTP check fails, so the failing verdict comes first:
    "HTTP health" (red border): "✗ shop http://127.0.0.1:18080/health HTTP 503 12 ms",
    "✓ database 4 ms" and "✗ cache connection refused"; then "Health check" (grey
    border) with five "✓ exit 0" probes; Overview below.
    """
    async def run_before(pilot: Pilot[Any]) -> None:
        await _populated(pilot)
        await pilot.press("down", "down", "enter")
        while not isinstance(pilot.app.screen, DetailScreen) or pilot.app.screen.detail is None:
            await pilot.pause()
        await pilot.pause()

    assert snap_compare(shop_app(), terminal_size=(110, 40), run_before=run_before)


def test_confirm_restart_modal(snap_compare: Any) -> None:
    """"r" on shop-worker-1.

    You should see: the dashboard dimmed behind a dialog with a thick red border
    titled "Confirm", the question "Restart shop-worker-1 on local?", and two
    buttons: a red "Restart" and "Cancel" (focused, so a reflexive Enter cancels).
    """
    async def run_before(pilot: Pilot[Any]) -> None:
        await _populated(pilot)
        await pilot.press("down", "down", "down", "down", "r")
        await pilot.pause()

    assert snap_compare(shop_app(), terminal_size=SIZE, run_before=run_before)


def test_no_engine_screen(snap_compare: Any) -> None:
    """opsui started where dockerd is not running.

    You should see: "local" in red as "no engine" in the sidebar; in the main area
    "No Docker engine answers" in red, then "local: no Docker engine answers at
    unix:///var/run/docker.sock", the hint "Start the Docker engine (`sudo systemctl
    start docker`, or `sudo dockerd &`) ..." and "opsui keeps trying and shows the
    dashboard as soon as an engine answers." No table, no gauges.
    """
    error = EngineUnavailable("local: no Docker engine answers at unix:///var/run/docker.sock")

    def status(name: str) -> HostStatus:
        return HostStatus(name, LinkState.NO_ENGINE, None, str(error),
                          f"{error.hint} Retrying in 4s.")

    async def run_before(pilot: Pilot[Any]) -> None:
        await _dashboard(pilot)
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(shop_app(status=status), terminal_size=(110, 30), run_before=run_before)


def _incident_feed() -> FakeFeed:
    """Three containers of "shop" during an incident: requests, stderr errors, a restart."""
    feed = FakeFeed(LogTarget(TargetKind.PROJECT, ("shop",)),
                    sources=("shop-web-1", "shop-web-2", "shop-worker-1"))
    for second in range(12):
        feed.add(f"GET /api/items/{second} 200 12ms", source=second % 2, second=second)
        if second % 3 == 2:
            feed.add(b"\x1b[31mERROR\x1b[0m payment gateway timeout after 30s order=" +
                     str(4000 + second).encode(), source=2, kind=LineKind.STDERR, second=second)
    feed.add('{"level":"error","msg":"cache connection refused","addr":"redis:6379"}',
             source=0, second=13)
    feed.add("shop-worker-1 restarted (exit code 137)", source=2, kind=LineKind.MARKER,
             second=14)
    feed.add("[bold] literal [@click=app.quit] text with error in it", source=1, second=15)
    feed.add("GET /health 200 1ms", source=1, second=16)
    return feed


def test_log_pane_with_a_filter(snap_compare: Any) -> None:
    """Merged logs of the compose project "shop" with the filter "error" active.

    You should see: the title "project shop on local  tail 1000  7 of 20 lines  filter
    \"error\"" and the green "● live" badge at the top right; only matching lines, each
    with a dim timestamp and a coloured source name (shop-web-1, shop-web-2 and
    shop-worker-1 in three different colours); the worker's stderr lines with a red "▌"
    gutter; every "error" / "ERROR" highlighted on an amber background; the JSON line;
    the marker line "» ... shop-worker-1 restarted (exit code 137)" in bold italic amber
    (markers always pass the filter); "[bold] literal [@click=app.quit] text with error
    in it" shown literally; the filter bar " filter  error" at the bottom; the footer
    with Back, Follow, Search, Filter, Level, Times, Wrap, Save, Copy.
    """
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LogsApp)
        await until(pilot, lambda: isinstance(app.screen, LogsScreen)
                    and app.logs.view.row_count == 20, "all 20 lines")
        await pilot.press("ampersand", *"error", "enter")
        await until(pilot, lambda: "7 of 20 lines" in screen_text(app), "filtered title")

    assert snap_compare(LogsApp(_incident_feed()), terminal_size=(120, 20),
                        run_before=run_before)
