"""The sqlite engine for real: a throwaway image (the test app image plus this machine's
sqlite3 and the libraries ldd lists) holding a database file; backup, verify, restore.

Skips where the machine has no sqlite3 to copy (scripts/testbed/up.sh installs it; in
CI a skip fails).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker.client import DockerClient

from opsui.config import AppConfig, BackupConfig, Config, DeploySettings
from opsui.domain.backups import OK
from opsui.domain.ports import HostConnection

from .backup_fixtures import backups_on
from .conftest import DockerResources
from .helpers import APP_HEALTHY, TEST_LABEL_KEY, wait_for_health

pytestmark = pytest.mark.integration


def _sqlite_files() -> list[str]:
    binary = shutil.which("sqlite3")
    if binary is None:
        pytest.skip("no sqlite3 on this machine to put in a test image")
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libraries = [part for line in out.splitlines() for part in line.split()
                 if part.startswith("/")]
    return [binary, *libraries]


@pytest.fixture(scope="module")
def sqlite_image(docker_client: DockerClient, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    context = tmp_path_factory.mktemp("sqlite-image")
    for source in _sqlite_files():
        target = context / "rootfs" / source.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(source).resolve(), target)
    (context / "Dockerfile").write_text(f"FROM {APP_HEALTHY}\nCOPY rootfs/ /\n"
                                        "ENV PATH=/bin:/usr/bin\n"
                                        f"LABEL {TEST_LABEL_KEY}=1\n")
    tag = "opsui-test/sqlite-app:test"
    docker_client.images.build(path=str(context), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def test_sqlite_backup_verify_and_restore(local_host: HostConnection, sqlite_image: str,
                                          labelled: DockerResources,
                                          tmp_path: Path) -> None:
    app = labelled.container(sqlite_image)
    wait_for_health(app, "healthy")

    def sql(query: str) -> str:
        code, out = app.exec_run(["sqlite3", "/tmp/app.db", query])
        assert isinstance(out, bytes) and code == 0, out
        return out.decode().strip()

    sql("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept'), ('also kept')")
    settings = DeploySettings(state_dir=str(tmp_path / "state"))
    config = Config(deploy=settings, apps=(AppConfig(
        "notes", container=str(app.name), deploy=settings,
        backup=BackupConfig("sqlite", container=str(app.name), path="/tmp/app.db")),))
    backups = backups_on(local_host, config)
    spec = backups.resolve("notes")

    backup = backups.backup(spec, True)
    assert backup.verified and backup.check == "integrity_check: ok"
    assert Path(backup.path).read_bytes().startswith(b"SQLite format 3\x00")
    assert backups.verify(spec, backup.id).ok
    sql("DELETE FROM notes; INSERT INTO notes VALUES ('intruder')")

    restored = backups.restore(spec, backups.plan_restore(spec, backup.id), "notes")

    assert restored.outcome == OK and restored.safety_backup
    assert sql("SELECT body FROM notes ORDER BY rowid") == "kept\nalso kept"
