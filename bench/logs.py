"""Log ingest speed and responsiveness, against the ``docker`` CLI and lazydocker.

Prints, for each target of issues 3 and 14:

  * history ingest: a container writes ``--lines`` lines and exits; opsui's reader
    (the same LogTail the pane and ``opsui logs`` use) reads them all into its buffer,
    and ``docker logs NAME > /dev/null`` reads the same lines (the reference);
  * live ingest: a container prints as fast as it can (``yes``); opsui's tail and
    ``docker logs -f`` follow it at the same time for ``--live`` seconds; lines/s each;
  * key-press latency while ingesting that firehose (``--keys``): opsui in a real
    pseudo-terminal with the log pane of that container open; each key typed into the
    search bar is timed until its echo is drawn; p50/p99; RSS once its buffer is full;
  * issue 14, side by side in tmux (200x50, tests/integration/tmux_terminal.py), on a
    container logging ``--rate`` lines/s (2,000: paced by /proc/uptime, so it catches
    up rather than drifts):
      - ``opsui --open NAME`` -> the first log lines on screen, median of
        ``--open-runs``; reference: ``docker logs --tail 1000 -f NAME`` until its first
        line, alternating with opsui. lazydocker has no way to start on one container's
        logs, so it is not in this row;
      - key echo while following: ``--echo-keys`` keys per program per round,
        ``--rounds`` rounds, opsui and lazydocker in rotated order, each key timed from
        ``tmux send-keys`` until the screen shows it; p50/p99/max, CPU of each program's
        process tree over its typing window and its RSS at the end (following).

How "following" and "key echo" are read from the screen (``capture-pane``):

  * opsui: ``opsui --open NAME``; following once a producer line ("request handled")
    is drawn; ``/`` opens the log search box, drawn as a line ``search  TEXT`` above
    the footer; a key has echoed when that line's TEXT is everything typed so far. The
    search highlights as you type, so each key also re-searches the lines on screen.
  * lazydocker: ``3`` focuses its Containers panel, ``/`` opens its filter, drawn as the
    bottom line ``filter: TEXT``; the bench types the producer's name up to a random
    token (only that container matches, so its logs follow in the main panel), waits
    for "request handled" there, then types the token one key at a time: a key has
    echoed when the bottom line is ``filter: `` + everything typed. Each key also
    re-filters the list (the same container stays selected and followed).

Both therefore echo one key into a one-line text box while the same log pours in, and
each key also does that program's own per-key work (re-search / re-filter). Timings are
bounded by the capture poll (~3-6 ms per capture here).

Targets (issue 3): ingest >= 100,000 lines/s and >= half the CLI's rate; key-press
p99 < 100 ms while ingesting; RSS < 250 MB with the default buffer full. Issue 14:
``--open`` -> first lines <= 0.7 s; key echo while following 2,000 lines/s p99 < 50 ms
and p50 <= lazydocker's; RSS while following <= 120 MB.
Needs the test bed's images (scripts/testbed/up.sh). Run:

    .venv/bin/python bench/logs.py [--lines 1000000] [--live 10] [--keys 40]
        [--rate 2000] [--open-runs 5] [--echo-keys 40] [--rounds 2]

(``--lines 0``, ``--live 0``, ``--keys 0``, ``--open-runs 0``, ``--echo-keys 0`` skip
that part.)
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import psutil
from tui_harness import (
    LAZYDOCKER_MISSING,
    NO_PYC_HELP,
    SIZE,
    CpuWindow,
    Tool,
    compile_sources,
    launch,
    lazydocker_binary,
    load_average,
    quit_program,
    rotated,
    send_literal,
    tree_rss_mb,
    use_precompiled,
    wait_screen,
)

from opsui.backends.docker_engine import DockerEngine
from opsui.domain.logfeed import LogTarget, LogWindow, TargetKind
from opsui.domain.logtail import LogTail

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.pty_terminal import Terminal
from integration.tmux_terminal import TmuxTerminal

IMAGE = "opsui-test/app:1.0.0"
LABELS = {"opsui.test": "1", "opsui.bench": "logs"}
LINE = "2026-11-23 INFO request handled path=/api/items status=200 duration_ms=12"
PACED = ("read u _ </proc/uptime; s=${u%.*}${u#*.}; n=0; while :; do "
         "read u _ </proc/uptime; t=${u%.*}${u#*.}; w=$(( (t - s) * RATE / 100 )); "
         "if [ $n -lt $w ]; then while [ $n -lt $w ]; do n=$((n + 1)); "
         f"echo \"{LINE} n=$n\"; done; else usleep 2000; fi; done")
"""RATE lines/s, paced by /proc/uptime (centiseconds; busybox date has no %N): each
turn prints what is due since the start, so a slow turn is caught up, not lost."""
FOLLOWING = "request handled"


def producer(client: docker.DockerClient, name: str, script: str) -> str:
    container = client.containers.run(IMAGE, ["-c", script], entrypoint=["/bin/sh"],
                                      name=name, labels=LABELS, detach=True)
    return str(container.id)


def history_ingest(client: docker.DockerClient, engine: DockerEngine, lines: int,
                   prefix: str) -> None:
    name = f"{prefix}-history"
    producer(client, name, f"seq 1 {lines} | sed 's|^|{LINE} n=|'")
    client.containers.get(name).wait()
    cli = []
    ours = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(["docker", "logs", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        cli.append(time.perf_counter() - started)
        tail = LogTail(lambda: engine, LogTarget(TargetKind.CONTAINER, (name,)),
                       LogWindow(tail=None), follow=False)
        started = time.perf_counter()
        tail.start()
        tail.wait_closed(300)
        ours.append(time.perf_counter() - started)
        assert tail.buffer.total == lines, f"read {tail.buffer.total} of {lines} lines"
    cli_rate, our_rate = lines / statistics.median(cli), lines / statistics.median(ours)
    print(f"history ingest of {lines:,} lines (median of 3): opsui {our_rate:,.0f} lines/s; "
          f"docker logs {cli_rate:,.0f} lines/s -> ratio {our_rate / cli_rate:.2f}")


def live_ingest(engine: DockerEngine, name: str, seconds: float) -> None:
    tail = LogTail(lambda: engine, LogTarget(TargetKind.CONTAINER, (name,)),
                   LogWindow(tail=0)).start()
    counted = [0]
    cli = subprocess.Popen(["docker", "logs", "-f", "--tail", "0", name],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def count() -> None:
        assert cli.stdout is not None
        for chunk in iter(lambda: cli.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
            counted[0] += chunk.count(b"\n")

    reader = threading.Thread(target=count, daemon=True)
    reader.start()
    time.sleep(1.0)  # both attached and streaming; the window starts now
    ours0, cli0, started = tail.buffer.total, counted[0], time.perf_counter()
    time.sleep(seconds)  # a measurement window: the wait is the measurement
    elapsed = time.perf_counter() - started
    ours, theirs = (tail.buffer.total - ours0) / elapsed, (counted[0] - cli0) / elapsed
    cli.terminate()
    tail.close()
    print(f"live ingest over {seconds:.0f}s: opsui {ours:,.0f} lines/s; "
          f"docker logs -f {theirs:,.0f} lines/s -> ratio {ours / max(theirs, 1):.2f}")


def key_latency(name: str, keys: int, workdir: Path) -> None:
    term = Terminal([sys.executable, "-m", "opsui", "--host", "local"], workdir)
    try:
        term.wait_for(b"containers", 30)
        term.wait_for_pattern(rb"\d+ containers", 30)  # the table is listed
        mark = term.mark()
        term.type("/")  # keys go where focus was when they arrived: wait for the box
        term.wait_for_after(mark, b"filter: name, image", 30)
        mark = term.mark()
        term.type(name)
        term.wait_for_pattern(rb"1 of \d+ containers", 30, mark)  # just that container
        mark = term.mark()
        term.type("\r")  # back to the table: its footer keys are drawn again
        term.wait_for_after(mark, b"Logs", 30)
        term.type("l")
        term.wait_for(b"tail 1000", 30)  # the log pane's title
        process = psutil.Process(term.process.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and b"dropped" not in term.tail(200_000):
            time.sleep(0.2)  # until the pane reports a full buffer ("dropped N")
        full = b"dropped" in term.tail(200_000)
        term.type("/")
        time.sleep(0.5)
        token = uuid.uuid4().hex
        latencies = []
        for ch in token[:keys] if keys <= 32 else (token * (keys // 32 + 1))[:keys]:
            mark = term.mark()
            started = time.perf_counter()
            os.write(term.master, ch.encode())
            term.wait_for_after(mark, ch.encode(), 5)
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)  # a typist's pace
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"key press -> echo while ingesting ({len(latencies)} keys): "
              f"p50 {statistics.median(latencies):.0f} ms, p99 {p99:.0f} ms, "
              f"max {latencies[-1]:.0f} ms")
        rss = process.memory_info().rss / 1e6
        print(f"RSS with the buffer {'full' if full else 'NOT yet full'}: {rss:.0f} MB")
    finally:
        term.close()


def paced_producer(client: docker.DockerClient, name: str, rate: int) -> None:
    client.containers.run(IMAGE, ["-c", PACED.replace("RATE", str(rate))],
                          entrypoint=["/bin/sh"], name=name, labels=LABELS, detach=True)


def open_to_first_lines(name: str, runs: int, workdir: Path,
                        also: dict[str, str] | None = None) -> None:
    """``opsui --open NAME`` until a log line is drawn, against ``docker logs -f``; also
    when the log pane itself is drawn (its title, ``tail 1000``), to tell the start-up
    from the wait for the stream. ``also``: opsui@NAME from other source trees (see
    bench/dashboard.py ``--also``), in the same rotation."""
    argv = [sys.executable, "-m", "opsui", "--host", "local", "--open", name]
    tools = {"opsui": Tool("opsui", argv, lambda screen: FOLLOWING in screen,
                           cfg_env(workdir))}
    for variant, source in (also or {}).items():
        tools[f"opsui@{variant}"] = Tool(f"opsui@{variant}", argv,
                                         lambda screen: FOLLOWING in screen,
                                         {**cfg_env(workdir), "PYTHONPATH": source})
    ours: dict[str, list[float]] = {key: [] for key in tools}
    panes: dict[str, list[float]] = {key: [] for key in tools}
    cli: list[float] = []
    for run in range(runs):
        for which in rotated([*tools, "cli"], run):
            if which == "cli":
                started = time.perf_counter()
                with subprocess.Popen(["docker", "logs", "--tail", "1000", "-f", name],
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL) as follower:
                    assert follower.stdout is not None
                    follower.stdout.readline()
                    cli.append(time.perf_counter() - started)
                    follower.terminate()
                continue
            tool = tools[which]
            term = launch(tool, cwd=str(workdir))
            try:
                panes[which].append(wait_screen(term, lambda screen: "tail 1000" in screen,
                                                "the log pane"))
                ours[which].append(wait_screen(term, tool.populated,
                                               "the log pane's first lines"))
            finally:
                quit_program(term, first=["esc"])
    for which, times in ours.items():
        ratio = statistics.median(times) / statistics.median(cli)
        print(f"{which} --open -> first log lines: {statistics.median(times):.3f}s (median "
              f"of {runs}; runs {', '.join(f'{t:.3f}' for t in times)}; the pane itself "
              f"drawn at {statistics.median(panes[which]):.3f}s); docker logs -f first line "
              f"{statistics.median(cli):.3f}s -> ratio {ratio:.1f}x (target <= 0.7 s)",
              flush=True)


def cfg_env(workdir: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(workdir / "cfg"), "XDG_STATE_HOME": str(workdir / "state")}


def opsui_search(screen: str) -> str | None:
    """The text in opsui's log search box, or None when the box is not drawn."""
    found = re.search(r"^ *search(?: +(\S+))?", screen, re.MULTILINE)
    return None if found is None else (found.group(1) or "")


def lazydocker_filter(screen: str) -> str | None:
    """The text of lazydocker's filter line (the bottom line), or None."""
    found = re.search(r"^filter:(?: (\S+))?", screen, re.MULTILINE)
    return None if found is None else (found.group(1) or "")


def follow_in_opsui(term: TmuxTerminal) -> Callable[[str], str | None]:
    wait_screen(term, lambda screen: FOLLOWING in screen, "opsui's log pane following")
    term.press("/")
    wait_screen(term, lambda screen: opsui_search(screen) == "", "opsui's search box")
    return opsui_search


def follow_in_lazydocker(term: TmuxTerminal, name_prefix: str) -> Callable[[str], str | None]:
    # its rows are sorted by state and name: the producer may be below the panel's fold
    wait_screen(term, lambda screen: "Containers" in screen, "lazydocker's first screen")
    term.press("3")  # the Containers panel
    time.sleep(0.3)  # a key goes to the panel focused when it arrives
    term.press("/")
    wait_screen(term, lambda screen: lazydocker_filter(screen) == "", "lazydocker's filter")
    send_literal(term, name_prefix)
    wait_screen(term, lambda screen: lazydocker_filter(screen) == name_prefix,
                "lazydocker's filter text")
    # Its main panel starts following the matched container only once the filter is
    # kept (Enter) when another container was selected before; "/" then reopens the
    # filter with its text, and the logs go on streaming while it is open.
    term.press("enter")
    wait_screen(term, lambda screen: FOLLOWING in screen, "lazydocker following")
    term.press("/")
    wait_screen(term, lambda screen: lazydocker_filter(screen) == name_prefix,
                "lazydocker's filter reopened")

    def typed(screen: str) -> str | None:
        text = lazydocker_filter(screen)
        return None if text is None else text.removeprefix(name_prefix)

    return typed


def echoed(shown: Callable[[str], str | None], expected: str) -> Callable[[str], bool]:
    return lambda screen: shown(screen) == expected


def key_echo(name: str, token_at: int, keys: int, rounds: int, workdir: Path,
             settle: float, also: dict[str, str] | None = None) -> None:
    """Key press -> echo while following, opsui and lazydocker in rotated order
    (``also``: opsui@NAME from other source trees, in the same rotation)."""
    lazydocker = lazydocker_binary()
    if lazydocker is None:
        print(LAZYDOCKER_MISSING, file=sys.stderr)
    envs = {"opsui": cfg_env(workdir), "lazydocker": cfg_env(workdir)}
    for variant, source in (also or {}).items():
        envs[f"opsui@{variant}"] = {**cfg_env(workdir), "PYTHONPATH": source}
    programs = [p for p in envs if p != "lazydocker" or lazydocker]
    prefix, token = name[:token_at], name[token_at:]
    latencies: dict[str, list[float]] = {p: [] for p in programs}
    usage: dict[str, list[tuple[float, float]]] = {p: [] for p in programs}
    for turn in range(rounds):
        for program in rotated(programs, turn):
            ours = program.startswith("opsui")
            argv = ([sys.executable, "-m", "opsui", "--host", "local", "--open", name]
                    if ours else [lazydocker or "lazydocker"])
            term = launch(Tool(program, argv, lambda _: True, envs[program]),
                          cwd=str(workdir))
            try:
                shown = (follow_in_opsui(term) if ours
                         else follow_in_lazydocker(term, prefix))
                time.sleep(settle)  # following in its stride, past the first screenful
                window = CpuWindow(term.pane_pid())
                for count in range(1, keys + 1):
                    expected = token[:count]
                    started = time.perf_counter()
                    send_literal(term, token[count - 1])
                    latencies[program].append(1000 * wait_screen(
                        term, echoed(shown, expected), f"{program} echoing {expected!r}",
                        timeout=10, since=started))
                    time.sleep(0.05)  # a typist's pace
                usage[program].append((window.percent(), tree_rss_mb(window.pid)))
            finally:
                quit_program(term, first=["esc"])
    summary: dict[str, tuple[float, float]] = {}
    for program in programs:
        values = sorted(latencies[program])
        p50 = statistics.median(values)
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        summary[program] = (p50, p99)
        cpu = statistics.median(c for c, _ in usage[program])
        rss = max(r for _, r in usage[program])
        print(f"{program:>10}: key -> echo while following ({len(values)} keys, {rounds} "
              f"rounds): p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {values[-1]:.0f} ms; "
              f"CPU {cpu:.1f}% of one core (median of rounds), RSS {rss:.0f} MB (max)")
    if "lazydocker" in summary:
        l50, l99 = summary["lazydocker"]
        for program in (p for p in programs if p != "lazydocker"):
            o50, o99 = summary[program]
            print(f"{program} / lazydocker key echo: p50 {o50 / l50:.2f}x, p99 {o99 / l99:.2f}x "
                  f"(targets: p50 <= lazydocker's, p99 < 50 ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--live", type=float, default=10.0)
    parser.add_argument("--keys", type=int, default=40,
                        help="keys typed while following the firehose (issue 3)")
    parser.add_argument("--rate", type=int, default=2000,
                        help="lines/s of the followed container (issue 14)")
    parser.add_argument("--open-runs", type=int, default=5)
    parser.add_argument("--echo-keys", type=int, default=40,
                        help="keys per program per round while following --rate")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds following before the keys")
    parser.add_argument("--no-pyc", action="store_true", help=NO_PYC_HELP)
    parser.add_argument("--also", action="append", default=[], metavar="NAME=SRC",
                        help="--open and key echo also run from the source tree SRC, as "
                        "opsui@NAME")
    options = parser.parse_args()
    also = dict(spec.split("=", 1) for spec in options.also)
    if options.echo_keys > 64:
        parser.error("--echo-keys is at most 64 (the random token typed)")
    client = docker.from_env()
    engine = DockerEngine(client)
    prefix = f"opsui-bench-logs-{uuid.uuid4().hex[:6]}"
    print(f"load average at the start: {load_average()}; terminal {SIZE[0]}x{SIZE[1]}",
          flush=True)
    cache = tempfile.TemporaryDirectory()
    use_precompiled(Path(cache.name), not options.no_pyc)
    if not options.no_pyc:
        compile_sources(also)
    try:
        if options.lines > 0:
            history_ingest(client, engine, options.lines, prefix)
        if options.live > 0 or options.keys > 0:
            name = f"{prefix}-live"
            producer(client, name, f"yes '{LINE}'")
            if options.live > 0:
                live_ingest(engine, name, options.live)
            if options.keys > 0:
                with tempfile.TemporaryDirectory() as tmp:
                    key_latency(name, options.keys, Path(tmp))
                client.containers.get(name).remove(force=True)  # its CPU is not the next's
        if options.open_runs > 0 or options.echo_keys > 0:
            paced = f"{prefix}-paced-"
            name = paced + uuid.uuid4().hex + uuid.uuid4().hex
            paced_producer(client, name, options.rate)
            with tempfile.TemporaryDirectory() as tmp:
                if options.open_runs > 0:
                    open_to_first_lines(name, options.open_runs, Path(tmp), also)
                if options.echo_keys > 0:
                    print(f"following {options.rate:,} lines/s ...", flush=True)
                    key_echo(name, len(paced), options.echo_keys, options.rounds, Path(tmp),
                             options.settle, also)
        print(f"load average at the end: {load_average()}")
    finally:
        for container in client.containers.list(all=True, filters={"name": prefix}):
            container.remove(force=True)
        cache.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
