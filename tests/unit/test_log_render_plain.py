"""The log pane's quick way to draw a plain row looks exactly like the general one.

While a stream is followed, most rows have no colours of their own and nothing
highlighted; those are built straight as segments (issue 14). What an operator sees
must not change: the same text in the same styles, cell for cell, as the rows drawn
through Rich ``Text`` — and every other row still goes the general way.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.style import Style
from textual.strip import Strip
from textual.theme import BUILTIN_THEMES

from opsui.domain.logbuffer import LineKind
from opsui.domain.logquery import LogQuery
from opsui.domain.logview import LogLine, render_entry
from opsui.ui.log_styles import LogStyles
from opsui.ui.widgets.log_render import (
    LineLayout,
    line_body,
    line_prefix,
    line_strip_plain,
    line_strips,
)

STYLES = LogStyles.from_theme(BUILTIN_THEMES["textual-dark"])
BASE = Style(color="#e0e0e0", bgcolor="#101010")
CONSOLE = Console(file=io.StringIO(), width=300, color_system="truecolor")
STAMP = b"2026-11-23T16:58:50.123456789Z "


def _line(raw: bytes, kind: LineKind = LineKind.STDOUT) -> LogLine:
    return render_entry(7, (0, int(kind), raw))


def _general(line: LogLine, source: str, layout: LineLayout,
             *highlights: LogQuery) -> Strip:
    prefix = line_prefix(line, source, layout, STYLES, STYLES.source(source))
    body = line_body(line, STYLES, *highlights)
    prefix.style = BASE
    body.style = BASE
    [strip] = line_strips(prefix, body, None, CONSOLE)
    return strip


def _cells(strip: Strip) -> list[tuple[str, Style | None]]:
    """Each cell's character and style: what the terminal shows."""
    return [(char, segment.style) for segment in strip for char in segment.text]


@pytest.mark.parametrize(("raw", "kind", "source", "layout"), [
    (STAMP + b"GET /api/items 200 12ms", LineKind.STDOUT, "web-1", LineLayout(True, 5)),
    (STAMP + b"panic: out of memory", LineKind.STDERR, "worker-1", LineLayout(True, 8)),
    (b"no timestamp on this one", LineKind.STDOUT, "web-1", LineLayout(True, 5)),
    (STAMP + b"times hidden", LineKind.STDOUT, "web-1", LineLayout(False, 5)),
    (STAMP + b"a source cut short", LineKind.STDOUT, "a-very-long-source", LineLayout(True, 6)),
    (STAMP + "wide 漢字 and ✓ marks".encode(), LineKind.STDOUT, "web-1", LineLayout(True, 5)),
    (STAMP, LineKind.STDOUT, "web-1", LineLayout(True, 5)),
    (STAMP + b"no sources column", LineKind.STDOUT, "web-1", LineLayout(True, 5, False)),
])
def test_a_plain_row_is_drawn_as_the_general_way_draws_it(
        raw: bytes, kind: LineKind, source: str, layout: LineLayout) -> None:
    line = _line(raw, kind)
    quick = line_strip_plain(line, source, layout, STYLES, STYLES.source(source), BASE)
    assert quick is not None
    general = _general(line, source, layout)
    assert _cells(quick) == _cells(general)
    assert quick.cell_length == general.cell_length
    assert list(quick) == list(general)  # the same runs, so the same screen updates


def test_rows_with_colours_highlights_or_marks_go_the_general_way() -> None:
    layout = LineLayout(True, 5)
    coloured = _line(STAMP + b"\x1b[31mERROR\x1b[0m db down")
    assert line_strip_plain(coloured, "web-1", layout, STYLES, None, BASE) is None
    marker = _line(b"web-1 restarted", LineKind.MARKER)
    assert line_strip_plain(marker, "web-1", layout, STYLES, None, BASE) is None
    searched = _line(STAMP + b"the needle here")
    needle = LogQuery.build("needle")
    assert line_strip_plain(searched, "web-1", layout, STYLES, None, BASE, [needle]) is None
    elsewhere = LogQuery.build("haystack")  # a search that misses this row: still quick
    quick = line_strip_plain(searched, "web-1", layout, STYLES, STYLES.source("web-1"), BASE,
                             [elsewhere])
    assert quick is not None
    assert _cells(quick) == _cells(_general(searched, "web-1", layout, elsewhere))
