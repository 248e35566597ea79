"""Backup throughput: opsui's backup of a ~1 GB PostgreSQL database, against ``pg_dump``
run directly in the same run.

Setup: a labelled container of the test bed's PostgreSQL 15 (``opsui-test/postgres:15``)
with its data on a labelled volume; a database ``bench`` filled to ``--size-mb`` as
``pg_database_size`` reports it (one table of ``g, md5(g) || repeat(md5(random()), 8)``
rows written in a few batches, then VACUUM (FREEZE, ANALYZE) and CHECKPOINT so no
dump pays for hint bits). Then ``--rounds`` rounds of three arms, the order rotated
each round (direct, opsui, quiet / opsui, quiet, direct / quiet, direct, opsui):

  * direct (the reference): ``docker exec CONTAINER pg_dump -Fc -U postgres -d bench
    > FILE`` run by a shell on the host, as an operator would; over SSH the same command
    line run by ``ssh HOST '...'``, so the file lands on the host;
  * opsui: its backup of the same database through the Python API (``AppBackups.backup``
    on a LocalHost, or the test sshd's SshHost, with an ``[apps.bench.backup] engine =
    "postgres"`` Config built in code and a temporary destination; a progress callback
    as the CLI and TUI pass one), timed from the call to its return: the dump, fsync,
    sha256, rename, the engine's checks, journal and retention;
  * quiet: the same without a progress callback, to weigh the store's size polls.

There are no step events inside a backup, so "dump only" is taken from the file: the
bench polls the destination every 20 ms (beside every arm alike) for when the file
being written last grew, which is when pg_dump ended. Printed per dump: seconds, MB/s
of database size, CPU seconds in the database container (pg_dump, its backend, the
checks' pg_restore), of the bench and the commands it waited for, and over SSH of the
sshd serving opsui's connection; per round and as medians: throughput opsui / direct,
whole backup and dump only; the steps a whole backup adds done by hand after the
direct dump (fsync, sha256sum, pg_restore --list); what one progress poll costs; and
where opsui's time goes (every store, runner and host-file call timed). MB is 2^20
bytes, as ``pg_size_pretty`` counts. Target (issue 5): opsui's whole backup >= 90 % of
the direct pg_dump's throughput (median of the rounds' ratios).
Needs the test bed (scripts/testbed/up.sh). Run:

    .venv/bin/python bench/backup.py [--size-mb 1024] [--rounds 3] [--ssh]
                                     [--keep-db NAME]

``--keep-db NAME`` uses (or makes, then keeps) the container NAME and its data, so a
second run skips the fill.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container as DockerContainer
from docker.types import Mount

from opsui.backends.backup_download import copy_local
from opsui.backends.host_backups import ShellBackupStore
from opsui.config import AppConfig, BackupConfig, Config, DeploySettings
from opsui.domain.backups import Backup
from opsui.domain.operations.app_backups import AppBackups
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import HostConnection

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.helpers import (
    POSTGRES_IMAGE,
    Testbed,
    client_ports_to,
    load_testbed,
    sshd_children_serving,
)

LABELS = {"opsui.test": "1", "opsui.test.bench": "1"}
RUN_LABEL = "opsui.test.bench.run"
"""Also on what this run makes (the volume has no name to match): cleanup by this too."""
PREFIX = "opsui-bench-pg-"
PGDATA = "/var/lib/postgresql/data"
DB = "bench"
TABLE = "fill"
MB = 1 << 20
BYTES_PER_ROW_GUESS = 330
"""What one row costs in pg_database_size (measured: ~328 bytes); the first batch
measures it for real and the rest is sized from that."""
FILL_BATCHES = 5
DUMP_TIMEOUT = 600.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- the database ---------------------------------------------------------------------


def psql(container: str, sql: str, database: str = DB) -> str:
    """Run ``sql`` with psql in the container; its unaligned, tuples-only output."""
    done = subprocess.run(["docker", "exec", container, "psql", "-X", "-q", "-A", "-t",
                           "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", database,
                           "-c", sql], capture_output=True, text=True, timeout=DUMP_TIMEOUT)
    if done.returncode != 0:
        raise SystemExit(f"psql in {container} failed ({done.returncode}): {sql[:80]}...\n"
                         f"{done.stderr.strip()}")
    return done.stdout.strip()


def database_size(container: str) -> int:
    return int(psql(container, f"SELECT pg_database_size('{DB}')"))


def wait_ready(container: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(["docker", "exec", container, "pg_isready", "-q", "-h",
                               "127.0.0.1", "-U", "postgres"], capture_output=True)
        if done.returncode == 0:
            return
        if time.monotonic() >= deadline:
            raise SystemExit(f"{container}: PostgreSQL not ready after {timeout:g} s")
        time.sleep(0.1)


def start_database(client: docker.DockerClient, name: str, run_id: str) -> DockerContainer:
    """A labelled PostgreSQL container whose data directory is a labelled anonymous
    volume (Docker copies the image's initialised cluster into it on first mount; ``docker
    rm -v`` removes it with the container)."""
    labels = {**LABELS, RUN_LABEL: run_id}
    container = client.containers.run(
        POSTGRES_IMAGE, name=name, labels=labels, detach=True,
        mounts=[Mount(target=PGDATA, source=None, type="volume", labels=labels)])
    wait_ready(name)
    return container


def row_sql(first: int, last: int) -> str:
    return (f"SELECT g, md5(g::text) || repeat(md5(random()::text), 8) AS t "
            f"FROM generate_series({first}, {last}) g")


def fill(container: str, size_mb: int) -> None:
    """Fill ``bench`` until pg_database_size reaches ``size_mb``; prints what it took."""
    target = size_mb * MB
    started = time.perf_counter()
    empty = database_size(container)
    first = max(1000, (target - empty) // BYTES_PER_ROW_GUESS // FILL_BATCHES)
    psql(container, f"CREATE TABLE {TABLE} AS {row_sql(1, first)}")
    rows = first
    size = database_size(container)
    per_row = max(1.0, (size - empty) / first)
    print(f"  batch 1: {first:,} rows, {size / MB:,.0f} MB ({per_row:.0f} bytes a row), "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    remaining = int((target - size) / per_row)
    batch = max(1000, -(-remaining // (FILL_BATCHES - 1)))
    index = 1
    while size < target * 0.998 and remaining > 0:
        index += 1
        count = min(batch, remaining)
        psql(container, f"INSERT INTO {TABLE} {row_sql(rows + 1, rows + count)}")
        rows += count
        size = database_size(container)
        remaining = int((target - size) / per_row)
        print(f"  batch {index}: {rows:,} rows, {size / MB:,.0f} MB, "
              f"{time.perf_counter() - started:.1f} s", flush=True)
    filled = time.perf_counter()
    psql(container, f"VACUUM (FREEZE, ANALYZE) {TABLE}")
    psql(container, "CHECKPOINT")
    size = database_size(container)
    print(f"filled {DB} with {rows:,} rows in {filled - started:.1f} s, then VACUUM (FREEZE, "
          f"ANALYZE) + CHECKPOINT {time.perf_counter() - filled:.1f} s: pg_database_size "
          f"{size / MB:,.1f} MB ({size:,} bytes)", flush=True)


def prepare(client: docker.DockerClient, name: str, run_id: str, size_mb: int,
            keep: bool) -> None:
    """The bench database in container ``name``, ``size_mb`` big (reused when --keep-db
    names a container that already holds it)."""
    try:
        existing: DockerContainer | None = client.containers.get(name)
    except docker.errors.NotFound:
        existing = None
    if existing is None:
        print(f"starting {name} ({POSTGRES_IMAGE}, data on a labelled volume)"
              f"{'; kept after the run (--keep-db)' if keep else ''} ...", flush=True)
        start_database(client, name, run_id)
    else:
        if existing.status != "running":
            existing.start()
        wait_ready(name)
        print(f"reusing {name} (--keep-db)", flush=True)
    if psql(name, f"SELECT count(*) FROM pg_database WHERE datname = '{DB}'",
            "postgres") == "0":
        psql(name, f"CREATE DATABASE {DB}", "postgres")
    size = database_size(name)
    has_table = psql(name, f"SELECT to_regclass('{TABLE}') IS NOT NULL") == "t"
    if has_table and abs(size - size_mb * MB) <= 0.05 * size_mb * MB:
        print(f"{DB} already holds {size / MB:,.1f} MB; not filled again", flush=True)
        return
    if has_table:
        print(f"{DB} holds {size / MB:,.1f} MB, not ~{size_mb} MB: filled again", flush=True)
        psql(name, f"DROP TABLE {TABLE}")
    fill(name, size_mb)


def warm(container: str) -> None:
    """Read every page once so the first timed dump does not read from disk alone."""
    started = time.perf_counter()
    rows = psql(container, f"SELECT count(*) FROM {TABLE} WHERE length(t) > 0")
    print(f"warm-up read of {int(rows):,} rows: {time.perf_counter() - started:.1f} s",
          flush=True)


# -- measuring ----------------------------------------------------------------------


class Growth:
    """Polls a folder every 20 ms from the bench: when the file being dumped last grew
    (about when pg_dump ended: it only rewrites its table of contents in place after
    that) and when a final name appeared (opsui's rename). Run the same way beside the
    direct dump and opsui's, so both pay for it alike. The host is this machine, also
    for --ssh."""

    def __init__(self, folder: Path, growing: Callable[[str], bool],
                 final: Callable[[str], bool] | None = None) -> None:
        self.folder, self._growing, self._final = folder, growing, final
        self.last_growth = float("nan")
        self.renamed = float("nan")
        self._size = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="growth", daemon=True)

    def __enter__(self) -> Growth:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            try:
                names = os.listdir(self.folder)
            except FileNotFoundError:
                continue
            growing = [n for n in names if self._growing(n)]
            if growing:
                try:
                    size = (self.folder / growing[0]).stat().st_size
                except FileNotFoundError:
                    continue
                if size != self._size:
                    self._size, self.last_growth = size, time.perf_counter()
            elif self._final is not None and any(self._final(n) for n in names):
                self.renamed = time.perf_counter()
                return


def container_cpu_path(container_id: str) -> Path | None:
    """The container's CPU counter (cgroup v1 cpuacct in ns, or v2 cpu.stat in us):
    pg_dump (exec'd into it) and the PostgreSQL backend serving it are both in there."""
    for path in (Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage"),
                 Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat"),
                 Path(f"/sys/fs/cgroup/docker/{container_id}/cpu.stat")):
        if path.exists():
            return path
    return None


@dataclass
class CpuMeter:
    container: Path | None

    def sample(self) -> tuple[float, float]:
        """(container CPU s, this process's and its waited-for children's CPU s)."""
        inside = float("nan")
        if self.container is not None:
            text = self.container.read_text()
            if self.container.name == "cpuacct.usage":
                inside = int(text) / 1e9
            else:
                inside = int(text.split("usage_usec", 1)[1].split()[0]) / 1e6
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return inside, me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its descendants, with the children they reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(proc.name)] = int(fields[1])
        times[int(proc.name)] = sum(int(f) for f in fields[11:15]) / tick
    total = 0.0
    for pid in times:
        walk = pid
        while walk > 1 and walk != root:
            walk = parents.get(walk, 0)
        if walk == root:
            total += times[pid]
    return total


class SshdMeter:
    """CPU of the sshd processes serving this process's connections to the test sshd
    (opsui's SshHost): every exec channel there forks a session on the host."""

    def __init__(self, testbed: Testbed) -> None:
        self.pids = sshd_children_serving(testbed.state_dir / "sshd.pid", testbed.ssh_port,
                                          client_ports_to(testbed.ssh_port))

    def sample(self) -> float:
        return sum(tree_cpu(pid) for pid in self.pids) if self.pids else float("nan")


@dataclass
class Dump:
    seconds: float
    size: int
    dump_only: float
    """From the start until the file stopped growing."""
    db_cpu: float
    """CPU seconds in the database container (pg_dump and its backend)."""
    host_cpu: float
    """CPU seconds of the bench process and the commands it waited for (locally: the
    docker CLI, sh, sha256sum, stat...; over SSH the ssh client or paramiko, not sshd)."""
    load: float
    """1-minute load average at the end (other sessions' work on the machine)."""
    parts: dict[str, float] = field(default_factory=dict)
    sshd_cpu: float = float("nan")
    """opsui over SSH: CPU seconds of the sshd processes serving its connection."""


# -- the reference: pg_dump run directly ----------------------------------------------


def dump_command(container: str, dest: Path) -> str:
    return (f"docker exec {shlex.quote(container)} pg_dump -Fc -U postgres -d {DB} "
            f"> {shlex.quote(str(dest))}")


def direct_dump(container: str, dest: Path, testbed: Testbed | None, cpu: CpuMeter) -> Dump:
    """The operator's command line, run by a shell on the host (over ``ssh`` with
    ``testbed``), timed; then, untimed for the figure but timed apart, the steps a whole
    backup adds, done by hand: fsync, sha256sum and ``pg_restore --list`` of the file."""
    line = dump_command(container, dest)
    argv = testbed.ssh_command(line) if testbed else ["sh", "-c", line]
    with Growth(dest.parent, lambda n: n == dest.name) as watch:
        db0, host0 = cpu.sample()
        started = time.perf_counter()
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=DUMP_TIMEOUT)
        seconds = time.perf_counter() - started
        db1, host1 = cpu.sample()
    if done.returncode != 0:
        raise SystemExit(f"direct pg_dump failed ({done.returncode}): "
                         f"{done.stderr.decode(errors='replace').strip()}")
    size = dest.stat().st_size
    t0 = time.perf_counter()
    fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    t1 = time.perf_counter()
    subprocess.run(["sha256sum", str(dest)], check=True, capture_output=True)
    t2 = time.perf_counter()
    with dest.open("rb") as source:
        listed = subprocess.run(["docker", "exec", "-i", container, "pg_restore", "--list"],
                                stdin=source, capture_output=True, timeout=DUMP_TIMEOUT)
    t3 = time.perf_counter()
    if listed.returncode != 0 or TABLE.encode() not in listed.stdout:
        raise SystemExit(f"pg_restore --list of the direct dump failed: "
                         f"{listed.stderr.decode(errors='replace').strip()}")
    dest.unlink()
    return Dump(seconds, size, min(watch.last_growth - started, seconds), db1 - db0,
                host1 - host0, os.getloadavg()[0],
                {"fsync": t1 - t0, "sha256sum": t2 - t1, "pg_restore --list": t3 - t2})


# -- opsui's backup -------------------------------------------------------------------


@dataclass
class CallLog:
    """Every call through a :class:`Timed` proxy: (what, seconds); appended from the
    store's progress thread too (list.append is atomic)."""

    calls: list[tuple[str, float]] = field(default_factory=list)

    def by_name(self) -> dict[str, tuple[int, float]]:
        out: dict[str, list[float]] = defaultdict(list)
        for name, seconds in self.calls:
            out[name].append(seconds)
        return {name: (len(times), sum(times)) for name, times in out.items()}


def command_label(argv: list[str]) -> str:
    """Which of the store's host commands an argv is."""
    text = " ".join(argv)
    if "pg_dump" in text:
        return "dump script (pg_dump > partial, fsync, wc, sha256sum, mv, sync)"
    if "pg_restore --list" in text:
        return "verify (pg_restore --list < file)"
    if "pg_restore -f /dev/null" in text:
        return "read back (pg_restore -f /dev/null < file)"
    if "stat -c" in text:
        return "progress poll (stat of the partial file)"
    return f"other ({text[:40]})"


class Timed:
    """Passes every method call on to ``inner``, timing it into ``log``; the command
    runner's calls are named by what they run."""

    def __init__(self, inner: object, prefix: str, log: CallLog) -> None:
        self._inner, self._prefix, self._log = inner, prefix, log

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            label = f"{self._prefix}.{name}"
            if name == "run" and args:
                label = f"{self._prefix}: {command_label(list(args[0]))}"
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self._log.calls.append((label, time.perf_counter() - started))
        return timed


@dataclass
class OpsuiRound:
    dump: Dump
    """seconds: the call to its return; dump_only: until the temporary file stopped
    growing."""
    backup: Backup
    calls: CallLog
    to_rename: float
    """From the call until the final name appeared."""
    progress_calls: int


def make_backups(host: HostConnection, config: Config, calls: CallLog) -> AppBackups:
    """AppBackups as opsui.wiring.build_backups makes it, with the command runner, the
    store and the host files behind timing proxies."""
    engine: Any = host.engine
    runner: Any = Timed(host.runner, "runner", calls)
    shell = getattr(host, "shell", None)  # SshHost: polls go through its kept shell
    polls: Any = Timed(shell, "polls", calls) if shell is not None else None
    store: Any = Timed(ShellBackupStore(runner, host.name, copy_local, poll_runner=polls),
                       "store", calls)
    files: Any = Timed(host.files, "files", calls)
    return AppBackups(host.name, engine, files, ActionGate(), config, store=store,
                      jobs=engine.jobs)


def bench_config(host: str, container: str, folder: Path) -> Config:
    backup = BackupConfig(engine="postgres", container=container, database=DB,
                          dest=str(folder / "backups"))
    app = AppConfig(name="bench", host=host, container=container,
                    deploy=DeploySettings(state_dir=str(folder / "state")), backup=backup)
    return Config(apps=(app,), deploy=DeploySettings(state_dir=str(folder / "state")))


def opsui_backup(backups: AppBackups, calls: CallLog, dest: Path, cpu: CpuMeter,
                 sshd: SshdMeter | None, with_progress: bool = True) -> OpsuiRound:
    """One ``opsui backup bench`` through the API, timed from the call to its return;
    with a progress callback as the CLI and the TUI pass one (or, to weigh its polls,
    without); the file is removed afterwards (untimed)."""
    app = backups.resolve("bench")
    progressed = [0]

    def progress(done: int, rate: float) -> None:
        progressed[0] += 1

    calls.calls.clear()
    with Growth(dest, lambda n: n.startswith(".") and n.endswith(".partial"),
                lambda n: not n.startswith(".")) as watch:
        db0, host0 = cpu.sample()
        sshd0 = sshd.sample() if sshd else float("nan")
        started = time.perf_counter()
        backup = backups.backup(app, True, progress if with_progress else None)
        seconds = time.perf_counter() - started
        db1, host1 = cpu.sample()
        sshd1 = sshd.sample() if sshd else float("nan")
    if not backup.verified:
        raise SystemExit(f"opsui's backup is not verified: {backup.check}")
    Path(backup.path).unlink()
    dump = Dump(seconds, backup.size, watch.last_growth - started, db1 - db0, host1 - host0,
                os.getloadavg()[0], sshd_cpu=sshd1 - sshd0)
    return OpsuiRound(dump, backup, CallLog(list(calls.calls)), watch.renamed - started,
                      progressed[0])


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


# -- the run --------------------------------------------------------------------------


def rate(size: int, seconds: float) -> float:
    return size / MB / seconds if seconds > 0 else float("nan")


def cleanup(client: docker.DockerClient, name_prefix: str, run_id: str) -> None:
    """Containers of this run (label and name prefix), then its volumes (label)."""
    removed = 0
    for container in client.containers.list(all=True, filters={"label": "opsui.test.bench=1",
                                                               "name": name_prefix}):
        if str(container.name).startswith(name_prefix):
            container.remove(force=True, v=True)
            removed += 1
    volumes = 0
    for volume in client.volumes.list(filters={"label": f"{RUN_LABEL}={run_id}"}):
        if (volume.attrs.get("Labels") or {}).get("opsui.test.bench") == "1":
            volume.remove(force=True)
            volumes += 1
    print(f"removed {removed} bench container(s) and {volumes} volume(s)")


DIRECT, OPSUI, QUIET = "direct", "opsui", "opsui, no progress"
ARMS = (DIRECT, OPSUI, QUIET)


def run_target(target: str, container: str, db_size: int, rounds: int,
               testbed: Testbed | None, workdir: Path, cpu: CpuMeter) -> dict[str, float]:
    """``rounds`` rounds of the three arms, the order rotated each round: the direct
    pg_dump, opsui's backup as the CLI runs it, and opsui's without a progress callback
    (to weigh its polls)."""
    folder = workdir / target
    folder.mkdir()
    (folder / "backups").mkdir()
    over = testbed if target == "ssh" else None
    print(f"\n== {target}: {rounds} rounds, order rotated; direct: "
          f"{dump_command(container, folder / 'direct.dump')}"
          f"{' (run by ssh on the host)' if over else ''}", flush=True)
    runs: dict[str, list[Dump]] = {arm: [] for arm in ARMS}
    ours: list[OpsuiRound] = []
    calls = CallLog()
    with opsui_host(target, testbed, folder) as host:
        backups = make_backups(host, bench_config(host.name, container, folder), calls)
        backups.resolve("bench")  # connects the engine's pool before the first timing
        sshd = SshdMeter(testbed) if over and testbed else None
        print(f"{'round':>5} | {'arm':<18} | {'seconds':>7} | {'dump only':>9} | "
              f"{'MB/s db':>7} | {'pg CPU':>6} | {'host CPU':>8} | {'sshd CPU':>8} | load",
              flush=True)
        for index in range(1, rounds + 1):
            shift = (index - 1) % len(ARMS)
            for arm in ARMS[shift:] + ARMS[:shift]:
                if arm == DIRECT:
                    dump = direct_dump(container, folder / "direct.dump", over, cpu)
                else:
                    mine = opsui_backup(backups, calls, folder / "backups", cpu, sshd,
                                        with_progress=arm == OPSUI)
                    if arm == OPSUI:
                        ours.append(mine)
                    dump = mine.dump
                runs[arm].append(dump)
                print(f"{index:>5} | {arm:<18} | {dump.seconds:7.2f} | {dump.dump_only:9.2f} | "
                      f"{rate(db_size, dump.seconds):7.1f} | {dump.db_cpu:6.1f} | "
                      f"{dump.host_cpu:8.2f} | {cpu_text(dump.sshd_cpu)} | {dump.load:.1f}",
                      flush=True)
            d, o, q = (runs[arm][-1] for arm in ARMS)
            print(f"{index:>5} | throughput / direct: opsui {d.seconds / o.seconds:.3f} "
                  f"(dump only {d.dump_only / o.dump_only:.3f}), no progress "
                  f"{d.seconds / q.seconds:.3f} (dump only {d.dump_only / q.dump_only:.3f})",
                  flush=True)
        polls = poll_cost(host, folder / "backups", sshd)
    return summarize(runs, ours, db_size, polls)


def cpu_text(seconds: float) -> str:
    return f"{'-':>8}" if seconds != seconds else f"{seconds:8.2f}"


def poll_cost(host: HostConnection, folder: Path, sshd: SshdMeter | None,
              count: int = 20) -> tuple[float, float, str]:
    """Wall and CPU seconds (sshd's over SSH, the bench's children's locally) of one
    progress poll: the store's ``stat`` of a file, ``count`` times through the runner."""
    probe = folder / ".probe.partial"
    probe.write_bytes(b"x")
    argv = ["sh", "-c", 'stat -c %s -- "$1" 2>/dev/null || echo 0', "sh", str(probe)]
    before = sshd.sample() if sshd else CpuMeter(None).sample()[1]
    started = time.perf_counter()
    for _ in range(count):
        host.runner.run(argv, 10.0)
    wall = (time.perf_counter() - started) / count
    after = sshd.sample() if sshd else CpuMeter(None).sample()[1]
    probe.unlink()
    return wall, (after - before) / count, "sshd" if sshd else "the commands'"


def summarize(runs: dict[str, list[Dump]], ours: list[OpsuiRound], db_size: int,
              polls: tuple[float, float, str]) -> dict[str, float]:
    direct = runs[DIRECT]
    size = int(median([float(r.size) for r in direct]))
    med = {arm: median([r.seconds for r in runs[arm]]) for arm in ARMS}
    only = {arm: median([r.dump_only for r in runs[arm]]) for arm in ARMS}

    def ratio(arm: str, dump_only: bool = False) -> float:
        """Median over the rounds of direct's seconds / the arm's, same round."""
        return median([(d.dump_only / r.dump_only) if dump_only else (d.seconds / r.seconds)
                       for d, r in zip(direct, runs[arm], strict=True)])

    for arm in ARMS:
        print(f"median {arm:<18}: {med[arm]:6.2f} s = {rate(db_size, med[arm]):5.1f} MB/s of "
              f"database, {rate(size, med[arm]):4.1f} MB/s of dump; dump only {only[arm]:6.2f} s"
              f"; CPU: pg {median([r.db_cpu for r in runs[arm]]):.1f} s, host "
              f"{median([r.host_cpu for r in runs[arm]]):.2f} s, sshd "
              f"{cpu_text(median([r.sshd_cpu for r in runs[arm]])).strip()} s")
    parts = {k: median([r.parts[k] for r in direct]) for k in direct[0].parts}
    by_hand = median([r.seconds + sum(r.parts.values()) for r in direct])
    ratio_hand = median([(d.seconds + sum(d.parts.values())) / o.seconds
                         for d, o in zip(direct, runs[OPSUI], strict=True)])
    print("the extra steps by hand after a direct dump (median): " + ", ".join(
        f"{k} {v:.2f} s" for k, v in parts.items()) + f"; direct + these {by_hand:.2f} s")
    print(f"one progress poll (the store's stat through the runner): {polls[0] * 1000:.0f} ms "
          f"wall, {polls[1] * 1000:.0f} ms of {polls[2]} CPU; opsui made "
          f"{median([float(r.progress_calls) for r in ours]):.0f} per backup")
    result = {"direct": med[DIRECT], "opsui": med[OPSUI], "quiet": med[QUIET],
              "dump_only": only[OPSUI], "ratio": ratio(OPSUI),
              "ratio_dump": ratio(OPSUI, True), "ratio_quiet": ratio(QUIET),
              "ratio_quiet_dump": ratio(QUIET, True), "ratio_hand": ratio_hand,
              "dump_size": size}
    print(f"throughput / direct (median of the rounds' ratios): opsui whole backup "
          f"{result['ratio']:.3f}, its dump only {result['ratio_dump']:.3f}; without "
          f"progress {result['ratio_quiet']:.3f} (dump only {result['ratio_quiet_dump']:.3f}); "
          f"opsui against direct + the steps by hand {ratio_hand:.3f}")
    verdict = "MET" if result["ratio"] >= 0.9 else "NOT met"
    print(f"target (opsui's whole backup >= 90 % of direct pg_dump's throughput): {verdict}",
          flush=True)
    print_profile(ours)
    return result


def print_profile(ours: list[OpsuiRound]) -> None:
    """Where opsui's whole backup goes (medians over the rounds)."""
    whole = median([r.dump.seconds for r in ours])
    grown = median([r.dump.dump_only for r in ours])
    renamed = median([r.to_rename for r in ours])
    print(f"opsui's backup, where the time goes (median): until the file stopped growing "
          f"{grown:.2f} s; then to the final name (fsync, wc, sha256sum, mv) "
          f"{renamed - grown:.2f} s; then to return (sync, the engine's checks, journal, "
          f"retention) {whole - renamed:.2f} s; "
          f"{median([float(r.progress_calls) for r in ours]):.0f} progress callbacks")
    names: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for round_ in ours:
        for name, (count, total) in round_.calls.by_name().items():
            names[name].append((count, total))
    print("  calls per backup (median count, median total seconds; the store's calls "
          "include the runner's under them):")
    for name in sorted(names, key=lambda n: -median([t for _, t in names[n]])):
        counts = [float(c) for c, _ in names[name]]
        seconds = [t for _, t in names[name]]
        print(f"    {name:<72} x{median(counts):<4g} {median(seconds):7.3f}s")


def code_version() -> str:
    """HEAD, and the opsui/ files changed in the working tree (what was measured)."""
    root = Path(__file__).resolve().parents[1]
    head = subprocess.run(["git", "log", "-1", "--format=%h %s"], cwd=root,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--short", "--", "opsui"], cwd=root,
                           capture_output=True, text=True).stdout.split("\n")
    changed = [line[3:] for line in dirty if line.strip()]
    return f"{head[:90]}" + (f"; changed in the tree: {', '.join(changed)}" if changed
                             else "; opsui/ as committed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024,
                        help="pg_database_size to fill the database to (MB of 2^20 bytes)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the three arms (0: only make and fill the database, "
                             "e.g. with --keep-db)")
    parser.add_argument("--ssh", action="store_true",
                        help="also through the test sshd (opsui's SshHost; direct: the same "
                             "command line run by ssh)")
    parser.add_argument("--keep-db", metavar="NAME",
                        help="use container NAME (made if missing) and keep it and its data")
    options = parser.parse_args()
    testbed = load_testbed()
    if options.ssh and testbed is None:
        print("--ssh needs the test bed (scripts/testbed/up.sh)", file=sys.stderr)
        return 2
    run_id = uuid.uuid4().hex[:8]
    name = options.keep_db or f"{PREFIX}{run_id}"
    client = docker.from_env(timeout=60)
    results: dict[str, dict[str, float]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="opsui-bench-backup-"))
    started = time.perf_counter()
    try:
        prepare(client, name, run_id, options.size_mb, bool(options.keep_db))
        warm(name)
        db_size = database_size(name)
        cpu = CpuMeter(container_cpu_path(str(client.containers.get(name).id)))
        print(f"opsui at {code_version()}", flush=True)
        print(f"load average at the start {os.getloadavg()[0]:.2f}; CPU of the database "
              f"container from {cpu.container or '(not found: nan)'}", flush=True)
        for target in ["local", *(["ssh"] if options.ssh else [])] * (options.rounds > 0):
            results[target] = run_target(target, name, db_size, options.rounds, testbed,
                                         workdir, cpu)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if options.keep_db:
            print(f"\nkept {name} and its data (--keep-db); remove them with "
                  f"`docker rm -f -v {name}`")
        else:
            print()
            cleanup(client, f"{PREFIX}{run_id}", run_id)
        client.close()
    for target, r in results.items():
        print(f"{target:>5}: direct {r['direct']:.2f} s, opsui {r['opsui']:.2f} s (dump only "
              f"{r['dump_only']:.2f} s), without progress {r['quiet']:.2f} s; throughput / "
              f"direct: opsui {r['ratio']:.3f} whole, {r['ratio_dump']:.3f} dump only, "
              f"{r['ratio_hand']:.3f} against direct + the steps by hand; without progress "
              f"{r['ratio_quiet']:.3f}")
    print(f"whole run {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
