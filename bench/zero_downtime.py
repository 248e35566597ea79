"""Zero-downtime releases of the guides' compose stack, under a steady load (issue 13).

Each variant is its own compose project from ``scripts/testbed/stack.sh`` (nginx ->
app x2 -> PostgreSQL, redis; the app image from the authenticated registry), removed
at the end:

  * ``dynamic``: nginx re-resolving ``app`` every second (``resolver 127.0.0.11
    valid=1s`` and a variable upstream);
  * ``static``: the guides' static ``proxy_pass http://app:8080;``, named to opsui as
    the app's proxy (``proxy = { container = ... }``) so opsui reloads it;
  * ``static-fresh``: the same, the load taking a new connection per request: each
    nginx reload closes its idle keep-alive connections, and a request sent on one at
    that instant is lost by a client that does not send it again (httpx); with none
    left idle, what remains is the switch's own;
  * ``haproxy``: HAProxy re-resolving ``app`` (server-template), in front of the same app;
  * ``ports``: the app publishing ``127.0.0.1:PORT`` itself (the guides' ``3000:3000``),
    one replica: a fixed host port means stop-first, the downtime the plan announces;
  * ``front``: the same published-port app moved behind a front proxy first (``opsui
    front shop --yes``, the test bed's nginx image): releases are start-first with drain
    (0 failed requests expected); the move's own interruption is printed, and ``opsui
    front shop --undo`` gives the port back before the project is removed.

For each variant an httpx client sends ``--rate`` requests a second through the proxy
(``tests/integration/request_load.py``: paced by schedule, so a stalled server shows as
latency and failures, never as fewer requests). First ``--baseline`` seconds with no
release: the reference latency of the same load in the same run. Then ``--cycles``
cycles of ``opsui deploy shop 2.0.0 --yes`` and ``opsui rollback shop --yes`` (the CLI,
as CI runs it). Printed per variant: requests sent, failed (target 0), p50/p99 during
the releases against the baseline (target p99 within +50 ms), seconds of failed
requests per release (the published-port app's figure), and which versions answered
after each release (all replicas switched).

Needs the test bed with its stack parts (``scripts/testbed/up.sh --stack``):

    .venv/bin/python bench/zero_downtime.py [--variants dynamic,static,haproxy,ports]
        [--cycles 5] [--rate 50] [--baseline 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from integration.helpers import free_port, load_testbed  # noqa: E402
from integration.request_load import (  # noqa: E402
    Answer,
    RequestLoad,
    failed_seconds,
    percentile,
)

STACK = ROOT / "scripts" / "testbed" / "stack.sh"
VARIANTS = ("dynamic", "static", "static-fresh", "haproxy", "ports", "front")
FRONT_IMAGE = "opsui-test/nginx:1"
OPSUI = [sys.executable, "-m", "opsui"]


@dataclass
class Release:
    what: str
    start: float
    end: float
    ok: bool
    output: str


@dataclass
class VariantResult:
    variant: str
    baseline: list[Answer]
    during: list[Answer]
    releases: list[Release]
    after: list[tuple[str, Counter[str]]]
    rate: float

    def row(self) -> str:
        base = [a.seconds * 1000 for a in self.baseline if not a.failed]
        during = [a.seconds * 1000 for a in self.during if not a.failed]
        failed = sum(1 for a in self.during if a.failed)
        per_release = [failed_seconds(self._in(r), self.rate) for r in self.releases]
        worst = max(per_release, default=0.0)
        bad = sum(1 for r in self.releases if not r.ok)
        return (f"| {self.variant} | {len(self.during)} | {failed} | "
                f"{percentile(base, .5):.1f} / {percentile(base, .99):.1f} | "
                f"{percentile(during, .5):.1f} / {percentile(during, .99):.1f} | "
                f"{worst:.2f} | {len(self.releases) - bad}/{len(self.releases)} |")

    def _in(self, release: Release) -> list[Answer]:
        return [a for a in self.during if release.start <= a.at < release.end]


def stack(command: str, project: str, *options: str, env: dict[str, str] | None = None
          ) -> str:
    done = subprocess.run(["bash", str(STACK), command, "--project", project, *options],
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          check=False, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"stack.sh {command} {project} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


def published(client: docker.DockerClient, project: str, service: str, port: int) -> int:
    """The loopback host port Docker chose for ``service``'s ``port`` in ``project``."""
    containers = client.containers.list(filters={"label": [
        f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]})
    if not containers:
        raise SystemExit(f"no {service} container in {project}")
    bindings = containers[0].attrs["NetworkSettings"]["Ports"][f"{port}/tcp"]
    return int(bindings[0]["HostPort"])


def proxy_name(client: docker.DockerClient, project: str) -> str:
    containers = client.containers.list(filters={"label": [
        f"com.docker.compose.project={project}", "com.docker.compose.service=nginx"]})
    return str(containers[0].name)


def write_config(folder: Path, project: str, registry: str, extra: str) -> Path:
    config = folder / "opsui.toml"
    config.write_text(
        f'[deploy]\nstate_dir = "{folder / "state"}"\n\n'
        f'[apps.shop]\nservice = "{project}/app"\n'
        f'image = "{registry}/opsui-test/app"\n{extra}\n')
    return config


def opsui(config: Path, *args: str, docker_config: Path) -> tuple[bool, str]:
    done = subprocess.run([*OPSUI, "--config", str(config), *args], capture_output=True,
                          text=True, check=False, timeout=600, cwd=ROOT,
                          env={**os.environ, "DOCKER_CONFIG": str(docker_config)})
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def run_variant(variant: str, args: argparse.Namespace, client: docker.DockerClient,
                state: Path, registry: str) -> VariantResult:
    project = f"zd-{variant}-{os.getpid()}"
    options: list[str] = []
    env: dict[str, str] = {}
    app_port = 0
    if variant.startswith("static"):
        options += ["--nginx", "static"]
    if variant == "haproxy":
        options += ["--haproxy"]
    if variant in ("ports", "front"):
        app_port = free_port()
        options += ["--ports"]
        env["OPSUI_STACK_APP_PORT"] = str(app_port)
    print(f"\n== {variant}: stack.sh up --project {project} {' '.join(options)}", flush=True)
    stack("up", project, *options, env=env)
    try:
        if variant in ("ports", "front"):
            url = f"http://127.0.0.1:{app_port}/api/version"
        elif variant == "haproxy":
            url = f"http://127.0.0.1:{published(client, project, 'haproxy', 80)}/api/version"
        else:
            url = f"http://127.0.0.1:{published(client, project, 'nginx', 80)}/api/version"
        extra = args.app_config
        if variant.startswith("static") and args.name_proxy:
            extra += f'\nproxy = {{ container = "{proxy_name(client, project)}" }}'
        if variant == "front":
            extra += f'\n\n[front_proxy]\nimage = "{FRONT_IMAGE}"\nnetwork = "{project}-front"'
        with tempfile.TemporaryDirectory(prefix="opsui-zd-") as tmp:
            config = write_config(Path(tmp), project, registry, extra)
            docker_config = state / "docker-config-auths"
            if variant != "front":
                return measure(variant, url, config, args, docker_config)
            return behind_front(variant, url, config, args, docker_config)
    finally:
        stack("down", project)
        if variant == "front":  # what an undo that failed left, and the kept releases
            for container in client.containers.list(all=True, filters={
                    "name": "opsui-front-shop", "label": "opsui.front=shop"}):
                container.remove(force=True)
            for container in client.containers.list(sparse=True, all=True, filters={
                    "name": f"{project}_app_1.", "label": "opsui.test=1"}):
                container.remove(force=True)
            for network in client.networks.list(names=[f"{project}-front"]):
                network.remove()


def behind_front(variant: str, url: str, config: Path, args: argparse.Namespace,
                 docker_config: Path) -> VariantResult:
    """``opsui front shop``, the releases, then ``--undo``; the two interruptions said."""
    ok, output = opsui(config, "front", "shop", "--yes", docker_config=docker_config)
    said = next((line for line in output.splitlines() if "not answered for" in line), "")
    print(f"   front: {'ok' if ok else 'FAILED'}: {said or output[-1500:]}", flush=True)
    if not ok:
        raise SystemExit("opsui front failed")
    try:
        return measure(variant, url, config, args, docker_config)
    finally:
        ok, output = opsui(config, "front", "shop", "--undo", "--yes",
                           docker_config=docker_config)
        said = next((line for line in output.splitlines() if "not answered for" in line), "")
        print(f"   front --undo: {'ok' if ok else 'FAILED'}: {said or output[-1500:]}",
              flush=True)


def measure(variant: str, url: str, config: Path, args: argparse.Namespace,
            docker_config: Path) -> VariantResult:
    load = RequestLoad(url, rate=args.rate, workers=args.workers,
                       keepalive=variant != "static-fresh")
    load.start()
    releases: list[Release] = []
    after: list[tuple[str, Counter[str]]] = []
    try:
        base_start = load.mark()
        time.sleep(args.baseline)  # the reference window: load, no release
        base_end = load.mark()
        for cycle in range(args.cycles):
            for what, command in ((f"deploy {args.tag}", ["deploy", "shop", args.tag, "--yes"]),
                                  ("rollback", ["rollback", "shop", "--yes"])):
                start = load.mark()
                ok, output = opsui(config, *command, docker_config=docker_config)
                end = load.mark()
                releases.append(Release(what, start, end, ok, output))
                time.sleep(args.settle)  # answers after the release: who serves now
                served = Counter(a.version for a in load.between(end, load.mark())
                                 if not a.failed)
                after.append((what, served))
                failed = load.failures(start, end)
                why = Counter(a.error or str(a.status) for a in failed)
                print(f"   cycle {cycle + 1} {what}: {'ok' if ok else 'FAILED'} "
                      f"{end - start:.1f} s, failed requests {len(failed)}"
                      f"{f' {dict(why)}' if why else ''}, then served {dict(served)}",
                      flush=True)
                if not ok:
                    print("     " + output[-1500:].replace("\n", "\n     "), flush=True)
        end_all = load.mark()
    finally:
        load.stop()
    return VariantResult(variant, load.between(base_start, base_end),
                         load.between(base_end, end_all), releases, after, args.rate)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--baseline", type=float, default=20.0,
                        help="seconds of load with no release first (the reference)")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds after each release to see which versions answer")
    parser.add_argument("--tag", default="2.0.0")
    parser.add_argument("--app-config", default="",
                        help="extra TOML lines for [apps.shop] (e.g. drain_seconds = 5)")
    parser.add_argument("--no-name-proxy", dest="name_proxy", action="store_false",
                        help="static variant: do not name nginx as the app's proxy")
    args = parser.parse_args()
    testbed = load_testbed()
    if testbed is None:
        raise SystemExit("the test bed is not up: bash scripts/testbed/up.sh --stack")
    state = testbed.state_dir
    registry = os.environ.get("OPSUI_TEST_AUTH_REGISTRY", "127.0.0.1:5001")
    client = docker.from_env()
    load_avg = os.getloadavg()
    print(f"load average at start: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}")
    results = [run_variant(v, args, client, state, registry)
               for v in args.variants.split(",") if v]
    print("\n| variant | requests during releases | failed | baseline p50 / p99 ms "
          "| during releases p50 / p99 ms | worst s of failures per release "
          "| releases ok |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        print(result.row())
    load_avg = os.getloadavg()
    print(f"load average at end: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
