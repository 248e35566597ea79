"""Generated hostile text: every control, format and separator code point, in chunks.

The payloads are computed from Unicode's own tables (``unicodedata``), not from
opsui's list, so a code point the sanitiser forgets shows up here. They are cut
into short numbered chunks (``HX07 ...``) so each fits on one screen line: a test
can then check that every chunk was drawn, and that none of its characters was.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

#: Characters that start an escape sequence: the sanitiser removes them together with
#: what follows, so they go last on their own lines, never in front of visible text.
INTRODUCERS = (0x1B, 0x90, 0x98, 0x9B, 0x9D, 0x9E, 0x9F)
#: Encodable code points that are not text: Cc, Cf, Zl, Zp, noncharacters, tags.
#: (Surrogates cannot travel as UTF-8; their bytes are in :data:`RAW_BYTES_LINE`.)
CONTROLS = tuple(
    code for code in range(0x110000)
    if (unicodedata.category(chr(code)) in {"Cc", "Cf", "Zl", "Zp"}
        or 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE
        or 0xE0000 <= code <= 0xE007F)
)
#: Every byte 0x80-0xFF alone (invalid UTF-8) and a UTF-8 surrogate, in one log line.
RAW_BYTES_LINE = b"HXRAW " + b"".join(bytes([b]) + b"." for b in range(0x80, 0x100)) \
    + b"\xed\xa0\x80."
#: Escape sequences whose payload would be visible if they were not removed whole.
ESCAPES = "\x1b]0;HXTITLE\x07\x1b]8;;http://hx.example/\x1b\\HXLINK\x1b]8;;\x1b\\\x1b[2J"


def shown(code: int) -> str:
    """What the operator must see for ``code``: a control picture or ``⟨U+XXXX⟩``."""
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"\u27e8U+{code:04X}\u27e9"


def visible_controls(codes: Iterable[int] = CONTROLS) -> list[int]:
    """The controls that must be shown inert (not removed, not turned into layout)."""
    return [code for code in codes if code not in INTRODUCERS and chr(code) not in "\t\n"]


def chunks(per_chunk: int = 8, prefix: str = "HX") -> list[str]:
    """Every control, ``per_chunk`` to a numbered chunk: ``HX00 .\\x00.\\x01...``.

    Newline and tab are included (a field must fold them); introducers come last,
    one per chunk, after the text, as they swallow what follows them.
    """
    plain = [code for code in CONTROLS if code not in INTRODUCERS]
    groups = [plain[i:i + per_chunk] for i in range(0, len(plain), per_chunk)]
    out = [f"{prefix}{n:02d} " + "".join("." + chr(code) for code in group)
           for n, group in enumerate(groups)]
    out += [f"{prefix}{len(groups) + n:02d} ." + chr(code)
            for n, code in enumerate(INTRODUCERS)]
    out.append(f"{prefix}ESC " + ESCAPES + "HXEND")
    return out


def log_bytes(lines: list[str]) -> bytes:
    """Log lines as a container writes them: each chunk's newlines replaced (a newline
    would end the line), then the raw-byte line and a last marker."""
    body = b"".join(line.replace("\n", "").encode() + b"\n" for line in lines)
    return body + RAW_BYTES_LINE + b"\nHX-LAST-LINE\n"


def forbidden_in_terminal(output: bytes) -> list[str]:
    """Payload characters that reached the terminal raw, as ``U+XXXX`` names.

    The terminal's own CR, LF and ESC (Textual's cursor and colour sequences) are
    allowed, and Textual's pointer-shape sequence (OSC 22, ended by BEL) is taken out
    first, so a BEL of the payload still counts.
    """
    text = _OWN_SEQUENCES.sub("", output.decode("utf-8", errors="replace"))
    allowed = {0x0A, 0x0D, 0x1B}
    found = {ord(ch) for ch in text if ord(ch) in _CONTROL_SET and ord(ch) not in allowed}
    names = [f"U+{code:04X}" for code in sorted(found)]
    names += [marker for marker in ("HXTITLE", "hx.example") if marker in text]
    return names


def missing(output: bytes, codes: Iterable[int]) -> list[str]:
    """The controls of ``codes`` whose inert form was never drawn."""
    text = output.decode("utf-8", errors="replace")
    return [f"U+{code:04X}" for code in codes if shown(code) not in text]


_CONTROL_SET = frozenset(CONTROLS)
_OWN_SEQUENCES = re.compile(r"\x1b\]22;[a-z-]*\x07")
