"""The one sanitiser: hostile text from containers must come out inert."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest

from opsui.domain.sanitize import clean, clean_block, sanitize_line

HOSTILE = {
    "osc title": "\x1b]0;owned\x07",
    "osc title st": "\x1b]2;owned\x1b\\",
    "osc 52 clipboard": "\x1b]52;c;cm0gLXJmIC8=\x07",
    "osc 8 hyperlink": "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "csi clear": "\x1b[2J\x1b[H",
    "csi 8bit": "\x9b2J",
    "osc 8bit": "\x9d0;owned\x9c",
    "dcs": "\x1bPq#0;2;0;0;0#1;2;100;100;0\x1b\\",
    "reset": "\x1bc",
    "save cursor": "\x1b7",
    "charset": "\x1b(0",
    "bell": "\x07",
    "unterminated osc": "\x1b]0;never ends",
    "unterminated csi": "\x1b[",
    "apc": "\x1b_payload\x1b\\",
}


def _assert_inert(text: str) -> None:
    assert "\x1b" not in text
    assert not any(0x80 <= ord(ch) <= 0x9F for ch in text), repr(text)
    assert not any(ord(ch) < 0x20 and ch not in "\n" for ch in text), repr(text)
    assert "\x7f" not in text


@pytest.mark.parametrize("payload", HOSTILE.values(), ids=HOSTILE.keys())
def test_every_escape_is_removed_from_fields_blocks_and_lines(payload: str) -> None:
    for text in (clean("a" + payload + "b"), clean_block("a" + payload + "b"),
                 sanitize_line(("a" + payload + "b").encode()).text):
        _assert_inert(text)
        assert text.startswith("a")


def test_osc8_link_text_survives_but_link_does_not() -> None:
    assert clean(HOSTILE["osc 8 hyperlink"]) == "click"


def test_markup_like_text_is_left_literal_for_the_ui_to_show_as_data() -> None:
    for text in ("[bold]x", "[/usr/bin]", "[@click=app.quit]q", "[$accent]"):
        assert clean(text) == text


def test_carriage_return_cannot_hide_text() -> None:
    assert clean("visible\rFAKE") == "visible\u240dFAKE"
    assert "visible" in sanitize_line(b"visible\rFAKE\n").text


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert clean(b"ok\xff\xfeend") == "ok\ufffd\ufffdend"


def test_fields_are_single_line_and_capped() -> None:
    assert "\n" not in clean("one\ntwo")
    capped = clean("x" * 10_000, max_chars=100)
    assert len(capped) == 100 and capped.endswith("…")


def test_blocks_keep_newlines() -> None:
    assert clean_block("line1\r\nline2\n") == "line1\nline2\n"


def test_sgr_colour_becomes_spans_not_bytes() -> None:
    line = sanitize_line(b"\x1b[1;31mERROR\x1b[0m done")
    assert line.text == "ERROR done"
    assert len(line.spans) == 1
    assert (line.spans[0].start, line.spans[0].end, line.spans[0].sgr) == (0, 5, (1, 31))


def test_megabyte_line_without_newline_is_capped() -> None:
    line = sanitize_line(b"A" * 1_000_000, max_chars=4096)
    assert len(line.text) == 4096 and line.truncated


def test_megabyte_of_escapes_is_capped_and_inert() -> None:
    line = sanitize_line(b"\x1b]0;x\x07" * 200_000, max_chars=4096)
    _assert_inert(line.text)


# --- Unicode controls (issue 11): generated over every code point ------------------

# Characters that start an escape sequence: removed with what follows, tested above.
_INTRODUCERS = {0x1B, 0x90, 0x98, 0x9B, 0x9D, 0x9E, 0x9F}


def _is_control(code: int) -> bool:
    """The rule, written from Unicode's own tables rather than from the module's list."""
    return (unicodedata.category(chr(code)) in {"Cc", "Cf", "Zl", "Zp", "Cs"}
            or 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE
            or 0xE0000 <= code <= 0xE007F  # the whole tag block
            or 0x13430 <= code <= 0x1343F)  # Egyptian format controls (Cf in Unicode 15)


def _shown(code: int) -> str:
    """How a control must look: a control picture for C0 and DEL, else ⟨U+XXXX⟩."""
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"\u27e8U+{code:04X}\u27e9"


def _assert_each_code_point(sanitise: Callable[[str], str], codes: list[int],
                            expect: Callable[[int], str]) -> None:
    """Run ``codes`` through in one string; on a mismatch, name the first code point."""
    got = sanitise("".join(map(chr, codes)))
    if got == "".join(map(expect, codes)):
        return
    position = 0
    for code in codes:
        want = expect(code)
        if got[position:position + len(want)] != want:
            raise AssertionError(f"U+{code:04X} came out as "
                                 f"{got[position:position + len(want)]!r}, not {want!r}")
        position += len(want)
    raise AssertionError("output longer than expected")


_EVERY_CODE_POINT = [code for code in range(0x110000)
                     if code not in _INTRODUCERS and chr(code) not in "\t\n"]
_SANITISERS: dict[str, Callable[[str], str]] = {
    "clean": lambda text: clean(text, max_chars=10**7),
    "clean_block": lambda text: clean_block(text, max_chars=10**7),
    "sanitize_line": lambda text: sanitize_line(text, max_chars=10**7).text,
}


@pytest.mark.parametrize("name", _SANITISERS)
def test_every_code_point_is_kept_as_text_or_shown_as_an_inert_control(name: str) -> None:
    """Cc, Cf, Zl, Zp, surrogates, noncharacters and tags are shown; nothing else changes."""
    _assert_each_code_point(_SANITISERS[name], _EVERY_CODE_POINT,
                            lambda code: _shown(code) if _is_control(code) else chr(code))


@pytest.mark.parametrize("name", _SANITISERS)
def test_every_control_alone_between_text_is_inert(name: str) -> None:
    controls = [code for code in range(0x110000) if _is_control(code)]
    for code in controls:
        text = _SANITISERS[name]("a" + chr(code) + "b")
        # An introducer takes what follows with it (an escape sequence); others stay put.
        assert text.startswith("a") and (code in _INTRODUCERS or text.endswith("b"))
        assert not any(_is_control(ord(ch)) for ch in text if ch != "\n"), \
            f"U+{code:04X} -> {text!r}"
        text.encode()  # a lone surrogate must not crash `opsui logs` on the way out


def test_every_byte_is_inert_and_every_c1_control_is_shown_by_its_code_point() -> None:
    # A newline never reaches sanitize_line inside a line: the reader splits on it.
    for raw in ([bytes([b]) for b in range(256) if b != 0x0A]
                + [chr(c).encode() for c in range(0x80, 0xA0)]):
        text = sanitize_line(b"a" + raw + b"b\n").text
        assert text.startswith("a"), (raw, text)
        assert not any(_is_control(ord(ch)) for ch in text), (raw, text)
    for code in set(range(0x80, 0xA0)) - _INTRODUCERS:  # NEL, ST...: not U+FFFD, the code
        assert sanitize_line(b"a" + chr(code).encode() + b"b").text == f"a{_shown(code)}b"


def test_bidi_override_cannot_reorder_what_the_operator_reads() -> None:
    assert clean("invoice\u202etxt.exe") == "invoice\u27e8U+202E\u27e9txt.exe"
    assert clean("\u2067isolate\u2069") == "\u27e8U+2067\u27e9isolate\u27e8U+2069\u27e9"


def test_zero_width_characters_cannot_make_two_names_look_the_same() -> None:
    assert clean("adm\u200bin") == "adm\u27e8U+200B\u27e9in"
    assert clean("\ufeffstart") == "\u27e8U+FEFF\u27e9start"


def test_emoji_combining_marks_and_rtl_text_stay_only_the_joiner_is_shown() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean(family) == "\U0001f468\u27e8U+200D\u27e9\U0001f469\u27e8U+200D\u27e9\U0001f467"
    for text in ("\u2764\ufe0f", "\U0001f44d\U0001f3fd", "\U0001f1eb\U0001f1f7",  # VS16, tone, flag
                 "e\u0301te\u0301", "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627",
                 "\u0928\u092e\u0938\u094d\u0924\u0947", "\ue0a0 main"):  # marks, RTL, icon font
        assert clean(text) == text


def test_colour_spans_follow_the_text_when_a_control_is_widened() -> None:
    line = sanitize_line("\u202e\x1b[31mRED\x1b[0m".encode())
    assert line.text == "\u27e8U+202E\u27e9RED"
    assert [(s.start, s.end) for s in line.spans] == [(8, 11)]
