"""The one sanitiser: hostile text from containers must come out inert."""

from __future__ import annotations

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
