"""Key echo while following 2,000 lines/s without Docker: opsui's log screen over a fake feed.

For when the engine cannot start the producer (bench/logs.py needs it), and to compare
source trees of opsui on the same load: each ``NAME=SRC`` runs the log screen of that
tree (tests/fakes' LogsApp, opsui's garbage-collection tuning as the app has it) in tmux
at 200x50, a thread filling its buffer at ``--rate`` lines/s; ``/`` opens the search
box, then ``--keys`` keys are typed 50 ms apart, each timed from ``tmux send-keys``
until the screen shows it (as bench/logs.py reads opsui). Trees rotate per round.
Prints p50/p99/max, CPU of the process over its typing window and its RSS.

    .venv/bin/python bench/logs_fake_keys.py before=/tmp/tree-a after=/tmp/tree-b
        [--rounds 3] [--keys 40] [--rate 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

from tui_harness import (
    CpuWindow,
    Tool,
    launch,
    load_average,
    quit_program,
    rotated,
    send_literal,
    tree_rss_mb,
    wait_screen,
)

TESTS = Path(__file__).resolve().parents[1] / "tests"
LINE = "2026-11-23 INFO request handled path=/api/items status=200 duration_ms=12"
TOKEN = "0123456789abcdef" * 4


def run_app(rate: int) -> None:
    """The program under test (``--app``): the log screen over a feed filled at ``rate``."""
    sys.path.insert(0, str(TESTS))
    from opsui.ui.gc_tuning import FullCollections, tune_garbage_collection

    from fakes.logs import FakeFeed, LogsApp

    try:  # as OpsuiApp.on_load does; a tree from before it has none
        from opsui.ui.strip_cycles import break_strip_cycles
    except ImportError:
        pass
    else:
        break_strip_cycles()

    feed = FakeFeed(capacity=200_000)
    feed.add(*(f"{LINE} n=-{i}" for i in range(1000)))

    def fill() -> None:
        started, sent = time.monotonic(), 0
        while True:
            due = int((time.monotonic() - started) * rate)
            if due > sent:
                feed.add(*(f"{LINE} n={sent + i}" for i in range(due - sent)))
                sent = due
            time.sleep(0.01)  # a reader thread's pace; what is due is caught up

    class App(LogsApp):
        def on_mount(self) -> None:
            super().on_mount()
            self.call_after_refresh(tune_garbage_collection)
            self.set_interval(5, FullCollections().tick)

    threading.Thread(target=fill, daemon=True).start()
    App(feed).run()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", metavar="NAME=SRC")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--app", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.app:
        run_app(options.rate)
        return 0
    import logs as bench  # the screen readers of bench/logs.py

    trees = dict(spec.split("=", 1) for spec in options.trees) or {"checkout": ""}
    print(f"load average at the start: {load_average()}", flush=True)
    latencies: dict[str, list[float]] = {name: [] for name in trees}
    usage: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    argv = [sys.executable, __file__, "--app", "--rate", str(options.rate)]
    for turn in range(options.rounds):
        for name in rotated(list(trees), turn):
            env = {"PYTHONPATH": trees[name]} if trees[name] else {}
            term = launch(Tool(name, argv, lambda _: True, env), cwd=str(TESTS.parent))
            try:
                shown = bench.follow_in_opsui(term)
                time.sleep(3.0)  # following in its stride, past the first screenful
                window = CpuWindow(term.pane_pid())
                for count in range(1, options.keys + 1):
                    started = time.perf_counter()
                    send_literal(term, TOKEN[count - 1])
                    latencies[name].append(1000 * wait_screen(
                        term, bench.echoed(shown, TOKEN[:count]), f"{name} echoing",
                        timeout=10, since=started))
                    time.sleep(0.05)  # a typist's pace
                usage[name].append((window.percent(), tree_rss_mb(window.pid)))
            finally:
                quit_program(term, first=["esc"])
    for name in trees:
        values = sorted(latencies[name])
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(f"{name}: {len(values)} keys: p50 {statistics.median(values):.0f} ms, p99 "
              f"{p99:.0f} ms, max {values[-1]:.0f} ms; CPU "
              f"{statistics.median(c for c, _ in usage[name]):.1f}% (median of rounds), RSS "
              f"{max(r for _, r in usage[name]):.0f} MB")
    print(f"load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
