"""Garbage collection for a dashboard left open all night: rare, but never never.

A full collection walks every tracked object. During a log firehose the pane's line
caches churn through the oldest generation and full collections came every few
seconds, each 30-250 ms with the event loop stopped: the slowest key presses. So what
start-up built (Textual's DOM, styles) is frozen out of collection, and full
collections are triggered a hundred times less often by allocation counts.

But Textual's render objects are cyclic: a ``Strip`` keeps itself in its own
``adjust_cell_length``/``crop`` caches, and the table's rows, cells and line caches hold
such strips long enough to reach the oldest generation. Only a full collection frees
them. With full collections left to allocation counts alone, a dashboard under
container churn (every event redraws rows) piled them up: about 15 000 unreachable
objects every 15 s, RSS +200 KB per container event, without end (issue 16). So a
full collection also runs on a clock, at most ``FULL_COLLECTION_SECONDS`` (30 s) after the last
one: the garbage is bounded by what half a minute of redraws makes, and the pause (tens of
milliseconds for the non-frozen objects) comes twice a minute, not every few seconds.
After it, the C allocator gives the pages it freed back (see :mod:`.malloc_tuning`).
Since :mod:`.strip_cycles` the strips themselves are freed by reference counting (the
log pane made ~7 000 cyclic objects a second before it); the timed collection stays for
what else is cyclic.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

from opsui.ui import malloc_tuning

FULL_COLLECTION_EVERY = 1000
"""Young collections between full ones (Python's default: 10)."""

FULL_COLLECTION_SECONDS = 30.0
"""A full collection runs at least this often (see the module's docstring)."""


class FullCollections:
    """Knows when the last full collection ran, by gc's callbacks, and runs one when the
    last is older than ``every`` seconds. Call :meth:`tick` from a timer."""

    def __init__(self, every: float = FULL_COLLECTION_SECONDS) -> None:
        self.every = every
        self.last = time.monotonic()
        gc.callbacks.append(self._heard)

    def _heard(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation") == 2:
            self.last = time.monotonic()

    def tick(self) -> None:
        """A full collection, unless one ran recently (a firehose triggers its own)."""
        if time.monotonic() - self.last >= self.every:
            gc.collect()
            malloc_tuning.trim()

    def close(self) -> None:
        if self._heard in gc.callbacks:
            gc.callbacks.remove(self._heard)


def tune_garbage_collection() -> None:
    """Freeze what start-up built and make count-triggered full collections rare
    (``OPSUI_GC_DEFAULTS=1`` leaves Python's defaults, for comparison)."""
    if os.environ.get("OPSUI_GC_DEFAULTS"):
        return
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
