"""LiveDataTable: a changed cell is written and repainted alone, and the screen is right."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from opsui.ui.widgets.live_table import LiveDataTable

from .helpers import screen_text, until

FITTED = frozenset({"name"})


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LiveDataTable(cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(LiveDataTable)
        table.add_column("Name", key="name")
        table.add_column("CPU", key="cpu", width=6)
        for index in range(40):
            table.add_row(Text(f"row-{index:02d}"), Text(f"{index}.0%"), key=f"r{index}")


def lines_with(app: App[None], needle: str) -> list[str]:
    return [line for line in screen_text(app).splitlines() if needle in line]


async def test_installed_textual_has_the_caches_the_fast_path_prunes() -> None:
    """If this fails after a Textual upgrade, re-check live_table.py against the new
    DataTable (cache keys); until then every write takes the slow, correct path."""
    async with TableApp().run_test(size=(60, 20)) as pilot:
        assert pilot.app.query_one(LiveDataTable).live_updates


async def test_a_fixed_width_cell_is_written_without_invalidating_the_table() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(LiveDataTable)
        await until(pilot, lambda: bool(lines_with(app, "row-03")), "the rows")
        count = table._update_count
        with table.cell_batch():
            assert table.write_cells("r3", {"cpu": Text("99.5%")}, FITTED) == 1
            assert table.write_cells("r0", {"cpu": Text("7.5%")}, FITTED) == 1  # cursor row
            assert table.write_cells("r5", {"cpu": Text("5.0%")}, FITTED) == 0  # unchanged
        assert table._update_count == count  # the other rows keep their cached renderings
        await until(pilot, lambda: "99.5%" in " ".join(lines_with(app, "row-03")), "new CPU")
        await until(pilot, lambda: "7.5%" in " ".join(lines_with(app, "row-00")), "cursor row")
        assert "5.0%" in " ".join(lines_with(app, "row-05"))
        assert table.get_cell("r3", "cpu").plain == "99.5%"


async def test_a_longer_fitted_cell_widens_its_column() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(LiveDataTable)
        await until(pilot, lambda: bool(lines_with(app, "row-03")), "the rows")
        count = table._update_count
        table.write_cells("r3", {"name": Text("row-03-with-a-longer-name")}, FITTED)
        assert table._update_count == count  # the CPU cells keep their renderings
        await until(pilot, lambda: bool(lines_with(app, "row-03-with-a-longer-name")),
                    "the whole name")
        row = lines_with(app, "row-03-with-a-longer-name")[0]
        assert "3.0%" in row  # the CPU column moved right, nothing was cut
        assert lines_with(app, "row-07")[0].index("7.0%") == row.index("3.0%")  # every row
        assert table.virtual_size.width == sum(c.get_render_width(table)
                                               for c in table.columns.values())
        table.write_cells("r4", {"name": Text("ROW-04")}, FITTED)  # same width: fast path
        await until(pilot, lambda: bool(lines_with(app, "ROW-04")), "the renamed row")
        table.write_cells("r3", {"name": Text("row-03")}, FITTED)  # the widest shrinks back
        await until(pilot, lambda: " row-03  3.0%" in " ".join(lines_with(app, "row-03")),
                    "the column narrow again")
