"""What the dashboard's memory is made of, minute one of ``bench/soak.py``: headless.

The real ``OpsuiApp`` (production wiring) runs under Textual's ``run_test`` against a
second dockerd of its own while the soak's churn runs, so its own process can be looked
into: every ``--interval`` seconds RSS, glibc's heap (``mallinfo2``: in use, free in the
arenas, mmapped), Python's allocated blocks, gc-tracked objects, modules imported and
threads. With ``--tracemalloc`` the allocations alive at the end of the first minute that
were not alive when the table was first drawn are listed by where they were made, and
those alive at the end that were not at the first minute.
``--trim`` calls ``malloc_trim(0)`` after each sample; ``--gc`` prints the pause of every
full collection (and what it freed); ``--follow`` opens the log pane on the chatty
container once the table is drawn; ``--garbage`` lists the cyclic garbage left at the
end by type. Needs the test bed (scripts/testbed/up.sh) and root:

    .venv/bin/python bench/soak_probe.py [--seconds 90] [--interval 5] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import os
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.helpers import load_testbed
from integration.soak_loop import Churn
from soak import own_engine

from opsui.config import Config, HostConfig
from opsui.ui.app import OpsuiApp
from opsui.ui.widgets.container_table import ContainerTable
from opsui.wiring import build_gate, build_monitor_factory


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]


def _libc() -> Any:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


LIBC = _libc()


def heap() -> str:
    """glibc's view: bytes in use, free inside arenas, mmapped (all arenas)."""
    if LIBC is None or not hasattr(LIBC, "mallinfo2"):
        return ""
    LIBC.mallinfo2.restype = _MallInfo2
    info = LIBC.mallinfo2()
    return (f"malloc used {info.uordblks / 1e6:5.1f} free {info.fordblks / 1e6:5.1f} "
            f"mmap {info.hblkhd / 1e6:5.1f} MB")


def line(start: float, events: int) -> str:
    me = psutil.Process()
    return (f"{time.monotonic() - start:6.1f} s  RSS {me.memory_info().rss / 1e6:6.1f} MB  "
            f"{heap()}  blocks {sys.getallocatedblocks():7d}  gc objects "
            f"{len(gc.get_objects()):6d}  modules {len(sys.modules):4d}  threads "
            f"{threading.active_count():3d}  events {events}")


class Pauses:
    """Every full collection's pause (gc callbacks), printed when ``verbose``: wall time
    (what the event loop waits; a loaded machine stretches it) and the collecting
    thread's CPU time (the work itself)."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.full: list[float] = []
        self.cpu: list[float] = []
        self._began = (0.0, 0.0)
        gc.callbacks.append(self._heard)

    def _heard(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._began = (time.perf_counter(), time.thread_time())
            return
        pause = (time.perf_counter() - self._began[0]) * 1000
        cpu = (time.thread_time() - self._began[1]) * 1000
        self.full.append(pause)
        self.cpu.append(cpu)
        if self.verbose:
            print(f"  full collection {pause:.1f} ms ({cpu:.1f} ms CPU), "
                  f"{info.get('collected')} collected", flush=True)


def top_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, count: int) -> None:
    """The allocations alive now and not then, by the line that made them."""
    for stat in after.compare_to(before, "lineno")[:count]:
        frame = stat.traceback[0]
        where = frame.filename.split("site-packages/")[-1].replace("/work/main/", "")
        print(f"  {stat.size_diff / 1024:+8.1f} KiB {stat.count_diff:+6d} blocks  "
              f"{where}:{frame.lineno}")


def print_garbage(count: int) -> None:
    """What the next full collection would free, by type: the cyclic garbage made since
    the last one (reference counting alone could not free it)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    gc.set_debug(0)
    kinds = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    print(f"unreachable: {len(gc.garbage)} objects")
    for kind, number in kinds.most_common(count):
        print(f"  {number:7d}  {kind}")
    gc.garbage.clear()


async def probe(args: argparse.Namespace, url: str, image: str) -> None:
    host = HostConfig("soak", docker_host=url)
    config = Config(hosts=(host,))
    gate = build_gate(config, [host], read_only=False)
    app = OpsuiApp(config, gate, build_monitor_factory(config, gate, [host], ui=True),
                   theme_dir=Path("/nonexistent"))
    churn = Churn(url, image)
    pauses = Pauses(args.gc)
    start = time.monotonic()
    try:
        async with app.run_test(size=(200, 50)) as pilot:
            def shown() -> bool:
                try:
                    table = app.screen.query_one(ContainerTable)
                except Exception:  # the dashboard is not up yet
                    return False
                return any(churn.chatty in str(cell) for i in range(table.row_count)
                           for cell in table.get_row_at(i))
            while not shown():
                await pilot.pause(0.1)
            print(f"table drawn after {time.monotonic() - start:.1f} s", flush=True)
            start = time.monotonic()
            first = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
            churn.start()
            if args.follow:
                await pilot.press("/", *churn.chatty, "enter", "l")
            minute: tracemalloc.Snapshot | None = None
            while (elapsed := time.monotonic() - start) < args.seconds:
                print(line(start, churn.events), flush=True)
                if args.trim and LIBC is not None:
                    LIBC.malloc_trim(0)
                if first is not None and minute is None and elapsed >= 60:
                    minute = tracemalloc.take_snapshot()
                await pilot.pause(args.interval)
            print(line(start, churn.events), flush=True)
            if args.garbage:
                print_garbage(args.top)
            if first is not None and minute is not None:
                print("alive at 1 min and not when the table was drawn:")
                top_growth(first, minute, args.top)
                gc.collect()
                print("alive at the end and not at 1 min (after a full collection):")
                top_growth(minute, tracemalloc.take_snapshot(), args.top)
    finally:
        churn.stop()
    if pauses.full:
        wall, cpu = sorted(pauses.full), sorted(pauses.cpu)
        print(f"full collections: {len(wall)}, pause median {wall[len(wall) // 2]:.1f} ms "
              f"(max {wall[-1]:.1f}), CPU median {cpu[len(cpu) // 2]:.1f} ms "
              f"(max {cpu[-1]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--trim", action="store_true", help="malloc_trim(0) after samples")
    parser.add_argument("--gc", action="store_true", help="print each full collection")
    parser.add_argument("--garbage", action="store_true",
                        help="at the end: the cyclic garbage left, by type")
    parser.add_argument("--follow", action="store_true",
                        help="the log pane follows the chatty container")
    args = parser.parse_args()
    testbed = load_testbed()
    if testbed is None:
        raise SystemExit("no test bed: run scripts/testbed/up.sh first")
    if args.tracemalloc:
        tracemalloc.start(1)
    with own_engine(testbed) as (url, image):
        print(f"opsui {os.popen('git rev-parse --short HEAD').read().strip()}, load "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        asyncio.run(probe(args, url, image))


if __name__ == "__main__":
    main()
