"""Fixtures for the backup, restore and migration tests (conftest.py imports them): the
test bed's PostgreSQL on a labelled network (alias ``db``), an app config pointing at
it, and AppBackups / AppReleases built the way the CLI builds them, locally or through
the sshd."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from docker.models.containers import Container
from docker.models.networks import Network

from opsui.config import AppConfig, BackupConfig, Config, DeploySettings, MigrateConfig
from opsui.domain.operations.app_backups import AppBackups
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import HostConnection
from opsui.wiring import build_backups

from .helpers import POSTGRES_IMAGE, Testbed, wait_for_health

if TYPE_CHECKING:
    from .conftest import DockerResources


@pytest.fixture(params=["local", "ssh"])
def any_host(request: pytest.FixtureRequest, testbed: Testbed,
               tmp_path: Path) -> Iterator[HostConnection]:
    """The same engine, reached as the local host or as a remote host over the sshd."""
    if request.param == "local":
        from opsui.backends.local import LocalHost

        host: HostConnection = LocalHost("local")
    else:
        host = testbed.opsui_ssh_host(tmp_path)
    host.connect()
    yield host
    host.close()


@pytest.fixture
def local_host() -> Iterator[HostConnection]:
    from opsui.backends.local import LocalHost

    host = LocalHost("local")
    host.connect()
    yield host
    host.close()


@dataclass
class Database:
    container: Container
    network: Network

    def sql(self, query: str) -> str:
        code, out = self.container.exec_run(
            ["psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "shop", "-tAc", query])
        assert isinstance(out, bytes)
        text = out.decode(errors="replace")
        assert code == 0, text
        return text.strip()

    def customers(self) -> list[str]:
        return self.sql("SELECT customer FROM orders ORDER BY id").splitlines()

    @property
    def name(self) -> str:
        return str(self.container.name)


@pytest.fixture
def shop_db(labelled: DockerResources) -> Database:
    """A fresh PostgreSQL (``shop`` with ``orders``: ada, grace, linus) reachable as
    ``db`` on a labelled user-defined network."""
    network = labelled.network()
    container = labelled.container(POSTGRES_IMAGE, network=network.name)
    network.disconnect(container)
    network.connect(container, aliases=["db"])
    wait_for_health(container, "healthy", timeout=30)
    return Database(container, network)


def app_config(host: str, state: Path, db: Database, *, name: str = "shop",
               container: str | None = None, dest: str = "", keep: int = 7,
               image: str | None = None, migrate: tuple[str, ...] = (),
               run_in: str = "new") -> Config:
    settings = DeploySettings(state_dir=str(state), gate_timeout=40.0,
                              known_good_seconds=3600.0)
    app = AppConfig(name, host=host, container=container or db.name, image=image,
                    deploy=settings,
                    backup=BackupConfig("postgres", container=db.name, database="shop",
                                        dest=dest, keep=keep),
                    migrate=MigrateConfig(migrate, run_in, timeout=60.0) if migrate else None)
    return Config(deploy=settings, apps=(app,))


def backups_on(any_host: HostConnection, config: Config,
               gate: ActionGate | None = None) -> AppBackups:
    return build_backups(any_host, gate or ActionGate(), config)


def releases_on(any_host: HostConnection, config: Config, backups: AppBackups,
                gate: ActionGate | None = None) -> AppReleases:
    return AppReleases(any_host.name, any_host.engine, any_host.prober,
                       any_host.files, gate or ActionGate(), config,
                       any_host.image_tags, backups=backups)


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
