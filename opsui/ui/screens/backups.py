"""An app's backups, newest first, and what can be done with them.

The table lists every backup the app's journal on the host knows (so every operator
sees the same restore points): id, when it was taken and how long ago, size, a short
sha256, whether it verified (✓ / ✗ / ? never checked), and why it was taken (manual,
the safety backup before a restore, or before a migration with its release). The
header names the app, the engine, the destination folder and the retention rule.

Keys: ``b`` backs up now (confirmation per policy, then the dump's bytes and rate, and
the engine's verdict), ``v`` verifies the selected backup again (sha256 against the
journal, then the engine's check), ``d`` copies it to this machine (over SFTP for a
remote host) with its sha256 checked, ``r`` restores it (type-the-name; the safety
backup and the restore run live on :class:`~opsui.ui.screens.deploy.ReleaseRunScreen`),
``m`` runs the app's migration (a verified backup first; its output streams live).
The gate decides: in read-only mode the changing keys are refused before anything
runs. Every text that came from the host is drawn as ``Text``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, ProgressBar, Static
from textual.worker import Worker, WorkerState

from opsui.domain.backups import BEFORE_MIGRATION, MANUAL, SAFETY, Backup
from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.jobs import Job, JobContext, JobEnded, JobEvent, ProgressSample
from opsui.domain.operations.app_backups import BackupsStatus, RestorePlan
from opsui.domain.operations.backup_run import Verification
from opsui.domain.operations.migration import MigrationPlan
from opsui.domain.operations.policy import Action
from opsui.domain.operations.release_run import StepEvent
from opsui.domain.releases import CANCELLED, FAILED, OK
from opsui.domain.sanitize import clean
from opsui.ui.commands import PaletteCommand
from opsui.ui.errors import explain, notify_error, report_worker_failure
from opsui.ui.format import clock_time, human_bytes, same_text, since
from opsui.ui.palette import Palette
from opsui.ui.screens.deploy import ReleaseRunScreen, ask_to_run, preview_rows
from opsui.ui.screens.history import parse_time, when
from opsui.ui.screens.release_run import RunsJobs, ask_to_cancel
from opsui.ui.sessions import BackupSession

DOWNLOAD_FOLDER = "~/opsui-backups"
"""Where a download goes unless the operator types another path."""
COLUMNS = (("id", "backup"), ("taken", "taken"), ("size", "size"), ("verified", "verified"),
           ("why", "why"), ("check", "check"))
"""(key, label) of the table's columns."""
CHECK_WIDTH = 34
"""The check column's width; the line under the table shows the highlighted one whole."""


def short(text: str, width: int) -> str:
    text = clean(text, 400)
    return text if len(text) <= width else text[:width - 1] + "…"


def taken(at: str, now: datetime) -> str:
    """``2026-11-23 11:45Z (15m ago)``: minutes are enough in the table."""
    moment = parse_time(at)
    if moment is None:
        return at or "-"
    return f"{clock_time(moment)[:16]}Z ({since(moment, now)} ago)"


def why_text(backup: Backup) -> str:
    if backup.why == MANUAL:
        return "manual"
    if backup.why == SAFETY:
        return "safety (before a restore)"
    if backup.why == BEFORE_MIGRATION:
        return f"before migration {backup.release}".rstrip()
    return backup.why or "-"


def verified_mark(backup: Backup) -> tuple[str, str]:
    """(mark, palette style name): ✓ verified, ✗ failed (the dump or a check), ? never
    checked."""
    if not backup.usable:
        return "✗", "bad"
    if backup.verified:
        return "✓", "ok"
    return ("✗", "bad") if backup.check else ("?", "warn")


def backup_preview(backup: Backup, now: datetime) -> list[tuple[str, str | Text]]:
    return [("backup", backup.id), ("taken", when(backup.at, now)),
            ("size", f"{human_bytes(backup.size)} ({backup.size:,} bytes)"),
            ("sha256", backup.sha256 or "-"), ("why", why_text(backup)),
            ("verified", ("yes: " if backup.verified else "NO: ") + (backup.check or "never"))]


def restore_preview(plan: RestorePlan, palette: Palette, now: datetime) -> Text:
    return preview_rows([("host", plan.host), ("app", plan.app),
                         *backup_preview(plan.backup, now),
                         ("first", Text("a safety backup of the database as it is now",
                                        style=palette.primary)),
                         ("steps", " → ".join(plan.steps))], palette)


def restore_summary(plan: RestorePlan) -> str:
    return (f"{plan.app} on {plan.host}: restore from {plan.backup.id} "
            f"({human_bytes(plan.backup.size)}, {why_text(plan.backup)}), after a safety backup")


def migration_preview(plan: MigrationPlan, palette: Palette) -> Text:
    where = ("exec'd in the running container " + plan.serving.name
             if plan.run_in == "running" else "a one-off container like " + plan.serving.name
             + " (its env, mounts and networks)")
    return preview_rows([("host", plan.host), ("app", plan.app),
                         ("image", Text(plan.image, style=palette.primary)),
                         ("command", Text(plan.command_text, style=palette.strong)),
                         ("runs in", where), ("timeout", f"{plan.timeout:.0f} s"),
                         ("first", "a fresh backup, verified; without one it does not run"),
                         ("steps", " → ".join(plan.steps))], palette)


def migration_summary(plan: MigrationPlan) -> str:
    """One line: the command is shortened (the confirmation showed it whole)."""
    return f"{plan.app} on {plan.host}: {short(plan.command_text, 90)} ({plan.image})"


class DownloadModal(ModalScreen[str | None]):
    """Where on this machine to put the backup; Enter downloads."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="backups.download_cancel",
                tooltip="Close without downloading."),
    ]

    AUTO_FOCUS = "#download-path"

    def __init__(self, backup: Backup, default: str) -> None:
        super().__init__()
        self.backup = backup
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="download-dialog"):
            yield Static(Text(f"Copy {self.backup.id} ({human_bytes(self.backup.size)}) to "
                              "this machine; its sha256 is checked against the journal."),
                         id="download-question")
            yield Input(self.default, id="download-path")
            with Horizontal(id="download-buttons"):
                yield Button("Download", variant="primary", id="download-yes")
                yield Button("Cancel", id="download-no")

    def on_mount(self) -> None:
        self.query_one("#download-dialog").border_title = "Download backup"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_download()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "download-yes":
            self.action_download()
        else:
            self.action_cancel()

    def action_download(self) -> None:
        text = self.query_one("#download-path", Input).value.strip()
        if not text:
            self.notify("Give a file name.", severity="warning", markup=False)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class BackupsScreen(Screen[None]):
    """One app's backups; b / v / r / d / m act, Esc goes back."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="backups.back", tooltip="Back to where you were."),
        Binding("b", "backup", "Backup now", id="backups.backup",
                tooltip="Take a backup now (asks first): the dump's bytes and rate, then the "
                "engine's verification."),
        Binding("v", "verify", "Verify", id="backups.verify",
                tooltip="Verify the selected backup again: sha256 against the journal, then "
                "the engine's own check."),
        Binding("r", "restore", "Restore", id="backups.restore",
                tooltip="Restore the selected backup (type the app's name): a safety backup "
                "first, then the restore, live."),
        Binding("d", "download", "Download", id="backups.download",
                tooltip="Copy the selected backup to this machine (sha256 checked)."),
        Binding("m", "migrate", "Migrate", id="backups.migrate",
                tooltip="Run the app's migration (asks first): a verified backup, then the "
                "migration with its output live."),
        Binding("c", "cancel_backup", "Cancel backup", id="backups.cancel",
                tooltip="Cancel the running backup (asks first); nothing of it is kept."),
        Binding("ctrl+r", "reload", "Refresh", id="backups.refresh",
                tooltip="Read the journal on the host again."),
    ]

    AUTO_FOCUS = "#backups-table"

    class Loaded(Message):
        """The app's backups were read."""

        def __init__(self, status: BackupsStatus) -> None:
            super().__init__()
            self.status = status

    class Progressed(Message):
        """Bytes moved (a dump, a download) and the rate; posted from a worker."""

        def __init__(self, done: int, rate: float) -> None:
            super().__init__()
            self.done = done
            self.rate = rate

    class BackedUp(Message):
        def __init__(self, backup: Backup) -> None:
            super().__init__()
            self.backup = backup

    class BackupFailed(Message):
        """The backup job raised (refused, cancelled, failed)."""

        def __init__(self, outcome: str, error: BaseException) -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error

    class Verified(Message):
        def __init__(self, verification: Verification) -> None:
            super().__init__()
            self.verification = verification

    class Downloaded(Message):
        def __init__(self, backup: Backup, size: int, path: str) -> None:
            super().__init__()
            self.backup = backup
            self.size = size
            self.path = path

    class RestorePlanned(Message):
        def __init__(self, plan: RestorePlan) -> None:
            super().__init__()
            self.plan = plan

    class MigrationPlanned(Message):
        def __init__(self, plan: MigrationPlan) -> None:
            super().__init__()
            self.plan = plan

    def __init__(self, session: BackupSession, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.session = session
        self.clock = clock
        self.status: BackupsStatus | None = None
        """The last journal read."""
        self.busy = ""
        """What runs now on this screen (a backup, a verification, a download), or ''."""
        self.total: int | None = None
        """Bytes the running download will move (a dump's size is not known ahead)."""
        self.last: str = ""
        """What the activity line said last, for tests and the palette."""
        self.backup_job: Job | None = None
        """The backup started here (it runs on the app's job board)."""
        self._unsubscribe: Callable[[], None] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="backups-title")
        yield Static(Text("Reading the journal on the host…"), id="backups-header")
        yield DataTable(id="backups-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="backups-selected")
        with Vertical(id="backups-activity"):
            yield Static(id="backups-activity-text")
            yield ProgressBar(id="backups-progress", show_eta=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        activity = self.query_one("#backups-activity")
        activity.border_title = "Activity"
        self.query_one(ProgressBar).display = False
        self._activity(self._hint())
        self._title()
        board = cast(RunsJobs, self.app).jobs
        running = [job for job in board.running() if job.kind == "backup"
                   and job.host == self.session.host
                   and job.app in (self.session.name, self.session.ref)]
        if running:  # reopened while its backup runs: show it again
            self._start("backing up")
            self._watch_backup(running[-1])

    def _hint(self) -> Text:
        return Text("b backs up now; select a backup to verify (v), restore (r) or download "
                    "(d) it; m runs the app's migration.", style=Palette.of(self.app).muted)

    def on_screen_resume(self) -> None:
        self.action_reload()  # on opening, and back from a restore or a migration

    # -- reading --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="backups-load",
          description="Cannot read the backups")
    def load(self) -> None:
        self.post_message(self.Loaded(self.session.backup_status()))

    def action_reload(self) -> None:
        self.load()

    def on_backups_screen_loaded(self, message: Loaded) -> None:
        self.status = status = message.status
        palette, now = Palette.of(self.app), self.clock()
        self._title()
        self.query_one("#backups-header", Static).update(self._header(status, palette, now))
        table = self.query_one(DataTable)
        keep = table.cursor_row
        rows = [(backup.id, self._cells(backup, palette, now)) for backup in self.shown()]
        with self.app.batch_update():
            if [key for key, _ in rows] == [key.value for key in table.rows]:
                for key, cells in rows:  # the same backups: their cells change in place
                    for column, cell in zip(COLUMNS, cells, strict=True):
                        if not same_text(table.get_cell(key, column[0]), cell):
                            table.update_cell(key, column[0], cell, update_width=True)
            else:
                table.clear()
                for key, cells in rows:
                    table.add_row(*cells, key=key)
                if table.row_count:
                    table.move_cursor(row=min(keep, table.row_count - 1))
        self._show_selected()

    @staticmethod
    def _cells(backup: Backup, palette: Palette, now: datetime) -> list[Text]:
        mark, meaning = verified_mark(backup)
        style = getattr(palette, meaning)
        check = backup.check if backup.usable else f"dump failed: {backup.error}"
        return [
            Text(backup.id, style=palette.strong if backup.usable else palette.muted),
            Text(taken(backup.at, now), style=palette.muted),
            Text(human_bytes(backup.size) if backup.usable else "-", justify="right"),
            Text(f"   {mark}", style=style),
            Text(why_text(backup), style=palette.accent
                 if backup.why == BEFORE_MIGRATION else ""),
            Text(short(check, CHECK_WIDTH), style=palette.muted if backup.verified
                 else style)]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_selected()

    def _show_selected(self) -> None:
        """The highlighted backup in full: file, sha256, who, and what its check said."""
        backup, palette = self.selected(), Palette.of(self.app)
        text = Text(no_wrap=True, overflow="ellipsis")
        if backup is not None:
            text.append("▸ ", style=palette.primary)
            text.append(backup.path or backup.id, style=palette.strong)
            text.append(f"  sha256 {backup.sha256[:16] or '-'}…  by {backup.who}  "
                        f"{backup.seconds:.1f} s", style=palette.muted)
            detail = backup.check if backup.usable else backup.error
            if detail:
                text.append("  ")
                text.append(clean(detail, 400), style=palette.muted if backup.verified
                            else palette.bad)
        elif self.status is not None:
            text.append("No backups of this app yet: b takes one.", style=palette.muted)
        self.query_one("#backups-selected", Static).update(text)

    def shown(self) -> list[Backup]:
        """The table's rows: newest first; files retention removed are left out."""
        return [b for b in self.status.backups if not b.removed] if self.status else []

    def _header(self, status: BackupsStatus, palette: Palette, now: datetime) -> Text:
        config = status.config
        text = Text(no_wrap=True, overflow="ellipsis")

        def row(label: str, value: str | Text) -> None:
            if text:
                text.append("\n")
            text.append(f"{label:<12}", style=palette.muted)
            text.append(value if isinstance(value, Text) else Text(value))

        where = " ".join(part for part in (
            f"database {config.database}" if config.database else "",
            f"in {config.container}" if config.container else "",
            config.path) if part)
        row("app", Text.assemble((status.app.name, palette.primary),
                                 f" on {self.session.host}"))
        row("engine", f"{config.engine}" + (f" ({where})" if where else ""))
        row("destination", status.folder)
        removed = sum(1 for b in status.backups if b.removed)
        row("retention", f"keep {config.keep} newest, and always the newest verified one and "
                         "every one taken before a migration"
                         + (f" ({removed} removed so far)" if removed else ""))
        if status.lock is not None:
            row("lock", Text(f"🔒 {status.lock.describe()}", style=palette.warn))
        last: list[str] = []
        if status.restores:
            restore = status.restores[0]
            last.append(f"restore from {restore.backup} {restore.outcome} "
                        f"{self._ago(restore.at, now)}")
        if status.migrations:
            migration = status.migrations[0]
            last.append(f"migration {migration.outcome} {self._ago(migration.at, now)}"
                        + (f" (backup {migration.backup})" if migration.backup else ""))
        if last:
            row("last", "; ".join(last))
        return text

    @staticmethod
    def _ago(at: str, now: datetime) -> str:
        moment = parse_time(at)
        return f"{since(moment, now)} ago" if moment else ""

    def _title(self) -> None:
        palette = Palette.of(self.app)
        text = Text()
        text.append(" opsui ", style=palette.primary)
        text.append("│ ", style=palette.muted)
        text.append("Backups", style=palette.strong)
        text.append(f" {self.session.name} on {self.session.host}")
        if self.status is not None:
            usable = self.status.usable
            verified = sum(1 for b in usable if b.verified)
            text.append(f"  │ {len(usable)} backups, {verified} verified", style=palette.muted)
        if self.busy:
            text.append(f"  {self.busy}…", style=palette.accent)
        if self.session.read_only:
            text.append("   READ-ONLY", style=palette.warn)
        self.query_one("#backups-title", Static).update(text)

    # -- the activity box -------------------------------------------------------------------

    def _activity(self, text: Text) -> None:
        self.last = text.plain
        self.query_one("#backups-activity-text", Static).update(text)

    def _start(self, what: str, total: int | None = None) -> None:
        self.busy = what
        self.total = total
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=total, progress=0)
        self._activity(Text(f"{what.capitalize()}…", style=Palette.of(self.app).accent))
        self._title()

    def _stop(self, text: Text) -> None:
        self.busy = ""
        bar = self.query_one(ProgressBar)
        if self.total is not None:
            bar.update(progress=self.total)
        else:
            bar.display = False
        self._activity(text)
        self._title()

    def on_backups_screen_progressed(self, message: Progressed) -> None:
        if not self.busy:
            return
        palette = Palette.of(self.app)
        text = Text()
        text.append(f"{self.busy.capitalize()}: ", style=palette.accent)
        text.append(human_bytes(message.done), style=palette.strong)
        if self.total:
            text.append(f" of {human_bytes(self.total)}", style=palette.muted)
        text.append(f" at {human_bytes(message.rate)}/s", style=palette.muted)
        self._activity(text)
        if self.total is not None:
            self.query_one(ProgressBar).update(progress=min(message.done, self.total))

    def _progress(self, done: int, rate: float) -> None:
        """Called on a worker thread by the domain."""
        self.post_message(self.Progressed(done, rate))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self.app, event)
        if event.state is not WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        group = event.worker.group
        message = explain(error) if isinstance(error, OpsuiError) else str(error)
        palette = Palette.of(self.app)
        if group == "backups-load":
            self.query_one("#backups-header", Static).update(
                Text(f"Cannot read the backups: {message}", style=palette.bad))
        elif group in ("backups-act", "backups-plan"):
            refused = isinstance(error, ActionRefused)
            what = self.busy or "planning"
            self._stop(Text(f"✗ {what.capitalize()} {'refused' if refused else 'failed'}: "
                            f"{message}", style=palette.warn if refused else palette.bad))
            self.action_reload()

    # -- keys -------------------------------------------------------------------------------

    def selected(self) -> Backup | None:
        table = self.query_one(DataTable)
        if self.status is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((b for b in self.status.backups if b.id == key), None)

    def _usable_selection(self, verb: str) -> Backup | None:
        backup = self.selected()
        if backup is None:
            self.notify(f"No backup selected to {verb}." if self.status is not None
                        else "Still reading the backups.", severity="warning", markup=False)
            return None
        if not backup.usable:
            self.notify(f"{backup.id} has no file to {verb}: its dump failed.",
                        severity="warning", markup=False)
            return None
        return backup

    def _idle(self) -> bool:
        if self.busy:
            self.notify(f"Wait: {self.busy} is running.", severity="warning", markup=False)
            return False
        if self.status is None:
            self.notify("Still reading the backups.", severity="warning", markup=False)
            return False
        return True

    def _allowed(self, action: Action, detail: str = "") -> bool:
        """The gate first: read-only refuses before anything is planned or run."""
        try:
            self.session.monitor.gate.confirmation_for(self.session.request(action, detail))
        except ActionRefused as refused:
            notify_error(self.app, refused, title="Read-only")
            return False
        return True

    def action_backup(self) -> None:
        if not self._allowed(Action.BACKUP) or not self._idle() or self.status is None:
            return
        request = self.session.request(Action.BACKUP, f"to {self.status.folder}")
        confirmation = self.session.monitor.gate.confirmation_for(request)
        status = self.status
        preview = preview_rows([("host", self.session.host), ("app", status.app.name),
                                ("engine", status.config.engine), ("to", status.folder),
                                ("then", "the engine's check, and retention "
                                         f"(keep {status.config.keep})")],
                               Palette.of(self.app))

        def proceed(answer: bool | str | None) -> None:
            self._start("backing up")
            self._watch_backup(self._start_backup_job(answer))

        ask_to_run(self.app, confirmation, preview, proceed)

    def _start_backup_job(self, answer: bool | str | None) -> Job:
        """The backup runs as a job of the app: leaving this screen does not stop it."""
        session = self.session

        def run(context: JobContext) -> str:
            started = time.monotonic()
            context.report(StepEvent("backup"))
            backup = session.backup(answer, context.progress, context.cancelled)
            context.job.result = backup
            outcome = OK if backup.verified else FAILED
            context.report(StepEvent("backup", outcome, time.monotonic() - started,
                                     f"{backup.id}: {human_bytes(backup.size)}, "
                                     f"{'verified' if backup.verified else 'NOT verified'}"))
            return outcome

        return cast(RunsJobs, self.app).start_job(session, "backup",
                                                   f"Backup of {session.name} on "
                                                   f"{session.host}", run)

    def _watch_backup(self, job: Job) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.backup_job = job
        self._unsubscribe = job.subscribe(self._on_backup_event)
        self.refresh_bindings()

    def _on_backup_event(self, job: Job, event: JobEvent) -> None:
        """On the job's thread (or replayed here): progress and the end, as messages."""
        match event:
            case ProgressSample(done=done, rate=rate):
                self.post_message(self.Progressed(done, rate))
            case JobEnded(error=None):
                if isinstance(job.result, Backup):
                    self.post_message(self.BackedUp(job.result))
            case JobEnded(outcome=outcome, error=error) if error is not None:
                self.post_message(self.BackupFailed(outcome, error))

    def on_backups_screen_backup_failed(self, message: BackupFailed) -> None:
        refused = isinstance(message.error, ActionRefused)
        palette = Palette.of(self.app)
        what = "cancelled" if message.outcome == CANCELLED else (
            "refused" if refused else "failed")
        self._stop(Text(f"✗ Backup {what}: {explain(message.error)}",
                        style=palette.warn if refused or what == "cancelled" else palette.bad))
        self.action_reload()

    def on_backups_screen_backed_up(self, message: BackedUp) -> None:
        self.refresh_bindings()
        backup, palette = message.backup, Palette.of(self.app)
        text = Text()
        if backup.verified:
            text.append(f"✓ {backup.id} verified", style=palette.ok)
        else:
            text.append(f"✗ {backup.id} NOT VERIFIED", style=palette.bad)
        text.append(f": {human_bytes(backup.size)} in {backup.seconds:.1f} s, sha256 "
                    f"{backup.sha256[:16]}…; {clean(backup.check, 300)}")
        self._stop(text)
        self.action_reload()

    def action_verify(self) -> None:
        backup = self._usable_selection("verify")
        if backup is None or not self._idle():
            return
        reason = self.session.monitor.gate.refusal(self.session.request(Action.BACKUP))
        if reason:  # a verification is journaled on the host: read-only does not write
            notify_error(self.app, ActionRefused(
                f"Refused to verify {backup.id} of {self.session.name} on "
                f"{self.session.host}: {reason}.", hint="A verification is recorded in the "
                "app's journal on the host."), title="Read-only")
            return
        self._start(f"verifying {backup.id}")
        self.verify(backup.id)

    @work(thread=True, exit_on_error=False, group="backups-act", description="Verify")
    def verify(self, backup_id: str) -> None:
        self.post_message(self.Verified(self.session.verify(backup_id)))

    def on_backups_screen_verified(self, message: Verified) -> None:
        result, palette = message.verification, Palette.of(self.app)
        text = Text()
        text.append(f"{'✓' if result.ok else '✗'} {result.backup.id} "
                    f"{'verified' if result.ok else 'FAILED verification'}: ",
                    style=palette.ok if result.ok else palette.bad)
        text.append(clean(result.detail, 600))
        self._stop(text)
        self.app.notify(f"{result.backup.id}: {'verified' if result.ok else 'FAILED'}\n"
                        f"{clean(result.detail, 300)}",
                        severity="information" if result.ok else "error", timeout=8,
                        markup=False)
        self.action_reload()

    def action_download(self) -> None:
        backup = self._usable_selection("download")
        if backup is None or not self._idle():
            return
        name = backup.path.rpartition("/")[2] or f"{backup.id}.backup"
        default = f"{DOWNLOAD_FOLDER}/{clean(name, 200)}"

        def chosen(path: str | None) -> None:
            if path is None:
                return
            self._start(f"downloading {backup.id}", total=backup.size or None)
            self.download(backup.id, str(Path(path).expanduser()))

        self.app.push_screen(DownloadModal(backup, default), chosen)

    @work(thread=True, exit_on_error=False, group="backups-act", description="Download")
    def download(self, backup_id: str, to: str) -> None:
        target = Path(to)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ActionRefused(f"cannot make the folder {target.parent}: "
                                f"{exc.strerror or exc}") from None
        found, size = self.session.download(backup_id, to, self._progress)
        self.post_message(self.Downloaded(found, size, to))

    def on_backups_screen_downloaded(self, message: Downloaded) -> None:
        palette = Palette.of(self.app)
        text = Text()
        text.append(f"✓ {message.backup.id} downloaded: ", style=palette.ok)
        text.append(f"{human_bytes(message.size)} to {message.path} (sha256 matches the "
                    "journal)")
        self._stop(text)
        self.app.notify(f"Downloaded {message.backup.id} to {message.path}",
                        title="Download", timeout=10, markup=False)

    def action_restore(self) -> None:
        backup = self._usable_selection("restore")
        if backup is None or not self._allowed(Action.RESTORE, f"from {backup.id}") \
                or not self._idle():
            return
        self._activity(Text(f"Planning the restore from {backup.id}…"))
        self.plan_restore(backup.id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="backups-plan",
          description="Cannot plan the restore")
    def plan_restore(self, backup_id: str) -> None:
        self.post_message(self.RestorePlanned(self.session.plan_restore(backup_id)))

    def on_backups_screen_restore_planned(self, message: RestorePlanned) -> None:
        plan = message.plan
        self._run_confirmed(plan, "restore",
                            restore_preview(plan, Palette.of(self.app), self.clock()),
                            restore_summary(plan))

    def action_migrate(self) -> None:
        if not self._allowed(Action.MIGRATE) or not self._idle():
            return
        self._activity(Text("Planning the migration…"))
        self.plan_migration()

    @work(thread=True, exclusive=True, exit_on_error=False, group="backups-plan",
          description="Cannot plan the migration")
    def plan_migration(self) -> None:
        self.post_message(self.MigrationPlanned(self.session.plan_migration()))

    def on_backups_screen_migration_planned(self, message: MigrationPlanned) -> None:
        plan = message.plan
        self._run_confirmed(plan, "migrate", migration_preview(plan, Palette.of(self.app)),
                            migration_summary(plan))

    def _run_confirmed(self, plan: RestorePlan | MigrationPlan, action: str, preview: Text,
                       summary: str) -> None:
        try:
            confirmation = self.session.confirmation(plan)
        except ActionRefused as refused:
            notify_error(self.app, refused, title="Read-only")
            return
        self._activity(self._hint())

        def proceed(answer: bool | str | None) -> None:
            self.app.push_screen(ReleaseRunScreen(self.session, action, self.clock,
                                                  run=(plan, answer, summary)))

        def declined() -> None:
            self.not_confirmed(plan)

        ask_to_run(self.app, confirmation, preview, proceed, declined)

    @work(thread=True, exit_on_error=False, group="backups-plan",
          description="Cannot record the refusal")
    def not_confirmed(self, plan: RestorePlan | MigrationPlan) -> None:
        """A question cancelled (a restore's name not typed, or mistyped) is a refused
        action in the app's journal, as a wrong ``--confirm`` is."""
        self.session.backups().not_confirmed(self.session.app(), plan.request)

    def action_back(self) -> None:
        """Back; a running backup goes on (the dashboard shows it, J watches it)."""
        self.dismiss()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_backup":  # in the footer only while a backup runs
            job = self.backup_job
            return job is not None and job.running and not job.cancelled.is_set()
        return True

    def action_cancel_backup(self) -> None:
        job = self.backup_job
        if job is None or not job.running or job.cancelled.is_set():
            self.notify("No backup is running.", timeout=3, markup=False)
            return
        ask_to_cancel(self, job)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def palette_commands(self) -> Iterable[PaletteCommand]:
        name = self.session.name
        yield PaletteCommand(f"Back up {name} now", "Asks first; then verified (b).",
                             self.action_backup)
        backup = self.selected()
        if backup is not None and backup.usable:
            yield PaletteCommand(f"Verify {backup.id}", "sha256 and the engine's check (v).",
                                 self.action_verify)
            yield PaletteCommand(f"Restore {name} from {backup.id}",
                                 "Type the name; a safety backup first (r).",
                                 self.action_restore)
            yield PaletteCommand(f"Download {backup.id}", "To this machine (d).",
                                 self.action_download)
        yield PaletteCommand(f"Migrate {name}", "A verified backup, then the migration (m).",
                             self.action_migrate)
        yield PaletteCommand("Refresh the backups", "Read the journal again.",
                             self.action_reload)
        yield PaletteCommand("Back", "Leave the backups.", self.action_back)
