"""The churn loop of issue 16, shared by ``bench/soak.py`` and ``test_soak.py``.

opsui runs in tmux against the test bed's engine while a loop does what a busy host
does: a labelled container created and removed every 2 s, another restarted every 5 s,
and a chatty container logging 20 lines a second; for a stretch of the run the log pane
follows the chatty one. The opsui process's RSS, threads and descriptors are sampled
at a fixed interval. The bench runs it for half an hour; the test for a few minutes.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from .tmux_terminal import TmuxTerminal

IMAGE = "opsui-test/app:1.0.0"
LABELS = ["--label", "opsui.test=1", "--label", "opsui.test.bench=soak"]


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_mb: float
    threads: int
    fds: int
    events: int
    """Container events the churn had caused by then."""


class Churn:
    """Create/remove every 2 s and restart every 5 s, on a thread, until stopped.

    On the engine at ``docker_host`` (default: the docker CLI's), with ``image``."""

    def __init__(self, docker_host: str | None = None, image: str = IMAGE) -> None:
        self.prefix = f"soak-{uuid.uuid4().hex[:4]}"
        self.events = 0
        self._cli = ["docker", *(["-H", docker_host] if docker_host else [])]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.image = image
        self.docker("run", "-d", "--name", f"{self.prefix}-restarted", *LABELS,
                    "--no-healthcheck", "--entrypoint", "/bin/sleep", image, "100000")
        self.docker("run", "-d", "--name", self.chatty, *LABELS, "--no-healthcheck",
                    "--entrypoint", "/bin/sh", image, "-c",
               "i=0; while :; do i=$((i+1)); echo \"chatty line $i\"; sleep 0.05; done")

    def docker(self, *args: str) -> str:
        return subprocess.run([*self._cli, *args], capture_output=True, text=True,
                              check=False).stdout

    @property
    def chatty(self) -> str:
        return f"{self.prefix}-chatty"

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(1.0):
            tick += 1
            if tick % 2 == 0:
                name = f"{self.prefix}-churn-{uuid.uuid4().hex[:6]}"
                self.docker("run", "-d", "--name", name, *LABELS, "--no-healthcheck",
                            "--entrypoint", "/bin/sleep", self.image, "1000")
                self.docker("rm", "-f", name)
                self.events += 2
            if tick % 5 == 0:
                self.docker("restart", "-t", "0", f"{self.prefix}-restarted")
                self.events += 1

    def stop(self) -> None:
        """Stop the loop and remove every container it made (its own prefix only)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        ids = self.docker("ps", "-aq", "--filter", f"name={self.prefix}-").split()
        if ids:
            self.docker("rm", "-f", *ids)


def opsui_process(term: TmuxTerminal) -> psutil.Process:
    """The opsui process in the pane (the pane's shell may run it as a child)."""
    pane = psutil.Process(term.pane_pid())
    for candidate in [pane, *pane.children(recursive=True)]:
        if "opsui" in " ".join(candidate.cmdline()):
            return candidate
    return pane


def slope_mb_per_minute(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time: a sawtooth of collections averages out."""
    if len(samples) < 2:
        return 0.0
    xs = [s.seconds / 60 for s in samples]
    ys = [s.rss_mb for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def kb_per_event(samples: list[Sample]) -> float:
    """RSS growth per container event over ``samples``, from the least-squares slope."""
    if len(samples) < 2:
        return 0.0
    minutes = (samples[-1].seconds - samples[0].seconds) / 60
    events = samples[-1].events - samples[0].events
    return slope_mb_per_minute(samples) * minutes * 1000 / max(events, 1)


def soak(term: TmuxTerminal, churn: Churn, seconds: float, interval: float,
         logs_between: tuple[float, float],
         report: Callable[[Sample], None] = lambda sample: None) -> list[Sample]:
    """Run the churn for ``seconds`` against the opsui in ``term`` (its table already
    showing the chatty container), sampling every ``interval``; the log pane follows
    the chatty container from ``logs_between[0]`` to ``logs_between[1]`` seconds."""
    process = opsui_process(term)
    samples: list[Sample] = []
    start = time.monotonic()
    churn.start()
    logs_open = False
    while (elapsed := time.monotonic() - start) < seconds:
        samples.append(Sample(elapsed, process.memory_info().rss / 1e6,
                              process.num_threads(), process.num_fds(), churn.events))
        report(samples[-1])
        if not logs_open and logs_between[0] <= elapsed < logs_between[1]:
            term.press("/", *churn.chatty, "enter", "l")
            logs_open = True
        elif logs_open and elapsed >= logs_between[1]:
            term.press("esc", "esc", "esc")
            logs_open = False
        # sampling at a fixed interval: the wait is the measurement's clock
        time.sleep(max(0.0, interval - (time.monotonic() - start - elapsed)))
    samples.append(Sample(time.monotonic() - start, process.memory_info().rss / 1e6,
                          process.num_threads(), process.num_fds(), churn.events))
    report(samples[-1])
    return samples
