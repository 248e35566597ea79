"""Keys in the log pane's search box while lines pour in (issue 14).

What an operator notices: a key typed into the search box shows at once, even while
the followed container writes thousands of lines a second. So a key's echo must not
wait for the pane to redraw its rows: typing does not redraw the lines per key (the
query applies when the keys pause, or at once on Enter), new lines wait for the
frame that echoes a key, and a stream bringing a screenful or more per tick is drawn
at a bounded frame rate instead of on every tick.
"""

from __future__ import annotations

from typing import Any

import pytest

from opsui.ui.widgets import log_query_bar, log_view
from opsui.ui.widgets.log_view import FIREHOSE_FRAME_SECONDS, LogView

from .helpers import screen_text, until
from fakes.logs import FakeFeed, LogsApp

SIZE = (120, 24)


def _lines(count: int, word: str = "line") -> list[str]:
    return [f"{word} {i:04d}" for i in range(count)]


async def _following(pilot: Any, app: LogsApp, last: str) -> LogView:
    await until(pilot, lambda: last in screen_text(app), f"{last!r} on screen")
    return app.logs.view


def _count_frames(view: LogView) -> list[int]:
    """Every time the pane lays out its rows (a redraw of the lines), appended to."""
    built: list[int] = []
    original = view._build_frame

    def counting(width: int, height: int) -> Any:
        built.append(1)
        return original(width, height)

    view._build_frame = counting  # type: ignore[method-assign]
    return built


async def test_typing_a_search_echoes_each_key_without_redrawing_the_lines(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_query_bar, "SETTLE_SECONDS", 60.0,  # the keys never pause
                        raising=False)
    feed = FakeFeed()
    feed.add(*_lines(50), "the needle")
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _following(pilot, app, "the needle")
        await pilot.press("slash")
        await until(pilot, lambda: app.logs.bar.display, "the search box")
        built = _count_frames(view)
        await pilot.press(*"needle")
        await until(pilot, lambda: "search  needle" in screen_text(app), "every key echoed")
        assert not built, "the lines were redrawn while typing"
        assert not view.search.active
        await pilot.press("enter")  # Enter applies at once
        await until(pilot, lambda: view.search.active and view.current_seq == 50,
                    "searched on Enter")
        assert built


async def test_each_key_in_the_search_box_lets_its_echo_go_before_new_lines(
        monkeypatch: pytest.MonkeyPatch) -> None:
    held: list[int] = []
    original = LogView.input_first

    def recording(self: LogView) -> None:
        held.append(1)
        original(self)

    monkeypatch.setattr(LogView, "input_first", recording)
    feed = FakeFeed()
    feed.add(*_lines(30))
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _following(pilot, app, "line 0029")
        await pilot.press("slash", *"abc")
        await until(pilot, lambda: "search  abc" in screen_text(app), "typed")
        assert len(held) == 3  # one hold per key typed into the box
        view._ticker.pause()  # the polls below are the test's own
        view.input_first()
        feed.add("arrived with the key")
        view.poll()
        assert "arrived with the key" not in screen_text(app)
        assert view.row_count == 30  # held: not even counted yet
        # once the frame that echoes the key is drawn, the lines come
        def polled_rows() -> int:
            view.poll()
            return view.row_count

        await until(pilot, lambda: polled_rows() == 31, "released")
        await until(pilot, lambda: "arrived with the key" in screen_text(app), "drawn")


class _Clock:
    """The pane's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1e9  # later than any frame drawn before the test took over

    def monotonic(self) -> float:
        return self.now

    def perf_counter(self) -> float:
        return self.now


async def test_a_stream_of_a_screenful_per_tick_is_drawn_at_a_bounded_frame_rate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    feed = FakeFeed(capacity=100_000)
    feed.add(*_lines(100))
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _following(pilot, app, "line 0099")
        view._ticker.pause()
        clock = _Clock()
        monkeypatch.setattr(log_view, "time", clock)
        height = view.scrollable_content_region.height
        feed.add(*_lines(height, "first"))
        view.poll()  # the first batch is drawn at once
        assert view.row_count == 100 + height
        for tick in range(5):  # five ticks within one frame's time, a screenful each
            clock.now += FIREHOSE_FRAME_SECONDS / 10
            feed.add(*_lines(height, f"burst{tick}"))
            view.poll()
        assert view.row_count == 100 + height  # not drawn tick by tick
        clock.now += FIREHOSE_FRAME_SECONDS
        view.poll()  # one frame shows all of them, following the newest
        assert view.row_count == 100 + 6 * height
        await until(pilot, lambda: f"burst4 {height - 1:04d}" in screen_text(app), "newest")
        # a slow log (less than a screenful since the last frame) is drawn at once
        feed.add("one more line")
        view.poll()
        await until(pilot, lambda: "one more line" in screen_text(app), "drawn at once")
