"""A saved log file is read later with ``cat`` or ``less -R``: it holds no control either."""

from __future__ import annotations

from pathlib import Path

from opsui.domain.logbuffer import LineKind, LogBuffer
from opsui.domain.logexport import export_lines

from .payloads import CONTROLS, chunks, log_bytes, shown, visible_controls


def test_a_saved_log_file_holds_every_control_inert(tmp_path: Path) -> None:
    lines = log_bytes(chunks()).split(b"\n")[:-1]
    buffer = LogBuffer(1000)
    buffer.add_source("web-1")
    buffer.append(0, LineKind.STDOUT, lines)
    result = export_lines(buffer, range(len(lines)), tmp_path / "saved.log")
    assert result.written == len(lines)
    text = (tmp_path / "saved.log").read_bytes().decode()
    assert text.count("\n") == len(lines)  # one line per line: no separator got through
    raw = sorted({f"U+{ord(ch):04X}" for ch in text if ord(ch) in set(CONTROLS)} - {"U+000A"})
    assert raw == []
    assert [f"U+{c:04X}" for c in visible_controls() if shown(c) not in text] == []
