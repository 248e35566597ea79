"""Strips that Textual draws are freed by reference counting, not by a full collection.

Textual's ``Strip.crop_extend`` and ``Strip.divide`` cache a strip in itself when the
result is the strip itself: a cycle per line per frame, freed only by a full garbage
collection (300-400 ms pauses and +36 MB while a log pane followed a chatty container,
issue 16). :func:`opsui.ui.strip_cycles.break_strip_cycles` keeps the answers and drops
the cycles.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from ui.helpers import unreachable_strips

from opsui.ui.strip_cycles import break_strip_cycles


@pytest.fixture
def no_automatic_collection() -> Iterator[Callable[[], int]]:
    """Collections only when the test asks; the counter tells how many strips the next
    collection finds unreachable (what reference counting could not free)."""
    gc.collect()
    gc.disable()
    try:
        yield unreachable_strips
    finally:
        gc.enable()


def _draw_like_the_compositor(width: int) -> None:
    strip = Strip([Segment("x" * width, Style(bold=True))])
    assert strip.crop_extend(0, width, None) is strip
    assert list(strip.divide([width])) == [strip]


def test_a_line_drawn_at_its_own_width_leaves_no_garbage(
        no_automatic_collection: Callable[[], int]) -> None:
    assert break_strip_cycles()
    for width in range(1, 200):
        _draw_like_the_compositor(width)
    assert no_automatic_collection() == 0


def test_other_crops_are_what_textual_makes() -> None:
    break_strip_cycles()
    strip = Strip([Segment("hello "), Segment("world", Style(italic=True))])
    assert strip.crop_extend(0, 5, None).text == "hello"
    assert strip.crop_extend(6, 11, None).text == "world"
    assert strip.crop_extend(0, 14, None).text == "hello world   "
    assert strip.crop_extend(0, 14, None) is strip.crop_extend(0, 14, None)  # still cached
    assert [s.text for s in strip.divide(iter([5, 11]))] == ["hello", " world"]
    assert [s.text for s in strip.divide([11])] == ["hello world"]
