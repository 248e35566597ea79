"""The log pane as an operator sees it, over a fake feed the test fills.

Lines are appended to the feed's buffer as a reader thread would; the pane learns
about them on its own poll, so every assertion waits (with a deadline) for what the
screen shows rather than sleeping.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot

from opsui.domain.logbuffer import LineKind
from opsui.domain.logfeed import FeedState, FeedStatus, LogTarget, LogWindow, TargetKind
from opsui.domain.loglevel import Level
from opsui.domain.monitor import HostMonitor
from opsui.ui.app import OpsuiApp
from opsui.ui.keys import binding_ids
from opsui.ui.screens.detail import DetailScreen
from opsui.ui.screens.logs import LogsScreen
from opsui.ui.screens.save_log import SaveLogModal
from opsui.ui.widgets.container_table import ContainerTable
from opsui.ui.widgets.log_view import SCAN_BUDGET, LogView

from .helpers import make_app, screen_text, until
from fakes import FakeConnection, FakeEngine, shop_containers
from fakes.logs import FakeFeed, LogsApp

SIZE = (120, 24)


def _text(app: Any) -> str:
    return screen_text(app)


async def _started(pilot: Pilot[Any], app: LogsApp, last: str) -> LogView:
    await until(pilot, lambda: isinstance(app.screen, LogsScreen), "log screen")
    await until(pilot, lambda: last in _text(app), f"{last!r} on screen")
    return app.logs.view


def _lines(count: int, word: str = "line") -> list[str]:
    return [f"{word} {i:04d}" for i in range(count)]


# -- follow ------------------------------------------------------------------------------

async def test_follow_shows_new_lines_as_they_arrive() -> None:
    feed = FakeFeed()
    feed.add(*_lines(100))
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _started(pilot, app, "line 0099")
        assert "line 0000" not in _text(app)  # only the end is on screen
        feed.add("fresh line A", "fresh line B")
        await until(pilot, lambda: "fresh line B" in _text(app), "new line followed")
        await until(pilot, lambda: "102 lines" in _text(app), "count in the title")
        assert view.follow and "PAUSED" not in _text(app)


async def test_scrolling_up_pauses_counts_new_lines_and_f_resumes() -> None:
    feed = FakeFeed()
    feed.add(*_lines(100))
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _started(pilot, app, "line 0099")
        await pilot.press("pageup")
        await until(pilot, lambda: not view.follow, "paused")
        top = view.seq_at(int(view.scroll_y))
        feed.add(*_lines(7, "later"))
        await until(pilot, lambda: "+7 new lines" in _text(app), "+7 new lines")
        assert "PAUSED" in _text(app) and "later 0006" not in _text(app)
        assert view.seq_at(int(view.scroll_y)) == top  # the same line stays at the top
        await pilot.press("f")
        await until(pilot, lambda: "later 0006" in _text(app), "resumed at the end")
        assert view.follow and "new lines" not in _text(app)


async def test_a_paused_view_keeps_its_line_while_old_ones_are_dropped() -> None:
    feed = FakeFeed(capacity=200)
    feed.add(*_lines(200))
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _started(pilot, app, "line 0199")
        await pilot.press("pageup")
        await until(pilot, lambda: not view.follow, "paused")
        top = view.seq_at(int(view.scroll_y))
        feed.add(*_lines(50, "newer"))  # drops the 50 oldest
        await until(pilot, lambda: "dropped 50 oldest" in _text(app), "dropped count shown")
        assert view.seq_at(int(view.scroll_y)) == top


async def test_g_and_shift_g_jump_to_top_and_bottom() -> None:
    feed = FakeFeed()
    feed.add(*_lines(300))
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _started(pilot, app, "line 0299")
        await pilot.press("g")
        await until(pilot, lambda: "line 0000" in _text(app), "top")
        assert not view.follow
        await pilot.press("G")
        await until(pilot, lambda: "line 0299" in _text(app) and view.follow, "bottom")


# -- search --------------------------------------------------------------------------------

async def test_search_highlights_and_jumps_between_matches() -> None:
    feed = FakeFeed()
    lines = _lines(300)
    lines[20] = "the needle one"
    lines[150] = "the needle two"
    feed.add(*lines)
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _started(pilot, app, "line 0299")
        await pilot.press("g", "slash", *"needle", "enter")
        await until(pilot, lambda: view.current_seq == 20, "first match")
        assert "the needle one" in _text(app) and 'search "needle"' in _text(app)
        await pilot.press("n")
        await until(pilot, lambda: view.current_seq == 150, "second match")
        assert "the needle two" in _text(app)
        await pilot.press("n")
        await until(pilot, lambda: any("No more matches below" in n.message
                                       for n in app._notifications), "no more below")
        await pilot.press("N")
        await until(pilot, lambda: view.current_seq == 20, "back to the first")


async def test_search_highlight_is_a_style_on_the_match() -> None:
    feed = FakeFeed()
    feed.add("alpha NEEDLE omega")
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _started(pilot, app, "alpha")
        await pilot.press("slash", *"needle")
        await until(pilot, lambda: view.search.active, "search set")
        strip = view.render_line(0)
        styled = [seg for seg in strip if seg.text == "NEEDLE"]
        assert styled and styled[0].style is not None and styled[0].style.bgcolor is not None


# -- filter and level ------------------------------------------------------------------------

async def test_filter_keeps_matching_lines_and_inverts() -> None:
    feed = FakeFeed()
    feed.add("GET /health 200", "ERROR db down", "GET /api 200", "error: retry")
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await _started(pilot, app, "error: retry")
        await pilot.press("ampersand", *"error", "enter")
        await until(pilot, lambda: "GET /health" not in _text(app), "filtered")
        text = _text(app)
        assert "ERROR db down" in text and "error: retry" in text
        assert "2 of 4 lines" in text and 'filter "error"' in text
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: "ERROR db down" not in _text(app), "inverted")
        assert "GET /health 200" in _text(app) and '!"error"' in _text(app)
        await pilot.press("ampersand", "escape")
        await until(pilot, lambda: "4 lines" in _text(app) and "ERROR db" in _text(app),
                    "filter cleared")


async def test_regex_filter_and_a_bad_regex_is_explained() -> None:
    feed = FakeFeed()
    feed.add("GET /api/items 200", "GET /api/items 503", "POST /login 302")
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await _started(pilot, app, "POST /login")
        await pilot.press("ampersand", "ctrl+r", *r" [45]\d\d$")
        await until(pilot, lambda: "1 of 3 lines" in _text(app), "regex applied")
        assert "items 503" in _text(app) and "items 200" not in _text(app)
        await pilot.press("(")
        await until(pilot, lambda: "not a valid regular expression" in _text(app), "error")
        assert app.is_running


async def test_level_filter_cycles_error_warn_info_debug() -> None:
    feed = FakeFeed()
    feed.add("plain", '{"level":"debug","msg":"d"}', "[INFO] i", "WARN w", "ERROR: e")
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await _started(pilot, app, "plain")
        await pilot.press("v")
        await until(pilot, lambda: "level ≥ error" in _text(app), "error level")
        assert "ERROR: e" in _text(app) and "WARN w" not in _text(app)
        await pilot.press("v")
        await until(pilot, lambda: "WARN w" in _text(app), "warn level")
        assert "[INFO] i" not in _text(app)
        await pilot.press("v", "v")
        await until(pilot, lambda: '"debug"' in _text(app), "debug level")
        assert "plain" not in _text(app)  # no level, none above it: hidden from level views
        await pilot.press("v")
        await until(pilot, lambda: "plain" in _text(app), "all lines again")


async def test_a_firehose_is_scanned_in_bounded_batches() -> None:
    feed = FakeFeed(capacity=200_000)
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _started(pilot, app, "0 lines")
        await pilot.press("ampersand", *"hit", "enter")
        await until(pilot, lambda: view.filtering, "filter on")
        feed.buffer.append(0, LineKind.STDOUT, [b"noise %d" % i for i in range(150_000)]
                           + [b"the hit"])
        view.poll()  # one tick looks at one batch, not the whole burst
        assert 150_001 - SCAN_BUDGET <= view.scanning < 150_001
        await until(pilot, lambda: "the hit" in _text(app), "caught up")
        assert view.scanning == 0


# -- display options ---------------------------------------------------------------------------

async def test_timestamps_toggle() -> None:
    feed = FakeFeed()
    feed.add("hello")
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await _started(pilot, app, "hello")
        assert "2026-11-23 16:58:50.000 web-1 hello" in _text(app)
        await pilot.press("t")
        await until(pilot, lambda: "16:58:50" not in _text(app), "timestamps hidden")
        assert "web-1 hello" in _text(app)


async def test_wrap_folds_long_lines() -> None:
    feed = FakeFeed()
    feed.add("start " + "x" * 300 + " TAILEND")
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _started(pilot, app, "start")
        assert "TAILEND" not in _text(app)
        await pilot.press("w")
        await until(pilot, lambda: "TAILEND" in _text(app), "wrapped")
        assert view.wrap
        await pilot.press("w")
        await until(pilot, lambda: "TAILEND" not in _text(app), "unwrapped")


async def test_source_names_stderr_and_markers_are_told_apart() -> None:
    feed = FakeFeed(sources=("web-1", "worker-1"))
    feed.add("from web")
    feed.add("from worker", source=1, kind=LineKind.STDERR)
    feed.add("web-1 restarted (exit code 137)", kind=LineKind.MARKER)
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _started(pilot, app, "exit code 137")
        text = _text(app)
        assert "web-1    from web" in text
        assert "▌2026-11-23 16:58:50.000 worker-1 from worker" in text
        assert "»2026-11-23 16:58:50.000 web-1    web-1 restarted" in text
        styles = [seg.style for seg in view.render_line(0) if seg.text.startswith("web-1")]
        other = [seg.style for seg in view.render_line(1) if seg.text.startswith("worker-1")]
        assert styles and other and styles[0] is not None and other[0] is not None
        assert styles[0].color != other[0].color


# -- feed state --------------------------------------------------------------------------------

async def test_badge_shows_the_feed_state_with_its_reason() -> None:
    feed = FakeFeed()
    feed.add("hello")
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await _started(pilot, app, "hello")
        assert "● live" in _text(app)
        feed.state = FeedStatus(FeedState.RECONNECTING, "engine unreachable; retry in 4 s")
        await until(pilot, lambda: "↻ reconnecting" in _text(app), "reconnecting")
        badge = app.logs.query_one("#logs-badge")
        assert "retry in 4 s" in str(badge.tooltip)
        feed.state = FeedStatus(FeedState.STALE, "nothing runs")
        await until(pilot, lambda: "◌ stale" in _text(app), "stale")
        feed.state = FeedStatus(FeedState.ENDED)
        await until(pilot, lambda: "■ ended" in _text(app), "ended")


async def test_leaving_closes_the_feed() -> None:
    feed = FakeFeed()
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "log screen")
        await pilot.press("escape")
        await until(pilot, lambda: feed.closed, "feed closed")


async def test_window_switch_reopens_the_feed() -> None:
    feed = FakeFeed()
    feed.add("old window line")
    reopened: list[FakeFeed] = []
    app = LogsApp(feed, reopened=reopened)
    async with app.run_test(size=SIZE) as pilot:
        await _started(pilot, app, "old window line")
        await pilot.press("p")
        await until(pilot, lambda: len(reopened) == 1, "reopened")
        assert reopened[0].window == LogWindow.preset("5m") and feed.closed
        reopened[0].add("new window line")
        await until(pilot, lambda: "new window line" in _text(app), "new feed shown")
        assert "old window line" not in _text(app) and "last 5 min" in _text(app)


# -- save and copy -----------------------------------------------------------------------------

async def test_save_writes_sanitised_lines(tmp_path: Path) -> None:
    feed = FakeFeed()
    feed.add("GET /a", "\x1b]0;title\x07ERROR \x1b[31mred\x1b[0m", "GET /b")
    app = LogsApp(feed)
    target = tmp_path / "saved.log"
    async with app.run_test(size=SIZE) as pilot:
        await _started(pilot, app, "GET /b")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SaveLogModal), "save dialog")
        path_input = app.screen.query_one("#save-path")
        assert "opsui-logs-web-1-" in path_input.value  # type: ignore[attr-defined]
        path_input.value = str(target)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, lambda: any("Saved 3 lines" in n.message for n in app._notifications),
                    "saved notice")
        assert target.read_text().splitlines() == [
            "2026-11-23T16:58:50.000000000Z web-1 GET /a",
            "2026-11-23T16:58:50.000000001Z web-1 ERROR red",
            "2026-11-23T16:58:50.000000002Z web-1 GET /b",
        ]


async def test_save_the_filtered_view(tmp_path: Path) -> None:
    feed = FakeFeed()
    feed.add("keep 1", "drop", "keep 2")
    app = LogsApp(feed)
    target = tmp_path / "filtered.log"
    async with app.run_test(size=SIZE) as pilot:
        await _started(pilot, app, "keep 2")
        await pilot.press("ampersand", *"keep", "enter", "s")
        await until(pilot, lambda: isinstance(app.screen, SaveLogModal), "save dialog")
        app.screen.query_one("#save-path").value = str(target)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, target.exists, "file written")
        await until(pilot, lambda: len(target.read_text().splitlines()) == 2, "two lines")
        assert [line.split(" ", 2)[2] for line in target.read_text().splitlines()] == \
            ["keep 1", "keep 2"]


async def test_save_into_a_missing_folder_is_a_notification(tmp_path: Path) -> None:
    feed = FakeFeed()
    feed.add("hello")
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await _started(pilot, app, "hello")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SaveLogModal), "save dialog")
        app.screen.query_one("#save-path").value = str(  # type: ignore[attr-defined]
            tmp_path / "no" / "such" / "dir" / "x.log")
        await pilot.press("enter")
        await until(pilot, lambda: any("Could not save" in n.message
                                       for n in app._notifications), "error shown")
        assert app.is_running and isinstance(app.screen, LogsScreen)
        feed.add("still going")
        await until(pilot, lambda: "still going" in _text(app), "pane still live")


async def test_copy_puts_the_visible_lines_on_the_clipboard() -> None:
    feed = FakeFeed()
    feed.add(*_lines(100))
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await _started(pilot, app, "line 0099")
        await pilot.press("c")
        await until(pilot, lambda: bool(app.clipboard), "clipboard")
        copied = app.clipboard.splitlines()
        assert copied[-1] == "2026-11-23T16:58:50.000000099Z web-1 line 0099"
        assert 15 <= len(copied) <= SIZE[1]


# -- hostile text ------------------------------------------------------------------------------

HOSTILE = ["[bold]not bold", "[/usr/bin]", "[@click=app.quit]click me", "[$accent]"]


async def test_hostile_payloads_render_literally_and_inert() -> None:
    feed = FakeFeed(sources=("[red]evil",))
    feed.add(*HOSTILE)
    feed.add(b"title \x1b]0;pwned\x07 clip \x1b]52;c;aGk=\x07 link \x1b]8;;http://x\x07L\x1b]8;;\x07")
    feed.add(b"csi \x1b[2J\x1b[H dcs \x1bPq#0\x1b\\ reset \x1bc c1 \xc2\x9b31m end")
    feed.add(b"bad utf8 \xff\xfe\xfd ok")
    feed.add(b"visible\rOVERWRITE")
    feed.add(b"Z" * 1_000_000)
    feed.add(b"after the big one")
    app = LogsApp(feed)
    async with app.run_test(size=(160, 30)) as pilot:
        view = await _started(pilot, app, "after the big one")
        text = _text(app)
        for payload in HOSTILE:
            assert payload in text
        assert "[red]evil" in text
        assert "title  clip  link L" in text
        assert "csi  dcs  reset  c1  end" in text
        assert "bad utf8 \ufffd\ufffd\ufffd ok" in text
        assert "visible␍OVERWRITE" in text
        # Nothing drawn carries a control character, whatever the line said.
        for y in range(view.size.height):
            for segment in view.render_line(y):
                assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F
                               for ch in segment.text), repr(segment.text)
        big = view.line(view.seq_at(view.row_count - 2) or 0)
        assert big is not None and big.truncated and len(big.text) <= 8192
        # A click on the [@click=...] text must not run anything.
        await pilot.click(LogView, offset=(40, 1))
        await pilot.pause()
        assert app.is_running


async def test_a_megabyte_line_wraps_capped_and_keys_still_work() -> None:
    feed = FakeFeed()
    feed.add(b"Q" * 1_000_000)
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _started(pilot, app, "QQQQ")
        await pilot.press("w")
        await until(pilot, lambda: view.wrap and "…" in _text(app), "capped, wrapped end")
        feed.add("next line")
        await until(pilot, lambda: "next line" in _text(app), "still following")


# -- keys, palette, dashboard --------------------------------------------------------------------

def test_every_log_binding_has_an_id_and_a_tooltip() -> None:
    bindings = {i: b for i, b in binding_ids(OpsuiApp.bound_classes()).items()
                if i.startswith("logs.")}
    assert {"logs.back", "logs.follow", "logs.search", "logs.next", "logs.previous",
            "logs.filter", "logs.invert", "logs.level", "logs.timestamps", "logs.wrap",
            "logs.top", "logs.bottom", "logs.window", "logs.save", "logs.copy",
            "logs.query_clear", "logs.query_regex", "logs.query_invert",
            "logs.save_cancel"} <= set(bindings)
    assert all(b.tooltip for b in bindings.values())
    assert {"dashboard.logs", "dashboard.project_logs", "dashboard.mark"} <= \
        set(binding_ids(OpsuiApp.bound_classes()))


async def test_palette_offers_the_log_actions() -> None:
    feed = FakeFeed()
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "log screen")
        titles = {command.title for command in app.logs.palette_commands()}
        assert {"Logs: search", "Logs: filter", "Logs: show at least warn", "Logs: wrap on/off",
                "Logs: start from last hour", "Logs: save to a file",
                "Logs: copy the lines on screen", "Logs: close"} <= titles
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "palette")
        await pilot.press(*"least error", "enter")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen)
                    and app.logs.view.min_level is Level.ERROR, "level from the palette")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[LogTarget]:
    """HostMonitor.open_logs records the target and returns a fake feed."""
    targets: list[LogTarget] = []

    def open_logs(self: HostMonitor, target: LogTarget,
                  window: LogWindow | None = None) -> FakeFeed:
        targets.append(target)
        feed = FakeFeed(target)
        feed.add(f"logs of {target.title}")
        return feed

    monkeypatch.setattr(HostMonitor, "open_logs", open_logs)
    return targets


async def _shop_table(pilot: Pilot[Any], app: OpsuiApp) -> ContainerTable:
    """The dashboard's table once the six shop containers are listed."""
    table = app.screen.query_one(ContainerTable)
    await until(pilot, lambda: table.row_count == 6, "six rows")
    return table


async def test_dashboard_l_opens_the_selected_containers_logs(opened: list[LogTarget]) -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = await _shop_table(pilot, app)
        selected = table.selected
        assert selected is not None
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "log screen")
        assert opened == [LogTarget.for_container(selected)]
        await until(pilot, lambda: f"logs of {opened[0].title}" in screen_text(app), "lines")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LogsScreen), "back")
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "project logs")
        assert opened[1] == LogTarget(TargetKind.PROJECT, (selected.compose_project or "",))


async def test_l_runs_the_real_tail_through_the_hosts_monitor() -> None:
    """No stand-in for the feed: HostMonitor.open_logs starts a LogTail on the engine."""
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        table = await _shop_table(pilot, app)
        selected = table.selected
        assert selected is not None
        engine.log_lines[selected.id] = [b"2026-11-23T16:58:50.000000001Z hello from the engine"]
        await pilot.press("l")
        await until(pilot, lambda: "hello from the engine" in screen_text(app), "the line")


async def test_dashboard_marked_rows_open_merged_logs(opened: list[LogTarget]) -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = await _shop_table(pilot, app)
        first = table.selected
        await pilot.press("space", "down", "space")
        second = table.selected
        assert first is not None and second is not None
        await until(pilot, lambda: screen_text(app).count("◆") == 2, "two marks shown")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "log screen")
        assert opened == [LogTarget(TargetKind.NAMES, (first.name, second.name))]


async def test_log_keys_are_remappable(opened: list[LogTarget]) -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())),
                   keys=MappingProxyType({"logs.wrap": "W", "dashboard.logs": "o"}))
    async with app.run_test(size=(160, 40)) as pilot:
        await _shop_table(pilot, app)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "logs via o")
        view = app.screen.query_one(LogView)
        await pilot.press("w")
        await pilot.pause()
        assert not view.wrap
        await pilot.press("W")
        await until(pilot, lambda: view.wrap, "wrap via W")
        assert not any("Unknown key" in n.message for n in app._notifications)


async def test_detail_l_opens_the_containers_logs(opened: list[LogTarget]) -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = await _shop_table(pilot, app)
        selected = table.selected
        assert selected is not None
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "log screen")
        assert opened == [LogTarget.for_container(selected)]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "back to the detail")


async def test_mouse_selection_is_drawn_and_copied() -> None:
    feed = FakeFeed()
    feed.add(*_lines(5))
    app = LogsApp(feed)
    async with app.run_test(size=SIZE) as pilot:
        view = await _started(pilot, app, "line 0004")
        prefix = len(" 2026-11-23 16:58:50.000 web-1 ")
        await pilot.mouse_down(LogView, offset=(prefix, 1))
        await pilot.hover(LogView, offset=(prefix + 4, 3))
        await pilot.mouse_up(LogView, offset=(prefix + 4, 3))
        await until(pilot, lambda: view.text_selection is not None, "a selection")
        assert not view.follow  # selecting pauses: the lines must not move under the mouse
        await pilot.press("c")
        await until(pilot, lambda: bool(app.clipboard), "clipboard")
        assert app.clipboard.splitlines() == [
            "line 0001", " 2026-11-23 16:58:50.000 web-1 line 0002",
            " 2026-11-23 16:58:50.000 web-1 line "]
