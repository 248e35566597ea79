"""The hosts and apps the UI tests share: the "shop" project, its health, its backups."""

from __future__ import annotations

import dataclasses
import hashlib

from opsui.config import DEFAULT_STATE_DIR, AppConfig, BackupConfig, Config, MigrateConfig
from opsui.domain.history import encode_record
from opsui.domain.models import (
    Container,
    ContainerState,
    Health,
    HttpHealth,
    PortBinding,
    SubCheck,
)

from .common import NOW, container
from .connection import FakeConnection


def shop_containers() -> list[Container]:
    """A small but realistic host: a compose project, a broken service, a loner."""
    web_ports = (PortBinding(8080, "tcp", "0.0.0.0", 18080),)
    return [
        container("a1", "shop-web-1", project="shop", service="web", ports=web_ports,
                  started_minutes_ago=185),
        container("a2", "shop-web-2", project="shop", service="web", started_minutes_ago=185,
                  ports=(PortBinding(8080, "tcp", "0.0.0.0", 18081),)),
        container("a3", "shop-worker-1", project="shop", service="worker",
                  image="opsui-test/app:3.0.0", health=Health.UNHEALTHY, restarts=4,
                  started_minutes_ago=7),
        container("a4", "shop-db-1", project="shop", service="db", image="opsui-test/pg:15",
                  started_minutes_ago=4000, ports=(PortBinding(5432),)),
        container("b1", "billing-api-1", project="billing", service="api",
                  health=Health.STARTING, started_minutes_ago=1),
        container("c1", "scratchpad", image="busybox:latest", health=Health.NONE,
                  state=ContainerState.EXITED, restarts=None),
    ]


SHOP_APP = AppConfig("shop", service="shop/web", health_urls=("http://127.0.0.1:18080/health",))


SHOP_HEALTH = (HttpHealth("http://127.0.0.1:18080/health", False, 503, 12.0,
                          (SubCheck("database", True, "4 ms"),
                           SubCheck("cache", False, "connection refused")),
                          checked_at=NOW),)


def config(**changes: object) -> Config:
    return dataclasses.replace(Config(), **changes)  # type: ignore[arg-type]


SHOP_BACKED_UP = AppConfig(
    "shop", service="shop/web",
    backup=BackupConfig("postgres", container="shop-db-1", database="shop"),
    migrate=MigrateConfig(("alembic", "upgrade", "head")))
"""The app "shop" with PostgreSQL backups and an alembic migration."""


FOLDER = f"{DEFAULT_STATE_DIR}/shop/backups"


GOOD = b"PGDMP" + b"\x01" * 4000


OLD, PRE, UNCHECKED, FAILED_DUMP, BAD = (
    "b20261123090000-aaaa", "b20261123100000-bbbb", "b20261123110000-cccc",
    "b20261123113000-dddd", "b20261123114500-eeee")


def seed_backups(conn: FakeConnection) -> None:
    """Five backups of SHOP_BACKED_UP in the host's journal (oldest first): a verified
    manual one, a verified one before a migration, one never checked, a failed dump,
    and one whose check failed; the files of the good ones in the store."""
    files = conn.fake_files
    journal = f"{DEFAULT_STATE_DIR}/shop/journal.jsonl"
    sha = hashlib.sha256(GOOD).hexdigest()

    def backup(bid: str, at: str, why: str = "manual", release: str = "",
               verify: dict[str, object] | None = None, outcome: str = "ok") -> None:
        path = f"{FOLDER}/shop-{bid}.dump"
        record: dict[str, object] = {
            "type": "backup", "id": bid, "app": "shop", "engine": "postgres",
            "who": "ada@desk", "at": at, "why": why, "release": release, "path": path,
            "outcome": outcome}
        if outcome == "ok":
            conn.fake_store.files[path] = GOOD
            record.update(size=len(GOOD), sha256=sha, seconds=1.2)
            if verify is not None:
                record["verify"] = verify
        else:
            record["error"] = "pg_dump: error: connection to server failed"
        files.append_record(journal, encode_record(record))

    good = {"ok": True, "detail": "pg_restore --list: 3 entries"}
    backup(OLD, "2026-11-23T09:00:00+00:00", verify=good)
    backup(PRE, "2026-11-23T10:00:00+00:00", "before-migration", "r20261123100000-1234",
           verify=good)
    backup(UNCHECKED, "2026-11-23T11:00:00+00:00")
    backup(FAILED_DUMP, "2026-11-23T11:30:00+00:00", outcome="failed")
    backup(BAD, "2026-11-23T11:45:00+00:00",
           verify={"ok": False, "detail": "pg_restore --list found no entries"})
