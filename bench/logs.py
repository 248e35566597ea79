"""Log ingest speed and responsiveness, against the ``docker`` CLI in the same run.

Prints, for each target of issue 3:

  * history ingest: a container writes ``--lines`` lines and exits; opsui's reader
    (the same LogTail the pane and ``opsui logs`` use) reads them all into its buffer,
    and ``docker logs NAME > /dev/null`` reads the same lines (the reference);
  * live ingest: a container prints as fast as it can (``yes``); opsui's tail and
    ``docker logs -f`` follow it at the same time for ``--live`` seconds; lines/s each;
  * key-press latency while ingesting: opsui runs in a real pseudo-terminal with the log
    pane of that container open; each key typed into the search bar is timed until
    its echo is drawn; p50/p99 over ``--keys`` keys;
  * RSS of that opsui process once its buffer is full (200,000 lines by default).

Targets (issue 3): ingest >= 100,000 lines/s and >= half the CLI's rate; key-press
p99 < 100 ms while ingesting; RSS < 250 MB with the default buffer full.
Needs the test bed's images (scripts/testbed/up.sh). Run:

    .venv/bin/python bench/logs.py [--lines 1000000] [--live 10] [--keys 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import docker
import psutil

from opsui.backends.docker_engine import DockerEngine
from opsui.domain.logfeed import LogTarget, LogWindow, TargetKind
from opsui.domain.logtail import LogTail

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.pty_terminal import Terminal

IMAGE = "opsui-test/app:1.0.0"
LABELS = {"opsui.test": "1", "opsui.bench": "logs"}
LINE = "2026-11-23 INFO request handled path=/api/items status=200 duration_ms=12"


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--live", type=float, default=10.0)
    parser.add_argument("--keys", type=int, default=40)
    options = parser.parse_args()
    client = docker.from_env()
    engine = DockerEngine(client)
    prefix = f"opsui-bench-logs-{uuid.uuid4().hex[:6]}"
    try:
        history_ingest(client, engine, options.lines, prefix)
        name = f"{prefix}-live"
        producer(client, name, f"yes '{LINE}'")
        live_ingest(engine, name, options.live)
        with tempfile.TemporaryDirectory() as tmp:
            key_latency(name, options.keys, Path(tmp))
    finally:
        for container in client.containers.list(all=True, filters={"name": prefix}):
            container.remove(force=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
