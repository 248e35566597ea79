"""The container table: one row per container of the selected host, updated by key.

Rows are added, updated and removed one by one from :class:`~opsui.ui.state.Changes`,
never rebuilt on an event, so a host with hundreds of containers stays smooth and
the cursor stays on the container the operator chose. A full rebuild happens only
when the operator switches host or edits the filter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from opsui.domain.apps import in_trouble, is_release_copy, serving_for
from opsui.domain.models import Container
from opsui.ui.multi_host_rows import hosts_mark
from opsui.ui.palette import Palette
from opsui.ui.state import HostView, UiState
from opsui.ui.widgets.container_cells import (
    SORTABLE,
    Column,
    KeyedText,
    column_label,
    host_now,
    matches,
    order_key,
    row_cells,
    stats_cells,
    table_columns,
)
from opsui.ui.widgets.live_table import LiveDataTable


class ContainerTable(LiveDataTable):
    """Containers of one host, grouped by compose project, sortable and filterable."""

    DEFAULT_CSS = """
    ContainerTable {
        background: $background;
    }
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Detail", id="dashboard.detail",
                tooltip="Open the selected container: inspect data and its health-check log."),
        Binding("s", "cycle_sort", "Sort", id="dashboard.sort",
                tooltip="Sort by the next column (name, state, health, uptime, CPU...)."),
        Binding("S", "reverse_sort", "Reverse", id="dashboard.sort_reverse", show=False,
                tooltip="Reverse the sort order."),
        Binding("g", "toggle_group", "Group", id="dashboard.group", show=False,
                tooltip="Group rows by compose project, or sort across all containers."),
    ]

    class DetailRequested(Message):
        """The operator asked for the detail view of a container."""

        def __init__(self, container_id: str) -> None:
            super().__init__()
            self.container_id = container_id
            """The container to open."""

    class VisibleChanged(Message):
        """The set of rows on screen changed: only these need live stats."""

        def __init__(self, container_ids: frozenset[str]) -> None:
            super().__init__()
            self.container_ids = container_ids
            """Ids of the rows currently on screen."""

    def __init__(self, state: UiState, with_http: bool = False,
                 clock: Callable[[], datetime] | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.state = state
        """The shared picture of every host."""
        self.host: str | None = None
        """The host whose containers are shown."""
        self.with_http = with_http
        """Whether the HTTP health column exists (apps with health URLs are configured)."""
        self.clock = clock or (lambda: datetime.now().astimezone())
        """Now, for uptimes; tests freeze it."""
        self.needle = ""
        """The current filter text."""
        self.sort_column: Column = SORTABLE[0]
        """The column rows are sorted by, within their compose project."""
        self.sort_reverse = False
        self.grouped = True
        """Keep compose projects together (project first in the sort key)."""
        self._order: list[str] = []
        self._visible: frozenset[str] = frozenset()
        self._fitted = frozenset(c.key for c in table_columns(with_http) if c.width is None)
        """Columns sized to their text: an update there may change the column's width."""
        self.marked: set[str] = set()
        """Ids of rows marked (space) for merged logs; their name cell starts with ◆."""
        self.show_kept = False
        """Show opsui's kept release copies (dimmed, under their app); folded by default."""
        self._shown_names: dict[str, str] = {}
        """Container name per row as last drawn: tells a release's rename from a new row."""
        self._follow: tuple[Container, str | None] | None = None
        """(the copy the cursor was on, the row it landed on): move to the app's serving
        container once it exists, unless the operator moved the cursor meanwhile."""
        self._placed: set[str] = set()
        """Hosts whose first full list placed the cursor (on trouble); never again."""

    def on_mount(self) -> None:
        for column in table_columns(self.with_http):
            self.add_column(column_label(column, self.sort_column.key, self.sort_reverse),
                            key=column.key, width=column.width)

    # -- what the screen calls ------------------------------------------------------------

    @property
    def view(self) -> HostView | None:
        return self.state.hosts.get(self.host) if self.host else None

    @property
    def selected_id(self) -> str | None:
        """Id of the container under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # the cursor may point past the end while rows change
            return None
        return key.value

    @property
    def selected(self) -> Container | None:
        view, cid = self.view, self.selected_id
        return view.containers.get(cid) if view and cid else None

    def show(self, host: str | None, needle: str | None = None) -> None:
        """Rebuild for a host or a filter: the one full redraw, kept off the event path."""
        keep = self.selected_id if host == self.host else None
        if host != self.host:
            self.marked.clear()
            self._follow = None
        self.host = host
        if needle is not None:
            self.needle = needle
        with self.app.batch_update():
            self.clear()
            self._shown_names.clear()
            view = self.view
            if view is not None:
                self.marked.intersection_update(view.containers)  # removed meanwhile
                for container in view.containers.values():
                    if self._included(container):
                        self._add(view, container)
                keep = self._serving_instead(view, keep)
            self.refit(self._fitted)  # a host or filter with shorter names: narrower
            self._resort(keep, force=True)  # rows were added in arrival order
            self._place_on_trouble()
        self.call_after_refresh(self.report_visible)

    @property
    def kept_rows(self) -> int:
        """Rows of kept release copies on screen (none while they are folded)."""
        if not self.show_kept:
            return 0
        return sum(1 for name in self._shown_names.values() if is_release_copy(name))

    def toggle_kept(self) -> bool:
        """Show or fold the kept release copies; whether they are shown now."""
        self.show_kept = not self.show_kept
        self.show(self.host)
        return self.show_kept

    def select(self, container_id: str) -> bool:
        """Put the cursor on a container (for whoever opens the dashboard on a target);
        the first list then no longer moves it to trouble."""
        if self.host is not None:
            self._placed.add(self.host)
        if container_id not in self.rows:
            return False
        self.move_cursor(row=self.get_row_index(container_id), animate=False)
        return True

    def next_trouble(self, also: Callable[[Container], bool] | None = None
                     ) -> Container | None:
        """Move the cursor to the next container in trouble below it (wrapping);
        ``also``: more trouble the table cannot see (its app's release failed or runs)."""
        view = self.view
        if view is None or not self._order:
            return None
        current = self.selected_id
        start = self._order.index(current) if current in self._order else -1
        count = len(self._order)
        for step in range(1, count + 1):
            cid = self._order[(start + step) % count]
            container = view.containers.get(cid)
            if container is not None and (in_trouble(container) or (
                    also is not None and not is_release_copy(container.name)
                    and also(container))):
                self.move_cursor(row=self.get_row_index(cid), animate=False)
                return container
        return None

    def apply(self, changed: Iterable[str], removed: Iterable[str],
              sampled: Iterable[str] = ()) -> None:
        """Update the rows of changed containers by key; add or drop rows as needed.

        ``sampled`` are containers with only a new stats sample: just their CPU and
        memory cells are rebuilt (fixed-width columns, so no re-measuring).
        """
        view = self.view
        if view is None:
            return
        keep = self.selected_id
        renamed_away = self._renamed_away(view, keep)
        dirty = False
        changed = set(changed)
        with self.app.batch_update(), self.cell_batch():
            for cid in removed:
                self.marked.discard(cid)  # gone for good: ids never come back (issue 16)
                dirty |= self._drop(cid)
            for cid in changed:
                container = view.containers.get(cid)
                if container is None:
                    continue
                if not self._included(container):
                    dirty |= self._drop(cid)
                elif cid in self.rows:
                    self._update(view, container)
                else:
                    self._add(view, container)
                    dirty = True
            palette = Palette.of(self.app)
            for cid in sampled:
                if cid not in changed and cid in self.rows:
                    self._set_cells(cid, stats_cells(view.stats.get(cid), palette))
            if dirty:
                self.refit(self._fitted)
            if renamed_away is not None:  # a release renamed the selected container aside
                if keep not in self.rows:  # folded away: the cursor landed on a neighbour
                    keep = self.selected_id
                self._follow = (renamed_away, keep)
            keep = self._follow_app(view, keep)
            self._resort(keep, force=dirty)
            self._place_on_trouble()
        self.report_visible()

    def restyle(self) -> None:
        """Rebuild every cell after a theme change (the colours live in the cells)."""
        view = self.view
        if view is None:
            return
        with self.app.batch_update(), self.cell_batch():
            for cid in list(self.rows):
                container = view.containers.get(cid.value or "")
                if container is not None:
                    self._update(view, container)

    def refresh_uptimes(self) -> None:
        """Uptime cells age without events; redraw just that column now and then."""
        view = self.view
        if view is None:
            return
        now = self.host_now(view)
        palette = Palette.of(self.app)
        with self.app.batch_update(), self.cell_batch():
            for key in list(self.rows):
                container = view.containers.get(key.value or "")
                if container is not None:
                    cell = row_cells(container, None, (), palette, now, False)["uptime"]
                    self._set_cells(key.value or "", {"uptime": cell})

    # -- kept release copies, following the app, trouble ----------------------------------------

    def _included(self, container: Container) -> bool:
        return matches(container, self.needle) and (
            self.show_kept or not is_release_copy(container.name))

    def _renamed_away(self, view: HostView, selected: str | None) -> Container | None:
        """The selected container, when a release just renamed it to a release copy."""
        if selected is None:
            return None
        before, now = self._shown_names.get(selected), view.containers.get(selected)
        if before is None or now is None or is_release_copy(before):
            return None
        return now if is_release_copy(now.name) else None

    def _follow_app(self, view: HostView, keep: str | None) -> str | None:
        """Where the cursor goes: the app's new serving container once it is listed (and
        the operator has not moved on), else where it is."""
        if self._follow is None:
            return keep
        copy, landed = self._follow
        if keep != landed:  # the operator moved the cursor: leave it alone
            self._follow = None
            return keep
        target = serving_for(copy, view.containers.values())
        if target is None or target.id not in self.rows:
            return keep  # the new container has not taken the name yet
        self._follow = None
        return target.id

    def _serving_instead(self, view: HostView, keep: str | None) -> str | None:
        """A folded-away kept copy's app row, for the cursor."""
        if keep is None or keep in self.rows:
            return keep
        container = view.containers.get(keep)
        if container is None or not is_release_copy(container.name):
            return keep
        target = serving_for(container, view.containers.values())
        return target.id if target is not None and target.id in self.rows else keep

    def _place_on_trouble(self) -> None:
        """On a host's first full list, start on its first container in trouble."""
        view = self.view
        if view is None or not view.listed or view.name in self._placed:
            return
        self._placed.add(view.name)
        first = next((cid for cid in self._order if in_trouble(view.containers[cid])), None)
        if first is not None:
            self.move_cursor(row=self.get_row_index(first), animate=False)

    # -- row bookkeeping --------------------------------------------------------------------

    def host_now(self, view: HostView) -> datetime:
        """Now on ``view``'s host's clock (uptimes are measured on it)."""
        return host_now(self.clock(), view.status)

    def _cells(self, view: HostView, container: Container) -> dict[str, Text]:
        palette = Palette.of(self.app)
        cells = row_cells(container, view.stats.get(container.id),
                          self.state.http_health_for(view.name, container),
                          palette, self.host_now(view), self.with_http,
                          view.release_marks.get(container.id))
        several = hosts_mark(self.state.apps, view.name, container)
        if several:  # one host's part of an app on several: D/R/H act on all of them
            project = cells["project"] if container.compose_project else Text()
            cells["project"] = project.append(f"{' · ' if project else ''}{several}",
                                              style=palette.muted)
        if container.id in self.marked:  # a set lookup; stats-only updates never get here
            name = KeyedText("◆ ", style=palette.accent)
            name.append_text(cells["name"])
            name.container_id = container.id
            cells["name"] = name
        return cells

    def toggle_mark(self) -> Container | None:
        """Mark or unmark the container under the cursor (for merged logs); which one."""
        view, container = self.view, self.selected
        if view is None or container is None:
            return None
        self.marked.symmetric_difference_update({container.id})
        with self.app.batch_update(), self.cell_batch():
            self._update(view, container)
        return container

    @property
    def marked_containers(self) -> list[Container]:
        """Marked containers still on this host, in table order."""
        view = self.view
        if view is None:
            return []
        return [view.containers[cid] for cid in self._order
                if cid in self.marked and cid in view.containers]

    def _add(self, view: HostView, container: Container) -> None:
        cells = self._cells(view, container)
        self.add_row(*(cells[str(column.key.value)] for column in self.ordered_columns),
                     key=container.id)
        self._shown_names[container.id] = container.name

    def _update(self, view: HostView, container: Container) -> None:
        self._set_cells(container.id, self._cells(view, container))
        self._shown_names[container.id] = container.name

    def _set_cells(self, container_id: str, cells: dict[str, Text]) -> None:
        """Write the cells whose text or colour differs; re-measure only fitted columns."""
        self.write_cells(container_id, cells, self._fitted)

    def _drop(self, container_id: str) -> bool:
        self._shown_names.pop(container_id, None)
        try:
            self.remove_row(container_id)
        except RowDoesNotExist:
            return False
        return True

    def _desired_order(self) -> list[str]:
        """The sorted rows, each kept release copy right under its app's row (newest
        first); a copy whose app has no row sorts as any other row."""
        view = self.view
        if view is None:
            return []
        ids = [key.value for key in self.rows if key.value in view.containers]
        shown = [view.containers[cid] for cid in ids]
        under: dict[str, list[str]] = {}
        for copy in (c for c in shown if is_release_copy(c.name)):
            parent = serving_for(copy, shown)
            if parent is not None:
                under.setdefault(parent.id, []).append(copy.id)
        tucked = {cid for members in under.values() for cid in members}
        column = self.sort_column
        ordered = sorted(
            (cid for cid in ids if cid not in tucked),
            key=lambda cid: order_key(view.containers[cid], view.stats.get(cid),
                                      column, self.grouped))
        if self.sort_reverse:
            ordered = self._reverse_within_groups(view, ordered)
        if not under:
            return ordered
        newest_first = {parent: sorted(members, key=lambda cid: view.containers[cid].name,
                                       reverse=True) for parent, members in under.items()}
        return [row for cid in ordered for row in (cid, *newest_first.get(cid, ()))]

    def _reverse_within_groups(self, view: HostView, ordered: list[str]) -> list[str]:
        if not self.grouped:
            return ordered[::-1]
        groups: dict[str, list[str]] = {}
        for cid in ordered:
            groups.setdefault(view.containers[cid].group, []).append(cid)
        return [cid for members in groups.values() for cid in reversed(members)]

    def _resort(self, keep: str | None, force: bool = False) -> None:
        """Apply our own order to the rows; put the cursor back on the same container."""
        order = self._desired_order()
        reordered = order != self._order or force
        if reordered:
            self._order = order
            position = {cid: index for index, cid in enumerate(order)}
            self.sort("name",
                      key=lambda cell: position.get(getattr(cell, "container_id", ""), 0))
        if keep is not None and keep in self.rows and (reordered or keep != self.selected_id):
            self.move_cursor(row=self.get_row_index(keep), animate=False, scroll=False)

    def report_visible(self) -> None:
        """Tell the screen which rows are on screen, when that set changed."""
        top = int(self.scroll_y)
        height = max(1, self.size.height - self.header_height)
        visible = frozenset(
            cid for cid in self._order[top : top + height + 1]
        )
        if visible != self._visible:
            self._visible = visible
            self.post_message(self.VisibleChanged(visible))

    # -- reacting to the operator -------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.report_visible()

    def on_resize(self) -> None:
        self.report_visible()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value:
            self.post_message(self.DetailRequested(event.row_key.value))

    def action_cycle_sort(self) -> None:
        index = SORTABLE.index(self.sort_column)
        self.sort_column = SORTABLE[(index + 1) % len(SORTABLE)]
        self._relabel()

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._relabel()

    def action_toggle_group(self) -> None:
        self.grouped = not self.grouped
        self.notify("Grouped by compose project" if self.grouped else "Sorted across projects",
                    timeout=2, markup=False)
        self._resort(self.selected_id, force=True)

    def _relabel(self) -> None:
        for column in table_columns(self.with_http):
            if column.key in self.columns:
                self.columns[column.key].label = column_label(  # type: ignore[index]
                    column, self.sort_column.key, self.sort_reverse)
        self._resort(self.selected_id, force=True)
        self.refresh()
