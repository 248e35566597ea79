"""The incident path, timed in a real terminal: launch `opsui --open APP`, roll back.

Each round: a labelled container of ``opsui-test/app:1.0.0`` (logging a tick every
0.5 s) deployed by opsui to 2.0.0, the "bad release" (untimed). Then, timed:

  * launch: ``opsui --open APP`` in tmux (160x45) until the log pane shows the app's
    lines (the operator sees what is wrong);
  * ``R`` until the rollback preview asks its question;
  * ``y`` until 1.0.0 answers (the rollback alone, from the confirmation to serving);
  * total: from the launch to 1.0.0 answering, and the keys pressed (R and y).

Two apps, as users run them:

  * ``port``: the operator's fixed host port (``ports: 3000:3000``); 1.0.0 answers on
    127.0.0.1:PORT. The rollback stops 2.0.0 first (the port is taken), so this is the
    downtime an operator meets;
  * ``alias``: no published port, reached as ``bench-app`` on a labelled Docker network,
    the way nginx in front reaches it; a probe container on that network asks
    ``http://bench-app:8080/api/version`` (``docker exec wget``); "serving" is the
    first of three answers in a row from 1.0.0.

Reference, in the same run: the same rollback done by hand with the docker CLI by an
operator who knows exactly what to type (``docker stop NEW; docker rename ...;
docker start OLD`` then waiting for the same answer), without opsui's preview, health
gate or journal. Targets (issue 10): keys <= 3 including the confirmation; total
<= 10 s (median and max of the rounds). Needs the test bed (scripts/testbed/up.sh):

    .venv/bin/python bench/incident.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.helpers import free_port, load_testbed, version_on
from integration.tmux_terminal import TmuxTerminal

LABELS = {"opsui.test": "1", "opsui.test.bench": "incident"}
ALIAS = "bench-app"
TIMEOUT = 60.0


@dataclass
class Round:
    app: str
    launch: float
    preview: float
    rollback: float
    total: float
    keys: int


@dataclass
class Reference:
    app: str
    rollback: float


def wait(predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT,
         interval: float = 0.02) -> float:
    """Seconds until ``predicate`` holds (polls; the waits are the measurement)."""
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(interval)
    return time.perf_counter() - start


class AliasProbe:
    """A busybox container on the app's network asking for the alias's version."""

    def __init__(self, client: docker.DockerClient, image: str, network: str) -> None:
        self.container = client.containers.run(
            image, ["sleep", "3600"], detach=True, labels=LABELS, network=network,
            name=f"bench-probe-{uuid.uuid4().hex[:6]}")

    def version(self) -> str | None:
        result = subprocess.run(
            ["docker", "exec", str(self.container.id), "timeout", "2", "wget", "-q", "-O-",
             f"http://{ALIAS}:8080/api/version"], capture_output=True, text=True, check=False)
        try:
            return str(json.loads(result.stdout)["version"])
        except (ValueError, KeyError):
            return None

    def serving(self, version: str, in_a_row: int = 3) -> bool:
        return all(self.version() == version for _ in range(in_a_row))


class Bench:
    def __init__(self, rounds: int) -> None:
        testbed = load_testbed()
        if testbed is None:
            raise SystemExit("no test bed: run scripts/testbed/up.sh first")
        self.testbed = testbed
        self.client = docker.from_env()
        self.rounds = rounds
        self.folder = Path(tempfile.mkdtemp(prefix="opsui-bench-incident-"))
        self.config = self.folder / "opsui.toml"
        self.config.write_text(f'[deploy]\nstate_dir = "{self.folder / "state"}"\n')
        self.image = testbed.registry_ref("opsui-test/app:1.0.0")
        self.client.images.pull(self.image)
        self.network = self.client.networks.create(f"bench-incident-{uuid.uuid4().hex[:6]}",
                                                   labels=LABELS)
        self.probe = AliasProbe(self.client, self.image, str(self.network.name))

    def opsui(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "opsui", "--config", str(self.config), *args]

    def run_opsui(self, *args: str) -> None:
        done = subprocess.run(self.opsui(*args), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
        if done.returncode != 0:
            raise SystemExit(f"opsui {' '.join(args)}: {done.stderr}")

    def bad_release(self, kind: str) -> tuple[str, Callable[[str], bool]]:
        """A fresh 1.0.0 container deployed to 2.0.0; (its name, "serves VERSION")."""
        name = f"bench-{kind}-{uuid.uuid4().hex[:6]}"
        env = {"APP_TICK": "0.5"}
        if kind == "port":
            port = free_port()
            self.client.containers.run(self.image, detach=True, name=name, labels=LABELS,
                                       environment=env,
                                       ports={"8080/tcp": ("127.0.0.1", port)})

            def serves(version: str) -> bool:
                return version_on(port) == version
        else:
            container = self.client.containers.create(self.image, name=name, labels=LABELS,
                                                      environment=env)
            self.network.connect(container, aliases=[ALIAS])
            container.start()

            def serves(version: str) -> bool:
                return self.probe.serving(version)
        wait(lambda: serves("1.0.0"), f"{name} 1.0.0 up")
        self.run_opsui("deploy", name, "2.0.0", "--yes")
        wait(lambda: serves("2.0.0"), f"{name} 2.0.0 serving")
        return name, serves

    def opsui_round(self, kind: str) -> Round:
        name, serves = self.bad_release(kind)
        env = {"XDG_CONFIG_HOME": str(self.folder / "cfg"),
               "XDG_STATE_HOME": str(self.folder / "xdg-state")}
        with TmuxTerminal(self.opsui("--open", name), size=(160, 45), env=env) as term:
            start = time.perf_counter()
            term.wait_for(lambda s: "tick" in s, "the log pane", timeout=TIMEOUT,
                          interval=0.01)
            launch = time.perf_counter() - start
            term.press("R")
            mark = time.perf_counter()
            term.wait_for(f"Rollback {name} on local?", "the preview", timeout=TIMEOUT,
                          interval=0.01)
            preview = time.perf_counter() - mark
            term.press("y")
            rollback = wait(lambda: serves("1.0.0"), "1.0.0 serving", interval=0.01)
            total = time.perf_counter() - start
            keys = term.keys_sent
        return Round(kind, launch, preview, rollback, total, keys)

    def docker_round(self, kind: str) -> Reference:
        """The same rollback typed by hand with the docker CLI (no gate, no journal)."""
        name, serves = self.bad_release(kind)
        kept = next(c for c in self.client.containers.list(all=True, filters={
            "label": "opsui.test.bench=incident"}) if c.name.startswith(f"{name}.before-"))
        start = time.perf_counter()
        for argv in (["docker", "stop", name], ["docker", "rename", name, f"{name}.bad"],
                     ["docker", "rename", str(kept.name), name], ["docker", "start", name]):
            subprocess.run(argv, check=True, capture_output=True)
        wait(lambda: serves("1.0.0"), "1.0.0 serving (docker CLI)", interval=0.01)
        return Reference(kind, time.perf_counter() - start)

    def cleanup(self) -> None:
        for container in self.client.containers.list(
                all=True, filters={"label": "opsui.test.bench=incident"}):
            container.remove(force=True)
        self.network.remove()


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):5.2f} s  max {max(values):5.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bench = Bench(args.rounds)
    rounds: list[Round] = []
    references: list[Reference] = []
    try:
        for index in range(args.rounds):
            order = ["port", "alias"] if index % 2 == 0 else ["alias", "port"]
            for kind in order:  # rotated, so neither app always runs on a warm cache
                rounds.append(bench.opsui_round(kind))
                references.append(bench.docker_round(kind))
                r = rounds[-1]
                print(f"round {index + 1} {kind:5}: launch {r.launch:5.2f} s  preview "
                      f"{r.preview:5.2f} s  rollback {r.rollback:5.2f} s  total "
                      f"{r.total:5.2f} s  keys {r.keys}  | docker CLI rollback "
                      f"{references[-1].rollback:5.2f} s", flush=True)
    finally:
        bench.cleanup()
    print(f"\nopsui {os.popen('git rev-parse --short HEAD').read().strip()}, "
          f"{args.rounds} rounds, 160x45 tmux")
    for kind in ("port", "alias"):
        mine = [r for r in rounds if r.app == kind]
        refs = [r.rollback for r in references if r.app == kind]
        print(f"{kind:5} keys            {max(r.keys for r in mine)} (target <= 3)")
        print(f"{kind:5} launch->logs    {summary([r.launch for r in mine])}")
        print(f"{kind:5} R->preview      {summary([r.preview for r in mine])}")
        print(f"{kind:5} y->serving      {summary([r.rollback for r in mine])}")
        print(f"{kind:5} docker CLI      {summary(refs)}  (by hand: stop, rename x2, start)")
        print(f"{kind:5} total           {summary([r.total for r in mine])} (target <= 10 s)")


if __name__ == "__main__":
    main()
