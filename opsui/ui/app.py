"""The opsui Textual app: wires monitors to the state store and the screens.

``cli.py`` builds the config, the gate and a monitor factory; this app makes the
listener (:class:`MonitorBridge`), asks the factory for monitors, starts them, and
stops them on exit. Monitor messages are applied to :class:`UiState` as they
arrive; the screens redraw once per burst (see :meth:`OpsuiApp._redraw_changes`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen

from opsui.config import Config
from opsui.domain.errors import OpsuiError
from opsui.domain.logfeed import LogTarget, LogWindow, TargetKind
from opsui.domain.logtail import LogTail
from opsui.domain.monitor import HostMonitor, MonitorListener
from opsui.domain.operations.gate import ActionGate
from opsui.ui.bridge import MonitorBridge
from opsui.ui.commands import OpsuiCommands, PaletteCommand
from opsui.ui.errors import notify_error
from opsui.ui.gc_tuning import (
    FULL_COLLECTION_SECONDS,
    FullCollections,
    tune_garbage_collection,
)
from opsui.ui.keys import binding_ids, unknown_binding_ids
from opsui.ui.open_target import OpenFound, find_open_target
from opsui.ui.quitting import run_workers_on_daemon_threads
from opsui.ui.releases_flow import ReleaseFlowApp
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.state import UiState
from opsui.ui.strip_cycles import break_strip_cycles
from opsui.ui.themes import DEFAULT_THEME, LIGHT_THEME, load_themes, theme_sources

if TYPE_CHECKING:
    from opsui.ui.screens.swarm import SwarmScreen

MonitorFactory = Callable[[MonitorListener], list[HostMonitor]]

QUIT_GRACE_SECONDS = 0.5
"""How long quitting waits, in total, for monitors to close their connections."""

REDRAW_INTERVAL = 0.1
"""The screens are redrawn at most this often: a burst of updates (every container
re-read at start-up, a deploy's events) is drawn in a few batches, not one per update."""


class OpsuiApp(ReleaseFlowApp):
    """A dashboard of Docker hosts: containers, health, metrics, and safe actions."""

    CSS_PATH = Path(__file__).with_name("opsui.tcss")  # absolute: subclasses live elsewhere
    TITLE = "opsui"
    COMMANDS = ReleaseFlowApp.COMMANDS | {OpsuiCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit",
                tooltip="Quit opsui (containers keep running)."),
        Binding("ctrl+q", "quit", "Quit", id="app.quit_now", show=False, priority=True,
                tooltip="Quit opsui from anywhere, even while typing."),
        Binding("ctrl+p", "command_palette", "Commands", id="app.command_palette",
                priority=True, show=False, tooltip="Search the commands that fit this screen."),
        Binding("ctrl+t", "toggle_theme", "Theme", id="app.toggle_theme", show=False,
                tooltip="Switch between the dark and the light theme."),
        Binding("question_mark,f1", "help", "Help", id="app.help", show=False,
                tooltip="The keys of this screen, with their ids for opsui.toml [keys]."),
        Binding("W", "swarm", "Swarm", id="app.swarm", show=False,
                tooltip="The selected host's Swarm (a manager): nodes, and every service's "
                "tasks on every node."),
    ]

    def __init__(
        self,
        config: Config,
        gate: ActionGate,
        monitor_factory: MonitorFactory,
        initial_host: str | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        theme_dir: Path | None = None,
        open_target: str | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        """Validated settings (theme, key remaps, apps with health URLs)."""
        self.gate = gate
        """The action gate the monitors share; read-only mode lives there."""
        self.monitor_factory = monitor_factory
        self.initial_host = initial_host
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now().astimezone())
        """Now; tests and screenshots freeze it so uptimes are stable."""
        self.theme_dir = theme_dir
        """User theme folder (default ``$XDG_CONFIG_HOME/opsui/themes``)."""
        self.state = UiState(apps=config.apps)
        """What the UI knows about every host."""
        self.bridge = MonitorBridge(self, apply_now=self.apply_monitor_update)
        """The listener handed to the monitors."""
        self.dashboard: DashboardScreen | None = None
        self.open_target = open_target
        """``opsui --open TARGET``: selected, its logs open, once the lists arrive."""
        self._flush_pending = False
        self._last_redraw = 0.0
        self._full_collections: FullCollections | None = None
        self._early_feed: tuple[OpenFound, LogTail] | None = None
        """``--open``: the target found in the lists held at mount, its tail started."""

    # -- lifecycle ------------------------------------------------------------------------

    def on_load(self) -> None:
        run_workers_on_daemon_threads()  # before any worker: quitting never waits on them
        break_strip_cycles()  # before the first frame: every strip freed when it is done
        # Before the first stylesheet pass: a theme set on mount restyles (and redraws)
        # every widget once more, and tells the dashboard to rebuild its cells.
        self._apply_themes()

    def on_mount(self) -> None:
        self._apply_keymap()
        try:  # updates held since launch are applied now, before the dashboard draws
            monitors = self.monitor_factory(self.bridge)
        except OpsuiError as exc:
            notify_error(self, exc, title="Cannot start monitors")
            monitors = []
        self.monitors = {monitor.name: monitor for monitor in monitors}
        for monitor in monitors:
            self.state.host(monitor.name)
            self.state.apply_status(monitor.status)
        self.state.take_changes()
        if self.open_target is not None:  # its tail is asked for before any screen is built
            self._early_feed = self._start_open_feed(self.open_target)
        self.dashboard = DashboardScreen(
            self.state, self.monitors, self.request_container_action,
            with_http=any(app.health_urls for app in self.config.apps),
            clock=self.clock, initial_host=self.initial_host)
        # Opened once the app has started: Textual draws nothing while it starts, and a
        # frame drawn then would be thrown away, and so drawn (the whole table) again.
        self.call_later(self._open_dashboard, self.dashboard, monitors)

    async def _open_dashboard(self, dashboard: DashboardScreen,
                              monitors: list[HostMonitor]) -> None:
        await self.push_screen(dashboard)  # mounted before the first update arrives
        if self.open_target is not None:  # the lists may have arrived while Textual loaded
            self._open_target(dashboard, self.open_target)
        for monitor in monitors:
            monitor.start()
        self.start_lock_polls()
        self.call_after_refresh(tune_garbage_collection)
        # Textual's render objects are cyclic: without this, a night of container churn
        # piles them up until a rare count-triggered full collection (issue 16).
        self._full_collections = collections = FullCollections()
        self.set_interval(FULL_COLLECTION_SECONDS / 4, collections.tick)

    def on_unmount(self) -> None:
        if self._early_feed is not None:  # quit before the log pane opened
            self._early_feed[1].close()
        if self._full_collections is not None:
            self._full_collections.close()
        self.stop_monitors()

    def stop_monitors(self) -> None:
        """Signal every monitor, then give them all one short grace period together.

        Quitting must be quick when production is on fire; a monitor thread blocked in
        a slow host call is a daemon and does not hold the process open.
        """
        monitors = list(self.monitors.values())
        for monitor in monitors:
            monitor.stop(timeout=0)
        deadline = time.monotonic() + QUIT_GRACE_SECONDS
        for monitor in monitors:
            monitor.stop(timeout=max(0.0, deadline - time.monotonic()))

    def _apply_themes(self) -> None:
        loaded = load_themes(theme_sources(self.theme_dir))
        for theme in loaded.themes:
            self.register_theme(theme)
        for problem in loaded.problems:
            self.notify(f"{problem}\nThe file was skipped.", title="Theme skipped",
                        severity="warning", timeout=10, markup=False)
        wanted = self.config.theme
        if wanted not in self.available_themes:
            fallback = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
            self.notify(f"Unknown theme '{wanted}' (from {self.config.source}); using "
                        f"'{fallback}'. Known: {', '.join(sorted(self.available_themes))}.",
                        title="Theme", severity="warning", timeout=10, markup=False)
            wanted = fallback
        self.theme = wanted

    def _apply_keymap(self) -> None:
        keymap = dict(self.config.keys)
        if not keymap:  # nothing to check: the other screens load when first opened
            return
        known = binding_ids(self.bound_classes())
        unknown = unknown_binding_ids(keymap, known)
        if unknown:
            self.notify(f"Unknown key binding id(s) in {self.config.source} [keys]: "
                        f"{', '.join(unknown)}. Known ids: {', '.join(sorted(known))}.",
                        title="Keys", severity="warning", timeout=15, markup=False)
            keymap = {k: v for k, v in keymap.items() if k not in unknown}
        self.set_keymap(keymap)

    @staticmethod
    def bound_classes() -> Iterable[type[DOMNode]]:
        """Every class whose bindings an opsui.toml [keys] entry may remap (imported
        here: a launch draws the dashboard before it loads any other screen)."""
        from opsui.ui.screens.backups import BackupsScreen, DownloadModal
        from opsui.ui.screens.confirm import ConfirmModal
        from opsui.ui.screens.deploy import DeployScreen, PlanConfirmModal, ReleaseRunScreen
        from opsui.ui.screens.detail import DetailScreen
        from opsui.ui.screens.help import HelpScreen
        from opsui.ui.screens.history import HistoryScreen, ReleaseDetailScreen
        from opsui.ui.screens.logs import LogsScreen
        from opsui.ui.screens.save_log import SaveLogModal
        from opsui.ui.screens.swarm import SwarmScreen
        from opsui.ui.widgets.container_table import ContainerTable
        from opsui.ui.widgets.filter_bar import FilterBar
        from opsui.ui.widgets.log_query_bar import LogQueryInput

        return (OpsuiApp, DashboardScreen, ContainerTable, FilterBar, DetailScreen, ConfirmModal,
                LogsScreen, LogQueryInput, SaveLogModal, DeployScreen, ReleaseRunScreen,
                PlanConfirmModal, HistoryScreen, ReleaseDetailScreen, BackupsScreen,
                DownloadModal, HelpScreen, SwarmScreen)

    # -- monitor updates -------------------------------------------------------------------

    @on(MonitorBridge.Update)
    def apply_monitor_update(self, message: MonitorBridge.Update) -> None:
        """Apply one update; schedule one redraw for the whole burst."""
        state = self.state
        match message:
            case MonitorBridge.Status(status=status):
                state.apply_status(status)
            case MonitorBridge.Snapshot(host=host, containers=containers):
                state.apply_snapshot(host, containers)
            case MonitorBridge.Changed(host=host, container=container):
                state.apply_changed(host, container)
            case MonitorBridge.Removed(host=host, container_id=container_id):
                state.apply_removed(host, container_id)
            case MonitorBridge.Metrics(host=host, metrics=metrics):
                state.apply_metrics(host, metrics)
            case MonitorBridge.Stats(host=host, stats=stats):
                state.apply_stats(host, stats)
            case MonitorBridge.AppHealth(host=host, app=app, results=results):
                state.apply_app_health(host, app, results)
        if not self._flush_pending:
            self._flush_pending = True
            wait = self._last_redraw + REDRAW_INTERVAL - time.monotonic()
            if wait > 0:
                self.set_timer(wait, self._redraw_changes)
            else:
                self.call_later(self._redraw_changes)

    def _redraw_changes(self) -> None:
        """Hand everything that changed since the last flush to the screens at once."""
        self._flush_pending = False
        self._last_redraw = time.monotonic()
        if not self.is_running or self.dashboard is None or not self.dashboard.is_mounted:
            return  # shutting down, or the dashboard draws the whole state when it mounts
        changes = self.state.take_changes()
        if not changes:
            return
        with self.batch_update():
            self.dashboard.apply(changes)
            for screen in self._screens_above_dashboard():
                from opsui.ui.screens.detail import DetailScreen  # loaded by the first one

                if isinstance(screen, DetailScreen):
                    host, cid = screen.host, screen.container.id
                    moved = changes.containers.get(host, set()) | changes.removed.get(host, set())
                    if cid in moved:  # not on mere stats: those do not change the detail
                        screen.container_changed(self.state.host(host).containers.get(cid))
        if self.open_target is not None and (changes.snapshots or changes.statuses):
            self._open_target(self.dashboard, self.open_target)

    def _screens_above_dashboard(self) -> list[Screen[object]]:
        """Screens over Textual's default screen and the dashboard (none before the first
        one opens; the detail screen's module loads only then)."""
        stack = self.screen_stack
        return stack[2:] if len(stack) > 2 else []

    # -- navigation ------------------------------------------------------------------------

    def _start_open_feed(self, ref: str) -> tuple[OpenFound, LogTail] | None:
        """``--open`` when the lists came while Textual loaded: the target's tail starts
        now, so its request runs while the dashboard and the log pane are built."""
        found = find_open_target(ref, self.state)
        if not isinstance(found, OpenFound):
            return None  # not listed yet, or unknown: _open_target says so later
        feed = self._start_feed(found.host, found.target)
        return (found, feed) if feed is not None else None

    def _open_target(self, dashboard: DashboardScreen, ref: str) -> None:
        """``--open``: select the target and follow its logs, or say it is unknown."""
        early, self._early_feed = self._early_feed, None
        found = early[0] if early is not None else find_open_target(ref, self.state)
        if found is None:
            return  # a host has not listed yet
        self.open_target = None
        if isinstance(found, str):
            self.notify(found, title="--open", severity="warning", timeout=15, markup=False)
            return
        dashboard.show_container(found.host, found.container.id)
        self.open_logs(found.host, found.target, feed=early[1] if early is not None else None)

    def on_dashboard_screen_open_detail(self, message: DashboardScreen.OpenDetail) -> None:
        self.open_detail(message.host, message.container_id)

    def open_detail(self, host: str, container_id: str) -> None:
        from opsui.ui.screens.detail import DetailScreen

        container = self.state.host(host).containers.get(container_id)
        monitor = self.monitors.get(host)
        if container is None or monitor is None:
            self.notify("That container is gone.", severity="warning", markup=False)
            return
        self.push_screen(DetailScreen(host, container, monitor, self.state,
                                      self.request_container_action, self.clock))

    def on_dashboard_screen_open_logs(self, message: DashboardScreen.OpenLogs) -> None:
        self.open_logs(message.host, message.target)

    def _start_feed(self, host: str, target: LogTarget) -> LogTail | None:
        """A started feed on ``host``'s monitor (it returns at once), or None after
        saying why not."""
        monitor = self.monitors.get(host)
        if monitor is None:
            self.notify(f"No monitor for host {host}.", severity="warning", markup=False)
            return None
        try:
            return monitor.open_logs(target, LogWindow.preset("tail",
                                                              monitor.settings.log_tail_lines))
        except OpsuiError as exc:
            notify_error(self, exc, title="Cannot open the logs")
            return None

    def open_logs(self, host: str, target: LogTarget, feed: LogTail | None = None) -> None:
        """Show the logs of ``target`` on ``host``: ``feed`` when already started, else
        a feed opened now."""
        from opsui.ui.screens.logs import LogsScreen

        if feed is None:
            feed = self._start_feed(host, target)
        monitor = self.monitors.get(host)
        if feed is None or monitor is None:
            return
        tail = monitor.settings.log_tail_lines
        self.push_screen(LogsScreen(host, feed, partial(monitor.open_logs, target), tail=tail,
                                    clock=self.clock, state=self.state))

    def on_swarm_screen_open_service_logs(self, message: SwarmScreen.OpenServiceLogs) -> None:
        """``l`` on the Swarm screen: the service's tasks on every node, merged."""
        from opsui.ui.screens.logs import LogsScreen

        monitor = self.monitors.get(message.host)
        if monitor is None:
            return
        target = LogTarget(TargetKind.SWARM, (message.service,))
        tail = monitor.settings.log_tail_lines
        feed = monitor.open_service_logs(target, LogWindow.preset("tail", tail))
        self.push_screen(LogsScreen(message.host, feed,
                                    partial(monitor.open_service_logs, target), tail=tail,
                                    clock=self.clock, state=self.state))

    def action_swarm(self) -> None:
        """The Swarm cluster of the dashboard's selected host (screens/swarm.py): the
        dashboard lists one engine's containers, a manager knows every node's tasks."""
        from opsui.ui.screens.swarm import SwarmScreen

        host = self.dashboard.host if self.dashboard is not None else None
        monitor = self.monitors.get(host) if host else None
        if host is None or monitor is None:
            self.notify("Select a host first.", severity="warning", markup=False)
            return
        if not isinstance(self.screen, SwarmScreen):
            self.push_screen(SwarmScreen(host, lambda: monitor.engine().swarm.cluster()))

    def action_toggle_theme(self) -> None:
        wanted = LIGHT_THEME if self.current_theme.dark else DEFAULT_THEME
        if wanted not in self.available_themes:
            wanted = "textual-light" if self.current_theme.dark else "textual-dark"
        self.theme = wanted

    def action_help(self) -> None:
        """The keys of the screen the operator is on, as remapped (see screens/help.py)."""
        from opsui.ui.screens.help import HelpScreen, key_groups

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_groups(
                self.screen, binding_ids(self.bound_classes()), self.config.keys)))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's "Keys" panel is replaced by the help screen: it did not close on
        esc, and it showed neither binding ids nor remaps."""
        for command in super().get_system_commands(screen):
            if command.title == "Keys":
                yield SystemCommand("Keys", "The keys of this screen, with their ids "
                                    "(? or F1)", self.action_help)
            else:
                yield command

    def palette_commands(self) -> Iterable[PaletteCommand]:
        """App-wide palette entries (screens add their own)."""
        yield PaletteCommand("Toggle dark / light theme", "Switch between opsui-dark and "
                             "opsui-light.", self.action_toggle_theme)
        yield PaletteCommand("Swarm: nodes and tasks on every node (W)", "The selected "
                             "host's Swarm, when it is a manager; read-only.",
                             self.action_swarm)
        yield PaletteCommand("Quit opsui", "Containers keep running; a running release "
                             "is not cancelled without asking.", self.action_quit)
