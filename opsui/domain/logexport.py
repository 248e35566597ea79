"""Write buffered log lines to a file as sanitised text, one line per line.

Saving runs in a worker thread while readers keep appending, so it works from a list
of sequence numbers taken when the operator asked; lines the buffer drops meanwhile
are skipped (and counted), never written half. Text is the same sanitised text the
pane shows, so a saved file cannot replay escape sequences into a terminal that
``cat``s it later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from opsui.domain.logbuffer import LogBuffer
from opsui.domain.logview import plain_line, render_entry


@dataclass(frozen=True)
class ExportResult:
    path: Path
    written: int
    missed: int
    """Lines dropped by the buffer before they could be written."""


def export_lines(buffer: LogBuffer, seqs: Iterable[int], path: Path,
                 timestamps: bool = True) -> ExportResult:
    """Write the lines ``seqs`` to ``path`` (replacing it); raises OSError as it comes."""
    names = {source.index: source.name for source in buffer.sources}
    written = missed = 0
    with path.open("w", encoding="utf-8", errors="replace", newline="\n") as out:
        for seq in seqs:
            entry = buffer.get(seq)
            if entry is None:
                missed += 1
                continue
            line = render_entry(seq, entry)
            out.write(plain_line(line, names.get(line.source, "?"), timestamps) + "\n")
            written += 1
    return ExportResult(path, written, missed)
