"""A log feed without Docker: a LogBuffer the test fills, and a status it sets.

The log screen only needs :class:`opsui.domain.logfeed.LogFeed`; this one records
``close()`` so a test can prove leaving the screen stops the stream, and
:class:`LogsApp` shows a :class:`LogsScreen` over it with opsui's stylesheet and theme.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from textual.app import App

from opsui.domain.logbuffer import LineKind, LogBuffer
from opsui.domain.logfeed import FeedState, FeedStatus, LogTarget, LogWindow, TargetKind
from opsui.ui.commands import OpsuiCommands
from opsui.ui.screens.logs import LogsScreen
from opsui.ui.themes import DEFAULT_THEME, load_themes, theme_sources

from .common import NOW

STAMP = "2026-11-23T16:58:{:02d}.{:09d}Z "


def stamped(second: int, text: str | bytes, nanos: int = 0) -> bytes:
    body = text.encode() if isinstance(text, str) else text
    return STAMP.format(second % 60, nanos).encode() + body


class FakeFeed:
    """Implements :class:`~opsui.domain.logfeed.LogFeed` over a buffer the test fills."""

    def __init__(self, target: LogTarget | None = None, capacity: int = 10_000,
                 sources: Iterable[str] = ("web-1",)) -> None:
        self._buffer = LogBuffer(capacity)
        for name in sources:
            self._buffer.add_source(name)
        self._target = target or LogTarget(TargetKind.CONTAINER, ("web-1",))
        self.state = FeedStatus(FeedState.LIVE)
        self.closed = False
        self.window: LogWindow | None = None

    @property
    def buffer(self) -> LogBuffer:
        return self._buffer

    @property
    def target(self) -> LogTarget:
        return self._target

    def status(self) -> FeedStatus:
        return FeedStatus(FeedState.ENDED, "closed") if self.closed else self.state

    def close(self) -> None:
        self.closed = True

    def add(self, *lines: str | bytes, source: int = 0, kind: LineKind = LineKind.STDOUT,
            second: int = 50) -> None:
        self._buffer.append(source, kind, [stamped(second, line, i)
                                           for i, line in enumerate(lines)])


class LogsApp(App[None]):
    """Just the log screen, styled as in opsui, with a frozen clock."""

    CSS_PATH = Path(__file__).parents[2] / "opsui" / "ui" / "opsui.tcss"
    COMMANDS = App.COMMANDS | {OpsuiCommands}

    def __init__(self, feed: FakeFeed, *, reopened: list[FakeFeed] | None = None) -> None:
        super().__init__()
        self.feed = feed
        self.reopened = reopened if reopened is not None else []
        """Feeds opened by window switches, in order."""

    def on_load(self) -> None:
        for theme in load_themes(theme_sources(Path("/nonexistent/opsui-themes"))).themes:
            self.register_theme(theme)
        self.theme = DEFAULT_THEME

    def on_mount(self) -> None:
        self.push_screen(LogsScreen("local", self.feed, self._reopen,
                                    clock=lambda: NOW.astimezone()))

    def _reopen(self, window: LogWindow) -> FakeFeed:
        feed = FakeFeed(self.feed.target)
        feed.window = window
        self.reopened.append(feed)
        return feed

    @property
    def logs(self) -> LogsScreen:
        screen = self.screen
        assert isinstance(screen, LogsScreen)
        return screen


def now() -> datetime:
    return NOW
