"""An app's releases, newest first, and every action taken on it, from the host's journal.

Every operator's opsui writes to the same journal on the host, so this is everyone's
history, not this laptop's. The table marks the release serving now (▶) and where a
rollback would go (↩); Enter opens a release with its steps, their durations and
details, and the reason it ended as it did. The audit lines below say who did what,
when, and how it ended (refusals too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from opsui.domain.compose_drift import AGREES, ComposeCheck
from opsui.domain.operations.app_releases import AppStatus
from opsui.domain.releases import AuditLine, Release
from opsui.domain.sanitize import clean
from opsui.ui.commands import PaletteCommand
from opsui.ui.errors import explain, report_worker_failure
from opsui.ui.format import clock_time, since
from opsui.ui.palette import Palette
from opsui.ui.screens.deploy import outcome_style
from opsui.ui.sessions import ReleaseSession
from opsui.ui.widgets.step_log import step_seconds

AUDIT_SHOWN = 200
"""Audit lines listed (newest first)."""


def parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(value: str, now: datetime) -> str:
    """``2026-11-23 11:50:00Z (12m ago)``, or the raw text when it is no time."""
    moment = parse_time(value)
    if moment is None:
        return value or "-"
    return f"{clock_time(moment)} ({since(moment, now)} ago)"


def unwrap(text: str) -> str:
    """Journal fields are single-line (newlines shown as ␤); a detail view may break them."""
    return text.replace("\u2424", "\n")


def shown_outcome(release: Release, status: AppStatus) -> str:
    if release.outcome is None:
        running = status.running
        return "running" if running is not None and running.id == release.id else "interrupted"
    return release.shown_outcome


class HistoryScreen(Screen[None]):
    """Releases and audit lines of one app; Enter opens a release."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="history.back", tooltip="Back to where you were."),
        Binding("enter", "open_release", "Release detail", id="history.detail",
                tooltip="The selected release: its steps with durations and details, and "
                "why it ended as it did."),
        Binding("ctrl+r", "reload", "Refresh", id="history.refresh",
                tooltip="Read the journal on the host again."),
    ]

    AUTO_FOCUS = "#history-table"

    class ComposeChecked(Message):
        """Compose on the host was asked about the serving container."""

        def __init__(self, check: ComposeCheck) -> None:
            super().__init__()
            self.check = check

    class Loaded(Message):
        """The journal was read."""

        def __init__(self, status: AppStatus) -> None:
            super().__init__()
            self.status = status
            """Releases, audit lines, lock, serving container and rollback target."""

    def __init__(self, session: ReleaseSession, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.session = session
        self.clock = clock
        self.status: AppStatus | None = None
        """The last journal read."""
        self.compose_check: ComposeCheck | None = None
        """What compose on the host would do to the serving container (read after)."""

    def compose(self) -> ComposeResult:
        yield Static(id="history-title")
        yield Static(Text("Reading the journal on the host…"), id="history-note")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="history-audit"):
            yield Static(id="history-audit-lines")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (("mark", " "), ("id", "release"), ("action", "action"),
                           ("version", "version"), ("outcome", "outcome"), ("who", "who"),
                           ("when", "when"), ("took", "took"), ("good", "known good")):
            table.add_column(label, key=key)
        self.query_one("#history-audit").border_title = "Audit"
        self._title()
        self.action_reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="history",
          description="Cannot read the history")
    def load(self) -> None:
        status = self.session.status()
        self.post_message(self.Loaded(status))
        check = self.session.compose_check(status)  # after: compose takes a while
        if check is not None:
            self.post_message(self.ComposeChecked(check))

    def on_history_screen_compose_checked(self, message: ComposeChecked) -> None:
        self.compose_check = message.check
        if self.status is not None:
            self._note(self.status)

    def action_reload(self) -> None:
        self.load()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self.app, event)
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.query_one("#history-note", Static).update(
                Text(f"Cannot read the history: {explain(event.worker.error)}"))

    def on_history_screen_loaded(self, message: Loaded) -> None:
        self.status = status = message.status
        palette, now = Palette.of(self.app), self.clock()
        self._title()
        self._note(status)
        table = self.query_one(DataTable)
        keep = table.cursor_row
        self._rows(status, palette, now, table, keep)

    def _note(self, status: AppStatus) -> None:
        """Lock, a release that does not serve, compose drift, then the legend."""
        palette = Palette.of(self.app)
        note = Text()
        if status.replaced:
            note.append(f"⚠ {status.replaced}\n", style=palette.warn)
        check = self.compose_check
        if check is not None and check.state != AGREES:
            note.append(f"⚠ {check.marker}: {check.text}\n", style=palette.warn)
        if status.lock is not None:
            note.append(f"🔒 {status.lock.describe()}", style=palette.warn)
        elif not status.releases:
            note.append("No releases recorded yet: the first deploy records what serves now.",
                        style=palette.muted)
        else:
            note.append("▶ serving now   ↩ where a rollback goes   Enter: steps and reason",
                        style=palette.muted)
        if status.torn:
            note.append(f"   ({status.torn} torn journal line(s) skipped)", style=palette.warn)
        self.query_one("#history-note", Static).update(note)

    def _rows(self, status: AppStatus, palette: Palette, now: datetime, table: DataTable[Any],
              keep: int) -> None:
        table.clear()
        current = status.current.id if status.current else ""
        target = status.target.id if status.target else ""
        for release in status.newest_first:
            outcome = shown_outcome(release, status)
            mark = (("✗" if status.replaced else "▶") if release.id == current  # not serving
                    else "↩" if release.id == target else "")
            table.add_row(
                Text(mark, style=palette.primary),
                Text(release.id),
                Text(release.action),
                Text(release.version or "-", style=palette.strong),
                Text(outcome, style=outcome_style(outcome, palette)),
                Text(release.who, style=palette.muted),
                Text(when(release.started_at, now), style=palette.muted),
                Text(step_seconds(release.seconds) if release.steps else "-",
                     style=palette.muted, justify="right"),
                Text("✓" if release.known_good else "", style=palette.ok),
                key=release.id)
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self.query_one("#history-audit-lines", Static).update(
            audit_text(list(reversed(status.audit))[:AUDIT_SHOWN], palette, now))

    def _title(self) -> None:
        palette = Palette.of(self.app)
        text = Text()
        text.append(" opsui ", style=palette.primary)
        text.append("│ ", style=palette.muted)
        text.append("History", style=palette.strong)
        text.append(f" {self.session.name} on {self.session.host}")
        status = self.status
        if status is not None:
            if status.serving is not None:
                text.append(f"  │ serving {status.serving.name} ({status.serving.image})",
                            style=palette.muted)
            text.append(f"  │ {len(status.releases)} releases", style=palette.muted)
        self.query_one("#history-title", Static).update(text)

    # -- keys ---------------------------------------------------------------------------

    def selected(self) -> Release | None:
        table = self.query_one(DataTable)
        if self.status is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((r for r in self.status.releases if r.id == key), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_release()

    def action_open_release(self) -> None:
        release = self.selected()
        if release is None or self.status is None:
            return
        self.app.push_screen(ReleaseDetailScreen(self.session.name, self.session.host, release,
                                                 shown_outcome(release, self.status),
                                                 self.clock))

    def action_back(self) -> None:
        self.dismiss()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        release = self.selected()
        if release is not None:
            yield PaletteCommand(f"Release detail: {release.id}",
                                 "Steps, durations, details and reason (Enter).",
                                 self.action_open_release)
        yield PaletteCommand("Refresh the history", "Read the journal again.",
                             self.action_reload)
        yield PaletteCommand("Back", "Leave the history.", self.action_back)


def audit_text(lines: list[AuditLine], palette: Palette, now: datetime) -> Text:
    """Audit lines, newest first: when, who, what, how it ended, and why it failed."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if not lines:
        text.append("No actions recorded yet.", style=palette.muted)
        return text
    for index, line in enumerate(lines):
        if index:
            text.append("\n")
        moment = parse_time(line.at)
        text.append(f"{clock_time(moment) if moment else line.at}  ", style=palette.muted)
        text.append(f"{line.who}  ", style=palette.muted)
        text.append(" ".join(part for part in (line.action, line.target, line.detail) if part))
        text.append("  ")
        text.append(line.outcome, style=outcome_style(line.outcome, palette))
        if line.error:
            text.append(f"  {line.error}", style=palette.muted)
    return text


class ReleaseDetailScreen(Screen[None]):
    """One release: what it ran, each step with its duration and detail, and its reason."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="release_detail.back",
                tooltip="Back to the history."),
    ]

    def __init__(self, app_name: str, host: str, release: Release, outcome: str,
                 clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.app_name = app_name
        self.host = host
        self.release = release
        """The release shown."""
        self.outcome = outcome
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Static(id="release-detail-title")
        with VerticalScroll(id="release-detail-body"):
            yield Static(id="release-detail-fields", classes="detail-section")
            yield Static(id="release-detail-steps", classes="detail-section")
            yield Static(id="release-detail-reason", classes="detail-section")
        yield Footer()

    def on_mount(self) -> None:
        palette, now, release = Palette.of(self.app), self.clock(), self.release
        title = Text()
        title.append(" opsui ", style=palette.primary)
        title.append("│ ", style=palette.muted)
        title.append(f"Release {release.id}", style=palette.strong)
        title.append(f"  {self.app_name} on {self.host}  {release.action} "
                     f"{release.version}  ")
        title.append(self.outcome, style=outcome_style(self.outcome, palette))
        self.query_one("#release-detail-title", Static).update(title)

        fields = Text()
        rows = [("version", release.version or "-"), ("image", release.image or "-"),
                ("digest", release.digest or "-"), ("image id", release.image_id or "-"),
                ("container", release.container_id[:12] or "-"), ("who", release.who),
                ("started", when(release.started_at, now)),
                ("ended", when(release.ended_at, now) if release.ended_at else "-"),
                ("replaces", release.replaces or "-")]
        if release.target:
            rows.append(("target", release.target))
        if release.rolled_back_by:
            rows.append(("rolled back", f"by {release.rolled_back_by}"))
        strategy = release.extra.get("strategy")
        if isinstance(strategy, str) and strategy:
            rows.append(("strategy", clean(strategy, 100)))  # a raw journal field
        rows.append(("known good", "yes" if release.known_good else "no"))
        for index, (label, value) in enumerate(rows):
            if index:
                fields.append("\n")
            fields.append(f"{label:<12}", style=palette.muted)
            fields.append(value)
        section = self.query_one("#release-detail-fields", Static)
        section.update(fields)
        section.border_title = "Release"

        steps = Text()
        if not release.steps:
            steps.append("No steps recorded.", style=palette.muted)
        for index, step in enumerate(release.steps):
            if index:
                steps.append("\n")
            good = step.outcome == "ok"
            steps.append("✓ " if good else "✗ ", style=palette.ok if good else palette.bad)
            steps.append(f"{step.name:<14}", style=palette.strong)
            steps.append(f"{step_seconds(step.seconds):>8}", style=palette.muted)
            if step.detail:
                detail = unwrap(step.detail).rstrip().replace("\n", "\n" + " " * 26)
                steps.append(f"  {detail}", style=palette.muted if good else palette.bad)
        section = self.query_one("#release-detail-steps", Static)
        section.update(steps)
        section.border_title = f"Steps ({step_seconds(release.seconds)})"
        section.set_class(any(s.outcome != "ok" for s in release.steps), "-troubled")

        reason = Text(unwrap(release.reason) if release.reason else
                      "No outcome recorded: the release is running, or it was interrupted.")
        section = self.query_one("#release-detail-reason", Static)
        section.update(reason)
        section.border_title = "Reason"

    def action_back(self) -> None:
        self.dismiss()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Back to the history", "", self.action_back)
