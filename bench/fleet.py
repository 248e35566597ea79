"""Fleet benchmark (issue 15): twenty SSH hosts at once in opsui's sidebar.

Builds (bench/fleet_bed.py) ``--engines`` dockerds of its own with ``--containers``
labelled ``sleep`` containers each and ``--per-engine`` sshds on loopback ports in front
of each: 4 x 5 = 20 SSH hosts (f01..f20) of 50 containers. Hosts share engines (five
per dockerd): every host is its own sshd, SSH connection and engine session in opsui,
but five of them list the same dockerd, so the engine side of the work is 4 dockerds'
worth, not 20's.

Measured in one run, in tmux at 200x50 (bench/tui_harness.py), each launch rotated:

  * launch -> all 20 hosts' tables populated (target <= 3 s). Read from the screen:
    the status line names the shown host and says ``N containers`` once its monitor
    has delivered its first list; the bench presses ``]`` (next host) and reads the
    status line again, round and round, until every host was seen with its
    ``--containers``. Each host's first list lies between the last read that showed
    it without and the first read with it, so the result is a bracket
    ``[lower, upper]``: lower = the latest "still without" read of any host, upper =
    the latest first "with" read. Switching hosts is real work (a table redrawn,
    stats feeds for the rows shown), so this is an operator pressing ``]`` as fast as
    the screen follows, not an idle launch.
    References in the same rotation: opsui with one of those hosts (``--host f01``,
    status line shows 50), and lazydocker on engine 1's socket (local: lazydocker over
    SSH forwards the remote /var/run/docker.sock, the shared test-bed engine, not the
    dockerd behind these sshds).
  * the same 20-host launch with one host down (its sshd stopped: connection refused)
    and one frozen (its dockerd SIGSTOPped: SSH answers, the engine never does): time
    until the 18 others are populated, and what the screen says about the two.
  * idle CPU (% of one core over ``--idle`` s, ``--settle`` s after populated) and RSS,
    threads and descriptors of the process tree: 20 hosts (targets <= 3 %, <= 250 MB)
    beside opsui with one host, idling in the same window.
  * one host with ``--big`` containers (engine 1 gets more; over SSH, ``--host f01``):
    launch and idle CPU (target <= 2 %) beside lazydocker on the same engine's socket.

Needs the test bed (scripts/testbed/up.sh): its sshd's host key and client key and
its registry's test image. Takes a few minutes. Run as root:

    .venv/bin/python bench/fleet.py [--engines 4] [--per-engine 5] [--containers 50]
        [--big 300] [--runs 3] [--idle 30] [--settle 10] [--no-faults] [--also NAME=SRC]

``--also NAME=SRC`` (repeatable) adds ``opsui x20@NAME``: the 20-host launch and idle
with opsui from another source tree (``SRC/opsui`` first on PYTHONPATH), so a
before/after pair shares the same machine noise.
"""

from __future__ import annotations

import argparse
import datetime
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from dashboard import lazydocker_rows, status_counts
from fleet_bed import FleetBed
from tui_harness import (
    CpuWindow,
    Tool,
    compile_sources,
    launch,
    lazydocker_binary,
    load_average,
    quit_program,
    rotated,
    tree,
    tree_rss_mb,
    use_precompiled,
    wait_screen,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.helpers import load_testbed
from integration.tmux_terminal import TmuxTerminal

STATUS = re.compile(r" opsui │ (\S+) │ ([^│\n]*)")
"""The status line: the shown host, then its count or its link state."""


def status_of(screen: str) -> tuple[str, str] | None:
    """(shown host, what the status line says of it) or None before the dashboard."""
    found = STATUS.search(screen)
    return (found.group(1), found.group(2).strip()) if found else None


def shown_count(said: str) -> int:
    count = re.match(r"(\d+) containers", said)
    return int(count.group(1)) if count else -1


@dataclass
class Sweep:
    """When every host was seen populated while stepping through them with ``]``."""

    lower: float
    upper: float
    reads: int
    steps: int
    others: dict[str, str]
    """What the status line said of hosts not waited for (down, frozen)."""
    seen: int = 0
    """Hosts seen populated (all of them, unless the sweep timed out: then upper is inf)."""
    cpu: float = 0.0
    """CPU of the program's tree from launch to the end, % of one core."""
    losses: int = 0
    """opsui's log lines of the launch saying a link was lost or a call timed out."""
    listed: float | None = None
    """Seconds from launch to the last awaited host's first rows, by opsui's log (each
    monitor logs when its host's rows came); None when the log does not name them all."""


def sweep(term: TmuxTerminal, need: dict[str, int], timeout: float = 45.0) -> Sweep:
    """Press ``]`` round the hosts until each host in ``need`` showed its count; after
    ``timeout`` s, what was seen (upper = inf)."""
    start = term.started
    first_with: dict[str, float] = {}
    last_without: dict[str, float] = {}
    others: dict[str, str] = {}
    reads = steps = 0
    wait_screen(term, lambda s: status_of(s) is not None, "the dashboard", timeout)
    deadline = time.perf_counter() + timeout
    while len(first_with) < len(need):
        screen = term.screen()
        now = time.perf_counter() - start
        reads += 1
        shown = status_of(screen)
        if shown is None:
            raise SystemExit(f"no status line:\n{screen}")
        host, said = shown
        if host not in need:
            others[host] = said
        elif shown_count(said) >= need[host]:
            first_with.setdefault(host, now)
        elif host not in first_with:
            last_without[host] = now
        if len(first_with) == len(need):
            break
        if time.perf_counter() > deadline:
            missing = sorted(set(need) - set(first_with))
            print(f"    not seen populated in {timeout:.0f}s: {', '.join(missing)}; the "
                  f"sidebar says: {sidebar_states(screen)}", flush=True)
            return Sweep(max(last_without.values(), default=0.0), float("inf"), reads,
                         steps, others, len(first_with))
        if set(need) - set(first_with) == {host}:
            time.sleep(0.002)  # the last one is shown: watch it, no key to press
            continue
        term.press("]")
        steps += 1
        step_deadline = time.perf_counter() + 5
        while (status_of(term.screen()) or ("", ""))[0] == host:
            if time.perf_counter() > step_deadline:
                break  # one host only, or the key was lost: read and press again
            time.sleep(0.002)
    return Sweep(max(last_without.values(), default=0.0), max(first_with.values(), default=0.0),
                 reads, steps, others, len(first_with))


def sidebar_states(screen: str) -> dict[str, int]:
    """How many sidebar entries on screen say connected, reconnecting, no engine..."""
    states = re.findall(r"^  ([a-z][a-z ]*?)(?: · \d+ ms)?\s*▕", screen, re.M)
    return {state: states.count(state) for state in sorted(set(states))}


LOST = ("link to", "timed out", "did not answer", "connection lost")


def log_losses(log: Path, offset: int) -> tuple[int, int]:
    """Lines after ``offset`` in opsui's log that say a link was lost or a call timed
    out; the log's size now."""
    try:
        text = log.read_bytes()
    except OSError:
        return 0, offset
    lines = text[offset:].decode(errors="replace").splitlines()
    return sum(1 for line in lines if any(word in line for word in LOST)), len(text)


LISTED = re.compile(r"^(\S+ \S+) INFO opsui\.domain\.monitor: (\S+): \d+ containers listed ",
                    re.M)


def log_listed(log: Path, offset: int, hosts: set[str], launched: float) -> float | None:
    """Seconds from ``launched`` (wall clock) to the last of ``hosts``' first rows, from
    the lines after ``offset`` in opsui's log; None unless every host has one. Unlike
    the sweep, this does not depend on how fast ``]`` redraws."""
    try:
        text = log.read_bytes()[offset:].decode(errors="replace")
    except OSError:
        return None
    first: dict[str, float] = {}
    for stamp, host in LISTED.findall(text):
        when = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        first.setdefault(host, when)
    if not hosts <= first.keys():
        return None
    return max(first[host] for host in hosts) - launched


def opsui(name: str, config: Path, hosts: list[str], env: dict[str, str]) -> Tool:
    argv = [sys.executable, "-m", "opsui", "--config", str(config)]
    for host in hosts:
        argv += ["--host", host]
    return Tool(name, argv, status_counts(0), env)


def tree_counts(pid: int) -> tuple[int, int]:
    """Threads and open descriptors of a process tree."""
    threads = fds = 0
    for process in tree(pid):
        try:
            threads += process.num_threads()
            fds += process.num_fds()
        except psutil.NoSuchProcess:
            continue
    return threads, fds


def launches(tools: list[Tool], needs: dict[str, dict[str, int] | int], runs: int,
             cwd: str) -> dict[str, list[Sweep]]:
    """Each run launches every tool once (rotated); a dict ``need`` sweeps hosts, an
    int waits for that count on the one screen (lazydocker: rows in its panel)."""
    results: dict[str, list[Sweep]] = {tool.name: [] for tool in tools}
    for run in range(runs):
        for tool in rotated(tools, run):
            log = Path(tool.env.get("XDG_STATE_HOME", "/nonexistent")) / "opsui" / "opsui.log"
            _, offset = log_losses(log, 0)
            term = launch(tool, cwd=cwd)
            launched = time.time() - (time.perf_counter() - term.started)
            window = CpuWindow(term.pane_pid())
            window.wall = term.started
            try:
                need = needs[tool.name]
                if isinstance(need, dict):
                    result = sweep(term, need)
                    result.listed = log_listed(log, offset, set(need), launched)
                else:
                    seconds = wait_screen(term, tool.populated, f"{tool.name} populated", 60)
                    result = Sweep(seconds, seconds, 0, 0, {}, 1)
                result.cpu = window.percent()
                result.losses = log_losses(log, offset)[0]
                results[tool.name].append(result)
            finally:
                quit_program(term)
            print(f"  run {run + 1} {tool.name}: {describe(results[tool.name][-1])}",
                  flush=True)
    return results


def describe(result: Sweep) -> str:
    cost = f"; CPU {result.cpu:.0f}% of a core meanwhile"
    if result.losses:
        cost += f"; {result.losses} lost-link/time-out lines in opsui's log"
    if result.steps == 0:
        return f"{result.upper:.2f}s" + cost
    said = "; ".join(f"{h}: {s}" for h, s in sorted(result.others.items()))
    listed = ("" if result.listed is None else
              f"; by opsui's log, the last host's rows came at {result.listed:.2f}s")
    return (f"between {result.lower:.2f}s and {result.upper:.2f}s, {result.seen} hosts seen "
            f"populated ({result.steps} presses of ], {result.reads} reads){listed}"
            + (f"; also shown: {said}" if said else "") + cost)


def idle(tools: list[Tool], needs: dict[str, dict[str, int] | int], seconds: float,
         settle: float, cwd: str) -> dict[str, tuple[float, float, int, int, int]]:
    """(CPU %, RSS MB, threads at the window's start, threads and fds at its end) per
    tool, all idling side by side in one window."""
    terms: list[TmuxTerminal] = []
    try:
        for tool in tools:
            term = launch(tool, cwd=cwd)
            terms.append(term)
            need = needs[tool.name]
            if isinstance(need, dict):
                sweep(term, need)
            else:
                wait_screen(term, tool.populated, f"{tool.name} populated", 60)
        time.sleep(settle)  # first stats rounds and re-reads done
        windows = [CpuWindow(term.pane_pid()) for term in terms]
        before = [tree_counts(window.pid)[0] for window in windows]
        time.sleep(seconds)  # the idle window: the wait is the measurement
        return {tool.name: (window.percent(), tree_rss_mb(window.pid), threads,
                            *tree_counts(window.pid))
                for tool, window, threads in zip(tools, windows, before, strict=True)}
    finally:
        for term in terms:
            quit_program(term)


def print_idle(figures: dict[str, tuple[float, float, int, int, int]], seconds: float) -> None:
    for name, (cpu, rss, before, threads, fds) in figures.items():
        print(f"  {name:>14}: idle CPU {cpu:.2f}% of one core over {seconds:.0f}s; RSS "
              f"{rss:.0f} MB; threads {before} at the window's start, {threads} at its "
              f"end; fds {fds}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=int, default=4)
    parser.add_argument("--per-engine", type=int, default=5)
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--big", type=int, default=300, help="0 skips the one-big-host part")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=SRC",
                        help="also run the 20 hosts with opsui from the source tree SRC "
                             "(e.g. an export of the commit before a change), as x20@NAME, "
                             "in the same rotation and idle window")
    options = parser.parse_args()
    testbed = load_testbed()
    if testbed is None:
        raise SystemExit("no test bed: run scripts/testbed/up.sh first")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    print(f"opsui {commit}; load average at the start: {load_average()}", flush=True)
    lazydocker = lazydocker_binary()
    with tempfile.TemporaryDirectory(prefix="opsui-fleet-") as tmp:
        folder = Path(tmp)
        use_precompiled(folder / "pycache", True)
        options.also = dict(spec.split("=", 1) for spec in options.also)
        compile_sources(options.also)
        bed = FleetBed(testbed, folder)
        try:
            started = time.perf_counter()
            bed.start_engines(options.engines, not options.no_faults)
            for engine in bed.engines:
                bed.add_containers(engine, options.containers)
            bed.start_sshds(options.per_engine)
            print(f"bed: {options.engines} engines x {options.containers} containers, "
                  f"{len(bed.hosts)} sshds, in {time.perf_counter() - started:.0f}s",
                  flush=True)
            run(bed, options, lazydocker, folder)
        finally:
            bed.close()
    print(f"load average at the end: {load_average()}")
    return 0


def run(bed: FleetBed, options: argparse.Namespace, lazydocker: str | None,
        folder: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(folder / "cfg"), "XDG_STATE_HOME": str(folder / "state")}
    ports = bed.ports()
    names = list(ports)
    fleet = bed.config("fleet", ports)
    every = {name: options.containers for name in names}
    tools = [opsui("opsui x20", fleet, [], env),
             opsui("opsui x1", fleet, [names[0]], env)]
    needs: dict[str, dict[str, int] | int] = {"opsui x20": every,
                                              "opsui x1": {names[0]: options.containers}}
    for variant, source in options.also.items():
        tools.append(opsui(f"opsui x20@{variant}", fleet, [], {**env, "PYTHONPATH": source}))
        needs[f"opsui x20@{variant}"] = every
    idlers = [tool for tool in tools if tool.name.startswith(("opsui x20", "opsui x1"))]
    if lazydocker is not None:
        tools.append(Tool("lazydocker", [lazydocker], lazydocker_rows(options.containers),
                          {**env, "DOCKER_HOST": bed.engines[0].url}))
        needs["lazydocker"] = options.containers
    if not options.no_faults:
        faulty = {**dict(list(ports.items())[:-2]), "down": bed.down_port,
                  "frozen": bed.frozen_sshd.port if bed.frozen_sshd else 0}
        tools.append(opsui("opsui x20 faults", bed.config("faults", faulty), [], env))
        needs["opsui x20 faults"] = {name: options.containers for name in names[:-2]}
        bed.freeze(True)
    print(f"launch -> populated, {options.runs} runs, rotated:", flush=True)
    results = launches(tools, needs, options.runs, str(folder))
    for name, sweeps in results.items():
        listed = [s.listed for s in sweeps if s.listed is not None]
        by_log = (f", by its log {statistics.median(listed):.2f}s ({len(listed)} of "
                  f"{len(sweeps)} runs)" if listed else "")
        print(f"  {name:>16}: median upper {statistics.median(s.upper for s in sweeps):.2f}s, "
              f"median lower {statistics.median(s.lower for s in sweeps):.2f}s{by_log}",
              flush=True)
    if options.idle > 0:
        print(f"idle side by side ({options.settle:.0f}s settle):", flush=True)
        print_idle(idle(idlers, needs, options.idle, options.settle, str(folder)),
                   options.idle)
    if options.big > options.containers:
        bed.freeze(False)
        big_run(bed, options, names[0], fleet, env, lazydocker, str(folder))


def big_run(bed: FleetBed, options: argparse.Namespace, host: str, fleet: Path,
            env: dict[str, str], lazydocker: str | None, cwd: str) -> None:
    """One host with ``--big`` containers over SSH, beside lazydocker on its engine."""
    started = time.perf_counter()
    bed.add_containers(bed.engines[0], options.big - options.containers, options.containers)
    print(f"one host with {options.big} containers (added in "
          f"{time.perf_counter() - started:.0f}s); load average {load_average()}", flush=True)
    tools = [opsui(f"opsui {host}", fleet, [host], env)]
    needs: dict[str, dict[str, int] | int] = {f"opsui {host}": {host: options.big}}
    if lazydocker is not None:
        tools.append(Tool("lazydocker", [lazydocker], lazydocker_rows(options.big),
                          {**env, "DOCKER_HOST": bed.engines[0].url}))
        needs["lazydocker"] = options.big
    results = launches(tools, needs, 1, cwd)
    for name, sweeps in results.items():
        print(f"  {name:>16}: launch -> populated {sweeps[0].upper:.2f}s", flush=True)
    if options.idle > 0:
        print_idle(idle(tools, needs, options.idle, options.settle, cwd), options.idle)


if __name__ == "__main__":
    sys.exit(main())
