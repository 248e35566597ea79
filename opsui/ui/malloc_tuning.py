"""glibc's allocator for a dashboard left open all night: fewer arenas, freed pages given back.

Measured under the soak's container churn (issue 16, bench/RESULTS.md "Soak"): every
thread that allocates gets a malloc arena of its own, up to 8 per core, and the stats
pool alone has up to 16 threads; memory freed in those arenas stays in the process
(``mallinfo2`` free: ~4.5 MB at rest, ~1 MB with two arenas), so RSS holds the high-water
mark of every burst. Two arenas and a ``malloc_trim`` after each timed full collection
(0.2 ms) keep RSS 2-3 MB lower, the same live data. The cap only works before threads
have made their arenas (glibc fixes the limit once 8 exist), so the dashboard's entry
sets it first thing. Only on Linux with glibc; elsewhere (musl, macOS, Windows) both are
no-ops, and ``OPSUI_MALLOC_DEFAULTS=1`` leaves glibc as it is, for comparison.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from typing import Any

log = logging.getLogger(__name__)

MALLOC_ARENAS = 2
"""Arenas glibc may create (its default: 8 per core)."""
_M_ARENA_MAX = -8
"""mallopt's parameter number for the arena limit (malloc.h)."""


def _glibc() -> Any:
    if not sys.platform.startswith("linux") or os.environ.get("OPSUI_MALLOC_DEFAULTS"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


_LIBC = _glibc()


def limit_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap the arenas glibc creates from now on: call it before starting threads (those
    started before keep theirs). True when the C library took it."""
    if _LIBC is None:
        return False
    taken = bool(_LIBC.mallopt(_M_ARENA_MAX, arenas))
    if not taken:
        log.debug("mallopt(M_ARENA_MAX, %d) refused", arenas)
    return taken


def trim() -> bool:
    """Give free pages of every arena back to the system; True when some were."""
    return bool(_LIBC.malloc_trim(0)) if _LIBC is not None else False
