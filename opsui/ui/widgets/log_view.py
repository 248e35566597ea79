"""The log pane: a virtual scroll view over a LogBuffer that draws only what is visible.

Reader threads append to the buffer; this widget never waits on them. About 20 times
a second (:data:`POLL_SECONDS`) it reads the buffer's counters, lets the filtered
index scan a bounded batch of new lines, and redraws if anything moved. Drawing goes
through ``render_line`` (as Textual's ``Log`` and Toolong do): the rows on screen are
laid out once per frame from two small caches (rendered lines by sequence number,
strips by line and width), so a buffer of 200,000 lines costs the same to show as one
of 40, and a 100,000 lines/s firehose costs one batch per tick.

Rows are positions in what is shown: every held line, or the filtered index's hits.
Following keeps the view at the end; scrolling up pauses it, keeps the same line at
the top while new lines arrive or old ones are dropped, and counts "+N new".
With wrap on, one scroll step is one log line and the last page is laid out from the
bottom, so the newest line is always whole on screen while following.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager

from rich.style import Style
from rich.text import Text
from textual import work
from textual.cache import LRUCache
from textual.geometry import Offset, Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from opsui.domain.logbuffer import LogBuffer, LogEntry
from opsui.domain.logindex import FilteredIndex
from opsui.domain.loglevel import Level
from opsui.domain.logquery import LogQuery
from opsui.domain.logview import LogLine, body_offset, render_entry
from opsui.domain.sanitize import DEFAULT_LINE_CHARS
from opsui.ui.log_styles import LogStyles
from opsui.ui.widgets.log_render import (
    SOURCE_WIDTH_MAX,
    LineLayout,
    line_body,
    line_prefix,
    line_strip_plain,
    line_strips,
    plain_line,
)

POLL_SECONDS = 0.05
"""How often the buffer is looked at (20 times a second)."""
FIREHOSE_FRAME_SECONDS = 0.15
"""Following a stream that brings a screenful of new lines or more between two frames,
the pane is drawn at most this often (about 7 frames a second). Every such frame
replaces every row on screen, so drawing it 20 times a second shows nothing more that
anyone can read, yet each frame costs the event loop milliseconds that key presses wait
for: at 2,000 lines/s, 48 new rows drawn 20 times a second were most of opsui's CPU
while following and what a typed key's echo queued behind (issue 14)."""
INPUT_HOLD_SECONDS = 0.25
"""New lines wait for a typed key's echo at most this long (should the frame never come)."""
SCAN_BUDGET = 20_000
"""Most lines the filter scans per tick; a burst beyond that is caught up over a few ticks."""
SCAN_CHUNK = 2_000
SCAN_SECONDS = 0.012
"""Time the filter may spend per tick (in chunks), so keys are handled within a frame
even when a regex filter cannot keep up with a firehose (it then reports "scanning")."""
SEARCH_CHUNK = 4_000
"""Lines a search step looks at before letting the event loop run."""
MAX_SELECTED_ROWS = 20_000
"""A mouse selection copies at most this many lines (save writes any number)."""
LINE_CACHE = 4_096
STRIP_CACHE = 1_024


class LogView(ScrollView, can_focus=True):
    """Lines of a :class:`~opsui.domain.logbuffer.LogBuffer`, followed, filtered, searched."""

    DEFAULT_CSS = """
    LogView {
        background: $background;
        scrollbar-gutter: stable;
    }
    """

    class Changed(Message):
        """Counts, follow state or options changed: the screen redraws its status line."""

    class SearchResult(Message):
        """A search step ended; ``found`` False means no further match that way."""

        def __init__(self, found: bool, forward: bool) -> None:
            super().__init__()
            self.found = found
            """Whether a matching line was found (and scrolled to)."""
            self.forward = forward
            """The direction searched."""

    def __init__(self, buffer: LogBuffer, *, timestamps: bool = True,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.buffer = buffer
        """Where the lines are; swapped by :meth:`use_buffer` when the feed is reopened."""
        self.follow = True
        """Keep the newest line in view."""
        self.new_lines = 0
        """Lines that arrived (and pass the filter) since following paused."""
        self.timestamps = timestamps
        """Show the engine's time in front of each line."""
        self.wrap = False
        """Fold long lines instead of scrolling sideways."""
        self.search = LogQuery()
        """Highlighted in visible lines; ``n``/``N`` jump between matching lines."""
        self.filter = LogQuery()
        """Only lines passing this (and :attr:`min_level`) are shown."""
        self.min_level: Level | None = None
        """Show lines at least this severe (lines without a level are hidden)."""
        self.current_seq: int | None = None
        """The line of the current search hit, drawn highlighted."""
        self._index: FilteredIndex | None = None
        self._first = 0
        self._total = 0
        self._lines: LRUCache[int, LogLine] = LRUCache(LINE_CACHE)
        self._strips: LRUCache[tuple[int, int | None], list[Strip]] = LRUCache(STRIP_CACHE)
        self._frame_key: tuple[object, ...] | None = None
        self._frame: list[Strip] = []
        self._frame_seqs: list[int] = []
        self._version = 0
        self._layout = LineLayout(timestamps, 0)
        self._source_count = -1
        self._source_styles: dict[str, Style] = {}
        self._content_width = 0
        self._programmatic = 0
        self._base_style = Style()
        self._styles: LogStyles | None = None
        """The theme's log styles, read once per frame."""
        self._offsets = False
        """This frame's rows carry the offsets mouse selection reads (see _mouse_here)."""
        self._cropped: dict[int, Strip] = {}
        """This frame's strips as drawn (cropped to the view), by screen row."""
        self._drawn_at = 0.0
        """When a poll last moved the view (see :data:`FIREHOSE_FRAME_SECONDS`)."""
        self._input_first = False
        """A key is on its way to the screen: new lines wait for the frame after its echo."""
        self._input_at = 0.0

    # -- lifecycle --------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.poll()
        self._ticker = self.set_interval(POLL_SECONDS, self.poll)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._restyle())

    def on_unmount(self) -> None:
        # The app's signal keeps its subscribers weakly, but the callback holds this view:
        # every closed log pane stayed alive with its buffer (megabytes; issue 16).
        self.app.theme_changed_signal.unsubscribe(self)

    def use_buffer(self, buffer: LogBuffer) -> None:
        """Show another buffer (the feed was reopened with another window); follow it."""
        self.buffer = buffer
        self._first = self._total = 0
        self._source_count = -1
        self._lines.clear()
        self.current_seq = None
        self._rebuild_index()
        self.resume()

    # -- rows ---------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Lines in the view (every held line, or the filter's hits so far)."""
        if self._index is not None:
            return len(self._index.seqs)
        return self._total - self._first

    @property
    def filtering(self) -> bool:
        return self._index is not None

    @property
    def scanning(self) -> int:
        """Lines the filter has yet to look at (it catches up a batch per tick)."""
        return self._index.pending if self._index is not None else 0

    def seq_at(self, row: int) -> int | None:
        if row < 0 or row >= self.row_count:
            return None
        if self._index is not None:
            return self._index.seqs[row]
        return self._first + row

    def row_of(self, seq: int) -> int:
        """The row showing ``seq``, or the next one after it (lines may be hidden)."""
        if self._index is not None:
            return bisect_left(self._index.seqs, seq)
        return min(max(0, seq - self._first), self.row_count)

    def line(self, seq: int) -> LogLine | None:
        """The rendered line ``seq``, from the cache; None once the buffer dropped it."""
        cached = self._lines.get(seq)
        if cached is not None:
            return cached
        entry = self.buffer.get(seq)
        return None if entry is None else self._render_entry(seq, entry)

    def _render_entry(self, seq: int, entry: LogEntry) -> LogLine:
        line = self._lines.get(seq)
        if line is None:
            line = render_entry(seq, entry)
            self._lines.set(seq, line)
        return line

    # -- polling ------------------------------------------------------------------------------

    def poll(self) -> None:
        """Learn what the reader threads appended since the last tick (bounded work)."""
        buffer, index = self.buffer, self._index
        total, first = buffer.total, buffer.first
        if total == self._total and first == self._first and not self.scanning:
            return
        now = time.monotonic()
        if self._input_first and now - self._input_at < INPUT_HOLD_SECONDS:
            return  # the next tick shows these too, after the typed key's echo
        if (self.follow and index is None
                and total - self._total >= max(1, self.scrollable_content_region.height)
                and now - self._drawn_at < FIREHOSE_FRAME_SECONDS):
            return  # the next frame shows these too
        self._drawn_at = now
        anchor = None if self.follow else self.seq_at(int(self.scroll_y))
        # Unfiltered, every new line is a row; filtered, the index says how many passed.
        added = total - max(self._total, first) if index is None else self._scan(index)
        self._first, self._total = first, total
        if len(buffer.sources) != self._source_count:
            self._measure_sources()
        self._grown(added, anchor)

    def input_first(self) -> None:
        """A key was typed elsewhere on this screen (the search box): hold new lines
        back until the frame that echoes it has been drawn, so the echo is a frame of
        one line, not one behind a screenful of new log rows (issue 14)."""
        if not self._input_first:
            self._input_first = True
            self._input_at = time.monotonic()
            self.call_after_refresh(self._input_drawn)

    def _input_drawn(self) -> None:
        self._input_first = False

    @staticmethod
    def _scan(index: FilteredIndex) -> int:
        """Let the index look at new lines for at most :data:`SCAN_SECONDS`."""
        deadline = time.perf_counter() + SCAN_SECONDS
        added = scanned = 0
        while index.pending and scanned < SCAN_BUDGET and time.perf_counter() < deadline:
            added += index.advance(SCAN_CHUNK)
            scanned += SCAN_CHUNK
        return added

    def _grown(self, added: int, anchor: int | None) -> None:
        self._version += 1
        self._size_virtual()
        if self.follow:
            self._scroll_to_end()
        else:
            self.new_lines += added
            if anchor is not None:
                self._scroll_to_row(self.row_of(anchor))
        self.refresh()
        self.post_message(self.Changed())

    def _measure_sources(self) -> None:
        sources = self.buffer.sources
        self._source_count = len(sources)
        styles = LogStyles.of(self.app).assign([s.name for s in sources])
        if styles != self._source_styles:
            self._source_styles = styles
            self._strips.clear()
        width = min(SOURCE_WIDTH_MAX, max((len(s.name) for s in sources), default=0))
        self._set_layout(LineLayout(self.timestamps, width))

    def _set_layout(self, layout: LineLayout) -> None:
        if layout != self._layout:
            self._layout = layout
            self._strips.clear()
            self._version += 1

    def _size_virtual(self) -> None:
        width = self.scrollable_content_region.width if self.wrap else self._content_width
        self.virtual_size = Size(width, self.row_count)
        if self.follow and self.scroll_y < self.max_scroll_y:
            self._scroll_to_end()  # e.g. a horizontal scrollbar just took a row

    # -- scrolling and follow -------------------------------------------------------------------

    @contextmanager
    def _ours(self) -> Iterator[None]:
        """Scroll changes made here, not by the operator: they do not pause following."""
        self._programmatic += 1
        try:
            yield
        finally:
            self._programmatic -= 1

    def _scroll_to_row(self, row: int) -> None:
        with self._ours():
            self.scroll_to(y=row, animate=False, immediate=True)

    def _scroll_to_end(self) -> None:
        with self._ours():
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._programmatic:
            return
        # A drop that still lands on the last page is a clamp (the view got taller or
        # lines were filtered away), not the operator scrolling up.
        if new_value < old_value and new_value < self.max_scroll_y and self.follow:
            self.follow = False
            self.new_lines = 0
            self.post_message(self.Changed())
        elif new_value > old_value and not self.follow and new_value >= self.max_scroll_y:
            self.resume()

    def resume(self) -> None:
        """Follow again: jump to the newest line and forget the "+N new" count."""
        self.follow = True
        self.new_lines = 0
        self._size_virtual()
        self._scroll_to_end()
        self._version += 1
        self.refresh()
        self.post_message(self.Changed())

    def pause(self) -> None:
        """Stop following where the view is now."""
        if self.follow:
            self.follow = False
            self.new_lines = 0
            self.post_message(self.Changed())

    def jump_top(self) -> None:
        self.pause()
        self._scroll_to_row(0)

    def on_resize(self) -> None:
        self._strips.clear()
        self._size_virtual()
        if self.follow:
            self._scroll_to_end()

    # -- options --------------------------------------------------------------------------------

    def set_timestamps(self, on: bool) -> None:
        self.timestamps = on
        self._set_layout(LineLayout(on, self._layout.source_width))
        self._content_width = 0
        self._changed_look()

    def set_wrap(self, on: bool) -> None:
        self.wrap = on
        self._strips.clear()
        self._content_width = 0
        self._changed_look()
        if on:
            with self._ours():
                self.scroll_to(x=0, animate=False, immediate=True)

    def set_search(self, query: LogQuery) -> None:
        self.search = query
        self.current_seq = None
        self._strips.clear()
        self._changed_look()

    def set_filter(self, query: LogQuery | None = None, min_level: Level | None = None) -> None:
        """Show only lines passing ``query`` and ``min_level`` (None and None: every line)."""
        self.filter = query or LogQuery()
        self.min_level = min_level
        self._rebuild_index()

    def _rebuild_index(self) -> None:
        keep = self.current_seq if self.current_seq is not None else \
            None if self.follow else self.seq_at(int(self.scroll_y))
        if self.filter.active or self.min_level is not None:
            # Scans render without the cache: a 20,000-line batch must not evict what is on screen.
            self._index = FilteredIndex(self.buffer, self.filter, self.min_level, render_entry)
            self._scan(self._index)
        else:
            self._index = None
        self._first, self._total = self.buffer.first, self.buffer.total
        self._measure_sources()
        self.new_lines = 0
        self._strips.clear()  # filter matches are highlighted
        self._changed_look()
        if not self.follow and keep is not None:
            self._scroll_to_row(self.row_of(keep))

    def _changed_look(self) -> None:
        self._version += 1
        self._size_virtual()
        if self.follow:
            self._scroll_to_end()
        self.refresh()
        self.post_message(self.Changed())

    def _restyle(self) -> None:
        self._source_count = -1  # re-assign source colours from the new theme
        self._measure_sources()
        self._strips.clear()
        self._version += 1
        self.refresh()

    # -- drawing --------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        frame = self._current_frame()
        cropped = self._cropped.get(y)
        if cropped is None:
            width = self.scrollable_content_region.width
            strip = frame[y] if y < len(frame) else Strip.blank(0)
            scroll_x = 0 if self.wrap else int(self.scroll_x)
            cropped = strip.crop_extend(scroll_x, scroll_x + width, self._base_style)
            if self._offsets and y < len(frame):  # offsets let the mouse select text
                cropped = cropped.apply_offsets(scroll_x, int(self.scroll_y) + y)
            self._cropped[y] = cropped
        return cropped

    def _current_frame(self) -> list[Strip]:
        """The strips on screen, laid out once per change (every ``render_line`` asks)."""
        region = self.scrollable_content_region
        if self.follow and int(self.scroll_y) < self.max_scroll_y:
            self.call_later(self._scroll_to_end)  # the region changed under us
        offsets = not self.wrap and self._mouse_here(region)
        key = (int(self.scroll_y), int(self.scroll_x), region.width, region.height,
               self._version, self.current_seq, self.wrap, self.text_selection, offsets)
        if key != self._frame_key:
            self._frame_key = key
            self._offsets = offsets
            self._cropped.clear()
            self._styles = LogStyles.of(self.app)  # once per frame: reading the theme is slow
            style = self.rich_style  # computing it per line was a third of the cost
            if style != self._base_style:
                self._base_style = style
                self._strips.clear()  # the background is baked into cached strips
            self._frame, self._frame_seqs = self._build_frame(region.width, region.height)
        return self._frame

    def _mouse_here(self, region: Region) -> bool:
        """Whether the mouse pointer is over the lines, where a selection can start.

        Only then are the rows drawn with the offsets mouse selection reads: an offset is
        a style of its own on every segment of every row, which made each row's styles
        new to Textual's colour filter cache, about a quarter of a frame's cost while a
        stream replaces every row on screen (issue 14). The app records the pointer's
        position before it hands a mouse event on, and the frame is laid out again when
        that changes, so the click that starts a selection already finds the offsets.
        """
        return region.contains_point(self.app.mouse_position)

    def _build_frame(self, width: int, height: int) -> tuple[list[Strip], list[int]]:
        rows, top = self.row_count, int(self.scroll_y)
        strips: list[Strip] = []
        seqs: list[int] = []
        if not self.wrap:
            for row in range(top, min(rows, top + height)):
                seq = self._frame_row(row, None, strips)
                seqs.append(seq)
            widest = max((s.cell_length for s in strips), default=0)
            if widest > self._content_width:
                self._content_width = widest
                self.call_later(self._size_virtual)
            return strips, seqs
        if rows and top >= self.max_scroll_y:  # the last page: laid out from the bottom
            row = rows - 1
            chunks: list[list[Strip]] = []
            filled = 0
            while row >= 0 and filled < height:
                chunk: list[Strip] = []
                seqs.insert(0, self._frame_row(row, width, chunk))
                chunks.insert(0, chunk)
                filled += len(chunk)
                row -= 1
            strips = [strip for chunk in chunks for strip in chunk][-height:]
            return strips, seqs
        row = top
        while row < rows and len(strips) < height:
            seqs.append(self._frame_row(row, width, strips))
            row += 1
        return strips[:height], seqs

    def _frame_row(self, row: int, width: int | None, out: list[Strip]) -> int:
        """Append the strips of one row to ``out``; its sequence number."""
        seq = self.seq_at(row)
        assert seq is not None
        key = (seq, width)
        strips = self._strips.get(key)
        if strips is None:
            strips = self._draw(seq, width)
            self._strips.set(key, strips)
        if seq == self.current_seq:
            styles = self._styles or LogStyles.of(self.app)
            strips = [strip.apply_style(styles.current) for strip in strips]
        selection = self.text_selection
        if selection is not None and width is None:
            span = selection.get_span(row)
            if span is not None:
                strips = [self._selected(strips[0], *span)]
        out.extend(strips)
        return seq

    def _selected(self, strip: Strip, start: int, end: int) -> Strip:
        """``strip`` with the mouse-selected cells in the screen's selection style."""
        end = strip.cell_length if end == -1 else end
        style = self.screen.get_component_rich_style("screen--selection")
        before, middle, after = strip.divide([start, end, strip.cell_length])
        return Strip.join([before, middle.apply_style(style), after])

    def _draw(self, seq: int, width: int | None) -> list[Strip]:
        styles = self._styles or LogStyles.of(self.app)
        line = self.line(seq)
        console = self.app.console
        base = self._base_style
        if line is None:
            gone = Text(" (dropped: the buffer made room for newer lines)", base + styles.muted)
            return [Strip(list(gone.render(console)), gone.cell_len)]
        source = self._source_name(line.source)
        source_style = self._source_styles.get(source)
        shown = self.filter if self.filter.active and not self.filter.invert else None
        highlights = [q for q in (self.search, shown) if q is not None and q.active]
        if width is None:
            plain = line_strip_plain(line, source, self._layout, styles, source_style, base,
                                     highlights)
            if plain is not None:
                return [plain]
        prefix = line_prefix(line, source, self._layout, styles, source_style)
        body = line_body(line, styles, *highlights)
        prefix.style = base  # under every span: the widget's colours, no apply_style later
        body.style = base
        return line_strips(prefix, body, width, console)

    def _source_name(self, index: int) -> str:
        try:
            return self.buffer.source(index).name
        except IndexError:
            return "?"

    # -- search ---------------------------------------------------------------------------------

    @work(exclusive=True, group="log-search", exit_on_error=False)
    async def find(self, forward: bool = True) -> None:
        """Scroll to the next (or previous) line matching :attr:`search`, pausing follow.

        The scan runs in chunks on the event loop, so keys and new lines keep being
        handled while it looks through a full buffer.
        """
        query = self.search
        if not query.active:
            return
        step = 1 if forward else -1
        if self.current_seq is not None:
            base = self.row_of(self.current_seq)  # its row, or the next one's if it went
            on_it = self.seq_at(base) == self.current_seq
            row = (base + 1 if on_it else base) if forward else base - 1
        else:  # from the edge of what is on screen
            seqs = self._frame_seqs
            if forward:
                row = self.row_of(seqs[0]) if seqs else 0
            else:
                row = self.row_of(seqs[-1]) if seqs else self.row_count - 1
        buffer = self.buffer
        while 0 <= row < self.row_count:
            for _ in range(SEARCH_CHUNK):
                seq = self.seq_at(row)
                if seq is None:
                    break
                entry = buffer.get(seq)
                if entry is not None and self._search_hit(query, seq, entry):
                    self._show_hit(seq)
                    self.post_message(self.SearchResult(True, forward))
                    return
                row += step
            else:
                anchor = self.seq_at(row)
                await asyncio.sleep(0)
                if query is not self.search:
                    return
                if anchor is not None:
                    row = self.row_of(anchor)
                continue
            break
        self.post_message(self.SearchResult(False, forward))

    @staticmethod
    def _search_hit(query: LogQuery, seq: int, entry: LogEntry) -> bool:
        raw = entry[2]
        found = query.found_in_raw(raw, body_offset(raw), DEFAULT_LINE_CHARS)
        return found if found is not None else query.found(render_entry(seq, entry).text)

    def _show_hit(self, seq: int) -> None:
        self.pause()
        self.current_seq = seq
        row = self.row_of(seq)
        height = self.scrollable_content_region.height
        top = int(self.scroll_y)
        if not top <= row < top + height - 1:
            self._scroll_to_row(max(0, row - height // 3))
        self.refresh()
        self.post_message(self.Changed())

    # -- text out -------------------------------------------------------------------------------

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The mouse-selected text, as drawn (unwrapped view only); built from just the
        selected rows, not the whole buffer."""
        if self.wrap or not self.row_count:
            return None
        first = selection.start.y if selection.start is not None else 0
        last = selection.end.y if selection.end is not None else self.row_count - 1
        last = min(last, self.row_count - 1, first + MAX_SELECTED_ROWS)
        rows = [self._drawn_text(row) for row in range(first, last + 1)]

        def shift(offset: Offset | None) -> Offset | None:
            return None if offset is None else Offset(offset.x, offset.y - first)

        local = Selection(shift(selection.start), shift(selection.end))
        return local.extract("\n".join(rows)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        if selection is not None:
            self.pause()  # lines moving under the mouse would change what is selected
        self.refresh()

    def _drawn_text(self, row: int) -> str:
        seq = self.seq_at(row)
        line = None if seq is None else self.line(seq)
        if line is None:
            return ""
        styles = self._styles or LogStyles.of(self.app)
        source = self._source_name(line.source)
        return line_prefix(line, source, self._layout, styles).plain + line.text

    def visible_text(self) -> str:
        """The lines on screen, sanitised, one per line (for the clipboard)."""
        self._current_frame()
        return "\n".join(self._plain(seq) for seq in self._frame_seqs)

    def _plain(self, seq: int) -> str:
        line = self.line(seq)
        if line is None:
            return ""
        return plain_line(line, self._source_name(line.source), self.timestamps)

    def view_seqs(self) -> list[int]:
        """Sequence numbers of every line in the view now (for saving)."""
        if self._index is not None:
            return list(self._index.seqs)
        return list(range(self._first, self._total))
