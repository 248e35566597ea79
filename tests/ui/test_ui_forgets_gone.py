"""Left open all night, the dashboard forgets what no longer exists (issue 16).

Every per-container or per-run structure of the UI is bounded by what exists: a marked
row's id goes when its container is removed, the runs the job board no longer keeps
take their sessions and "ended unwatched" entries with them, a closed log pane is freed
with its buffer, the dashboard's footer forgets the keys it replaced, and a gauge's
sparkline keeps colours for about the samples it shows. And the lines a log pane draws
are freed as soon as a frame is done with them, not piled up for a full collection.
"""

from __future__ import annotations

import gc
import weakref
from functools import partial

from textual.app import App, ComposeResult
from textual.widgets._footer import FooterKey

from opsui.domain.jobs import JobContext
from opsui.domain.logbuffer import LineKind
from opsui.ui.screens.logs import LogsScreen
from opsui.ui.sessions import ReleaseSession
from opsui.ui.widgets.container_table import ContainerTable
from opsui.ui.widgets.history_sparkline import HistorySparkline
from opsui.ui.widgets.log_view import LogView

from .helpers import make_app, screen_text, unreachable_strips, until
from fakes import FakeConnection, FakeEngine, shop_containers


async def test_a_removed_containers_mark_is_forgotten() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        first = table.selected
        await pilot.press("space", "down", "space")
        second = table.selected
        assert first is not None and second is not None
        await until(pilot, lambda: table.marked == {first.id, second.id}, "two marks")
        engine.remove(first.id)
        await until(pilot, lambda: table.row_count == 5, "the row gone")
        assert table.marked == {second.id}
        assert [c.id for c in table.marked_containers] == [second.id]


def _quick(context: JobContext) -> str:
    return "ok"


async def test_runs_the_board_forgets_take_their_sessions_along() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        monitor = app.monitors["local"]
        jobs = [app.start_job(ReleaseSession(monitor, "shop", "shop"), "deploy",
                              f"run {number}", _quick) for number in range(30)]
        await until(pilot, lambda: not any(job.running for job in jobs)
                    and len(app._job_sessions) <= 20, "the ended runs' sessions forgotten")
        assert app.jobs.get(jobs[0].id) is None  # the board forgot it
        assert set(app._job_sessions) <= {job.id for job in jobs[-20:]}
        assert set(app._unseen) <= {job.id for job in jobs[-20:]}


async def test_a_closed_log_pane_is_freed_with_its_buffer() -> None:
    """Each log pane opened and closed stayed alive with its buffer (the theme signal's
    callback held it): a night of ``l`` and ``esc`` piled up megabytes."""
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "the log pane")
        view = weakref.ref(app.screen.query_one(LogView))
        buffer = weakref.ref(app.screen.query_one(LogView).buffer)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LogsScreen), "back")
        await until(pilot, lambda: not gc.collect() and view() is None and buffer() is None,
                    "the closed pane's view and buffer freed")


def _removed_footer_keys() -> list[FooterKey]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, FooterKey) and not o.is_attached]


async def test_the_dashboards_footer_forgets_the_keys_it_replaced() -> None:
    """Textual's footer kept every key it ever showed (each binds to the footer's
    ``compact``): the dashboard's, redrawn whenever its keys change, grew by a hundred
    keys per log pane opened and closed."""
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        for _ in range(3):
            await pilot.press("l")
            await until(pilot, lambda: isinstance(app.screen, LogsScreen), "the log pane")
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, LogsScreen), "back")
        await until(pilot, lambda: not _removed_footer_keys(), "no removed footer key alive")


class _SparkApp(App[None]):
    def compose(self) -> ComposeResult:
        yield HistorySparkline([], classes="gauge-spark")


async def test_a_sparkline_keeps_styles_for_about_what_it_shows() -> None:
    """A night of host samples (each value a style of its own) filled a cache of 1024
    styles per gauge, about 1 MB for the four: the dashboard's residual growth."""
    app = _SparkApp()
    async with app.run_test(size=(80, 4)) as pilot:
        spark = app.query_one(HistorySparkline)
        data: list[float] = []
        for step in range(600):
            data = [*data[-59:], (step * 7.31) % 100]  # the host keeps 60 samples
            spark.data = data
            if step % 20 == 0:
                await pilot.pause()
        await pilot.pause()
        assert len(spark._styles[1]) <= 2 * 60


def _shows(app: App[None], text: str) -> bool:
    return text in screen_text(app)


async def test_a_following_log_pane_frees_every_line_it_drew() -> None:
    """Each strip Textual drew at its own width kept itself in its own cache: a cycle
    per line per frame, only freed by a full collection. A pane following a chatty
    container made ~7 000 such objects a second: 300-400 ms collections and +36 MB."""
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        selected = table.selected
        assert selected is not None
        engine.log_lines[selected.id] = [
            f"2026-11-23T16:58:50.{n:09d}Z line {n} of a chatty container".encode()
            for n in range(2000)]
        await pilot.press("l")
        await until(pilot, lambda: "line 1999 of" in screen_text(app), "the last line")
        gc.collect()
        gc.disable()  # what the frames leave behind, before any collection frees it
        try:
            view = app.screen.query_one(LogView)
            for batch in range(20):  # the tail appending while the pane follows
                view.buffer.append(0, LineKind.STDOUT, [
                    f"2026-11-23T16:59:{batch:02d}.{n:09d}Z more {batch}.{n}".encode()
                    for n in range(20)])
                await until(pilot, partial(_shows, app, f"more {batch}.19"),
                            f"batch {batch} drawn")
            # the dashboard under the pane may redraw its table once meanwhile (a row's
            # health changed): those few lines are not the follower's
            table_lines = ("Name ▼", *(c.name for c in engine.containers.values()))
            assert unreachable_strips(
                lambda text: not any(line in text for line in table_lines)) == 0
        finally:
            gc.enable()
