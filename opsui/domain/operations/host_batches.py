"""Hosts released N at a time (``[apps.NAME] hosts_at_once = N``): batches in order.

A multi-host release goes through its hosts in batches of N, the hosts of one batch
at the same time (each its own release, gate and journal); the first batch in which
a host fails stops it: the other hosts of that batch finish what they started (a
release half done is worse than one done and then returned), the batches after it
never start. Kept apart from the release itself so the order and the stop are plain
to read and to test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Batched(Generic[T, R]):
    """How a batched run went: what ran (in the items' order) and what never started."""

    ran: tuple[tuple[T, R], ...]
    not_started: tuple[T, ...]
    failed: tuple[T, ...]
    """The items of the stopping batch that failed (empty: every batch went through)."""


def batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` in consecutive groups of ``size`` (the last may be shorter)."""
    step = max(1, size)
    return [items[i:i + step] for i in range(0, len(items), step)]


def run_in_batches(items: Sequence[T], size: int, one: Callable[[T], R],
                   ok: Callable[[R], bool]) -> Batched[T, R]:
    """``one`` on every item, ``size`` at a time (each batch waits for the one before
    it), stopping after the first batch with a result that is not ``ok``. A batch of
    one runs on the caller's thread, as a host-by-host release always has."""
    ran: list[tuple[T, R]] = []
    groups = batches(items, size)
    for index, group in enumerate(groups):
        if len(group) == 1:
            results = [one(group[0])]
        else:
            with ThreadPoolExecutor(len(group), thread_name_prefix="opsui-hosts") as pool:
                results = list(pool.map(one, group))
        ran.extend(zip(group, results, strict=True))
        failed = tuple(item for item, result in zip(group, results, strict=True)
                       if not ok(result))
        if failed:
            rest = tuple(item for later in groups[index + 1:] for item in later)
            return Batched(tuple(ran), rest, failed)
    return Batched(tuple(ran), (), ())
