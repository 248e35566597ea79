"""One container in full: overview, health-check log, HTTP health, ports, networks,
mounts, environment and labels.

The inspect call blocks, so it runs in a thread worker that posts one message.
When the dashboard hears the container changed (a health transition, a restart),
the screen inspects again, so the health log on screen is the current one. When a
deploy or rollback turns it into a kept release copy (``NAME.before-r…``), the screen
switches to the app's serving container and says so: the operator looks at the app,
and its keys (D, R, H, K, l) act on what serves it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial

from rich.console import RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from opsui.domain.app_shown import app_name
from opsui.domain.apps import is_release_copy, serving_for
from opsui.domain.compose_drift import AGREES
from opsui.domain.logfeed import RELEASE_LABEL, LogTarget
from opsui.domain.models import Container, ContainerDetail, Health
from opsui.domain.monitor import HostMonitor
from opsui.domain.operations.policy import Action
from opsui.domain.sanitize import clean
from opsui.ui.commands import PaletteCommand
from opsui.ui.errors import explain, report_worker_failure
from opsui.ui.palette import Palette
from opsui.ui.screens.container_keys import (
    CONTAINER_BINDINGS,
    RELEASE_BINDINGS,
    ActionRequester,
    ReleaseRequested,
    release_palette_commands,
)
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.state import UiState
from opsui.ui.widgets import detail_sections as sections
from opsui.ui.widgets.container_cells import HEALTH_SYMBOL, host_now

REINSPECT_SECONDS = 5.0
"""How often an open detail view re-reads the container (health log, streak)."""

SWITCH_WAIT_SECONDS = 0.25
"""How often a view whose container became a release copy looks for the new serving
container in the UI state (a release renames the old one a moment before the new)."""
SWITCH_TRIES = 120
"""... for up to 30 s: a rollback's switch follows its health gate at once."""


class DetailScreen(Screen[None]):
    """Everything about one container; Esc goes back to the table."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="detail.back",
                tooltip="Back to the container table."),
        Binding("ctrl+r", "reinspect", "Refresh", id="detail.refresh",
                tooltip="Inspect the container again."),
        *CONTAINER_BINDINGS,
        Binding("l", "logs", "Logs", id="detail.logs",
                tooltip="Follow this container's logs (by its app, service or name)."),
        *RELEASE_BINDINGS,
    ]

    class Inspected(Message):
        """The inspect worker finished."""

        def __init__(self, detail: ContainerDetail) -> None:
            super().__init__()
            self.detail = detail
            """What the engine said about the container."""

    def __init__(self, host: str, container: Container, monitor: HostMonitor, state: UiState,
                 request_action: ActionRequester, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.host = host
        """The host the container runs on."""
        self.container = container
        """The container as last seen (updated by :meth:`container_changed`)."""
        self.monitor = monitor
        self.state = state
        self.request_action = request_action
        self.clock = clock
        self.detail: ContainerDetail | None = None
        """The latest inspect result, once it arrived."""
        self._switch_tries = 0

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        yield Static(Text("Inspecting…"), id="detail-loading")
        yield VerticalScroll(id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        self._title()
        self.reinspect()
        # Docker only emits an event when the health *status* flips; the probe log and
        # failing streak move on every probe, so look again now and then.
        self._poll = self.set_interval(REINSPECT_SECONDS, self.reinspect)

    # -- data ----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="inspect",
          description="Inspect container")
    def reinspect(self) -> None:
        detail = self.monitor.inspect(self.container.id)
        self.post_message(self.Inspected(detail))

    def container_changed(self, container: Container | None) -> None:
        """The dashboard saw this container change (or vanish): show the new truth."""
        if container is None:
            self.notify(f"{self.container.name} was removed", severity="warning", markup=False)
            return
        self.container = container
        self._title()
        self.reinspect()
        if is_release_copy(container.name) and not self._switch_tries:
            self._follow_app()

    def _follow_app(self) -> None:
        """Show the app's serving container instead of the kept copy, once there is one."""
        copy = self.container
        if not is_release_copy(copy.name):
            self._switch_tries = 0
            return
        serving = serving_for(copy, self.state.host(self.host).containers.values())
        if serving is None or serving.id == copy.id:
            self._switch_tries += 1
            if self._switch_tries < SWITCH_TRIES:
                self.set_timer(SWITCH_WAIT_SECONDS, self._follow_app)
            else:  # nothing serves the app: stay on the copy; a later change tries again
                self._switch_tries = 0
            return
        self._switch_tries = 0
        self.container, self.detail = serving, None
        self._title()
        self.reinspect()
        app = app_name(serving, [a for a in self.state.apps if a.host == self.host])
        self.notify(f"{copy.name} is now a kept release copy: showing {serving.name}, which "
                    f"serves {app} now.", title="Release switched", timeout=8, markup=False)

    def on_detail_screen_inspected(self, message: Inspected) -> None:
        if message.detail.container.id != self.container.id:
            return  # read before the view switched to the app's serving container
        self._poll.resume()
        self.detail = message.detail
        self.container = message.detail.container
        self._title()
        self._render_sections(message.detail)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self._poll.pause()  # one notification, not one every few seconds
        report_worker_failure(self.app, event)
        if event.state is WorkerState.ERROR and self.detail is None and event.worker.error:
            self.query_one("#detail-loading", Static).update(
                Text(f"Inspect failed: {explain(event.worker.error)}"))

    # -- drawing -------------------------------------------------------------------------

    def _title(self) -> None:
        palette = Palette.of(self.app)
        c = self.container
        text = Text()
        text.append(" ")
        text.append(c.name, style=palette.primary)
        text.append(f"  on {self.host}  ", style=palette.muted)
        text.append(c.state.value, style=palette.state(c.state))
        text.append("  ")
        text.append(HEALTH_SYMBOL[c.health], style=palette.health(c.health))
        mark = self.state.host(self.host).release_marks.get(c.id)
        if mark is not None and mark.kind != AGREES:
            text.append(f"  {mark.marker}", style=palette.warn if mark.trouble
                        else palette.muted)
        if self.monitor.read_only:
            text.append("   READ-ONLY", style=palette.warn)
        text.append_text(self._other_hosts(palette))
        self.query_one("#detail-title", Static).update(text)

    def _other_hosts(self, palette: Palette) -> Text:
        """``web — also on web2, web3 · release r…``: the container is one host's part
        of an app on several (its D, R and H are the app's, across them)."""
        mine = [a for a in self.state.apps if a.runs_on(self.host)]
        name = app_name(self.container, mine)
        app = next((a for a in mine if a.name == name and len(a.every_host) > 1), None)
        if app is None:
            return Text()
        text = Text("   ")
        text.append(name, style=palette.strong)
        text.append(" — also on ", style=palette.muted)
        text.append(", ".join(h for h in app.every_host if h != self.host))
        release = clean(self.container.labels.get(RELEASE_LABEL, ""), 40)
        if release:
            text.append(f" · release {release}", style=palette.muted)
        return text

    def _render_sections(self, detail: ContainerDetail) -> None:
        palette = Palette.of(self.app)
        http = self.state.http_health_for(self.host, detail.container)
        http_ok = all(p.ok and all(c.ok for c in p.checks) for _, probes in http for p in probes)
        docker_ok = detail.container.health not in (Health.UNHEALTHY, Health.STARTING)
        troubled = not (docker_ok and http_ok)
        health: list[tuple[str, str, RenderableType]] = [
            ("health", "Health check", sections.health_log(detail, palette)),
        ]
        if http:
            # The failing verdict first: that is the one the operator came for.
            at = 0 if docker_ok and not http_ok else 1
            health.insert(at, ("http", "HTTP health", sections.http_health(http, palette)))
        now = host_now(self.clock(), self.monitor.status)  # "started 5m ago" on its clock
        release = self.state.host(self.host).release_marks.get(detail.container.id)
        overview = [("overview", "Overview", sections.overview(detail, palette, now, release))]
        rest: list[tuple[str, str, RenderableType]] = [
            ("ports", "Ports", sections.ports(detail, palette)),
            ("networks", "Networks", sections.networks(detail, palette)),
            ("mounts", "Mounts", sections.mounts(detail, palette)),
            ("env", "Environment", sections.pairs(detail.env, "No environment.", palette)),
            ("labels", "Labels", sections.pairs(detail.labels, "No labels.", palette)),
        ]
        ordered = [*health, *overview, *rest] if troubled else [*overview, *health, *rest]
        body = self.query_one("#detail-body", VerticalScroll)
        with self.app.batch_update():
            self.query_one("#detail-loading").display = False
            for index, (key, title, renderable) in enumerate(ordered):
                found = body.query(f"#section-{key}").results(Static)
                section = next(found, None)
                if section is None:
                    section = Static(renderable, id=f"section-{key}", classes="detail-section")
                    body.mount(section)
                else:
                    section.update(renderable)
                section.border_title = title
                section.set_class((key == "health" and not docker_ok)
                                  or (key == "http" and not http_ok), "-troubled")
                if body.children.index(section) != index:
                    body.move_child(section, before=index)

    # -- keys ----------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        """What the palette offers here: act on this container, refresh, go back."""
        for action in (Action.RESTART, Action.STOP, Action.START):
            yield PaletteCommand(f"{action.value.capitalize()} {self.container.name}",
                                 "Asks first; refused in read-only mode.",
                                 partial(self.request_action, self.host, self.container, action))
        yield PaletteCommand(f"Logs: {self.container.name}", "Follow its logs (l).",
                             self.action_logs)
        configured = [a for a in self.state.apps if a.host == self.host]
        yield from release_palette_commands(app_name(self.container, configured),
                                            self.action_release)
        yield PaletteCommand("Inspect again", "Re-read the health log and settings.",
                             self.reinspect)
        yield PaletteCommand("Back to the dashboard", "", self.action_back)

    def action_container(self, action: str) -> None:
        self.request_action(self.host, self.container, Action(action))

    def action_release(self, kind: str) -> None:
        """Deploy, rollback or history of this container's app (the app decides)."""
        self.post_message(ReleaseRequested(self.host, self.container, kind))

    def action_logs(self) -> None:
        """The app opens logs for the dashboard and this view alike (one message)."""
        self.post_message(DashboardScreen.OpenLogs(self.host, LogTarget.for_container(
            self.container)))
