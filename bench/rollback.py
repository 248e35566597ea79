"""Rollback speed: confirming a rollback -> the old version healthy again, against the
same docker operations done directly in the same run.

Setup: a labelled container of ``opsui-test/app:1.0.0`` (random host port on 127.0.0.1),
deployed to 2.0.0 through AppReleases, so 1.0.0 is kept stopped as the rollback target.
Then, each round:

  * opsui: the plan is made before the clock starts ("from confirming"); timed is
    ``releases.rollback(app, plan, True)`` until it returns ok. Its health gate waits
    for Docker's verdict, so on return the old version answers healthy (checked after
    the clock stops). Then 2.0.0 is deployed again, untimed, for the next round;
  * raw: the same docker operations straight through docker-py on an equivalent pair
    (a stopped 1.0.0, a running 2.0.0): start the old one, inspect it every
    ``poll`` seconds until Docker says healthy, stop the current one, rename both.
    Once with opsui's own poll interval (GateSettings.poll_seconds, the fair
    reference) and once every 0.05 s (the lower bound).

The image's HEALTHCHECK runs every 1 s, so most of every figure is Docker's health
interval; what opsui adds is the difference. Target (issue 4): opsui adds < 0.5 s over
the raw operations. Also printed: where opsui's time goes (the StepEvents its report
callback streams, and every engine call and host-file operation it makes, timed).
Needs the test bed (scripts/testbed/up.sh). Run:

    .venv/bin/python bench/rollback.py [--rounds 5] [--ssh]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container as DockerContainer

from opsui.config import Config, DeploySettings
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.health_gate import GateSettings
from opsui.domain.operations.release_run import StepEvent
from opsui.domain.ports import HostConnection
from opsui.domain.releases import OK

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.helpers import Testbed, load_testbed

LABELS = {"opsui.test": "1", "opsui.test.bench": "1"}
PORTS = {"8080/tcp": ("127.0.0.1", None)}
OPSUI_POLL = GateSettings().poll_seconds
FAST_POLL = 0.05
TIMEOUT = 40.0
"""Seconds any one wait (a health gate, a raw poll) may take before the bench gives up."""


# -- timing proxies -------------------------------------------------------------------


@dataclass
class CallLog:
    """Every call through a :class:`Timed` proxy: (what, seconds)."""

    calls: list[tuple[str, float]] = field(default_factory=list)

    def by_name(self) -> dict[str, tuple[int, float]]:
        out: dict[str, list[float]] = defaultdict(list)
        for name, seconds in self.calls:
            out[name].append(seconds)
        return {name: (len(times), sum(times)) for name, times in out.items()}


class Timed:
    """Passes every method call on to ``inner``, timing it into ``log`` (the engine and
    the host files opsui is given, so the profile says which calls cost what)."""

    def __init__(self, inner: object, prefix: str, log: CallLog) -> None:
        self._inner, self._prefix, self._log = inner, prefix, log

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self._log.calls.append((f"{self._prefix}.{name}",
                                        time.perf_counter() - started))
        return timed


# -- docker helpers -------------------------------------------------------------------


def parse_docker_time(text: str) -> float:
    """Docker's RFC 3339 with nanoseconds -> epoch seconds."""
    match = re.match(r"(.*?)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not match:
        return float("nan")
    base, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(base + (fraction or "")[:7] +
                                   ("+00:00" if zone == "Z" else zone))
    return stamp.timestamp()


def docker_healthy_at(state: dict[str, Any]) -> float:
    """Epoch seconds when Docker's first passing check since the last start ended."""
    started = parse_docker_time(state.get("StartedAt", ""))
    for entry in (state.get("Health") or {}).get("Log") or []:
        if entry.get("ExitCode") == 0 and parse_docker_time(entry["Start"]) >= started:
            return parse_docker_time(entry["End"])
    return float("nan")


def wait_health(api: docker.APIClient, container_id: str, poll: float,
                timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        state = api.inspect_container(container_id)["State"]
        health = (state.get("Health") or {}).get("Status")
        if health == "healthy" and state["Status"] == "running":
            return
        if state["Status"] not in ("created", "running") or health == "unhealthy":
            raise SystemExit(f"{container_id[:12]} is {state['Status']}/{health}")
        if time.monotonic() >= deadline:
            raise SystemExit(f"{container_id[:12]} not healthy after {timeout:g} s")
        time.sleep(poll)


def host_port(api: docker.APIClient, container_id: str) -> int:
    ports = api.inspect_container(container_id)["NetworkSettings"]["Ports"] or {}
    return int(ports["8080/tcp"][0]["HostPort"])


def version_served(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=5) as r:
        return str(r.read().decode()).strip()


def run_healthy(client: docker.DockerClient, image: str, name: str) -> DockerContainer:
    container = client.containers.run(image, name=name, labels=LABELS, ports=PORTS,
                                      detach=True)
    wait_health(client.api, str(container.id), FAST_POLL)
    return container


def remove_bench_containers(client: docker.DockerClient, prefix: str) -> int:
    found = client.containers.list(all=True, filters={"label": "opsui.test.bench=1",
                                                      "name": prefix})
    removed = 0
    for container in found:
        if str(container.name).startswith(prefix):
            container.remove(force=True)
            removed += 1
    return removed


# -- one timed rollback each way ------------------------------------------------------


@dataclass
class Figure:
    seconds: float
    healthy_after_start: float
    """Docker's own time from the container's start to its first passing check."""
    noticed_after: float
    """From Docker's passing check to the moment the waiter saw it (poll quantization)."""
    parts: dict[str, float] = field(default_factory=dict)


def raw_rollback(api: docker.APIClient, old_id: str, current_id: str, name: str,
                 poll: float) -> Figure:
    """start old, inspect every ``poll`` s until healthy, stop current, rename both."""
    t0 = time.perf_counter()
    api.start(old_id)
    t_start = time.perf_counter()
    wait_health(api, old_id, poll)
    t_gate, wall_gate = time.perf_counter(), time.time()
    api.stop(current_id, timeout=10)
    t_stop = time.perf_counter()
    api.rename(current_id, f"{name}-kept")
    api.rename(old_id, name)
    t_end = time.perf_counter()
    state = api.inspect_container(old_id)["State"]
    healthy = docker_healthy_at(state)
    started = parse_docker_time(state["StartedAt"])
    return Figure(t_end - t0, healthy - started, wall_gate - healthy,
                  {"start": t_start - t0, "gate": t_gate - t_start, "stop": t_stop - t_gate,
                   "renames": t_end - t_stop})


def raw_restore(api: docker.APIClient, old_id: str, current_id: str, name: str) -> None:
    """Back to the starting pair: 2.0.0 running under ``name``, 1.0.0 stopped (untimed)."""
    api.stop(old_id, timeout=10)
    api.rename(old_id, f"{name}-old")
    api.rename(current_id, name)
    api.start(current_id)
    wait_health(api, current_id, FAST_POLL)


@dataclass
class OpsuiRound:
    figure: Figure
    events: list[tuple[float, StepEvent]]
    calls: CallLog

    @property
    def gate_seconds(self) -> float:
        return next(e.seconds for _, e in self.events
                    if e.step == "health gate" and e.outcome is not None)


def opsui_rollback(releases: AppReleases, app: AppSpec, calls: CallLog,
                   api: docker.APIClient) -> OpsuiRound:
    plan = releases.plan_rollback(app)
    assert plan.target_container is not None, "the kept 1.0.0 container is the target"
    events: list[tuple[float, StepEvent]] = []

    def report(event: StepEvent) -> None:
        events.append((time.perf_counter(), event))

    calls.calls.clear()
    t0 = time.perf_counter()
    outcome = releases.rollback(app, plan, True, report)
    elapsed = time.perf_counter() - t0
    if outcome != OK:
        raise SystemExit(f"rollback ended {outcome}: {events[-1][1].detail}")
    taken = list(calls.calls)
    rel = [(at - t0, event) for at, event in events]
    state = api.inspect_container(plan.target_container.id)["State"]
    healthy = docker_healthy_at(state)
    started = parse_docker_time(state["StartedAt"])
    # the gate's end is reported after its journal line: take the gate's own seconds
    gate_start = next(at for at, e in rel if e.step == "health gate" and e.outcome is None)
    gate = next(e for _, e in rel if e.step == "health gate" and e.outcome is not None)
    gate_end_wall = time.time() - (time.perf_counter() - (t0 + gate_start + gate.seconds))
    return OpsuiRound(Figure(elapsed, healthy - started, gate_end_wall - healthy),
                      rel, CallLog(taken))


def verify_serving(api: docker.APIClient, name: str, version: str) -> str:
    """Untimed: the container holding the app's name is healthy and serves ``version``."""
    data = api.inspect_container(name)
    health = (data["State"].get("Health") or {}).get("Status")
    served = version_served(host_port(api, data["Id"]))
    if health != "healthy" or f'"{version}"' not in served:
        raise SystemExit(f"{name}: health {health}, serves {served!r}, wanted {version}")
    return served


# -- the run --------------------------------------------------------------------------


@contextmanager
def opsui_host(target: str, testbed: Testbed | None, folder: Path) -> Iterator[HostConnection]:
    if target == "local":
        from opsui.backends.local import LocalHost

        host: HostConnection = LocalHost("local")
    else:
        assert testbed is not None
        host = testbed.opsui_ssh_host(folder)
    host.connect()
    try:
        yield host
    finally:
        host.close()


@contextmanager
def raw_client(target: str, testbed: Testbed | None, folder: Path
               ) -> Iterator[docker.DockerClient]:
    """docker-py on the engine: locally its socket; over SSH the engine's socket forwarded
    through ONE ssh connection (``ssh -L``), so every request is a plain API call on a
    kept connection, as opsui's pooled channels are. (docker-py's own ``ssh://`` with
    ``use_ssh_client=True`` runs a new ssh per request, ~0.34 s each here: a reference
    that slow would flatter opsui.)"""
    if target == "local":
        client = docker.from_env(timeout=30)
        try:
            yield client
        finally:
            client.close()
        return
    assert testbed is not None
    sock = folder / "docker.sock"
    tunnel = subprocess.Popen(
        [*testbed.ssh_command()[:-1], "-N", "-o", "ExitOnForwardFailure=yes",
         "-L", f"{sock}:/var/run/docker.sock", testbed.SSH_ALIAS],
        stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if tunnel.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"ssh -L failed: {tunnel.stderr.read() if tunnel.stderr else ''}")
            time.sleep(0.05)
        client = docker.DockerClient(base_url=f"unix://{sock}", timeout=30)
        try:
            yield client
        finally:
            client.close()
    finally:
        tunnel.terminate()
        tunnel.wait(10)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run_target(target: str, rounds: int, client: docker.DockerClient, testbed: Testbed | None,
               registry: str, prefix: str, workdir: Path) -> dict[str, float]:
    image = f"{registry}/opsui-test/app"
    name = f"{prefix}-{target}"
    print(f"\n== {target}: setting up {name} (1.0.0, deployed to 2.0.0 through opsui) ...",
          flush=True)
    run_healthy(client, f"{image}:1.0.0", name)
    # the raw pair: 1.0.0 run healthy once then stopped (like opsui's kept container)
    raw_name = f"{name}-raw"
    raw_old = run_healthy(client, f"{image}:1.0.0", f"{raw_name}-old")
    raw_old.stop(timeout=10)
    raw_cur = run_healthy(client, f"{image}:2.0.0", raw_name)
    raw_old_id, raw_cur_id = str(raw_old.id), str(raw_cur.id)

    folder = workdir / target
    folder.mkdir()
    config = Config(deploy=DeploySettings(state_dir=str(folder / "state"),
                                          gate_timeout=TIMEOUT))
    calls = CallLog()
    rounds_opsui: list[OpsuiRound] = []
    rows: list[tuple[float, float, float]] = []
    raw_slow: list[Figure] = []
    raw_fast: list[Figure] = []
    with opsui_host(target, testbed, folder) as host:
        releases = AppReleases(host.name, Timed(host.engine, "engine", calls),  # type: ignore[arg-type]
                               host.prober, Timed(host.files, "files", calls),  # type: ignore[arg-type]
                               ActionGate(), config, host.image_tags)
        with raw_client(target, testbed, folder) as raw:
            app = releases.resolve(name)

            def forward() -> None:
                outcome = releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True)
                if outcome != OK:
                    raise SystemExit(f"deploy of 2.0.0 ended {outcome}")

            forward()
            verify_serving(client.api, name, "2.0.0")
            print(f"{'round':>6} | {'opsui':>7} | {f'raw @{OPSUI_POLL:g} s':>10} | {'diff':>6} | "
                  f"ratio | {f'raw @{FAST_POLL:g} s':>11} | {'diff':>6} | ratio | "
                  f"opsui: gate, host files", flush=True)
            for index in range(1, rounds + 1):
                ours = opsui_rollback(releases, app, calls, client.api)
                verify_serving(client.api, name, "1.0.0")
                forward()
                slow = raw_rollback(raw.api, raw_old_id, raw_cur_id, raw_name, OPSUI_POLL)
                verify_serving(client.api, raw_name, "1.0.0")
                raw_restore(raw.api, raw_old_id, raw_cur_id, raw_name)
                fast = raw_rollback(raw.api, raw_old_id, raw_cur_id, raw_name, FAST_POLL)
                verify_serving(client.api, raw_name, "1.0.0")
                raw_restore(raw.api, raw_old_id, raw_cur_id, raw_name)
                rounds_opsui.append(ours)
                raw_slow.append(slow)
                raw_fast.append(fast)
                o, s, f = ours.figure.seconds, slow.seconds, fast.seconds
                rows.append((o, s, f))
                files = [t for n, t in ours.calls.calls if n.startswith("files.")]
                print(f"{index:>6} | {o:6.3f}s | {s:9.3f}s | {o - s:+.3f} | {o / s:4.2f}x | "
                      f"{f:10.3f}s | {o - f:+.3f} | {o / f:4.2f}x | {ours.gate_seconds:.3f}s, "
                      f"{len(files)} ops {sum(files):.3f}s", flush=True)
    o = median([r[0] for r in rows])
    s = median([r[1] for r in rows])
    f = median([r[2] for r in rows])
    diff_slow = median([r[0] - r[1] for r in rows])
    diff_fast = median([r[0] - r[2] for r in rows])
    print(f"{'median':>6} | {o:6.3f}s | {s:9.3f}s | {diff_slow:+.3f} | {o / s:4.2f}x | "
          f"{f:10.3f}s | {diff_fast:+.3f} | {o / f:4.2f}x")
    verdict = "MET" if diff_slow < 0.5 else "NOT met"
    print(f"target (opsui adds < 0.5 s over the same operations at its poll interval): "
          f"{verdict} (median difference {diff_slow:+.3f} s; {diff_fast:+.3f} s over the "
          f"0.05 s lower bound)")
    print_docker_timing(rounds_opsui, raw_slow, raw_fast)
    print_profile(rounds_opsui, raw_slow)
    return {"opsui": o, "raw": s, "raw_fast": f, "diff": diff_slow, "diff_fast": diff_fast}


def print_docker_timing(ours: list[OpsuiRound], slow: list[Figure], fast: list[Figure]) -> None:
    print("Docker's own start -> first passing check (median): "
          f"opsui's target {median([r.figure.healthy_after_start for r in ours]):.3f}s, "
          f"raw {median([r.healthy_after_start for r in slow + fast]):.3f}s")
    print("passing check -> noticed by the waiter (median): "
          f"opsui gate {median([r.figure.noticed_after for r in ours]):.3f}s, "
          f"raw @{OPSUI_POLL:g} s {median([r.noticed_after for r in slow]):.3f}s, "
          f"raw @{FAST_POLL:g} s {median([r.noticed_after for r in fast]):.3f}s")


def print_profile(ours: list[OpsuiRound], slow: list[Figure]) -> None:
    """Medians over the rounds: the gaps between StepEvents, and the calls made."""
    print("opsui's run, gaps between the StepEvents (median over rounds):")
    gaps: dict[str, list[float]] = defaultdict(list)
    order: list[str] = []
    for round_ in ours:
        previous, label_prev = 0.0, "call"
        for at, event in round_.events:
            label = f"{event.step}{'' if event.outcome is None else ' ' + event.outcome}"
            key = f"{label_prev} -> {label}"
            gaps[key].append(at - previous)
            if key not in order:
                order.append(key)
            previous, label_prev = at, label
        key = f"{label_prev} -> return"
        gaps[key].append(round_.figure.seconds - previous)
        if key not in order:
            order.append(key)
    for key in order:
        print(f"  {key:<40} {median(gaps[key]):7.3f}s")
    steps: dict[str, list[float]] = defaultdict(list)
    for round_ in ours:
        for _, event in round_.events:
            if event.outcome is not None and event.step != "outcome":
                steps[event.step].append(event.seconds)
    print("  step seconds as reported: " + ", ".join(
        f"{step} {median(values):.3f}" for step, values in steps.items()))
    print("opsui's engine calls and host-file operations per rollback (median count, "
          "median total):")
    names: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for round_ in ours:
        for name, (count, total) in round_.calls.by_name().items():
            names[name].append((count, total))
    totals = []
    for name in sorted(names, key=lambda n: -median([t for _, t in names[n]])):
        counts = [c for c, _ in names[name]]
        seconds = [t for _, t in names[name]]
        print(f"  {name:<28} x{median(counts):<4g} {median(seconds):7.3f}s")
    for round_ in ours:
        totals.append(sum(t for n, t in round_.calls.calls if n.startswith("files.")))
    print(f"  all host-file operations (journal, lock): {median(totals):.3f}s per rollback")
    raw_parts = {key: median([f.parts[key] for f in slow]) for key in slow[0].parts}
    print("raw @opsui's poll, parts (median): " + ", ".join(
        f"{key} {value:.3f}s" for key, value in raw_parts.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ssh", action="store_true",
                        help="also through the test sshd (opsui's SshHost; raw: docker-py "
                             "on the engine socket forwarded by one ssh -L)")
    options = parser.parse_args()
    testbed = load_testbed()
    registry = testbed.registry if testbed else "127.0.0.1:5000"
    if options.ssh and testbed is None:
        print("--ssh needs the test bed (scripts/testbed/up.sh)", file=sys.stderr)
        return 2
    client = docker.from_env(timeout=30)
    prefix = f"opsui-bench-{uuid.uuid4().hex[:6]}"
    for tag in ("1.0.0", "2.0.0"):
        client.images.pull(f"{registry}/opsui-test/app", tag=tag)
    print(f"opsui health gate polls every {OPSUI_POLL:g} s; the image checks health every "
          f"1 s; {options.rounds} rounds; containers {prefix}-*")
    results: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="opsui-bench-rollback-") as tmp:
            for target in ["local", *(["ssh"] if options.ssh else [])]:
                results[target] = run_target(target, options.rounds, client, testbed,
                                             registry, prefix, Path(tmp))
    finally:
        removed = remove_bench_containers(client, prefix)
        print(f"\nremoved {removed} bench containers")
        client.close()
    for target, figures in results.items():
        print(f"{target:>5}: opsui {figures['opsui']:.3f}s, raw {figures['raw']:.3f}s "
              f"(@0.05 s: {figures['raw_fast']:.3f}s); opsui adds {figures['diff']:+.3f}s "
              f"({figures['diff_fast']:+.3f}s over the lower bound)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
