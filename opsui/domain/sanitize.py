"""The one sanitiser for text that came from a host.

Container names, labels, env values, health output, remote stderr and log lines are
written by whoever controls the container. Shown raw, they can retitle the terminal,
write the clipboard (OSC 52), plant hyperlinks (OSC 8), clear the screen (ESC c, CSI),
reorder what the operator reads (bidi overrides such as U+202E), hide text in
zero-width characters, or, through Rich/Textual markup, run actions
(``[@click=app.quit]``). This module turns such text into plain characters:

* every escape sequence is removed: CSI, OSC, DCS/SOS/PM/APC strings, two-byte
  ESC forms, and their 8-bit C1 equivalents; SGR (colour) is the one exception
  in :func:`sanitize_line`, where it becomes style spans rather than bytes;
* remaining C0 controls and DEL become visible Unicode "control picture" glyphs
  (␛, ␇, ␡), so they are seen but do nothing;
* a carriage return does not let later text hide earlier text: it is shown as ␍;
* every other character that is not text but an instruction to the terminal's text
  engine is shown as its code point in angle brackets, e.g. ``⟨U+202E⟩``: C1 controls
  (Cc), format characters (Cf: bidi embeddings, overrides, isolates and marks,
  zero-width space and joiners, word joiner, BOM, soft hyphen, tag characters,
  interlinear annotation), the line and paragraph separators (Zl, Zp), lone
  surrogates (Cs, which would also fail to encode) and noncharacters (U+FDD0-FDEF,
  U+xFFFE/xFFFF). Shown, not dropped: dropping would let ``adm\u200bin`` pass for
  ``admin``. A zero-width joiner inside an emoji sequence is shown too: terminals
  disagree on whether to draw such a sequence as one glyph or several, so it cannot be
  laid out reliably, and the emoji themselves stay. Combining marks (Mn, including
  variation selectors), private-use characters (icon fonts) and code points this
  Python's Unicode database does not know (newer emoji) are text and stay;
* invalid UTF-8 becomes U+FFFD; lines are capped with a visible marker.

The result is plain ``str`` that the UI must pass to widgets as ``Text``/``Content``,
never as markup: markup safety is the UI's half of the contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ELLIPSIS = "…"
DEFAULT_FIELD_CHARS = 512
DEFAULT_BLOCK_CHARS = 16_384
DEFAULT_LINE_CHARS = 8_192

# ESC-introduced sequences and their 8-bit forms, longest first.
_ESCAPES = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?                 # CSI ... final (final may be missing)
  | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])           # OSC / DCS / SOS / PM / APC ...
      [^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?           #   ... up to BEL or ST (or end)
  | \x1b[ -/]*[0-~]?                                  # other ESC forms: ESC c, ESC 7, ESC ( B
    """,
    re.VERBOSE,
)
_SGR = re.compile(r"\x1b\[([0-9;:]*)m|\x9b([0-9;:]*)m")
# Code points that are instructions, not text (see the module docstring): Cc except
# tab and newline (handled by each function), every Cf of Unicode 14 (plus the rest
# of the Egyptian format block, Cf in Unicode 15, and the whole tag block), Zl, Zp,
# surrogates and noncharacters. tests/unit/test_sanitize.py checks this list against
# the running Python's Unicode database, code point by code point.
INERT_RANGES: tuple[tuple[int, int], ...] = (
    (0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F),                       # C0, DEL, C1
    (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD),   # Cf
    (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),  # + Zl, Zp
    (0xD800, 0xDFFF),                                               # Cs
    (0xFDD0, 0xFDEF), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE007F),
    *((plane + 0xFFFE, plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000)),
)
_CONTROL_PICTURES = {i: chr(0x2400 + i) for i in range(0x20)} | {0x7F: "\u2421"}


def placeholder(char: str) -> str:
    """How one inert character is shown: a control picture (␛) or ``⟨U+202E⟩``."""
    code = ord(char)
    return _CONTROL_PICTURES.get(code) or f"\u27e8U+{code:04X}\u27e9"


_SHOWN = {chr(code): placeholder(chr(code))
          for low, high in INERT_RANGES for code in range(low, high + 1)}
# The BMP part of the class compiles to one bitmap lookup per character; listing the
# astral ranges too would add a range test per character (ASCII lines got 70 %
# slower), so the astral planes match as two wide ranges and _picture gives back the
# characters there that are text unchanged. The ranges leave out U+1F000-1FFFD, where
# the emoji are, so a line of emoji does not call _picture once per emoji.
_CONTROLS = re.compile("[" + "".join(
    re.escape(chr(low)) + ("" if high == low else "-" + re.escape(chr(high)))
    for low, high in INERT_RANGES if high <= 0xFFFF)
    + "\U00010000-\U0001EFFF\U0001FFFE-\U0010FFFF]")


_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _picture(match: re.Match[str]) -> str:
    char = match.group()
    return _SHOWN.get(char, char)


def _inert(text: str) -> str:
    """Every inert character shown; most lines are ASCII and take the small class."""
    return (_ASCII_CONTROLS if text.isascii() else _CONTROLS).sub(_picture, text)


def _decode(raw: str | bytes | None) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bytes | bytearray | memoryview):
        return bytes(raw).decode("utf-8", errors="replace")
    return raw


def _cap(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[: max_chars - 1] + ELLIPSIS


def clean(raw: str | bytes | None, max_chars: int = DEFAULT_FIELD_CHARS) -> str:
    """A single-line field (name, label, image, env value): no escapes, no newlines."""
    text = _decode(raw)[: max_chars * 4]
    text = _ESCAPES.sub("", text)
    text = _inert(text.replace("\t", " ").replace("\n", "\u2424"))
    return _cap(text, max_chars)


def clean_block(raw: str | bytes | None, max_chars: int = DEFAULT_BLOCK_CHARS) -> str:
    """Multi-line output (health check output, remote stderr): newlines and tabs kept."""
    text = _decode(raw)[: max_chars * 4]
    text = _ESCAPES.sub("", text.replace("\r\n", "\n"))
    text = _inert(text.expandtabs(4))
    return _cap(text, max_chars)


@dataclass(frozen=True)
class StyleSpan:
    """A run of characters that carried SGR parameters (e.g. ``(1, 31)``) in the source."""

    start: int
    end: int
    sgr: tuple[int, ...]


@dataclass(frozen=True)
class SanitizedLine:
    """One log line made safe: plain text plus the colour it asked for."""

    text: str
    spans: tuple[StyleSpan, ...] = ()
    truncated: bool = False


def _sgr_params(raw: str) -> tuple[int, ...]:
    params: list[int] = []
    for part in raw.replace(":", ";").split(";"):
        if part.isdigit():
            params.append(min(int(part), 255))
        elif part == "":
            params.append(0)
    return tuple(params) or (0,)


def sanitize_line(raw: str | bytes, max_chars: int = DEFAULT_LINE_CHARS) -> SanitizedLine:
    """One log line: SGR colour becomes spans, everything else is stripped or shown inert.

    Work is bounded by ``max_chars``: a 1 MB line without newline costs no more than
    a line of ``max_chars`` characters, so one hostile container cannot freeze the pane.
    """
    text = _decode(raw if len(raw) <= max_chars * 4 else raw[: max_chars * 4])
    truncated = len(raw) > max_chars * 4
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    out: list[str] = []
    spans: list[StyleSpan] = []
    length = 0
    current: tuple[int, ...] = ()
    span_start = 0
    position = 0
    for match in _SGR.finditer(text):
        chunk = _plain(text[position : match.start()])
        out.append(chunk)
        length += len(chunk)
        params = _sgr_params(match.group(1) if match.group(1) is not None else match.group(2))
        if current and length > span_start:
            spans.append(StyleSpan(span_start, length, current))
        current = () if params == (0,) else current + params
        span_start = length
        position = match.end()
    tail = _plain(text[position:])
    out.append(tail)
    length += len(tail)
    if current and length > span_start:
        spans.append(StyleSpan(span_start, length, current))
    line = "".join(out)
    if len(line) > max_chars:
        line = line[: max_chars - 1] + ELLIPSIS
        truncated = True
        spans = [StyleSpan(s.start, min(s.end, max_chars - 1), s.sgr)
                 for s in spans if s.start < max_chars - 1]
    elif truncated:
        line += ELLIPSIS
    return SanitizedLine(line, tuple(spans), truncated)


def _plain(segment: str) -> str:
    segment = _ESCAPES.sub("", segment)
    return _inert(segment.expandtabs(4))
