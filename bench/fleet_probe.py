"""Where a fleet's time and idle CPU go, without the TUI (issue 15's profiling aid).

``bed``: builds bench/fleet_bed.py's hosts (``--engines`` x ``--per-engine`` sshds of
``--containers`` each), writes ``fleet.toml`` into ``--folder`` and keeps it all up
until this process gets SIGINT/SIGTERM (then removes it). Run as root, with the test
bed up, in the background::

    .venv/bin/python bench/fleet_probe.py bed --folder /tmp/fleetprobe &

``run``: builds the monitors of that config the way the dashboard does
(:func:`opsui.wiring.build_monitor_factory` with ``ui=True``), plays the dashboard's
part (the first host is shown: its metrics are sampled and its first rows' stats;
the others are hidden), and prints when each host connected and delivered its
first list, then, after ``--settle`` s, the CPU of ``--idle`` s per thread family
(from /proc/self/task/*/stat), so a hidden host's per-second work shows by name::

    PYTHONPATH=SRC .venv/bin/python bench/fleet_probe.py run --config /tmp/fleetprobe/fleet.toml

It measures opsui's own process only: the sshds and dial-stdio processes it causes
are the machine's (``top`` them while it runs).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def bed(options: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from fleet_bed import FleetBed
    from integration.helpers import load_testbed

    testbed = load_testbed()
    if testbed is None:
        raise SystemExit("no test bed: run scripts/testbed/up.sh first")
    folder = Path(options.folder)
    folder.mkdir(parents=True, exist_ok=True)
    fleet = FleetBed(testbed, folder)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        fleet.start_engines(options.engines, False)
        for engine in fleet.engines:
            fleet.add_containers(engine, options.containers)
        fleet.start_sshds(options.per_engine)
        path = fleet.config("fleet", fleet.ports())
        print(f"bed up: {path}", flush=True)
        stop.wait()
    finally:
        fleet.close()
        print("bed removed", flush=True)
    return 0


def thread_cpu() -> dict[str, float]:
    """CPU seconds per thread family (the name without its host suffix)."""
    found: dict[str, float] = collections.defaultdict(float)
    names = {t.native_id: t.name for t in threading.enumerate()}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            name = names.get(int(task.name)) or (task / "comm").read_text().strip()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        family = re.sub(r"[-\s](f\d\d|\d+|\S+@\S+)$|\s\(.*\)$", "", name)
        found[family] += (int(fields[11]) + int(fields[12])) / TICKS
    return found


def run(options: argparse.Namespace) -> int:
    import logging

    from opsui.config import load_config
    from opsui.domain.models import HostStatus, LinkState
    from opsui.wiring import build_gate, build_monitor_factory, select_hosts

    if options.log:
        logging.basicConfig(level=logging.INFO, filename=options.log)
    config = load_config(Path(options.config))
    hosts = select_hosts(config, options.hosts)
    gate = build_gate(config, hosts, read_only=True)
    started = time.monotonic()
    connected: dict[str, float] = {}
    listed: dict[str, float] = {}
    states: list[tuple[float, str, str]] = []
    shown = hosts[0].name
    monitors: dict[str, Any] = {}

    class Listener:
        def host_status(self, status: HostStatus) -> None:
            now = time.monotonic() - started
            states.append((now, status.name, status.state.value))
            if status.state is LinkState.CONNECTED:
                connected.setdefault(status.name, now)

        def containers_snapshot(self, host: str, containers: list[Any]) -> None:
            if host not in listed:
                listed[host] = time.monotonic() - started
                if host == shown:
                    monitors[host].watch_stats([c.id for c in containers[:40]])

        def container_changed(self, host: str, container: Any) -> None: ...
        def container_removed(self, host: str, container_id: str) -> None: ...
        def host_metrics(self, host: str, metrics: Any) -> None: ...
        def container_stats(self, host: str, stats: list[Any]) -> None: ...
        def app_health(self, host: str, app: str, results: Any) -> None: ...

    built = build_monitor_factory(config, gate, hosts, ui=True)(Listener())
    for monitor in built:
        monitors[monitor.name] = monitor
        monitor.watch_metrics(monitor.name == shown)
    for monitor in built:
        monitor.start()
    deadline = started + options.timeout
    while len(listed) < len(built) and time.monotonic() < deadline:
        time.sleep(0.05)
    cpu_launch = os.times()
    for name in (m.name for m in built):
        print(f"  {name}: connected {connected.get(name, float('nan')):6.2f}s  "
              f"first list {listed.get(name, float('nan')):6.2f}s")
    print(f"all {len(listed)}/{len(built)} listed at {max(listed.values(), default=0):.2f}s; "
          f"process CPU so far {cpu_launch.user + cpu_launch.system:.2f}s; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    time.sleep(options.settle)
    before, t0 = thread_cpu(), time.monotonic()
    times0 = os.times()
    time.sleep(options.idle)
    after, elapsed = thread_cpu(), time.monotonic() - t0
    times1 = os.times()
    total = (times1.user + times1.system - times0.user - times0.system) / elapsed * 100
    print(f"idle {elapsed:.0f}s: {total:.2f}% of a core; threads {len(after)} families, "
          f"{threading.active_count()} threads; load {os.getloadavg()[0]:.1f}")
    rows = sorted(((after[k] - before.get(k, 0.0)) / elapsed * 100, k) for k in after)
    for percent, family in reversed(rows):
        if percent >= 0.05:
            print(f"  {percent:6.2f}%  {family}")
    flaps = [s for s in states
             if s[1] in connected and s[0] > connected[s[1]] and s[2] != "connected"]
    if flaps:
        print(f"state changes after connecting: {flaps[:10]}")
    for monitor in built:
        monitor.stop(timeout=0)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("bed")
    up.add_argument("--folder", required=True)
    up.add_argument("--engines", type=int, default=4)
    up.add_argument("--per-engine", type=int, default=5)
    up.add_argument("--containers", type=int, default=50)
    probe = sub.add_parser("run")
    probe.add_argument("--config", required=True)
    probe.add_argument("--hosts", nargs="*", default=[])
    probe.add_argument("--timeout", type=float, default=60.0)
    probe.add_argument("--settle", type=float, default=10.0)
    probe.add_argument("--idle", type=float, default=20.0)
    probe.add_argument("--log", default="")
    options = parser.parse_args()
    return bed(options) if options.command == "bed" else run(options)


if __name__ == "__main__":
    sys.exit(main())
