"""Textual's strips without reference cycles, so reference counting frees them.

Every frame, Textual's compositor crops each visible line with ``Strip.crop_extend``, and
a strip already as wide as the region comes back as itself: Textual then stores the strip
in its *own* ``_crop_extend_cache`` (likewise ``divide`` stores ``[self]`` when there is
nothing to cut). A strip that holds itself is a reference cycle, so it and its seven
caches and its segments outlive the frame until a full garbage collection. While the log
pane followed a chatty container (20 lines a second) that was ~7 000 objects a second:
150 000-200 000 between two of opsui's timed full collections (:mod:`.gc_tuning`), each
of those collections a 300-400 ms pause of the event loop, and RSS 36 MB higher
(issue 16's soak, run B).

:func:`break_strip_cycles` wraps the two methods so that the identity result is returned
without being cached: the answer is the same (the strip itself, found as fast as the
cache would find it), and the strip is freed when the frame lets go of it. Other results
are still cached by Textual exactly as before. The wrapper checks the version's
behaviour it relies on once (:func:`_identity_is_cached`) and leaves Textual alone if a
later release changed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.style import Style
from textual.strip import Strip

_PATCHED = "_opsui_no_self_cycles"


def break_strip_cycles() -> bool:
    """Wrap ``Strip.crop_extend`` and ``Strip.divide`` (once per process); True when
    they are wrapped."""
    if getattr(Strip, _PATCHED, False):
        return True
    if not _identity_is_cached():
        return False
    crop_extend, divide = Strip.crop_extend, Strip.divide

    def crop_extend_uncycled(self: Strip, start: int, end: int,
                             style: Style | None) -> Strip:
        if start <= 0 and end == self.cell_length:
            return self  # what Textual returns here too, without caching self in self
        return crop_extend(self, start, end, style)

    def divide_uncycled(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
        cuts = list(cuts)
        if [cut for cut in cuts if cut <= self.cell_length] == [self.cell_length]:
            return [self]
        return divide(self, cuts)

    Strip.crop_extend = crop_extend_uncycled  # type: ignore[method-assign]
    Strip.divide = divide_uncycled  # type: ignore[method-assign]
    setattr(Strip, _PATCHED, True)
    return True


def _identity_is_cached() -> bool:
    """Whether this Textual still returns a strip itself from ``crop_extend`` and keeps it
    in its own cache (the cycle the wrapper removes)."""
    strip = Strip.blank(4)
    try:
        same = strip.crop_extend(0, 4, None)
        kept: Any = strip._crop_extend_cache.get((0, 4, None))
    except Exception:  # a Textual whose Strip looks different: leave it alone
        return False
    return same is strip and kept is strip
