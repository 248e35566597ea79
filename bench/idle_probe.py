"""Where the dashboard's idle CPU goes: the real app headless, 100 running containers.

Issue 14 asks for idle CPU <= 1 % of a core. ``bench/dashboard.py`` measures it from the
outside (a tmux, the process tree); this probe looks inside. It starts ``--containers``
labelled containers (removed at the end) on the test bed's engine, or with
``--own-engine`` on a second dockerd of its own (other engineers' containers on the
shared engine are not idle), runs the real ``OpsuiApp`` (production wiring, local
host) under Textual's ``run_test`` at 200x50, waits for the table to hold them, lets
it settle ``--settle`` s, and over ``--seconds``:

  * the process's own CPU time (``psutil`` ``cpu_times``: what load does not inflate),
    its ended subprocesses', and each thread's, by name (the event loop against the
    monitors' threads); the garbage collector's share, by generation;
  * how often the screen was composed and written (``App._display``), how often a
    widget asked to be repainted, by widget class, and which table cells were written
    (with examples);
  * with ``--profile FILE``: a cProfile of the event loop's thread, the 40 costliest
    calls printed and the whole written to FILE (``python -m pstats FILE``).

``--metrics-seconds`` / ``--stats-seconds`` set those paces (e.g. 3600: off after the
first round) to see a feed's share of the total. ``--ssh`` reaches the test bed's
engine through its sshd instead (opsui's SSH host: dial-stdio, stats by one ``docker
stats`` on the host; with ``--own-engine``, through an sshd of its own in front of
that engine). Another tree (e.g. a ``git worktree`` of an older commit) is
measured with ``PYTHONPATH=TREE``. Run (test bed up):

    .venv/bin/python bench/idle_probe.py --own-engine|--ssh [--containers 100]
        [--seconds 60] [--settle 10] [--profile /tmp/idle.prof] [--stats-seconds 3600]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import gc
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
from dashboard import IMAGE, LABEL, remove_containers
from rich.text import Text
from textual.app import App
from textual.widget import Widget

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.engine_sshd import EngineSshd
from integration.helpers import Testbed, load_testbed
from soak import own_engine

from opsui.config import Config, HostConfig
from opsui.ui.app import OpsuiApp
from opsui.ui.format import same_text
from opsui.ui.widgets.container_table import ContainerTable
from opsui.ui.widgets.live_table import LiveDataTable
from opsui.wiring import build_gate, build_monitor_factory


class Counts:
    """Frames written and repaint requests by widget class, while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.frames = 0
        self.refreshes: collections.Counter[str] = collections.Counter()
        self.cells: collections.Counter[str] = collections.Counter()
        self.examples: collections.defaultdict[str, list[str]] = collections.defaultdict(list)
        display = App._display
        refresh = Widget.refresh
        write = LiveDataTable.write_cells
        counts = self

        def counted_write(table: LiveDataTable, row: str, cells: Mapping[str, Text],
                          fitted: frozenset[str]) -> int:
            if counts.on:
                for column, cell in cells.items():
                    old = table.get_cell(row, column)
                    if not same_text(old, cell):
                        counts.cells[column] += 1
                        if len(counts.examples[column]) < 6:
                            counts.examples[column].append(
                                f"{old.plain!r}/{old.style} -> {cell.plain!r}/{cell.style}")
            return write(table, row, cells, fitted)

        def counted_display(app: App[Any], *args: Any, **kwargs: Any) -> Any:
            if counts.on:
                counts.frames += 1
            return display(app, *args, **kwargs)

        def counted_refresh(widget: Widget, *args: Any, **kwargs: Any) -> Any:
            if counts.on:
                counts.refreshes[type(widget).__name__] += 1
            return refresh(widget, *args, **kwargs)

        App._display = counted_display  # type: ignore[method-assign,assignment]
        Widget.refresh = counted_refresh  # type: ignore[method-assign,assignment]
        LiveDataTable.write_cells = counted_write  # type: ignore[method-assign,assignment]


ENDED: collections.defaultdict[str, float] = collections.defaultdict(float)
"""CPU seconds of threads that ended, by name (psutil sees only live ones)."""


def _short(name: str) -> str:
    return re.sub(r"-[0-9a-f]{12}$|[-_]\d+$", "-*", name)


def count_ended_threads() -> None:
    """Every thread adds its own CPU time to ENDED when its ``run`` returns."""
    run = threading.Thread.run

    def counted_run(thread: threading.Thread) -> None:
        try:
            run(thread)
        finally:
            ENDED[_short(thread.name)] += time.thread_time()

    threading.Thread.run = counted_run  # type: ignore[method-assign,assignment]


class Collections:
    """CPU seconds the garbage collector took, by generation, while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.seconds: collections.defaultdict[int, float] = collections.defaultdict(float)
        self.count: collections.Counter[int] = collections.Counter()
        self._began = 0.0
        gc.callbacks.append(self._heard)

    def _heard(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.thread_time()
        elif self.on:
            generation = int(info.get("generation", -1))
            self.seconds[generation] += time.thread_time() - self._began
            self.count[generation] += 1


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of the live threads, by name, numbered and per-container
    threads counted together (``opsui-stats-*``: one stats feed per row on screen)."""
    names = {t.native_id: _short(t.name) for t in threading.enumerate()}
    seconds: dict[str, float] = collections.defaultdict(float)
    for thread in psutil.Process().threads():
        seconds[names.get(thread.id, f"native-{thread.id}")] += (
            thread.user_time + thread.system_time)
    return seconds


def start_containers(count: int, prefix: str, image: str) -> None:
    """``count`` sleeping containers, 4 started at a time, in 5 compose projects."""
    def one(index: int) -> None:
        subprocess.run(
            ["docker", "run", "-d", "--name", f"{prefix}-{index:03d}", "--label", LABEL,
             "--label", f"com.docker.compose.project=bench{index % 5}",
             "--no-healthcheck", "--entrypoint", "/bin/sleep", image, "100000"],
            check=True, capture_output=True)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(count)))


def ssh_host(stack: contextlib.ExitStack, testbed: Testbed,
             url: str | None) -> tuple[HostConfig, dict[str, Any]]:
    """The engine at ``url`` (None: the test bed's) as an SSH host, with its ssh settings:
    opsui's dial-stdio channels and bulk ``docker stats`` on the host."""
    if url is None:
        return (HostConfig("bench", ssh=testbed.SSH_ALIAS),
                {"ssh_config": str(testbed.ssh_config),
                 "known_hosts": str(testbed.ssh_known_hosts)})
    folder = Path(tempfile.mkdtemp(prefix="opsui-idle-sshd-"))
    stack.callback(shutil.rmtree, folder, True)
    sshd = EngineSshd.start(testbed, url, folder)
    stack.callback(sshd.stop)
    return (HostConfig("bench", ssh=f"ssh://root@127.0.0.1:{sshd.port}"),
            {"ssh_config": str(folder / "ssh_config"),
             "known_hosts": str(folder / "known_hosts")})


async def probe(args: argparse.Namespace, host: HostConfig, settings: dict[str, Any]) -> None:
    paces = {key: value for key, value in (("metrics_seconds", args.metrics_seconds),
                                           ("stats_seconds", args.stats_seconds))
             if value is not None}
    config = Config(hosts=(host,), **paces, **settings)
    gate = build_gate(config, [host], read_only=False)
    app = OpsuiApp(config, gate, build_monitor_factory(config, gate, [host], ui=True),
                   theme_dir=Path("/nonexistent"))
    counts = Counts()
    count_ended_threads()
    collected = Collections()
    me = psutil.Process()
    async with app.run_test(size=(200, 50)) as pilot:
        def populated() -> bool:
            try:
                table = app.screen.query_one(ContainerTable)
            except Exception:  # the dashboard is not up yet
                return False
            return bool(table.row_count >= args.containers)
        while not populated():
            await pilot.pause(0.1)
        await pilot.pause(args.settle)
        profile = cProfile.Profile() if args.profile else None
        before, threads_before = me.cpu_times(), thread_cpu()
        ENDED.clear()
        start = time.monotonic()
        counts.on = collected.on = True
        if profile is not None:
            profile.enable()
        await pilot.pause(args.seconds)
        if profile is not None:
            profile.disable()
        counts.on = collected.on = False
        wall = time.monotonic() - start
        after, threads_after = me.cpu_times(), thread_cpu()
        ended = dict(ENDED)
    cpu = (after.user - before.user) + (after.system - before.system)
    children = (after.children_user - before.children_user
                + after.children_system - before.children_system)
    print(f"idle {wall:.0f} s: process CPU {cpu:.2f} s = {100 * cpu / wall:.2f} % of a core "
          f"(user {after.user - before.user:.2f}, system {after.system - before.system:.2f}); "
          f"its ended subprocesses {children:.2f} s = {100 * children / wall:.2f} %"
          f"{' (cProfile on: inflated)' if profile else ''}")
    for name in sorted(threads_after, key=lambda n: -(threads_after[n]
                                                       - threads_before.get(n, 0.0))):
        used = threads_after[name] - threads_before.get(name, 0.0)
        if used >= 0.005:
            print(f"  thread {name:<28} {used:6.2f} s  {100 * used / wall:5.2f} %")
    for name, used in sorted(ended.items(), key=lambda item: -item[1]):
        print(f"  ended thread {name:<22} {used:6.2f} s (its whole life)")
    gone = set(threads_before) - set(threads_after)
    if gone:
        print(f"  threads alive at the start and gone at the end: "
              f"{ {n: round(threads_before[n], 2) for n in gone} } (CPU before the window)")
    print("  garbage collections: " + ", ".join(
        f"generation {g}: {collected.count[g]} taking {collected.seconds[g]:.2f} s"
        for g in sorted(collected.count)))
    together = sum(threads_after.values()) - sum(threads_before.values())
    print(f"  all threads together {together:.2f} s (per-thread times are coarse: short "
          f"wakeups of many threads, the stats feeds', show in the process total)")
    print(f"frames written {counts.frames} ({counts.frames / wall:.1f}/s); repaint "
          f"requests: {dict(counts.refreshes.most_common(12))}; table cells written by column: "
          f"{dict(counts.cells.most_common())}")
    for column, examples in counts.examples.items():
        print(f"  e.g. {column}: {'; '.join(examples)}")
    if profile is not None:
        profile.dump_stats(args.profile)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--profile", help="write a cProfile of the event loop here")
    parser.add_argument("--metrics-seconds", type=float,
                        help="the host gauges' pace (default: opsui's); to see their share")
    parser.add_argument("--stats-seconds", type=float,
                        help="the CPU/memory columns' pace (default: opsui's)")
    parser.add_argument("--ssh", action="store_true",
                        help="over SSH: the test bed's sshd, or with --own-engine an sshd "
                             "of its own in front of that engine")
    parser.add_argument("--own-engine", action="store_true",
                        help="on a second dockerd of its own: other engineers' containers "
                             "on the shared engine are not idle")
    args = parser.parse_args()
    prefix = f"opsui-idle-{uuid.uuid4().hex[:6]}"
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with contextlib.ExitStack() as stack:
        url, image = None, IMAGE
        testbed = load_testbed()
        if (args.own_engine or args.ssh) and testbed is None:
            raise SystemExit("no test bed: run scripts/testbed/up.sh first")
        if args.own_engine and testbed is not None:
            url, image = stack.enter_context(own_engine(testbed))
            os.environ["DOCKER_HOST"] = url  # the docker CLI that starts the containers
        host, settings = HostConfig("local", docker_host=url), {}
        if args.ssh and testbed is not None:
            host, settings = ssh_host(stack, testbed, url)
        try:
            start_containers(args.containers, prefix, image)
            asyncio.run(probe(args, host, settings))
        finally:
            remove_containers(prefix)
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
