"""Snapshot tests: the screens an operator sees, from fixed fake data and a frozen clock.

Baselines live in ``__snapshots__``; regenerate with ``--snapshot-update`` and look
at the SVGs (the failure report, snapshot_report.html, shows both side by side).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from textual.pilot import Pilot
from ui.helpers import NO_USER_THEMES, screen_text, until

from opsui.config import DEFAULT_STATE_DIR
from opsui.domain.errors import EngineUnavailable
from opsui.domain.history import encode_record
from opsui.domain.logbuffer import LineKind
from opsui.domain.logfeed import LogTarget, TargetKind
from opsui.domain.models import HostStatus, LinkState
from opsui.domain.monitor import HostMonitor, MonitorListener
from opsui.domain.operations.gate import ActionGate
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.backups import BackupsScreen
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.screens.deploy import DeployScreen, PlanConfirmModal, ReleaseRunScreen
from opsui.ui.screens.detail import DetailScreen
from opsui.ui.screens.history import HistoryScreen
from opsui.ui.screens.logs import LogsScreen
from opsui.ui.widgets.container_table import ContainerTable

from fakes import (
    NOW,
    SHOP_APP,
    SHOP_BACKED_UP,
    SHOP_HEALTH,
    FakeConnection,
    FakeEngine,
    FakeHostFiles,
    ScriptedMonitor,
    config,
    frozen_clock,
    seed_backups,
    shop_containers,
)
from fakes.logs import FakeFeed, LogsApp

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

    You should see: no host sidebar (one host: the status line names it); the status
    line "local │ 6 containers │ ✗ 1 unhealthy"; CPU/Mem/Disk/Load gauges with a CPU
    sparkline; columns Name, State, Health, HTTP, then Project/Service; rows grouped by
    compose project (billing, then shop, then the project-less "scratchpad" last); the
    cursor on shop-worker-1 (the first container in trouble), red with "✗ unhealthy"
    and 4 restarts; billing-api-1 "◌ starting" in amber; the HTTP column "✗ cache" on
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
        await pilot.press("ctrl+home", "down", "down", "down", "down", "enter")
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
        await pilot.press("ctrl+home", "down", "down", "enter")
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
        await pilot.press("ctrl+home", "down", "down", "down", "down", "r")
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


# -- deploy, rollback, history (issue 4) --------------------------------------------------

APP_REPO = "opsui-test/app"


def release_app(files: FakeHostFiles | None = None,
                pull_gate: threading.Event | None = None, web_version: str = "1.0.0"
                ) -> OpsuiApp:
    """The shop host with the app in three versions (shop-web-1 runs ``web_version``)."""
    gate = ActionGate()
    engine = FakeEngine([dataclasses.replace(c, image=f"{APP_REPO}:{web_version}")
                         if c.name == "shop-web-1" else c for c in shop_containers()])
    engine.add_image(f"{APP_REPO}:1.0.0", NOW - timedelta(days=5))
    engine.add_image(f"{APP_REPO}:2.0.0", NOW - timedelta(days=2), on_host=False)
    engine.add_image(f"{APP_REPO}:3.0.0", NOW - timedelta(hours=20), on_host=False)
    engine.pull_gate = pull_gate

    def build(listener: MonitorListener) -> list[HostMonitor]:
        return [ScriptedMonitor(FakeConnection("local", engine, files=files), listener, gate,
                                metrics_history=CPU_HISTORY, app_health={"shop": SHOP_HEALTH},
                                apps=(SHOP_APP,))]

    return OpsuiApp(config(apps=(SHOP_APP,)), gate, build, clock=frozen_clock,
                    theme_dir=NO_USER_THEMES)


async def _deploy_confirmation(pilot: Pilot[Any]) -> None:
    """D on shop-web-1, then Enter on 2.0.0 (one below the newest)."""
    await _populated(pilot)
    await pilot.press("ctrl+home", "down", "down", "D")
    await until(pilot, lambda: isinstance(pilot.app.screen, DeployScreen)
                and bool(pilot.app.screen.choices), "the tag list")
    await pilot.press("down", "enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, PlanConfirmModal),
                "the confirmation")
    await pilot.pause()


def test_deploy_confirmation(snap_compare: Any) -> None:
    """D on shop-web-1 (app "shop"), 2.0.0 picked from the tag list.

    You should see: the deploy screen dimmed behind the red-bordered "Confirm" dialog;
    its preview with a blue bar on the left: "host local", "app shop (container
    shop-web-1)", "current opsui-test/app:1.0.0", "digest unknown (not deployed by opsui
    yet)", "target opsui-test/app:2.0.0" in blue, "strategy stop-first (fixed host
    ports)..." (shop-web-1 publishes 18080), "steps lock → pull → create → stop old →
    start → health gate → switch → retention → record"; the question "Deploy shop on
    local?"; a red "Deploy" button and a focused "Cancel".
    """
    assert snap_compare(release_app(), terminal_size=(130, 36),
                        run_before=_deploy_confirmation)


def test_deploy_in_progress(snap_compare: Any) -> None:
    """The same deploy confirmed with y, while its pull is still running.

    You should see: the title "Deploy shop on local  running…"; the summary
    "shop on local: opsui-test/app:1.0.0 → opsui-test/app:2.0.0 (stop-first)"; in the
    step box "✓ lock 0.0s" in green, a spinner on "pull" with its elapsed time, and
    the steps still to come (create, stop old, start, health gate, switch, retention,
    record) dimmed with "·"; the footer with "esc Cancel".
    """
    pulling = threading.Event()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _deploy_confirmation(pilot)
        await pilot.press("y")
        screen = pilot.app.screen_stack[-1]
        await until(pilot, lambda: isinstance(screen, DeployScreen)
                    and screen.steps.state_of("pull") == "running", "the pull running")
        await pilot.pause()

    assert snap_compare(release_app(pull_gate=pulling), terminal_size=(130, 30),
                        run_before=run_before)
    pulling.set()


def _history_files() -> FakeHostFiles:
    """A journal of app "shop": adopted 1.0.0, a good 2.0.0, a failed 3.0.0, a cancelled
    2.1.0; audit lines including a read-only refusal."""
    files = FakeHostFiles()
    path = f"{DEFAULT_STATE_DIR}/shop/journal.jsonl"
    serving = "a1".ljust(64, "0")

    def at(hours: float) -> str:
        return (NOW - timedelta(hours=hours)).isoformat(timespec="seconds")

    def release(rid: str, action: str, version: str, who: str, hours: float,
                steps: list[tuple[str, str, float, str]], outcome: str, reason: str,
                container: str, **extra: Any) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = [
            {"type": "release", "id": rid, "action": action, "app": "shop",
             "image": f"{APP_REPO}:{version}", "version": version, "who": who,
             "at": at(hours), "strategy": "stop-first", **extra},
            {"type": "container", "release": rid, "id": container,
             "image_id": f"sha256:{version.replace('.', '') * 8}"}]
        records += [{"type": "step", "release": rid, "name": name, "outcome": result,
                     "seconds": seconds, "detail": detail}
                    for name, result, seconds, detail in steps]
        records.append({"type": "outcome", "release": rid, "outcome": outcome,
                        "reason": reason, "at": at(hours - 0.02)})
        return records

    ok_steps = [("lock", "ok", 0.02, ""), ("pull", "ok", 3.2, "sha256:9f2c41d0e1b7"),
                ("create", "ok", 0.4, ""), ("stop old", "ok", 1.1, ""),
                ("start", "ok", 0.6, ""), ("health gate", "ok", 8.4, "healthy"),
                ("switch", "ok", 0.3, "old container kept"), ("retention", "ok", 0.1, "")]
    records = [
        *release("r20261120090000-1a2b", "adopt", "1.0.0", "ana@laptop", 75, [], "ok",
                 "shop-web-1 was serving when opsui first deployed shop", "b9".ljust(64, "0")),
        {"type": "good", "release": "r20261120090000-1a2b"},
        *release("r20261122100000-3c4d", "deploy", "2.0.0", "ana@laptop", 26, ok_steps,
                 "ok", "opsui-test/app:2.0.0 (sha256:9f2c41d0e1b7) serves",
                 "b8".ljust(64, "0"), replaces="r20261120090000-1a2b"),
        *release("r20261123093000-5e6f", "deploy", "3.0.0", "bob@desk", 2.5,
                 [*ok_steps[:5], ("health gate", "failed", 31.0,
                                  "Docker's health check says unhealthy")],
                 "failed", "Docker's health check says unhealthy\nlast lines of the new "
                 "container:\nERROR cannot connect to database", "b7".ljust(64, "0")),
        *release("r20261123110000-7a8b", "deploy", "2.1.0", "bob@desk", 1.0,
                 ok_steps[:2], "cancelled", "cancelled by the operator",
                 "b6".ljust(64, "0")),
        *release("r20261123113000-9c0d", "rollback", "2.0.0", "ana@laptop", 0.5,
                 [("lock", "ok", 0.02, ""), ("start", "ok", 0.7, ""),
                  ("health gate", "ok", 6.2, "healthy"), ("switch", "ok", 0.3, "")],
                 "ok", "2.0.0 serves again", serving),
        {"type": "good", "release": "r20261123113000-9c0d"},
    ]
    audit = [("deploy", "to 2.0.0", "ana@laptop", 26, "ok", ""),
             ("deploy", "to 3.0.0", "bob@desk", 2.5, "failed", ""),
             ("deploy", "to 2.1.0", "bob@desk", 1.0, "cancelled", ""),
             ("rollback", "to 2.0.0", "carol@ops", 0.6, "refused",
              "Refused to rollback shop on local: opsui runs in read-only mode"),
             ("rollback", "to 2.0.0", "ana@laptop", 0.5, "ok", "")]
    records += [{"type": "action", "action": action, "target": "shop", "detail": detail,
                 "who": who, "at": at(hours), "outcome": outcome, "error": error}
                for action, detail, who, hours, outcome, error in audit]
    for record in records:
        files.append_record(path, encode_record(record))
    return files


def test_history_screen(snap_compare: Any) -> None:
    """H on shop-web-1: the releases of app "shop" from the host's journal.

    You should see: the title "History shop on local │ serving shop-web-1
    (opsui-test/app:2.0.0) │ 5 releases"; the legend line; five rows newest first: the
    rollback to 2.0.0 marked "▶" (serving) with "ok" in green and a "✓" known-good mark,
    the 2.1.0 deploy "cancelled" in amber, the 3.0.0 deploy "failed" in red, the 2.0.0
    deploy "ok", and the adopted 1.0.0 marked "↩" (where a rollback goes) with "✓";
    each with who, when (time and age) and how long it took; below, the "Audit" box with
    five lines newest first, among them carol@ops's rollback "refused" in amber with its
    reason.
    """
    async def run_before(pilot: Pilot[Any]) -> None:
        await _populated(pilot)
        await pilot.press("ctrl+home", "down", "down", "H")
        await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen)
                    and pilot.app.screen.status is not None, "the history")
        await pilot.pause()

    assert snap_compare(release_app(files=_history_files(), web_version="2.0.0"),
                        terminal_size=(130, 30),
                        run_before=run_before)


# -- backups and migrations (issue 5) -------------------------------------------------------


def backups_app(jobs_gate: threading.Event | None = None) -> OpsuiApp:
    """The shop host with the app "shop" backed up (PostgreSQL) and an alembic
    migration; five backups in its journal (see ``seed_backups``)."""
    gate = ActionGate()
    engine = FakeEngine(shop_containers())
    connection = FakeConnection("local", engine)
    seed_backups(connection)
    jobs = connection.fake_jobs
    jobs.lines = ["INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.",
                  "INFO  [alembic.runtime.migration] Will assume transactional DDL.",
                  "INFO  [alembic.runtime.migration] Running upgrade 3f2a1b -> 7c9d0e, "
                  "orders: add note column",
                  "\x1b[33mWARN\x1b[0m  table orders has 48213 rows; ALTER may take a while",
                  "INFO  [alembic.runtime.migration] Running upgrade 7c9d0e -> 9a1b2c"]
    jobs.hold_after = 4
    jobs.gate = jobs_gate

    def build(listener: MonitorListener) -> list[HostMonitor]:
        return [ScriptedMonitor(connection, listener, gate, metrics_history=CPU_HISTORY,
                                apps=(SHOP_BACKED_UP,))]

    return OpsuiApp(config(apps=(SHOP_BACKED_UP,)), gate, build, clock=frozen_clock,
                    theme_dir=NO_USER_THEMES)


async def _backups_screen(pilot: Pilot[Any]) -> None:
    """K on shop-web-1 (through the palette's key: K is not in the footer)."""
    await _populated(pilot)
    await pilot.press("ctrl+home", "down", "down", "K")
    await until(pilot, lambda: isinstance(pilot.app.screen, BackupsScreen)
                and pilot.app.screen.status is not None, "the backups")
    await pilot.pause()


def test_backups_screen(snap_compare: Any) -> None:
    """K on shop-web-1: the backups of app "shop".

    You should see: the title "Backups shop on local │ 4 backups, 2 verified"; the
    header with app, "engine postgres (database shop in shop-db-1)", "destination
    /var/lib/opsui/shop/backups" and the retention rule; five rows newest first, each
    with its time and age (15m ago ... 3h 00m ago): b...eeee with a red "✗" and
    "pg_restore --list found no entries", the failed dump b...dddd with "-" as size, a
    red "✗" and "dump failed: pg_dump: error: ...", b...cccc with an amber "?" (never
    checked), b...bbbb "✓" and "before migration r20261123100000-1234" in the accent
    colour, b...aaaa "✓"; short sha256s and who; the Activity box with the key hints;
    the footer with Back, Backup now, Verify, Restore, Download, Migrate, Refresh.
    """
    assert snap_compare(backups_app(), terminal_size=(150, 30), run_before=_backups_screen)


def test_migration_in_progress(snap_compare: Any, monkeypatch: Any) -> None:
    """m on the backups screen, confirmed with y, while the migration runs.

    You should see: the title "Migrate shop on local  running…"; the summary "shop on
    local: alembic upgrade head (opsui-test/app:1.0.0)"; in the step box "✓ lock", "✓
    backup" with "b20261123120000-snap: 10,245 bytes; pg_restore --list: 2 entries", a
    spinner on "migrate"; the line " backup: 10.0 KiB at 2.5 MiB/s"; the "Output (4
    lines)" box with four alembic lines, the WARN line with no escape codes; the footer
    with "esc Cancel".
    """
    import opsui.domain.operations.backup_run as backup_run

    monkeypatch.setattr(backup_run, "new_backup_id", lambda: "b20261123120000-snap")
    holding = threading.Event()

    async def run_before(pilot: Pilot[Any]) -> None:
        await _backups_screen(pilot)
        await pilot.press("m")
        await until(pilot, lambda: isinstance(pilot.app.screen, PlanConfirmModal),
                    "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(pilot.app.screen, ReleaseRunScreen)
                    and pilot.app.screen.output_lines == 4, "four lines of output")
        await pilot.pause()

    assert snap_compare(backups_app(jobs_gate=holding), terminal_size=(130, 34),
                        run_before=run_before)
    holding.set()
