"""Dashboard benchmark: 100 labelled containers, local and over SSH.

Prints, for each target:
  * launch -> populated table: wall time from starting ``opsui`` in a real terminal
    (tmux) until the screen shows the table holding every bench container; compared
    with ``docker ps`` listing the same containers in the same run (the reference);
  * idle CPU: CPU time used by the opsui process over an idle window, as % of one core.
    The window starts ``--settle`` seconds after the table is populated: by then the
    start-up work (re-reading every container, opening the stats feeds) is done. The
    first minute from the populated table is printed too, start-up included;
  * RSS after the idle window.

Targets (issue 2): table < 1.0 s local, < 2.0 s over SSH; idle CPU < 2 % of a core;
RSS < 150 MB. Needs the test bed (scripts/testbed/up.sh). Run:

    .venv/bin/python bench/dashboard.py [--containers 100] [--idle 60] [--settle 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "opsui-test/app:1.0.0"
LABEL = "opsui.test=1"
STATE = Path(os.environ.get("OPSUI_TEST_STATE", "/tmp/opsui-testbed"))


def start_containers(count: int, prefix: str) -> list[str]:
    """Start ``count`` light containers; compose labels give the table several groups."""
    names = []
    for index in range(count):
        name = f"{prefix}-{index:03d}"
        project = f"bench{index % 5}"
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "--label", LABEL,
             "--label", f"com.docker.compose.project={project}",
             "--label", f"com.docker.compose.service=svc{index % 7}",
             "--no-healthcheck", "--entrypoint", "/bin/sleep", IMAGE, "100000"],
            check=True, capture_output=True,
        )
        names.append(name)
    return names


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


TMUX = ["tmux", "-L", f"opsui-bench-{os.getpid()}", "-f", "/dev/null"]
"""A tmux server of the bench's own: sessions started and killed back to back on the
shared default server race its exit ("server exited unexpectedly")."""


def capture(session: str) -> str:
    return subprocess.run([*TMUX, "capture-pane", "-p", "-t", session],
                          capture_output=True, text=True, check=False).stdout


def launch_until_populated(args: list[str], count: int, session: str,
                           env: dict[str, str], timeout: float = 30.0) -> tuple[float, int]:
    """Start opsui in tmux; seconds until the title reports at least ``count`` containers.

    The list is one engine call, so once the bench's containers are counted the table
    holds all of them; other containers on the engine may come and go meanwhile.
    """
    command = " ".join(shlex.quote(a) for a in args)
    start = time.perf_counter()
    subprocess.run([*TMUX, "new-session", "-d", "-s", session, "-x", "200", "-y", "50",
                    command], check=True, env=env)
    deadline = start + timeout
    expected = f"{count} containers"
    while time.perf_counter() < deadline:
        shown = re.search(r"(\d+) containers", capture(session))
        if shown and int(shown.group(1)) >= count:
            elapsed = time.perf_counter() - start
            return elapsed, opsui_pid(session)
        time.sleep(0.01)
    raise SystemExit(f"table never showed {expected!r}; screen was:\n{capture(session)}")


def opsui_pid(session: str) -> int:
    pane_pid = int(subprocess.run([*TMUX, "display-message", "-p", "-t", session,
                                   "#{pane_pid}"], capture_output=True, text=True,
                                  check=True).stdout.strip())
    process = psutil.Process(pane_pid)
    for candidate in [process, *process.children(recursive=True)]:
        if "opsui" in " ".join(candidate.cmdline()):
            return candidate.pid
    return pane_pid


def idle_usage(pid: int, seconds: float, settle: float) -> tuple[float, float, float]:
    """(CPU % over the window starting ``settle`` s from now, CPU % over the window
    starting now, RSS MB at the end), CPU as % of one core."""
    process = psutil.Process(pid)
    readings: dict[float, tuple[float, float]] = {}
    start = time.perf_counter()
    for mark in sorted({0.0, settle, seconds, settle + seconds}):
        # measuring idle windows: the waits *are* the measurement
        time.sleep(max(0.0, start + mark - time.perf_counter()))
        times = process.cpu_times()
        readings[mark] = (time.perf_counter(), times.user + times.system)

    def percent(begin: float) -> float:
        (t0, c0), (t1, c1) = readings[begin], readings[begin + seconds]
        return 100.0 * (c1 - c0) / (t1 - t0)

    return percent(settle), percent(0.0), process.memory_info().rss / 1e6


def stop(session: str) -> None:
    subprocess.run([*TMUX, "kill-session", "-t", session], capture_output=True, check=False)


def ssh_config_file(workdir: Path) -> Path | None:
    ssh_config = STATE / "ssh_config"
    known_hosts = STATE / "known_hosts"
    if not ssh_config.exists():
        return None
    path = workdir / "opsui.toml"
    path.write_text(f'[ssh]\nconfig = "{ssh_config}"\nknown_hosts = "{known_hosts}"\n'
                    f'[hosts.bench]\nssh = "opsui-test"\n')
    return path


def run_target(label: str, args: list[str], count: int, idle: float, settle: float,
               runs: int, env: dict[str, str], reference: float) -> dict[str, float]:
    times = []
    cpu = first = rss = 0.0
    for attempt in range(runs):
        session = f"opsui-bench-{uuid.uuid4().hex[:6]}"
        try:
            elapsed, pid = launch_until_populated(args, count, session, env)
            times.append(elapsed)
            if attempt == runs - 1 and idle > 0:
                cpu, first, rss = idle_usage(pid, idle, settle)
        finally:
            stop(session)
    median = statistics.median(times)
    print(f"{label:>6}: table populated in {median:.3f}s (median of {runs}; "
          f"runs {', '.join(f'{t:.3f}' for t in times)}); "
          f"docker ps {reference:.3f}s -> ratio {median / reference:.1f}x")
    if idle > 0:
        print(f"{label:>6}: idle CPU {cpu:.2f}% of one core over {idle:.0f}s from {settle:.0f}s "
              f"after the table; {first:.2f}% over the first {idle:.0f}s; RSS {rss:.0f} MB")
    return {"table_s": median, "cpu_pct": cpu, "first_cpu_pct": first, "rss_mb": rss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds after the populated table before the idle window")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    if not shutil.which("tmux"):
        print("tmux is needed (apt-get install tmux)", file=sys.stderr)
        return 2
    prefix = f"opsui-bench-{uuid.uuid4().hex[:6]}"
    opsui = [sys.executable, "-m", "opsui"]
    print(f"starting {options.containers} containers ...", flush=True)
    subprocess.run([*TMUX, "new-session", "-d", "-s", "keeper", "sleep 86400"], check=True)
    try:
        start_containers(options.containers, prefix)
        reference, total = docker_ps_seconds()
        print(f"engine holds {total} containers; docker ps -a takes {reference:.3f}s")
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            env = {**os.environ, "XDG_CONFIG_HOME": str(workdir / "cfg"),
                   "XDG_STATE_HOME": str(workdir / "state")}
            run_target("local", [*opsui, "--host", "local"], options.containers, options.idle,
                       options.settle, options.runs, env, reference)
            config = ssh_config_file(workdir)
            if config is None:
                print("   ssh: skipped (no test sshd; run scripts/testbed/up.sh)")
            else:
                run_target("ssh", [*opsui, "--config", str(config), "--host", "bench"],
                           options.containers, options.idle, options.settle, options.runs, env,
                           reference)
    finally:
        remove_containers(prefix)
        subprocess.run([*TMUX, "kill-server"], capture_output=True, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
