"""`opsui backup|backups|restore|migrate` as processes on the test bed's PostgreSQL:
exit codes, --json on stdout, progress and steps on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .backup_fixtures import Database

pytestmark = pytest.mark.integration


def write_config(path: Path, state: Path, db: Database, migrate: str) -> Path:
    path.write_text(f'[deploy]\nstate_dir = "{state}"\n\n'
                    f'[apps.shop]\ncontainer = "{db.name}"\n\n'
                    f'[apps.shop.backup]\nengine = "postgres"\ncontainer = "{db.name}"\n'
                    f'database = "shop"\nkeep = 3\n\n'
                    f'[apps.shop.migrate]\ncommand = {migrate}\nrun_in = "running"\n')
    return path


def opsui(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsui", "--config", str(config), *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120)


def test_backup_list_verify_restore_and_migrate_headless(shop_db: Database,
                                                         tmp_path: Path) -> None:
    failing = json.dumps(["psql", "-U", "postgres", "-d", "shop", "-v", "ON_ERROR_STOP=1",
                          "-c", "SELECT * FROM no_such_table"])
    config = write_config(tmp_path / "opsui.toml", tmp_path / "state", shop_db, failing)

    made = opsui(config, "backup", "shop", "--yes", "--json")
    assert made.returncode == 0, made.stderr
    backup = json.loads(made.stdout)["backup"]
    assert backup["verified"] and backup["size"] > 0 and "backup shop" in made.stderr

    listed = opsui(config, "backups", "shop", "--json")
    assert [b["id"] for b in json.loads(listed.stdout)["backups"]] == [backup["id"]]
    text = opsui(config, "backups", "shop")
    assert backup["id"] in text.stdout and "verified" in text.stdout
    checked = opsui(config, "backups", "shop", "--verify", backup["id"], "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"]
    copy = tmp_path / "copy.dump"
    fetched = opsui(config, "backups", "shop", "--download", backup["id"], "--to", str(copy))
    assert fetched.returncode == 0 and copy.stat().st_size == backup["size"]

    shop_db.sql("DELETE FROM orders")
    refused = opsui(config, "restore", "shop", backup["id"], "--yes")
    assert refused.returncode == 1 and "Not confirmed" in refused.stderr
    restored = opsui(config, "restore", "shop", backup["id"], "--confirm", "shop", "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["restore"]["outcome"] == "ok"
    assert "✓ safety backup" in restored.stderr and shop_db.customers() == [
        "ada", "grace", "linus"]

    migrated = opsui(config, "migrate", "shop", "--yes", "--json")
    assert migrated.returncode == 1
    result = json.loads(migrated.stdout)
    assert result["ok"] is False and "restore point: backup b" in result["error"]
    assert "no_such_table" in migrated.stderr  # the migration's output, streamed

    read_only = opsui(config, "--read-only", "backup", "shop", "--yes")
    assert read_only.returncode == 1 and "read-only" in read_only.stderr
    missing = opsui(config, "backups", "nope")
    assert missing.returncode == 1 and "no app or container named" in missing.stderr
