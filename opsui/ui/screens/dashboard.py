"""The main screen: hosts on the left; status line, host gauges and containers on the right.

The screen owns no data. The app applies monitor messages to the shared
:class:`~opsui.ui.state.UiState` and calls :meth:`DashboardScreen.apply` with what
changed; the screen forwards just that to its widgets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from opsui.domain.app_shown import app_name
from opsui.domain.apps import is_release_copy, serving_for
from opsui.domain.jobs import Job
from opsui.domain.logfeed import APP_LABEL, LogTarget, TargetKind
from opsui.domain.models import Container, LinkState
from opsui.domain.monitor import HostMonitor
from opsui.domain.operations.policy import Action
from opsui.ui.commands import PaletteCommand
from opsui.ui.screens.container_keys import (
    CONTAINER_BINDINGS,
    RELEASE_BINDINGS,
    ActionRequester,
    ReleaseRequested,
    release_palette_commands,
)
from opsui.ui.state import Changes, UiState
from opsui.ui.widgets.container_table import ContainerTable
from opsui.ui.widgets.filter_bar import FilterBar
from opsui.ui.widgets.footer import Footer
from opsui.ui.widgets.host_panel import HostPanel
from opsui.ui.widgets.host_sidebar import HostSidebar
from opsui.ui.widgets.job_banner import JobBanner
from opsui.ui.widgets.lock_banner import BannerItem, LockBanner
from opsui.ui.widgets.no_engine import NoEnginePanel
from opsui.ui.widgets.release_watch import ReleaseWatch
from opsui.ui.widgets.status_bar import StatusBar, StatusLine

SIDEBAR_MIN_WIDTH = 100
"""Narrower terminals fold the host sidebar away: the table needs the columns."""
UPTIME_REFRESH_SECONDS = 30.0
"""Uptime cells age without events; they are redrawn this often."""


def project_target(container: Container) -> LogTarget | None:
    """The merged target around a container: its opsui app, else its compose project."""
    app = container.labels.get(APP_LABEL)
    if app:
        return LogTarget(TargetKind.APP, (app,))
    if container.compose_project:
        return LogTarget(TargetKind.PROJECT, (container.compose_project,))
    return None


class DashboardScreen(Screen[None]):
    """Every host at a glance, one host's containers in detail."""

    AUTO_FOCUS = "#containers"
    """Focused as the screen starts, so the first frame is drawn already focused (moving
    focus afterwards restyles, and so redraws, the whole table)."""

    BINDINGS = [
        # The release keys first: in a narrow footer (80 columns) R must stay on screen.
        *RELEASE_BINDINGS,
        Binding("F", "recover('finish')", "Finish release", id="release.finish",
                tooltip="Finish the interrupted release in the banner: gate its new container "
                "on health, then switch to it (asks first)."),
        Binding("B", "recover('rollback')", "Roll back release", id="release.abort",
                tooltip="Roll the interrupted release in the banner back: the container it "
                "replaced serves again (asks first)."),
        Binding("slash", "filter", "Filter", id="dashboard.filter",
                tooltip="Filter containers by name, image, compose project, state or health."),
        Binding("escape", "clear_filter", "Clear filter", id="dashboard.clear_filter",
                tooltip="Show every container again."),
        *CONTAINER_BINDINGS,
        Binding("l", "logs", "Logs", id="dashboard.logs",
                tooltip="Follow the selected container's logs (or the marked containers', "
                "merged)."),
        Binding("L", "project_logs", "Project logs", id="dashboard.project_logs", show=False,
                tooltip="Follow the merged logs of the selected container's app or compose "
                "project."),
        Binding("space", "mark", "Mark", id="dashboard.mark", show=False,
                tooltip="Mark or unmark the container; l then opens the marked ones merged."),
        Binding("t", "next_trouble", "Next trouble", id="dashboard.next_trouble", show=False,
                tooltip="Jump to the next container in trouble: unhealthy, restarting, "
                "exited with an error, or an app whose release compose drifts from or "
                "replaced."),
        Binding("z", "toggle_kept", "Kept releases", id="dashboard.kept", show=False,
                tooltip="Show or fold the release containers opsui keeps for rollback "
                "(NAME.before-r…), dimmed under their app."),
        Binding("right_square_bracket", "next_host", "Next host", id="dashboard.next_host",
                show=False, tooltip="Show the next host's containers."),
        Binding("left_square_bracket", "previous_host", "Previous host",
                id="dashboard.previous_host", show=False,
                tooltip="Show the previous host's containers."),
        Binding("ctrl+r", "refresh_host", "Refresh", id="dashboard.refresh", show=False,
                tooltip="Re-list the host's containers now instead of waiting for the poll."),
    ]

    class OpenDetail(Message):
        """Bubbles to the app, which owns the monitors and builds the detail screen."""

        def __init__(self, host: str, container_id: str) -> None:
            super().__init__()
            self.host = host
            """The host the container runs on."""
            self.container_id = container_id
            """The container to show."""

    class OpenLogs(Message):
        """Bubbles to the app, which opens the feed (on the host's monitor) and the screen."""

        def __init__(self, host: str, target: LogTarget) -> None:
            super().__init__()
            self.host = host
            """The host the containers run on."""
            self.target = target
            """What to follow: a container's identity, a project, an app, or marked names."""

    class RecoverRelease(Message):
        """F / B under an "interrupted" banner: the app's release flow takes it from here."""

        def __init__(self, host: str, item: BannerItem, choice: str) -> None:
            super().__init__()
            self.host = host
            """The host the release was made on."""
            self.item = item
            """The banner line of the interrupted release."""
            self.choice = choice
            """``finish`` or ``rollback``."""

    def __init__(self, state: UiState, monitors: Mapping[str, HostMonitor],
                 request_action: ActionRequester, with_http: bool,
                 clock: Callable[[], datetime], initial_host: str | None = None) -> None:
        super().__init__()
        self.state = state
        """The shared picture of every host."""
        self.monitors = monitors
        """Monitor per host name, for stats watching, refresh and read-only badges."""
        self.request_action = request_action
        self.with_http = with_http
        self.clock = clock
        self.initial_host = initial_host
        self.host: str | None = None
        """The host whose containers the table shows."""
        self._note = ""
        """What the empty-table note says now."""
        self.banners: dict[str, tuple[BannerItem, ...]] = {}
        self.jobs: tuple[Job, ...] = ()
        """Runs shown in the job banner (from the app's job board)."""
        self.troubled: set[tuple[str, str]] = set()
        """(host, app) whose newest release this opsui ran is running or failed."""
        """Lock / interrupted-release lines per host, from the release flow's polls."""

    def compose(self) -> ComposeResult:
        # Classes the state already decides are set before the widgets exist: set on
        # mount, each one restyles the whole screen once more before the first frame.
        self._refresh_sidebar()
        yield StatusBar(id="status-bar")
        with Horizontal(id="body"):
            yield HostSidebar(id="sidebar")
            with Vertical(id="main"):
                yield JobBanner(id="job-banner")
                yield LockBanner(id="lock-banner")
                yield HostPanel(id="host-panel")
                yield FilterBar(id="filter", apply=self._apply_filter)
                yield Static(id="empty-note")
                yield ContainerTable(self.state, with_http=self.with_http, clock=self.clock,
                                     id="containers")
                yield NoEnginePanel(id="no-engine")
        yield ReleaseWatch(self.state, self.monitors, lambda: self.host, self._marks_changed,
                           id="release-watch")
        yield Footer()

    @property
    def table(self) -> ContainerTable:
        return self.query_one(ContainerTable)

    @property
    def sidebar(self) -> HostSidebar:
        return self.query_one(HostSidebar)

    def on_mount(self) -> None:
        self.query_one(FilterBar).display = False
        self._refresh_hosts()
        if self.initial_host and self.initial_host in self.state.hosts:
            self.sidebar.select(self.initial_host)
        elif self.state.hosts:
            self._switch(next(iter(self.state.hosts)))
        self.set_interval(UPTIME_REFRESH_SECONDS, self.table.refresh_uptimes)
        if self.jobs:
            self.query_one(JobBanner).show(self.jobs)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._restyle())

    # -- updates from the app ------------------------------------------------------------

    def apply(self, changes: Changes) -> None:
        """Redraw what changed; called once per burst of monitor messages."""
        if changes.statuses or changes.containers or changes.removed:
            self._refresh_hosts()
        host = self.host
        if host is not None:
            changed = changes.containers.get(host, set())
            removed = changes.removed.get(host, set())
            sampled = changes.stats.get(host, set())
            if changed or removed or sampled:
                self.table.apply(changed, removed, sampled)
            if changed or removed:
                self.query_one(ReleaseWatch).containers_changed(host)
            if host in changes.metrics or host in changes.statuses:
                self.query_one(HostPanel).show(self.state.hosts.get(host))
        if changes.statuses or changes.snapshots or changes.containers or changes.removed:
            self._refresh_mode()  # samples alone change neither the mode nor the status line
            self._refresh_status()

    def _refresh_hosts(self) -> None:
        read_only = {name: m.read_only for name, m in self.monitors.items()}
        self.sidebar.update_hosts(list(self.state.hosts.values()), read_only)
        self._refresh_sidebar()

    def _refresh_sidebar(self) -> None:
        """Fold the sidebar away with one host or too few columns, unless the shown host
        has something to explain there (why it is not connected)."""
        view = self.state.hosts.get(self.host) if self.host else None
        explains = view is not None and (view.status.state is not LinkState.CONNECTED
                                         or bool(view.status.message or view.status.hint))
        narrow = (self.size.width or self.app.size.width) < SIDEBAR_MIN_WIDTH
        self.set_class(not explains and (len(self.state.hosts) <= 1 or narrow), "-no-sidebar")

    def on_resize(self) -> None:
        self._refresh_sidebar()

    def _refresh_mode(self) -> None:
        """Swap the table for the "no engine" panel when no host has an engine."""
        no_engine = self.state.all_without_engine
        if no_engine != self.has_class("-no-engine"):
            # Keep focus on something visible, so the footer shows keys that work.
            target = self.sidebar.option_list if no_engine else self.table
            self.call_after_refresh(target.focus)
            self.set_class(no_engine, "-no-engine")
            self.refresh_bindings()
        view = self.state.hosts.get(self.host) if self.host else None
        offline = (view is not None and not view.containers
                   and view.status.state is not LinkState.CONNECTED)
        self.set_class(offline, "-offline")  # nothing to tabulate: just say why
        panel = self.query_one(NoEnginePanel)
        if no_engine:
            panel.show(self.state.hosts.values())
        note = self.query_one("#empty-note", Static)
        message = self._empty_message()
        note.display = bool(message) and not no_engine
        if message and message != self._note:
            note.update(message)
        self._note = message

    def _empty_message(self) -> str:
        view = self.state.hosts.get(self.host) if self.host else None
        if view is None or self.table.row_count:
            return ""
        if view.status.state is not LinkState.CONNECTED and not view.containers:
            if view.status.state in (LinkState.CONNECTING, LinkState.RECONNECTING):
                return f"Connecting to {view.name}…"
            return (f"{view.name}: {view.status.state.value}. The message on the left says why "
                    "and what to do.")
        if not view.listed:
            return "Listing containers…"
        if self.table.needle:
            return "No container matches the filter. Esc in the filter clears it."
        return f"No containers on {view.name}."

    def _refresh_status(self) -> None:
        view = self.state.hosts.get(self.host) if self.host else None
        table = self.table
        monitor = self.monitors.get(self.host) if self.host else None
        arrow = "▲" if table.sort_reverse else "▼"
        kept = view.kept_count if view else 0
        self.query_one(StatusBar).show(StatusLine(
            host=self.host or "",
            shown=table.row_count - table.kept_rows,
            total=len(view.containers) - kept if view else 0,
            unhealthy=view.unhealthy_count if view else 0,
            kept=kept,
            kept_shown=table.show_kept,
            needle=table.needle,
            sort=f"{table.sort_column.label} {arrow}" + ("" if table.grouped else " (ungrouped)"),
            read_only=bool(monitor and monitor.read_only),
            listed=bool(view and view.listed),
            link=None if view is None or view.status.state is LinkState.CONNECTED
            else view.status.state,
        ))

    def show_jobs(self, jobs: Sequence[Job],
                  troubled: set[tuple[str, str]] | None = None) -> None:
        """Runs going on (or ended unwatched), from the app's job board, every host's;
        ``troubled``: (host, app) whose newest release runs or failed (``t`` stops there)."""
        self.jobs = tuple(jobs)
        if troubled is not None:
            self.troubled = troubled
        for banner in self.query(JobBanner):  # none yet while the screen is being built
            banner.show(self.jobs)

    def show_banner(self, host: str, items: Sequence[BannerItem]) -> None:
        """The release flow's latest lock poll of ``host``."""
        before = self.banners.get(host, ())
        self.banners[host] = tuple(items)
        if host == self.host:  # (a poll may end before the banner is mounted: _switch
            for banner in self.query(LockBanner):  # shows it then)
                banner.show(items)
        if any(i.interrupted for i in before) != any(i.interrupted for i in items):
            self.refresh_bindings()  # F / B appear only under an interrupted release

    def _restyle(self) -> None:
        self._refresh_hosts()
        self.query_one(LockBanner).restyle()
        self.table.restyle()
        if self.host:
            self.query_one(HostPanel).show(self.state.hosts.get(self.host))
        self._refresh_mode()
        self._refresh_status()

    def _switch(self, host: str) -> None:
        if host == self.host:
            return
        previous = self.monitors.get(self.host) if self.host else None
        if previous is not None:
            previous.watch_stats(())
        self.host = host
        for name, monitor in self.monitors.items():  # the panel shows this host's alone
            monitor.watch_metrics(name == host)
        self.table.show(host)
        for watch in self.query(ReleaseWatch):  # none yet while the screen is being built
            watch.soon()
        self.query_one(LockBanner).show(self.banners.get(host, ()))
        self.refresh_bindings()
        self.query_one(HostPanel).show(self.state.hosts.get(host))
        self.sidebar.explain(list(self.state.hosts.values()))
        self._refresh_sidebar()
        self._refresh_mode()
        self._refresh_status()

    def _marks_changed(self, host: str, container_ids: set[str]) -> None:
        """The compose watch moved the release marks of these rows."""
        view = self.state.hosts.get(host)
        if host == self.host and view is not None:
            self.table.apply(container_ids & view.containers.keys(), ())

    # -- messages from widgets ----------------------------------------------------------

    def on_host_sidebar_host_selected(self, message: HostSidebar.HostSelected) -> None:
        self._switch(message.host)

    def on_container_table_visible_changed(self, message: ContainerTable.VisibleChanged) -> None:
        monitor = self.monitors.get(self.host) if self.host else None
        if monitor is not None:
            monitor.watch_stats(message.container_ids)

    def on_container_table_detail_requested(self, message: ContainerTable.DetailRequested) -> None:
        message.stop()
        if self.host is not None:
            self.post_message(self.OpenDetail(self.host, message.container_id))

    def on_filter_bar_filtered(self, message: FilterBar.Filtered) -> None:
        # The box's text now, not the message's: Enter may have applied a newer one.
        self._apply_filter(self.query_one(FilterBar).value)

    def _apply_filter(self, needle: str) -> None:
        if needle != self.table.needle:
            self.table.show(self.host, needle)
        self.refresh_bindings()  # "Esc clear filter" appears only while filtering
        self._refresh_mode()
        self._refresh_status()

    # -- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide table keys while there is no table (no engine anywhere)."""
        if action == "clear_filter":
            return bool(self.table.needle)
        if action == "recover":
            return self._interrupted() is not None
        return not (action in ("filter", "container", "logs", "project_logs", "mark",
                               "release", "next_trouble", "toggle_kept")
                    and self.has_class("-no-engine"))

    def _interrupted(self) -> BannerItem | None:
        """The interrupted release F / B act on: the selected container's app's, else the
        first one in the banner."""
        items = [i for i in self.banners.get(self.host or "", ()) if i.interrupted]
        selected = self.table.selected
        names = {selected.name, selected.labels.get(APP_LABEL, "")} if selected else set()
        return next((i for i in items if i.app in names), items[0] if items else None)

    def action_clear_filter(self) -> None:
        self.query_one(FilterBar).action_clear_filter()

    def action_filter(self) -> None:
        self.query_one(FilterBar).open(return_to=self.table)

    def action_container(self, action: str) -> None:
        container = self.table.selected
        if container is None or self.host is None:
            self.notify("No container selected.", severity="warning", markup=False)
            return
        if is_release_copy(container.name):  # stopped on purpose; starting it would collide
            self.notify(f"{container.name} is a kept release container of "
                        f"{self._app_name(container)}: roll back with R.", severity="warning",
                        markup=False)
            return
        self.request_action(self.host, container, Action(action))

    def action_release(self, kind: str) -> None:
        """Deploy, rollback or history of the selected container's app (the app decides);
        on a kept release copy, of the container serving its app now."""
        container = self._app_container()
        if container is None or self.host is None:
            return
        self.post_message(ReleaseRequested(self.host, container, kind))

    def _app_container(self) -> Container | None:
        """The selected container, or for a kept release copy its app's serving one."""
        container = self.table.selected
        if container is None or self.host is None:
            self.notify("No container selected.", severity="warning", markup=False)
            return None
        if not is_release_copy(container.name):
            return container
        view = self.state.hosts.get(self.host)
        serving = serving_for(container, view.containers.values()) if view else None
        if serving is None:
            self.notify(f"No container serves {self._app_name(container)} on {self.host}: "
                        f"{container.name} is a kept release copy.", severity="warning",
                        markup=False)
        return serving

    def _app_name(self, container: Container) -> str:
        """The app ``container`` is of on this host: a compose app's kept copies by their
        hidden labels, never another project's namesake by its ``opsui.app`` label."""
        host = self.host or ""
        return app_name(container, [a for a in self.state.apps if a.runs_on(host)])

    def release_ended(self) -> None:
        """A release run from this UI ended: its compose marks are checked at once."""
        for watch in self.query(ReleaseWatch):
            watch.release_ended()

    def action_next_trouble(self) -> None:
        """Unhealthy, restarting or failed containers, and the serving containers of apps
        whose release runs, failed unseen or was interrupted, or that compose drifts
        from or replaced (the next ``up -d`` undoes the release, or did)."""
        host = self.host or ""
        apps = {item.app for item in self.banners.get(host, ()) if item.interrupted}
        apps |= {app for on, app in self.troubled if on == host}
        view = self.state.hosts.get(host)
        marks = view.release_marks if view is not None else {}

        def also(container: Container) -> bool:
            mark = marks.get(container.id)
            return (self._app_name(container) in apps or container.name in apps
                    or (mark is not None and mark.trouble))

        if self.table.next_trouble(also=also) is None:
            self.notify(f"No container in trouble on {self.host or 'this host'}.", timeout=2,
                        markup=False)

    def action_toggle_kept(self) -> None:
        shown = self.table.toggle_kept()
        kept = self.state.hosts[self.host].kept_count if self.host in self.state.hosts else 0
        self.notify((f"Showing {kept} kept release containers, dimmed under their app; "
                     "z folds them." if shown else "Kept release containers folded."),
                    timeout=2, markup=False)
        self._refresh_mode()
        self._refresh_status()

    def action_recover(self, choice: str) -> None:
        item = self._interrupted()
        if item is None or self.host is None:
            self.notify("No interrupted release on this host.", severity="warning",
                        markup=False)
            return
        self.post_message(self.RecoverRelease(self.host, item, choice))

    def action_logs(self) -> None:
        """The marked containers merged, else the selected one (by its lasting identity)."""
        if self.host is None:
            return
        marked = self.table.marked_containers
        if marked:
            target = LogTarget(TargetKind.NAMES, tuple(c.name for c in marked))
        else:
            container = self.table.selected
            if container is None:
                self.notify("No container selected.", severity="warning", markup=False)
                return
            target = LogTarget.for_container(container)
        self.post_message(self.OpenLogs(self.host, target))

    def action_project_logs(self) -> None:
        container = self.table.selected
        if container is None or self.host is None:
            self.notify("No container selected.", severity="warning", markup=False)
            return
        target = project_target(container)
        if target is None:
            self.notify(f"{container.name} belongs to no compose project or app; l opens its "
                        "own logs.", severity="warning", markup=False)
            return
        self.post_message(self.OpenLogs(self.host, target))

    def action_mark(self) -> None:
        container = self.table.toggle_mark()
        if container is None:
            return
        count = len(self.table.marked)
        self.notify(f"{count} marked: l opens their logs merged; space unmarks." if count
                    else "No container marked.", timeout=2, markup=False)

    def action_next_host(self) -> None:
        self._step_host(1)

    def action_previous_host(self) -> None:
        self._step_host(-1)

    def _step_host(self, step: int) -> None:
        names = self.sidebar.order or list(self.state.hosts)  # as listed: trouble first
        if not names:
            return
        index = names.index(self.host) if self.host in names else 0
        self.sidebar.select(names[(index + step) % len(names)])

    def show_host(self, host: str) -> None:
        """Switch to ``host`` (from the command palette)."""
        self.sidebar.select(host)

    def palette_commands(self) -> Iterable[PaletteCommand]:
        """What the palette offers here: the selected container, the table, the hosts."""
        container, host, table = self.table.selected, self.host, self.table
        if container is not None and host is not None:
            yield PaletteCommand(f"Open detail: {container.name}",
                                 "Inspect data and the health-check log.",
                                 partial(self.post_message, self.OpenDetail(host, container.id)))
            kept = is_release_copy(container.name)
            for action in () if kept else (Action.RESTART, Action.STOP, Action.START):
                yield PaletteCommand(f"{action.value.capitalize()} {container.name}",
                                     "Asks first; refused in read-only mode.",
                                     partial(self.request_action, host, container, action))
        if container is not None and host is not None:
            yield PaletteCommand(f"Logs: {container.name}", "Follow its logs (l).",
                                 self.action_logs)
            yield from release_palette_commands(
                self._app_name(container) if is_release_copy(container.name)
                else container.name,
                self.action_release)
            merged = project_target(container)
            if merged is not None:
                yield PaletteCommand(f"Logs: {merged.title}",
                                     "Merged logs of its app or compose project (L).",
                                     self.action_project_logs)
        interrupted = self._interrupted()
        if interrupted is not None:
            yield PaletteCommand(f"Finish the interrupted release of {interrupted.app}",
                                 "Gate the new container, then switch to it (F).",
                                 partial(self.action_recover, "finish"))
            yield PaletteCommand(f"Roll back the interrupted release of {interrupted.app}",
                                 "The container it replaced serves again (B).",
                                 partial(self.action_recover, "rollback"))
        yield PaletteCommand("Filter containers", "By name, image, project, state or health.",
                             self.action_filter)
        if table.needle:
            yield PaletteCommand("Clear the filter", "Show every container again.",
                                 self.query_one(FilterBar).action_clear_filter)
        yield PaletteCommand("Sort by the next column", "Name, project, image, state, health, "
                             "uptime, restarts, CPU, memory.", table.action_cycle_sort)
        yield PaletteCommand("Reverse the sort order", "", table.action_reverse_sort)
        yield PaletteCommand("Group by compose project (on/off)", "", table.action_toggle_group)
        yield PaletteCommand("Refresh this host now", "Re-list its containers.",
                             self.action_refresh_host)
        for name, view in self.state.hosts.items():
            if name != host:
                yield PaletteCommand(f"Switch to host {name}", f"Now: {view.status.state.value}.",
                                     partial(self.show_host, name))

    def action_refresh_host(self) -> None:
        monitor = self.monitors.get(self.host) if self.host else None
        if monitor is not None:
            monitor.refresh_now()
            self.notify(f"Refreshing {self.host}…", timeout=2, markup=False)

    def show_container(self, host: str, container_id: str) -> bool:
        """Show ``host`` with the cursor on the container (``opsui --open``); False when
        its row is not shown (filtered, or a folded release copy)."""
        self.sidebar.select(host)
        self._switch(host)
        return self.table.select(container_id)
