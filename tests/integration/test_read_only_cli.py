"""``--read-only`` holds for every subcommand: each one runs as a real process against the
test bed's PostgreSQL app, and nothing on the host changes (the app's state folder, its
database rows, the containers), the changing ones exit non-zero saying read-only, and
the reading ones still work. The cases are checked against the parser's subcommands, so
a new subcommand without a case fails here."""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker.client import DockerClient

from opsui.cli import build_parser

from .backup_fixtures import Database
from .conftest import OWNER_LABEL_KEY, DockerResources
from .helpers import APP_IMAGE, Testbed

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Case:
    """One subcommand run with --read-only, and what it must do."""

    args: tuple[str, ...]
    changes: bool
    """A host-changing command: refused, non-zero, with a read-only message."""
    unless: str = ""
    """A reading command may still fail for this reason, which is not read-only's (the
    test bed's engine is no Swarm manager: ``tasks`` has none to show)."""


@dataclass
class Bed:
    db: Database
    config: Path
    state: Path
    backup: str
    folder: Path
    read_only: tuple[str, ...]
    """``--read-only``, or nothing when the host is read-only in opsui.toml."""

    def opsui(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "opsui", "--config", str(self.config),
                               *self.read_only, *args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)


def host_state(bed: Bed, docker_client: DockerClient, owner: str) -> dict[str, object]:
    """Everything the commands could change on the host, as comparable values."""
    files = {str(p.relative_to(bed.state)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(bed.state.rglob("*")) if p.is_file()}
    folders = sorted(str(p.relative_to(bed.state)) for p in bed.state.rglob("*")
                     if p.is_dir())
    containers = sorted(
        (str(c.id), str(c.name), c.attrs["State"]["Status"], c.attrs["State"]["StartedAt"],
         c.attrs["RestartCount"])
        for c in docker_client.containers.list(all=True,
                                               filters={"label": f"{OWNER_LABEL_KEY}={owner}"}))
    return {"files": files, "folders": folders, "containers": containers,
            "rows": bed.db.customers()}


def write_config(path: Path, state: Path, db: Database, image: str, hosts: str = "",
                 host: str = "local") -> Path:
    """The ``shop`` app: its container is the database, backed up and migrated; its
    releases are known good at once (so reading its history would mark one)."""
    path.write_text(f'{hosts}[deploy]\nstate_dir = "{state}"\nknown_good_seconds = 0.001\n\n'
                    f'[apps.shop]\nhost = "{host}"\ncontainer = "{db.name}"\n'
                    f'image = "{image}"\n\n'
                    f'[apps.shop.backup]\nengine = "postgres"\ncontainer = "{db.name}"\n'
                    f'database = "shop"\nkeep = 3\n\n'
                    f'[apps.shop.migrate]\ncommand = ["psql", "-U", "postgres", "-d", "shop",'
                    f' "-c", "DELETE FROM orders"]\nrun_in = "running"\n')
    return path


def adopted_release(state: Path, db: Database) -> None:
    """A release that ended ok with the database container serving, not yet known good:
    as opsui writes when it adopts what serves before its first deploy."""
    db.container.reload()
    release = "r20260101000000-abcd"
    records = [
        {"type": "release", "id": release, "action": "adopt", "app": "shop", "who": "t@t",
         "at": "2026-01-01T00:00:00+00:00", "host": "local", "image": db.container.attrs[
             "Config"]["Image"], "version": "15", "digest": ""},
        {"type": "container", "release": release, "id": db.container.id, "image_id": ""},
        {"type": "outcome", "release": release, "outcome": "ok", "reason": "adopted",
         "at": "2026-01-01T00:00:00+00:00"},
    ]
    with (state / "shop" / "journal.jsonl").open("a", encoding="utf-8") as journal:
        journal.writelines(json.dumps(r) + "\n" for r in records)


READ_ONLY_FLAG, READ_ONLY_HOST = "--read-only", "read_only = true"


@pytest.fixture(params=[("local", READ_ONLY_FLAG), ("ssh", READ_ONLY_FLAG),
                        ("ssh", READ_ONLY_HOST)], ids=["local", "ssh", "ssh-host-read-only"])
def bed(request: pytest.FixtureRequest, shop_db: Database, testbed: Testbed,
        tmp_path: Path) -> Bed:
    """The app set up (a backup, an adopted release) on the local engine or through the
    sshd; then read-only by ``--read-only`` or by ``read_only = true`` on its host."""
    where, how = request.param
    state = tmp_path / "state"
    image = testbed.registry_ref(APP_IMAGE)

    def configure(read_only: str) -> Path:
        if where == "local":
            return write_config(tmp_path / "opsui.toml", state, shop_db, image)
        hosts = (f'[ssh]\nconfig = "{testbed.ssh_config}"\n'
                 f'known_hosts = "{testbed.ssh_known_hosts}"\n\n'
                 f'[hosts.bed]\nssh = "{testbed.ssh_url}"\n{read_only}\n\n')
        return write_config(tmp_path / "opsui.toml", state, shop_db, image, hosts, "bed")

    config = configure("")
    made = subprocess.run([sys.executable, "-m", "opsui", "--config", str(config), "backup",
                           "shop", "--yes", "--json"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)
    assert made.returncode == 0, made.stderr
    adopted_release(state, shop_db)
    configure(READ_ONLY_HOST if how == READ_ONLY_HOST else "")
    return Bed(shop_db, config, state, json.loads(made.stdout)["backup"]["id"],
               tmp_path / "local", () if how == READ_ONLY_HOST else (READ_ONLY_FLAG,))


def cases(bed: Bed, testbed: Testbed) -> dict[str, list[Case]]:
    """Per subcommand, the runs that must hold (several where one has modes)."""
    db, backup = bed.db.name, bed.backup
    fingerprint = subprocess.run(
        ["ssh-keygen", "-lf", str(testbed.state_dir / "ssh_host_ed25519_key.pub")],
        capture_output=True, text=True, check=True).stdout.split()[1]
    return {
        "ps": [Case(("ps", "--json"), False)],
        "start": [Case(("start", db, "--yes"), True)],
        "stop": [Case(("stop", db, "--yes"), True)],
        "restart": [Case(("restart", db, "--yes"), True)],
        "inspect": [Case(("inspect", db, "--json"), False)],
        # trust-host writes the operator's known_hosts on this machine, never the host
        "trust-host": [Case(("trust-host", testbed.ssh_url, "--fingerprint", fingerprint,
                             "--known-hosts", str(bed.folder / "known_hosts")), False)],
        "logs": [Case(("logs", db, "--tail", "5"), False)],
        "deploy": [Case(("deploy", "shop", "2.0.0", "--yes"), True)],
        "rollback": [Case(("rollback", "shop", "--yes"), True)],
        "history": [Case(("history", "shop"), False), Case(("history", "shop", "--json"),
                                                           False)],
        "tags": [Case(("tags", "shop"), False)],
        "lock": [Case(("lock", "shop", "-m", "freeze", "--yes"), True)],
        "unlock": [Case(("unlock", "shop", "--yes"), True)],
        "recover": [Case(("recover", "shop", "--finish", "--yes"), True),
                    Case(("recover", "shop", "--rollback", "--yes"), True)],
        "backup": [Case(("backup", "shop", "--yes"), True)],
        "backups": [Case(("backups", "shop"), False),
                    Case(("backups", "shop", "--verify", backup), True),
                    Case(("backups", "shop", "--verify", backup, "--json"), True),
                    Case(("backups", "shop", "--download", backup, "--to",
                          str(bed.folder / "copy.dump")), False)],
        "restore": [Case(("restore", "shop", backup, "--confirm", "shop"), True)],
        "migrate": [Case(("migrate", "shop", "--yes"), True)],
        "check-config": [Case(("check-config",), False)],
        "front": [Case(("front", "shop", "--yes"), True),
                  Case(("front", "shop", "--undo", "--yes"), True)],
        "tasks": [Case(("tasks",), False, unless="is not a Swarm manager"),
                  Case(("tasks", "--json"), False, unless="is not a Swarm manager")],
    }


def subcommands() -> set[str]:
    actions = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return set(actions[0].choices)


def test_read_only_changes_nothing_on_the_host_for_any_subcommand(
        bed: Bed, testbed: Testbed, docker_client: DockerClient,
        labelled: DockerResources) -> None:
    runs = cases(bed, testbed)
    assert set(runs) == subcommands()  # a new subcommand needs its case here
    bed.folder.mkdir()
    before = host_state(bed, docker_client, labelled.owner)
    problems: list[str] = []
    for case in (c for group in runs.values() for c in group):
        result = bed.opsui(*case.args)
        said = f"{' '.join(case.args)}: exit {result.returncode}: {result.stderr.strip()}"
        if case.changes and (result.returncode == 0 or "read-only" not in result.stderr):
            problems.append(f"not refused as read-only: {said}")
        if not case.changes and result.returncode != 0 \
                and not (case.unless and case.unless in result.stderr):
            problems.append(f"a reading command failed: {said}")
        after = host_state(bed, docker_client, labelled.owner)
        if after != before:
            problems.append(f"the host changed: {said}\n  {changed(before, after)}")
            before = after
    assert not problems, "\n".join(problems)
    assert (bed.folder / "copy.dump").stat().st_size > 0  # downloads still work
    assert (bed.folder / "known_hosts").read_text()  # and trusting a key, locally


def changed(before: dict[str, object], after: dict[str, object]) -> str:
    def what(key: str) -> str:
        return f"{key}: {before[key]!r} -> {after[key]!r}"

    return "; ".join(what(key) for key in before if before[key] != after[key])
