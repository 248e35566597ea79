"""The log screen: one feed's lines, its state, and the keys an incident needs.

The app opens the feed (``HostMonitor.open_logs`` returns at once; reader threads
fill the buffer) and hands it over with a way to reopen it for another window. The
screen owns the feed from then on: switching the window opens the new feed before
closing the old, and the feed is closed when the screen goes away, whichever way.

D, R, H and K (deploy, rollback, history, backups) act on the app shown here, so an
operator reading the logs of a bad release rolls it back without leaving them: the
feed follows the app's identity, and the app's serving container is looked up in the
UI state when the key is pressed (a rollback switches it).

Everything from the host (target names, feed messages, lines) reaches widgets as
``Text``, never markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker

from opsui.domain.app_shown import AppShown, app_shown
from opsui.domain.logbuffer import LogBuffer
from opsui.domain.logexport import ExportResult, export_lines
from opsui.domain.logfeed import FeedState, FeedStatus, LogFeed, LogWindow
from opsui.domain.loglevel import Level
from opsui.ui.commands import PaletteCommand
from opsui.ui.errors import notify_error, report_worker_failure
from opsui.ui.palette import Palette
from opsui.ui.screens.container_keys import (
    RELEASE_BINDINGS,
    ReleaseRequested,
    release_palette_commands,
)
from opsui.ui.screens.save_log import SaveLogModal, SaveRequest
from opsui.ui.state import UiState
from opsui.ui.widgets.log_query_bar import LogQueryBar
from opsui.ui.widgets.log_view import LogView

FeedOpener = Callable[[LogWindow], LogFeed]
"""Opens the same target again with another window (may raise HostError)."""

BADGE_SECONDS = 0.25
"""How often the feed's state is read for the badge (a cheap call)."""

LEVELS: tuple[Level | None, ...] = (None, Level.ERROR, Level.WARN, Level.INFO, Level.DEBUG)
"""The level filter's cycle: all lines, then at least error, warn, info, debug."""

WINDOW_LABELS = {"tail": "tail {tail}", "5m": "last 5 min", "1h": "last hour",
                 "24h": "last 24 h", "all": "everything"}

BADGES = {FeedState.LIVE: "● live", FeedState.RECONNECTING: "↻ reconnecting",
          FeedState.STALE: "◌ stale", FeedState.ENDED: "■ ended"}


class LogsScreen(Screen[None]):
    """Follow, search, filter, save and copy the lines of one log target."""

    AUTO_FOCUS = "#log-view"

    BINDINGS = [
        Binding("escape", "back", "Back", id="logs.back",
                tooltip="Close the logs (the stream stops) and go back."),
        *RELEASE_BINDINGS,  # next to Back: the footer shows Rollback even at 80 columns
        Binding("f", "toggle_follow", "Follow", id="logs.follow",
                tooltip="Follow the newest lines, or pause where you are."),
        Binding("slash", "search", "Search", id="logs.search",
                tooltip="Highlight text (plain, or regex with ctrl+r); n / N jump between hits."),
        Binding("n", "find(True)", "Next", id="logs.next", show=False,
                tooltip="Jump to the next line matching the search."),
        Binding("N", "find(False)", "Previous", id="logs.previous", show=False,
                tooltip="Jump to the previous line matching the search."),
        Binding("ampersand", "filter", "Filter", id="logs.filter",
                tooltip="Keep only matching lines (ctrl+r regex, ctrl+n inverted)."),
        Binding("exclamation_mark", "invert", "Invert", id="logs.invert", show=False,
                tooltip="Invert the filter: keep the lines that do not match."),
        Binding("v", "level", "Level", id="logs.level",
                tooltip="Minimum level: all, error, warn, info, debug (cycles)."),
        Binding("t", "timestamps", "Times", id="logs.timestamps",
                tooltip="Show or hide each line's timestamp."),
        Binding("w", "wrap", "Wrap", id="logs.wrap",
                tooltip="Fold long lines, or scroll them sideways."),
        Binding("g", "top", "Top", id="logs.top", show=False,
                tooltip="Jump to the oldest line held (pauses following)."),
        Binding("G", "bottom", "Bottom", id="logs.bottom", show=False,
                tooltip="Jump to the newest line and follow."),
        Binding("p", "next_window", "Window", id="logs.window", show=False,
                tooltip="Start from another window: tail, 5 min, 1 h, 24 h, everything."),
        Binding("s", "save", "Save", id="logs.save",
                tooltip="Save the buffer, or the filtered view, to a file."),
        Binding("c", "copy", "Copy", id="logs.copy",
                tooltip="Copy the selected text, or the lines on screen, to the clipboard "
                "(OSC 52: works over SSH)."),
    ]

    class Saved(Message):
        """The save worker finished writing."""

        def __init__(self, result: ExportResult) -> None:
            super().__init__()
            self.result = result
            """Where, how many lines, how many were dropped before they could be written."""

    class SaveFailed(Message):
        """The save worker could not write (bad folder, full disk, permissions)."""

        def __init__(self, path: Path, reason: str) -> None:
            super().__init__()
            self.path = path
            self.reason = reason
            """The operating system's words."""

    def __init__(self, host: str, feed: LogFeed, reopen: FeedOpener,
                 window: str = "tail", tail: int = 1000,
                 clock: Callable[[], datetime] | None = None,
                 state: UiState | None = None) -> None:
        super().__init__()
        self.host = host
        """The host the target runs on."""
        self.feed = feed
        """The open feed; this screen closes it."""
        self.reopen = reopen
        self.window = window
        """The window preset the feed was opened with."""
        self.tail = tail
        self.clock = clock or (lambda: datetime.now().astimezone())
        self.state = state
        """What the UI knows of the hosts: where the app's serving container is found."""
        self._level_index = 0
        self._badge_shown: tuple[FeedStatus, int] | None = None
        self._title_shown: Text | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="logs-bar"):
            yield Static(id="logs-title")
            yield Static(id="logs-badge")
        yield LogView(self.feed.buffer, id="log-view")
        yield LogQueryBar(id="logs-query")
        yield Footer()

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    @property
    def bar(self) -> LogQueryBar:
        return self.query_one(LogQueryBar)

    def on_mount(self) -> None:
        self.bar.display = False
        self.bar.before_echo = self.view.input_first
        self._title()
        self._badge()
        self.set_interval(BADGE_SECONDS, self._badge)

    def on_unmount(self) -> None:
        self.feed.close()

    # -- drawing ------------------------------------------------------------------------------

    def on_log_view_changed(self, message: LogView.Changed) -> None:
        message.stop()
        self._title()

    def _title(self) -> None:
        palette = Palette.of(self.app)
        view = self.view
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(" ")
        text.append(self.feed.target.title, palette.primary)
        text.append(f"  on {self.host}  ", palette.muted)
        text.append(WINDOW_LABELS[self.window].format(tail=self.tail), palette.accent)
        buffer = view.buffer
        held = buffer.total - buffer.first
        if view.filtering:
            text.append(f"  {view.row_count:,} of {held:,} lines")
        else:
            text.append(f"  {held:,} lines")
        if view.scanning:
            text.append(f" (scanning {view.scanning:,})", palette.muted)
        if view.filter.active:
            text.append(f"  filter {view.filter.describe()}", palette.warn)
        if view.min_level is not None:
            text.append(f"  level ≥ {view.min_level.name.lower()}", palette.warn)
        if view.search.active:
            text.append(f"  search {view.search.describe()}", palette.accent)
        if buffer.dropped:
            text.append(f"  dropped {buffer.dropped:,} oldest", palette.warn)
        if not view.follow:
            text.append("  PAUSED", palette.bad)
            if view.new_lines:
                text.append(f" +{view.new_lines:,} new lines", palette.bad)
            text.append(" (f follows)", palette.muted)
        if text != self._title_shown:  # the size is fixed: no layout pass, 20 times a second
            self._title_shown = text
            self.query_one("#logs-title", Static).update(text, layout=False)

    def _badge(self) -> None:
        status = self.feed.status()
        shown = (status, self.feed.buffer.dropped)
        if shown == self._badge_shown:
            return
        self._badge_shown = shown
        palette = Palette.of(self.app)
        style = {FeedState.LIVE: palette.ok, FeedState.RECONNECTING: palette.warn,
                 FeedState.STALE: palette.warn, FeedState.ENDED: palette.muted}[status.state]
        badge = self.query_one("#logs-badge", Static)
        badge.update(Text(f" {BADGES[status.state]} ", style))
        badge.tooltip = Text(status.message) if status.message else None
        self._title()

    # -- search and filter --------------------------------------------------------------------

    def action_search(self) -> None:
        self.bar.open("search", return_to=self.view)

    def action_filter(self) -> None:
        self.bar.open("filter", return_to=self.view)

    def on_log_query_bar_applied(self, message: LogQueryBar.Applied) -> None:
        message.stop()
        view = self.view
        if message.mode == "search":
            if message.query != view.search:
                view.set_search(message.query)
            if message.done and message.query.active:
                view.find(True)
        elif message.query != view.filter:
            view.set_filter(message.query, view.min_level)

    def action_find(self, forward: bool) -> None:
        if not self.view.search.active:
            self.action_search()
            return
        self.view.find(forward)

    def on_log_view_search_result(self, message: LogView.SearchResult) -> None:
        message.stop()
        if not message.found:
            where = "below" if message.forward else "above"
            self.notify(f"No more matches {where}.", timeout=2, markup=False)

    def action_invert(self) -> None:
        bar = self.bar
        bar.invert = not bar.invert
        bar.mode = "filter"
        try:
            query = bar.compiled("filter")
        except ValueError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        if not query.active:
            self.notify("No filter to invert: & sets one.", timeout=3, markup=False)
        self.view.set_filter(query, self.view.min_level)

    def action_level(self) -> None:
        self._level_index = (self._level_index + 1) % len(LEVELS)
        self.set_level(LEVELS[self._level_index])

    def set_level(self, level: Level | None) -> None:
        """Show lines at least this severe (None: every line)."""
        self._level_index = LEVELS.index(level)
        self.view.set_filter(self.view.filter, level)

    # -- view options -----------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        view = self.view
        if view.follow:
            view.pause()
        else:
            view.resume()

    def action_timestamps(self) -> None:
        self.view.set_timestamps(not self.view.timestamps)

    def action_wrap(self) -> None:
        self.view.set_wrap(not self.view.wrap)

    def action_top(self) -> None:
        self.view.jump_top()

    def action_bottom(self) -> None:
        self.view.resume()

    def action_next_window(self) -> None:
        presets = LogWindow.PRESETS
        self.use_window(presets[(presets.index(self.window) + 1) % len(presets)])

    def use_window(self, preset: str) -> None:
        """Reopen the feed with another window; the old one closes once the new is open."""
        try:
            feed = self.reopen(LogWindow.preset(preset, self.tail))
        except Exception as exc:
            notify_error(self.app, exc, title="Cannot reopen the logs")
            return
        old, self.feed, self.window = self.feed, feed, preset
        old.close()
        self._badge_shown = None
        self.view.use_buffer(feed.buffer)
        self._badge()
        self.notify(f"Showing {WINDOW_LABELS[preset].format(tail=self.tail)}.", timeout=2,
                    markup=False)

    # -- out: clipboard and file ---------------------------------------------------------------

    def action_copy(self) -> None:
        """The mouse selection if there is one, else every line on screen."""
        text = self.get_selected_text() or self.view.visible_text()
        if not text:
            self.notify("Nothing on screen to copy.", timeout=2, markup=False)
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {text.count(chr(10)) + 1} lines to the clipboard.", timeout=2,
                    markup=False)

    def default_path(self) -> Path:
        """``./opsui-logs-TARGET-YYYYmmdd-HHMMSS.log``: unique, and says what it holds."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", self.feed.target.title).strip("-.")[:60]
        stamp = self.clock().strftime("%Y%m%d-%H%M%S")
        return Path.cwd() / f"opsui-logs-{slug or 'target'}-{stamp}.log"

    def action_save(self) -> None:
        view = self.view
        buffer = view.buffer
        modal = SaveLogModal(self.default_path(), view.filtering,
                             (view.row_count, buffer.total - buffer.first))
        self.app.push_screen(modal, self._save_answered)

    def _save_answered(self, request: SaveRequest | None) -> None:
        if request is None:
            return
        view = self.view
        buffer = view.buffer
        seqs = view.view_seqs() if request.filtered else list(range(buffer.first, buffer.total))
        self._write(buffer, request.path, seqs, view.timestamps)

    @work(thread=True, exclusive=True, exit_on_error=False, group="save",
          description="Save logs")
    def _write(self, buffer: LogBuffer, path: Path, seqs: list[int], timestamps: bool) -> None:
        try:
            result = export_lines(buffer, seqs, path, timestamps)
        except OSError as exc:
            self.post_message(self.SaveFailed(path, exc.strerror or str(exc)))
            return
        self.post_message(self.Saved(result))

    def on_logs_screen_saved(self, message: Saved) -> None:
        result = message.result
        note = f" ({result.missed:,} were dropped before they could be written)" \
            if result.missed else ""
        self.notify(f"Saved {result.written:,} lines to {result.path}{note}.", timeout=6,
                    markup=False)

    def on_logs_screen_save_failed(self, message: SaveFailed) -> None:
        self.notify(f"Could not save to {message.path}: {message.reason}", title="Save failed",
                    severity="error", timeout=10, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self.app, event)

    # -- the app shown here ------------------------------------------------------------------

    def app_shown(self) -> AppShown:
        """The app these logs follow and its serving container, as the UI knows them now."""
        if self.state is None:
            return AppShown((), None)
        host = self.state.host(self.host)
        configured = [a for a in self.state.apps if a.host == self.host]
        return app_shown(self.feed.target, host.containers.values(), configured)

    def action_release(self, kind: str) -> None:
        """Deploy, rollback, history or backups of the app shown (the app's flow decides)."""
        shown = self.app_shown()
        if shown.serving is not None:
            self.post_message(ReleaseRequested(self.host, shown.serving, kind))
        elif len(shown.apps) > 1:
            self.notify(f"These logs merge {len(shown.apps)} apps ({', '.join(shown.apps)}): "
                        "deploy, rollback, history and backups act on one app. Open the logs "
                        "of one of them (l on it) first.", severity="warning", timeout=8,
                        markup=False)
        else:
            self.notify(f"No container of {self.feed.target.title} on {self.host} right "
                        "now.", severity="warning", markup=False)

    # -- leaving ----------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        """Everything the log keys do, plus each window and level by name."""
        view = self.view
        yield PaletteCommand("Logs: follow" if not view.follow else "Logs: pause",
                             "Follow the newest lines, or stop where you are.",
                             self.action_toggle_follow)
        yield PaletteCommand("Logs: search", "Highlight matches; n / N jump.", self.action_search)
        yield PaletteCommand("Logs: filter", "Keep only matching lines.", self.action_filter)
        if view.filter.active:
            yield PaletteCommand("Logs: invert the filter", "Keep the lines that do not match.",
                                 self.action_invert)
        for level in LEVELS:
            label = "every level" if level is None else f"at least {level.name.lower()}"
            yield PaletteCommand(f"Logs: show {label}", "Level filter (also: v).",
                                 partial(self.set_level, level))
        yield PaletteCommand("Logs: timestamps on/off", "", self.action_timestamps)
        yield PaletteCommand("Logs: wrap on/off", "", self.action_wrap)
        yield PaletteCommand("Logs: jump to the top", "Oldest line held.", self.action_top)
        yield PaletteCommand("Logs: jump to the bottom and follow", "", self.action_bottom)
        for preset in LogWindow.PRESETS:
            if preset != self.window:
                yield PaletteCommand(f"Logs: start from {WINDOW_LABELS[preset]}"
                                     .format(tail=self.tail), "Reopens the stream.",
                                     partial(self.use_window, preset))
        yield PaletteCommand("Logs: save to a file", "The buffer or the filtered view.",
                             self.action_save)
        yield PaletteCommand("Logs: copy the lines on screen", "OSC 52 clipboard.",
                             self.action_copy)
        yield PaletteCommand("Logs: close", "Back to the dashboard.", self.action_back)
        shown = self.app_shown()
        if shown.serving is not None:
            yield from release_palette_commands(shown.apps[0], self.action_release)
