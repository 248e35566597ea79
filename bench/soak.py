"""Left open all night: the dashboard's memory, threads and descriptors under churn.

opsui runs in tmux (200x50) against the test bed's engine, locally or over the sshd,
while a loop does what a busy host does: a labelled container created and removed
every 2 s, another restarted every 5 s, and a chatty container logging 20 lines a
second. For the middle third of the run the log pane follows the chatty container
(opened with ``l`` on it, closed with ``esc``). Every ``--interval`` seconds the opsui
process's RSS, thread count and open descriptors are sampled.

Printed: the series; RSS at two starts, after the first minute and at the end; the
least-squares slope of RSS over the last 15 minutes (the last half of a shorter run: MB
per minute, and KB per container event); threads and fds first/last/max; the events
made; the load average at the start and the end.

"Start" is the sample after the table is populated and the first stats round was drawn
(the sample at ``WARM_SECONDS``: the stats pool's threads and the feeds' connections
exist by then); the very first sample (the table just drawn, before any stats) is printed
beside it, since growth from there includes the first stats round. Targets (issue 16):
RSS after 30 min <= start + 20 MB, no upward trend over the last 15 minutes, threads and
fds flat. Needs the test bed (scripts/testbed/up.sh):

    .venv/bin/python bench/soak.py [--minutes 30] [--interval 15] [--ssh] [--own-engine]

The shared test-bed engine shows every other test's and bench's containers too: each
one on screen is a row and a stats feed (a thread and a connection), so a bench running
beside this one moves RSS, threads and fds. ``--own-engine`` runs the dashboard against
a second dockerd (and, with ``--ssh``, an sshd in front of it) that only the churn uses.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.engine_sshd import EngineSshd
from integration.helpers import APP_HEALTHY, Testbed, load_testbed
from integration.second_engine import SecondEngine
from integration.soak_loop import Churn, Sample, kb_per_event, slope_mb_per_minute, soak
from integration.tmux_terminal import TmuxTerminal

WARM_SECONDS = 15.0
"""The sample taken as the start: after the first stats round (every 3 s) was drawn."""
TAIL_SECONDS = 15 * 60.0
"""The stretch over which the slope is fitted (issue 16: the last 15 minutes)."""


def show(sample: Sample) -> None:
    print(f"{sample.seconds / 60:6.1f} min  RSS {sample.rss_mb:7.1f} MB  threads "
          f"{sample.threads:3d}  fds {sample.fds:3d}  events {sample.events}", flush=True)


@contextlib.contextmanager
def own_engine(testbed: Testbed) -> Iterator[tuple[str, str]]:
    """A second dockerd of the bench's own (url, image): containers that other tests
    and benches make on the shared engine would be rows, feeds and memory too."""
    engine = SecondEngine.create()
    try:
        url = engine.start()
        image = testbed.registry_ref(APP_HEALTHY)
        client = engine.client()
        try:
            client.images.pull(image)
        finally:
            client.close()
        yield url, image
    finally:
        engine.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=15.0)
    parser.add_argument("--ssh", action="store_true", help="through the test bed's sshd")
    parser.add_argument("--own-engine", action="store_true",
                        help="on a second dockerd of its own (over SSH: behind an sshd of "
                             "its own), so other work on the shared engine does not count")
    args = parser.parse_args()
    testbed = load_testbed()
    if testbed is None:
        raise SystemExit("no test bed: run scripts/testbed/up.sh first")
    folder = Path(tempfile.mkdtemp(prefix="opsui-soak-"))
    env = {"XDG_CONFIG_HOME": str(folder / "cfg"), "XDG_STATE_HOME": str(folder / "state")}
    total = args.minutes * 60
    load_before = os.getloadavg()
    args.commit = os.popen("git rev-parse --short HEAD").read().strip()  # what runs
    with contextlib.ExitStack() as stack:
        docker_host, image = None, "opsui-test/app:1.0.0"
        if args.own_engine:
            docker_host, image = stack.enter_context(own_engine(testbed))
        command = [sys.executable, "-m", "opsui"]
        if args.ssh and docker_host is not None:
            sshd = EngineSshd.start(testbed, docker_host, folder / "sshd")
            stack.callback(sshd.stop)
            command += ["--config", str(sshd.config), "--host", "remote"]
        elif args.ssh:
            command += ["--host", testbed.ssh_url]
        elif docker_host is not None:
            command += ["--host", docker_host]
        if args.ssh:
            env.update(testbed.ssh_env())
        churn = Churn(docker_host, image)
        stack.callback(churn.stop)
        with TmuxTerminal(command, size=(200, 50), env=env) as term:
            term.wait_for(churn.chatty, "the table", timeout=60)
            samples = soak(term, churn, total, args.interval, (total / 3, 2 * total / 3), show)
    report(samples, args, total, load_before)


def report(samples: list[Sample], args: argparse.Namespace, total: float,
           load_before: tuple[float, float, float]) -> None:
    tail_from = total - TAIL_SECONDS if total >= 2 * TAIL_SECONDS else total / 2
    tail = [s for s in samples if s.seconds >= tail_from]
    first, last = samples[0], samples[-1]
    start = next((s for s in samples if s.seconds >= WARM_SECONDS), first)
    minute = next((s for s in samples if s.seconds >= 60), first)
    print(f"\nopsui {args.commit} (HEAD at the start), "
          f"{'ssh' if args.ssh else 'local'}"
          f"{', own engine' if args.own_engine else ''}, {args.minutes:g} min, "
          f"{last.events} events; load average at the start {_load(load_before)}, "
          f"at the end {_load(os.getloadavg())}")
    print(f"RSS    start ({start.seconds:.0f} s: table populated, first stats round drawn) "
          f"{start.rss_mb:.1f} MB  end {last.rss_mb:.1f} MB  growth "
          f"{last.rss_mb - start.rss_mb:+.1f} MB (target <= +20)")
    print(f"RSS    first sample (table just drawn, no stats yet) {first.rss_mb:.1f} MB  "
          f"growth since {last.rss_mb - first.rss_mb:+.1f} MB")
    print(f"RSS    after the first minute {minute.rss_mb:.1f} MB  growth since "
          f"{last.rss_mb - minute.rss_mb:+.1f} MB")
    print(f"RSS    slope over the last {(total - tail_from) / 60:.0f} min "
          f"{slope_mb_per_minute(tail):+.3f} MB/min (target: no upward trend), "
          f"{kb_per_event(tail):+.2f} KB per event; {tail[0].rss_mb:.1f} -> "
          f"{tail[-1].rss_mb:.1f} MB")
    print(f"RSS    per event over the run "
          f"{(last.rss_mb - start.rss_mb) * 1000 / max(last.events, 1):.1f} KB")
    for name in ("threads", "fds"):
        values = [int(getattr(s, name)) for s in samples]
        later = [int(getattr(s, name)) for s in samples if s.seconds >= 60]
        print(f"{name:7s} first {values[0]} last {values[-1]} max {max(values)}; after the "
              f"first minute min {min(later or values)} max {max(later or values)}")


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)

if __name__ == "__main__":
    main()
