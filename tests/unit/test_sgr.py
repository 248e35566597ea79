"""SGR numbers kept by the sanitiser become Rich styles; source colours stay apart."""

from __future__ import annotations

from rich.color import Color
from textual.theme import BUILTIN_THEMES

from opsui.ui.log_styles import LogStyles, source_hue
from opsui.ui.sgr import sgr_style


def test_basic_colours_and_emphasis() -> None:
    style = sgr_style((1, 31))
    assert style.bold and style.color == Color.from_ansi(1)
    assert sgr_style((42,)).bgcolor == Color.from_ansi(2)
    assert sgr_style((91,)).color == Color.from_ansi(9)


def test_reset_and_later_parameters_win() -> None:
    assert sgr_style((1, 31, 0)).color is None and not sgr_style((1, 31, 0)).bold
    assert sgr_style((31, 32)).color == Color.from_ansi(2)
    assert sgr_style((1, 22)).bold is False


def test_256_and_true_colour() -> None:
    assert sgr_style((38, 5, 208)).color == Color.from_ansi(208)
    assert sgr_style((48, 2, 10, 20, 30)).bgcolor == Color.from_rgb(10, 20, 30)
    assert sgr_style((38, 5)).color is None  # truncated: ignored, not a crash


def test_blink_and_conceal_are_not_honoured() -> None:
    style = sgr_style((5, 8))
    assert not style.blink and not style.conceal


def test_source_colours_are_stable_and_distinct_in_one_view() -> None:
    styles = LogStyles.from_theme(BUILTIN_THEMES["textual-dark"])
    assert source_hue("web-1", 12) == source_hue("web-1", 12)
    names = [f"svc-{i}" for i in range(12)]
    chosen = styles.assign(names)
    assert len({style.color for style in chosen.values()}) == 12
    assert styles.assign(["web-1"])["web-1"] == styles.source("web-1")
