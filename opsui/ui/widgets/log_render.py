"""One log line as the pane draws it: gutter, time, coloured source, body, highlights.

Split from :mod:`opsui.ui.widgets.log_view` so the scrolling widget only decides
*which* lines are on screen, and this decides how one looks. Text arrives already
sanitised (:func:`opsui.domain.logview.render_entry`) and is only ever put into Rich
``Text`` objects, never parsed as markup, so ``[@click=app.quit]`` stays literal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from opsui.domain.logbuffer import LineKind
from opsui.domain.logquery import LogQuery
from opsui.domain.logview import LogLine, plain_line, short_timestamp
from opsui.ui.log_styles import LogStyles
from opsui.ui.sgr import sgr_style

__all__ = ["LineLayout", "line_body", "line_prefix", "line_strip_plain", "line_strips",
           "plain_line"]

STAMP_WIDTH = len("2026-11-23 16:58:50.123")
SOURCE_WIDTH_MAX = 24
"""Source names are padded to the longest one, up to this; longer ones are cut."""
GUTTER = {LineKind.STDOUT: " ", LineKind.STDERR: "▌", LineKind.MARKER: "»"}


@dataclass(frozen=True)
class LineLayout:
    """What every line shares: whether times show, how wide the source column is."""

    timestamps: bool
    source_width: int
    show_sources: bool = True

    @property
    def prefix_width(self) -> int:
        width = 1
        if self.timestamps:
            width += STAMP_WIDTH + 1
        if self.show_sources:
            width += self.source_width + 1
        return width


def line_prefix(line: LogLine, source: str, layout: LineLayout, styles: LogStyles,
                source_style: Style | None = None) -> Text:
    """Gutter mark, short time and padded source name (in ``source_style``, else its hue)."""
    prefix = Text(no_wrap=True, end="")
    gutter_style = styles.stderr if line.kind is LineKind.STDERR else \
        styles.marker if line.kind is LineKind.MARKER else None
    prefix.append(GUTTER[line.kind], gutter_style)
    if layout.timestamps:
        stamp = short_timestamp(line.timestamp) if line.timestamp else ""
        prefix.append(stamp.ljust(STAMP_WIDTH) + " ", styles.muted)
    if layout.show_sources:
        name = source if len(source) <= layout.source_width \
            else source[: layout.source_width - 1] + "…"
        prefix.append(name.ljust(layout.source_width) + " ",
                      source_style or styles.source(source))
    return prefix


def line_body(line: LogLine, styles: LogStyles, *highlights: LogQuery) -> Text:
    """The sanitised text with its SGR colours, and matches of ``highlights`` marked."""
    body = Text(line.text.replace("\n", "\u2424"), no_wrap=True, end="")
    if line.kind is LineKind.MARKER:
        body.stylize(styles.marker)
    else:
        for span in line.spans:
            body.stylize(sgr_style(span.sgr), span.start, span.end)
    for query in highlights:
        for start, end in query.spans(line.text):
            body.stylize(styles.match, start, end)
    return body


def line_strip_plain(line: LogLine, source: str, layout: LineLayout, styles: LogStyles,
                     source_style: Style | None, base: Style,
                     highlights: Sequence[LogQuery] = ()) -> Strip | None:
    """The unwrapped row of a line with no colours of its own and nothing highlighted,
    built straight as segments; None when the line needs :func:`line_strips`.

    The segments are the ones Rich renders from :func:`line_prefix` plus
    :func:`line_body` (``base`` under every part), without building and merging two
    ``Text`` objects: a followed stream is mostly such lines, and every frame of it
    draws a screenful of new ones (issue 14).
    """
    text = line.text
    if line.spans or line.kind is LineKind.MARKER or "\n" in text \
            or any(query.spans(text) for query in highlights):
        return None
    segments: list[Segment] = []
    gutter = styles.stderr if line.kind is LineKind.STDERR else None
    segments.append(Segment(GUTTER[line.kind], base + gutter if gutter else base))
    if layout.timestamps:
        stamp = short_timestamp(line.timestamp) if line.timestamp else ""
        segments.append(Segment(stamp.ljust(STAMP_WIDTH) + " ", base + styles.muted))
    if layout.show_sources:
        name = source if len(source) <= layout.source_width \
            else source[: layout.source_width - 1] + "…"
        segments.append(Segment(name.ljust(layout.source_width) + " ",
                                base + (source_style or styles.source(source))))
    if text:
        segments.append(Segment(text, base))
    return Strip(segments, sum(cell_len(segment.text) for segment in segments))


def line_strips(prefix: Text, body: Text, width: int | None, console: Console) -> list[Strip]:
    """One strip (``width`` None: no wrapping) or the body folded under the prefix."""
    if width is None:
        whole = prefix + body
        return [Strip(list(whole.render(console)), whole.cell_len)]
    indent = prefix.cell_len
    room = max(1, width - indent)
    pieces = body.wrap(console, room, overflow="fold", no_wrap=False) if body.cell_len > room \
        else [body]
    strips: list[Strip] = []
    # Continuation rows: blank under the prefix, but a stderr line keeps its red mark.
    pad = Text(" " * indent, style=prefix.style, end="")
    if prefix.plain[:1] == GUTTER[LineKind.STDERR] and prefix.spans:
        pad.stylize(prefix.spans[0].style, 0, 1)
        pad = Text(GUTTER[LineKind.STDERR], style=prefix.style, end="") + pad[1:]
        pad.stylize(prefix.spans[0].style, 0, 1)
    for number, piece in enumerate(pieces or [Text("", style=body.style)]):
        row = (prefix if number == 0 else pad) + piece
        strips.append(Strip(list(row.render(console)), row.cell_len))
    return strips

