"""An app on several hosts in the release screens: its plan's preview and its history.

The confirmation of a release across hosts names every host, in the order the release
goes through them, with what each runs now and what it will run, so the one question
("Deploy web on web1, web2, web3?") is answered knowing all of it. The history is one
row per release with how it ended on each host (switched, failed, returned, not
deployed...), merged from the hosts' own journals, above which each host says what it
serves now and whether it is locked. Everything from a host is drawn as ``Text``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from opsui.domain.operations.deploy import DeployPlan
from opsui.domain.operations.multi_host import (
    NOT_RETURNED,
    RETURNED,
    SWITCHED,
    MultiPlan,
)
from opsui.domain.operations.multi_host_history import MultiHistory
from opsui.domain.releases import CANCELLED, OK
from opsui.domain.sanitize import clean
from opsui.ui.commands import PaletteCommand
from opsui.ui.errors import explain, report_worker_failure
from opsui.ui.format import clock_time
from opsui.ui.multi_host_session import MultiHostSession
from opsui.ui.palette import Palette


def multi_preview(plan: MultiPlan, palette: Palette) -> Text:
    """What the confirmation of a release across hosts shows above its question: short
    enough for 80x24 with a few hosts (the repository once, then each host's tags)."""
    text = Text()
    text.append(f"{'app':<10}", style=palette.muted)
    text.append(f"{plan.app} on {len(plan.parts)} hosts, to ")
    text.append(plan.version, style=palette.primary)
    text.append(f"\n{'order':<10}", style=palette.muted)
    text.append(f"{pace(plan)}, each through its health gate; the first failure stops it"
                + (" and the hosts already switched go back" if plan.action == "deploy"
                   else " (nothing is rolled back again)"))
    moves = []
    for part in plan.parts:
        step = part.plan
        now = step.current.image if not isinstance(step, DeployPlan) else step.current_image
        to = step.image if isinstance(step, DeployPlan) else (step.target.image
                                                              or step.target.version)
        moves.append((part.host, now, to, step.strategy))
    repos = {_split(image)[0] for _, now, to, _ in moves for image in (now, to)}
    one_repo = len(repos) == 1 and "" not in repos
    if one_repo:
        text.append(f"\n{'image':<10}", style=palette.muted)
        text.append(repos.pop())
    width = max(10, *(len(host) + 2 for host in plan.hosts))
    for host, now, to, strategy in moves:
        text.append("\n")
        text.append(f"{host:<{width}}", style=palette.strong)
        text.append(_split(now)[1] if one_repo else now)
        text.append(" → ", style=palette.muted)
        text.append(_split(to)[1] if one_repo else to, style=palette.primary)
        text.append(f"  ({strategy})", style=palette.muted)
    return text


def _split(image: str) -> tuple[str, str]:
    """(repository, tag) of an image reference; ("", image) without a tag."""
    repository, colon, tag = image.rpartition(":")
    if not colon or "/" in tag or "@" in image:  # registry:5000/app, a digest
        return "", image
    return repository, tag


def multi_summary(plan: MultiPlan) -> str:
    return (f"{plan.action} {plan.app} to {plan.version} on {', '.join(plan.hosts)}, "
            f"{pace(plan)}")


def pace(plan: MultiPlan) -> str:
    """How the hosts go: one by one, or ``hosts_at_once`` at a time."""
    return "host by host" if plan.at_once < 2 else f"{plan.at_once} hosts at a time"


def state_style(state: str, palette: Palette) -> Style:
    """How a host's part of a release ended: fine, undone, broken, or not reached."""
    if state in (OK, SWITCHED):
        return palette.ok
    if state in (RETURNED, CANCELLED, "rolled back"):
        return palette.warn
    if state.startswith("not ") and state != NOT_RETURNED:
        return palette.muted
    return palette.bad


class MultiHistoryScreen(Screen[None]):
    """The merged history of an app on several hosts: one row per release."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="history.back", tooltip="Back to where you were."),
        Binding("ctrl+r", "reload", "Refresh", id="history.refresh",
                tooltip="Read every host's journal again."),
    ]

    AUTO_FOCUS = "#history-table"

    class Loaded(Message):
        """Every host's journal was read."""

        def __init__(self, history: MultiHistory) -> None:
            super().__init__()
            self.history = history

    def __init__(self, session: MultiHostSession, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.session = session
        self.clock = clock
        self.history: MultiHistory | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="history-title")
        yield Static(Text("Reading the journal on every host…"), id="history-note")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("version", key="version")
        table.add_column("action", key="action")
        table.add_column("outcome", key="outcome")
        for host in self.session.hosts:  # before the rest: what 80 columns must show
            table.add_column(Text(host), key=f"host:{host}")
        table.add_column("when", key="when")
        table.add_column("who", key="who")
        table.add_column("release", key="id")
        self._title()
        self.action_reload()

    def _title(self) -> None:
        palette = Palette.of(self.app)
        text = Text()
        text.append(" opsui ", style=palette.primary)
        text.append("│ ", style=palette.muted)
        text.append("History", style=palette.strong)
        text.append(f" {self.session.name} on {self.session.host}")
        self.query_one("#history-title", Static).update(text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="history",
          description="Cannot read the history")
    def load(self) -> None:
        self.post_message(self.Loaded(self.session.history()))

    def action_reload(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.dismiss()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self.app, event)
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.query_one("#history-note", Static).update(
                Text(f"Cannot read the history: {explain(event.worker.error)}"))

    def on_multi_history_screen_loaded(self, message: Loaded) -> None:
        self.history = history = message.history
        palette = Palette.of(self.app)
        self._title()
        self.query_one("#history-note", Static).update(self._note(history, palette))
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        for release in history.newest_first:
            states = dict(release.hosts)
            moment = _parse(release.started_at)
            table.add_row(
                Text(release.version or "-", style=palette.strong),
                Text(release.action),
                Text(release.outcome, style=state_style(release.outcome, palette)),
                *(Text(states.get(host, "-"), style=state_style(states.get(host, "-"),
                                                                palette))
                  for host in self.session.hosts),
                Text(clock_time(moment) if moment else release.started_at or "-",
                     style=palette.muted),
                Text(release.who, style=palette.muted),
                Text(release.id, style=palette.muted),
                key=release.id)
        if table.row_count:
            table.move_cursor(row=min(max(keep, 0), table.row_count - 1))

    def _note(self, history: MultiHistory, palette: Palette) -> Text:
        """What each host serves now, and its lock."""
        note = Text()
        width = max((len(s.app.host) for s in history.statuses), default=0)
        for index, status in enumerate(history.statuses):
            if index:
                note.append("\n")
            note.append(f"{status.app.host:<{width}}  ", style=palette.strong)
            current, serving = status.current, status.serving
            if current is not None:
                note.append(current.version or current.image, style=palette.primary)
                note.append(f" (release {current.id})", style=palette.muted)
            elif serving is not None:
                note.append(serving.image)
                note.append(" (no release of it recorded)", style=palette.muted)
            else:
                note.append("no container of it", style=palette.warn)
            if status.lock is not None:
                note.append(f"  🔒 {clean(status.lock.describe(), 200)}", style=palette.warn)
        if not history.releases:
            note.append("\nNo releases recorded on its hosts yet: D deploys to all of them.",
                        style=palette.muted)
        return note

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Refresh", "Read every host's journal again (ctrl+r).",
                             self.action_reload)
        yield PaletteCommand("Back", "", self.action_back)


def _parse(value: str) -> datetime | None:
    """A journal's time (the history screen's parse_time: that module imports this one's
    importer, deploy)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
