"""A DataTable for cells that change every few seconds: a changed cell re-renders alone.

Textual's ``DataTable.update_cell`` counts an "update", and that count is part of the
key of every cached cell, row and line, so one new CPU figure re-renders every row on
screen (about 450 cells for 45 rows). On an idle dashboard that was most of opsui's
CPU time. :meth:`LiveDataTable.write_cells` writes the cell and drops only the cached
renderings of that cell and its row, then repaints just that row; when the cell
changes its column's width, that column's cells are drawn again and the rows are
reassembled from the other cells' cached renderings.

That needs DataTable's private caches (checked against Textual 8.2). When they are not
the ones this was written for, it falls back to ``update_cell``, which is always
correct, only slower.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.text import Text
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from opsui.ui.format import same_text

_CACHES = ("_data", "_row_locations", "_cell_render_cache", "_row_render_cache",
           "_row_renderable_cache", "_line_cache")


class LiveDataTable(DataTable[Text]):
    """``DataTable[Text]`` plus :meth:`write_cells`, cheap when few cells change."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stale: dict[RowKey, set[ColumnKey]] = {}
        """Cells written since the last flush, whose cached renderings must go."""
        self._resized: dict[ColumnKey, int] = {}
        """Fitted columns whose width changed since the last flush (by how much)."""
        self._batch_depth = 0
        self.live_updates = all(hasattr(self, name) for name in _CACHES)
        """False when this Textual's DataTable lacks the caches we prune: update_cell."""

    @contextmanager
    def cell_batch(self) -> Iterator[None]:
        """Write many cells, prune the caches once (also when nested)."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if not self._batch_depth:
                self._flush_stale()

    def write_cells(self, row: str, cells: Mapping[str, Text], fitted: frozenset[str]) -> int:
        """Write the cells of ``row`` whose text or colour differs; how many were written.

        ``fitted`` names the columns sized to their text. When such a column's width
        changes, its cells are drawn again in every row (their padding changed) and every
        row is reassembled, but the cells of the other columns keep their renderings.
        """
        written = 0
        with self.cell_batch():
            for column, cell in cells.items():
                old = self.get_cell(row, column)
                if same_text(old, cell):
                    continue
                written += 1
                if not self.live_updates:
                    self.update_cell(row, column, cell, update_width=column in fitted)
                    continue
                row_key, column_key = RowKey(row), ColumnKey(column)
                self._data[row_key][column_key] = cell
                self._stale.setdefault(row_key, set()).add(column_key)
                if column in fitted and old.cell_len != cell.cell_len:
                    self._fit_column(column_key, old, cell)
        return written

    def _fit_column(self, key: ColumnKey, old: Text, new: Text) -> None:
        """Size a fitted column for a cell that changed width (as DataTable's idle pass
        would: one-line Text cells measure as their ``cell_len``)."""
        column = self.columns[key]
        width = column.content_width
        if new.cell_len >= width:
            width = new.cell_len
        elif old.cell_len >= width:  # the widest cell may have shrunk
            width = max([column.label.cell_len,
                         *(cell.cell_len for cell in self.get_column(key))])
        if width != column.content_width:
            self._resized[key] = self._resized.get(key, 0) + width - column.content_width
            column.content_width = width

    def refit(self, fitted: frozenset[str]) -> bool:
        """Size the ``fitted`` columns to the cells present now (DataTable only ever widens
        them): a long name that left takes its width with it. True when one changed."""
        changed = False
        for key in fitted:
            column = self.columns.get(ColumnKey(key))
            if column is None:
                continue
            width = max([column.label.cell_len,
                         *(cell.cell_len for row in self._data.values()
                           if (cell := row.get(column.key)) is not None)])
            if width != column.content_width:
                column.content_width = width
                changed = True
        if changed:
            if hasattr(self, "_clear_caches"):
                self._clear_caches()
            self._require_update_dimensions = True  # the scrollable width, on idle
            self.check_idle()
            self.refresh()
        return changed

    def _flush_stale(self) -> None:
        """Drop cached renderings of the written cells and their rows; repaint the rows."""
        stale, self._stale = self._stale, {}
        resized, self._resized = self._resized, {}
        if not stale:
            return
        cells = {(row, column) for row, columns in stale.items() for column in columns}
        indices = {index for index in map(self._row_locations.get, stale) if index is not None}
        # Keys, as of Textual 8.2: cell (row_key, column_key, ...), row (row_key, line, ...),
        # row renderables (update_count, row_index), line (y, ...). A cell's rendering
        # depends on its column's width, which is not in its key.
        _prune(self._cell_render_cache,
               lambda key: key[1] in resized or (key[0], key[1]) in cells)
        if resized:
            self._row_render_cache.clear()  # every row, and the header, is laid out anew
        else:
            _prune(self._row_render_cache, lambda key: key[0] in stale)
        _prune(self._row_renderable_cache, lambda key: key[1] in indices)
        self._line_cache.clear()  # lines are cheap to rebuild from the cached rows
        if resized:
            width = self.virtual_size.width + sum(resized.values())
            self.virtual_size = self.virtual_size.with_width(width)  # the scrollable width
            self.refresh()
            return
        for index in indices:
            self.refresh_row(index)


def _prune(cache: LRUCache[Any, Any], stale: Callable[[Any], bool]) -> None:
    """Discard the entries of ``cache`` whose key is ``stale``."""
    keys = cache.keys()
    for key in [key for key in keys if stale(key)]:
        cache.discard(key)
