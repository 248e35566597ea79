"""A rolling release of a 3-host app against the same three deploys by hand (issue 15).

Three engines of the bench's own (tests/integration/second_engine.py), each behind its
own sshd on a loopback port, are the hosts h1, h2, h3 of one opsui.toml; the app
``web`` (``hosts = ["h1", "h2", "h3"]``) is a container of the same name on each,
running the test image. Real hosts each have their own files, and an app's journal and
lock live in the host's state folder: each sshd runs in a mount namespace of its own
where the app's ``state_dir`` is a folder of that host's (``unshare --mount`` and a
bind mount), so the three hosts keep three journals and three locks as real ones do.

Timed, each round, in rotated order:

  * rolling: ``opsui deploy web VERSION --yes --confirm web`` (the multi-host CLI path:
    one process, every host's lock, host by host through the health gate);
  * by hand: ``opsui deploy web VERSION --host hN --yes --confirm web`` for h1, h2, h3,
    one after another (three processes, each one host's release with the same gate).

Every timed deploy changes the version (1.0.0 and 2.0.0 alternate), so both do the
same work: the same image pulled already, the same health gate (the image's own
HEALTHCHECK, every 1 s). Printed: each side's median and min, and the overhead of
the rolling release over the three by hand (target: ≤ 10 %), by medians, by mins and
as the median of each run's pair (the two sides of one run ran a minute apart: the
pair is the least disturbed by a machine whose load comes and goes). Everything is labelled
opsui.test=1 and removed at the end. Needs the test bed (scripts/testbed/up.sh), as
root (dockerd, unshare). Run:

    .venv/bin/python bench/multi_host_release.py [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_bed import FleetBed
from integration.engine_sshd import _answers, _free_port
from integration.helpers import APP_IMAGE, Testbed, load_testbed
from integration.second_engine import SecondEngine

HOSTS = ("h1", "h2", "h3")
LABELS = {"opsui.test": "1", "opsui.bench": "multi_host_release"}
OPSUI = [sys.executable, "-m", "opsui"]
TARGET = 0.10


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class HostSshd:
    """An sshd whose sessions talk to one engine and see ``state`` (the app's state
    folder, shared path) as that host's own folder ``own``."""

    def __init__(self, testbed: Testbed, docker_host: str, folder: Path, state: Path,
                 own: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        own.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        config = folder / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\n"
            f"HostKey {testbed.state_dir / 'ssh_host_ed25519_key'}\n"
            f"AuthorizedKeysFile {testbed.ssh_key}.pub\nPubkeyAuthentication yes\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\nPermitRootLogin prohibit-password\nMaxSessions 50\n"
            f"SetEnv DOCKER_HOST={docker_host}\nPrintMotd no\n")
        script = 'mount --bind "$1" "$2" && exec /usr/sbin/sshd -D -e -f "$3"'
        with open(folder / "sshd.log", "ab") as log:
            self.process = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script,
                 "sh", str(own), str(state), str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 20
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError((folder / "sshd.log").read_text(errors="replace"))
            time.sleep(0.05)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


def start_engine(engine: SecondEngine, testbed: Testbed) -> None:
    engine.start()
    with contextlib.closing(engine.client()) as client:
        for tag in ("1.0.0", "2.0.0"):
            client.images.pull(testbed.registry_ref(f"{APP_IMAGE}:{tag}"))


def start_app(engine: SecondEngine, testbed: Testbed, name: str) -> None:
    """The app's container at 1.0.0, healthy (what the first deploy replaces)."""
    with contextlib.closing(engine.client()) as client:
        container = client.containers.run(testbed.registry_ref(f"{APP_IMAGE}:1.0.0"),
                                          name=name, detach=True, labels=LABELS)
        deadline = time.monotonic() + 60
        while container.attrs["State"].get("Health", {}).get("Status") != "healthy":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} on {engine.url} never became healthy")
            time.sleep(0.2)
            container.reload()


def version_on(engine: SecondEngine, name: str) -> str:
    with contextlib.closing(engine.client()) as client:
        image = client.containers.get(name).image
        assert image is not None
        return str(image.labels["org.opencontainers.image.version"])


def deploy(config: Path, env: dict[str, str], version: str, host: str | None,
           trace: bool = False) -> float:
    """One ``opsui deploy`` (all hosts, or ``--host``): its wall time; it must succeed.
    ``trace``: print each line of its output with the second it came at (where the
    time goes)."""
    argv = [*OPSUI, "--config", str(config), "deploy", "web", version, "--yes",
            "--confirm", "web", *(["--host", host] if host else [])]
    started = time.perf_counter()
    lines: list[str] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(f"    {time.perf_counter() - started:6.2f} {line.rstrip()}")
    took = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])} failed ({process.returncode}):\n"
                           + "\n".join(lines))
    if trace:
        print("\n".join(lines), flush=True)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--trace", action="store_true",
                        help="print every deploy's output, each line with its second")
    options = parser.parse_args()
    testbed = load_testbed()
    if testbed is None:
        raise SystemExit("no test bed: run scripts/testbed/up.sh first")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    print(f"opsui {commit}; load average at the start: {load_average()}", flush=True)
    engines = [SecondEngine.create() for _ in HOSTS]
    sshds: list[HostSshd] = []
    with tempfile.TemporaryDirectory(prefix="opsui-mh-bench-") as tmp:
        folder = Path(tmp)
        state = folder / "state"
        state.mkdir()
        try:
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda e: start_engine(e, testbed), engines))
            name = f"opsmh-bench-{os.getpid()}"
            for engine, host in zip(engines, HOSTS, strict=True):
                start_app(engine, testbed, name)
                sshds.append(HostSshd(testbed, engine.url, folder / host, state,
                                      folder / host / "state"))
            config = FleetBed(testbed, folder).config(
                "multi", {h: s.port for h, s in zip(HOSTS, sshds, strict=True)})
            with config.open("a") as toml:
                toml.write(f'[apps.web]\nhosts = ["h1", "h2", "h3"]\ncontainer = "{name}"\n'
                           f'state_dir = "{state}"\ngate_timeout = 60\n')
            env = {**os.environ, "XDG_CONFIG_HOME": str(folder / "cfg"),
                   "XDG_STATE_HOME": str(folder / "xdg-state"),
                   "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
            measure(config, env, engines, name, options.runs, options.trace)
        finally:
            for sshd in sshds:
                sshd.stop()
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(SecondEngine.cleanup, engines))
    print(f"load average at the end: {load_average()}")
    return 0


def measure(config: Path, env: dict[str, str], engines: list[SecondEngine], name: str,
            runs: int, trace: bool) -> None:
    version = "1.0.0"

    def rolling() -> float:
        return deploy(config, env, version, None, trace)

    def by_hand() -> float:
        return sum(deploy(config, env, version, host, trace) for host in HOSTS)

    sides = {"rolling (opsui deploy web)": rolling,
             "by hand (3 x opsui deploy web --host hN)": by_hand}
    times: dict[str, list[float]] = {side: [] for side in sides}
    deploy(config, env, "2.0.0", None)  # warm: the journals exist, caches are filled
    version = "2.0.0"
    for run in range(runs):
        order = list(sides) if run % 2 == 0 else list(reversed(sides))
        for side in order:
            version = "1.0.0" if version == "2.0.0" else "2.0.0"
            took = sides[side]()
            assert [version_on(e, name) for e in engines] == [version] * len(engines)
            times[side].append(took)
            print(f"  run {run + 1}: {side}: {took:.2f}s (to {version})", flush=True)
    rolled, hand = (times[side] for side in sides)
    for side, values in times.items():
        print(f"{side}: median {statistics.median(values):.2f}s, min {min(values):.2f}s "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    ratio = statistics.median(rolled) / statistics.median(hand) - 1
    best = min(rolled) / min(hand) - 1
    paired = statistics.median(r / h - 1 for r, h in zip(rolled, hand, strict=True))
    met = "met" if ratio <= TARGET else "NOT met"
    print(f"overhead of the rolling release: {ratio:+.1%} by medians, {best:+.1%} by "
          f"mins, {paired:+.1%} median of each run's pair (target <= {TARGET:.0%} by "
          f"medians: {met})")


if __name__ == "__main__":
    sys.exit(main())
