"""An app deployed ad hoc, then declared in opsui.toml under another name, keeps its
releases, its rollback target, its audit lines and its one lock (issue 10, finding 6)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from opsui.config import DEFAULT_STATE_DIR, AppConfig, Config
from opsui.domain.errors import ActionRefused
from opsui.domain.history import Journal, encode_record, journal_path
from opsui.domain.logfeed import APP_LABEL
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.app_spec import resolve_app
from opsui.domain.operations.app_state import AppLock
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.lock import DeployLock, LockHolder
from opsui.domain.operations.rollback import RollbackPlan
from opsui.domain.releases import ADOPT, OK, fold_releases

from fakes import NOW, FakeEngine, FakeHostFiles, FakeProber, container

APP = "opsui-test/app"
SHOP = AppConfig("shop", container="ux-shop")
OLD = journal_path(DEFAULT_STATE_DIR, "ux-shop")
NEW = journal_path(DEFAULT_STATE_DIR, "shop")


def host() -> tuple[FakeEngine, FakeHostFiles]:
    engine = FakeEngine([container("u1", "ux-shop", image=f"{APP}:1.0.0")])
    engine.add_image(f"{APP}:1.0.0", NOW - timedelta(days=5))
    engine.add_image(f"{APP}:2.0.0", NOW - timedelta(days=2), on_host=False)
    return engine, FakeHostFiles()


def releases_on(engine: FakeEngine, files: FakeHostFiles, config: Config,
                gate: ActionGate | None = None) -> AppReleases:
    return AppReleases("local", engine, FakeProber(), files, gate or ActionGate(), config)


def deployed_ad_hoc() -> tuple[FakeEngine, FakeHostFiles]:
    """ux-shop deployed from 1.0.0 to 2.0.0 with no [apps] entry (named after it)."""
    engine, files = host()
    adhoc = releases_on(engine, files, Config())
    app = adhoc.resolve("ux-shop")
    assert app.name == "ux-shop" and app.former == ()
    assert adhoc.deploy(app, adhoc.plan_deploy(app, "2.0.0"), True) == OK
    return engine, files


def test_declaring_the_app_keeps_its_releases_target_and_audit_lines() -> None:
    engine, files = deployed_ad_hoc()
    before = files.read(OLD)
    declared = releases_on(engine, files, Config(apps=(SHOP,)))
    app = declared.resolve("shop")
    assert app.name == "shop" and app.former == ("ux-shop",)
    status = declared.status(app)
    adopted, deployed = status.releases
    assert adopted.action == ADOPT and adopted.version == "1.0.0"
    assert deployed.version == "2.0.0" and status.current is deployed
    assert status.target is adopted  # R has somewhere to go
    actions = [(a.action, a.outcome) for a in status.audit]
    assert actions == [("deploy", OK), ("adopt history", OK)]
    assert "ux-shop" in status.audit[-1].detail
    declared.status(app)  # said once, not on every look
    assert [a.action for a in declared.status(app).audit].count("adopt history") == 1
    assert files.read(OLD) == before  # the old journal is read, never rewritten


def test_a_rollback_of_the_declared_app_goes_to_the_ad_hoc_release() -> None:
    engine, files = deployed_ad_hoc()
    declared = releases_on(engine, files, Config(apps=(SHOP,)))
    app = declared.resolve("shop")
    plan = declared.plan_rollback(app)
    assert isinstance(plan, RollbackPlan)
    assert plan.target is not None and plan.target.version == "1.0.0"
    assert declared.rollback(app, plan, "shop") == OK
    serving = app.serving(engine.list_containers())
    assert serving is not None and serving.image == f"{APP}:1.0.0"
    status = declared.status(app)
    assert status.current is not None and status.current.action == "rollback"
    assert status.current.version == "1.0.0"
    new_records = [json.loads(line) for line in (files.read(NEW) or b"").splitlines()]
    assert any(r.get("action") == "rollback" for r in new_records)  # written as shop's
    assert declared.resolve("ux-shop").name == "shop"  # the old name means the app now


def test_the_container_name_resolves_to_the_declared_app_for_the_cli_and_the_tui() -> None:
    engine, _ = deployed_ad_hoc()
    containers = engine.list_containers()
    config = Config(apps=(SHOP,))
    kept = next(c for c in containers if ".before-r" in c.name)
    for ref in ("shop", "ux-shop", kept.name, kept.id[:12]):
        assert resolve_app(config, "local", ref, containers).name == "shop", ref


def test_former_names_are_safe_folder_names_and_never_another_apps() -> None:
    hostile = container("h1", "ux-shop.before-r20261123110000-abcd")
    hostile = hostile.__class__(**{**hostile.__dict__, "labels": {APP_LABEL: "../../etc"}})
    other = container("o1", "ux-shop.r20261123120000-abcd")
    other = other.__class__(**{**other.__dict__, "labels": {APP_LABEL: "billing"}})
    config = Config(apps=(SHOP, AppConfig("billing", container="billing-api-1")))
    app = resolve_app(config, "local", "shop", [container("u1", "ux-shop"), hostile, other])
    assert app.former == ("ux-shop",)


def _record(rid: str, version: str, at: str) -> list[dict[str, Any]]:
    return [{"type": "release", "id": rid, "action": "deploy", "app": "x", "who": "a@b",
             "at": at, "image": f"{APP}:{version}", "version": version},
            {"type": "outcome", "release": rid, "outcome": OK, "reason": "", "at": at}]


def test_a_release_made_under_the_old_name_later_comes_after_the_newer_ones() -> None:
    """Another operator's opsui.toml may not declare the app yet: its deploy, under the
    old name, after the app's own, is still the newest release."""
    files = FakeHostFiles()
    for record in (*_record("r20261201100000-aaaa", "1.0.0", "2026-12-01T10:00:00+00:00"),
                   *_record("r20261201120000-cccc", "3.0.0", "2026-12-01T12:00:00+00:00")):
        files.append_record(OLD, encode_record(record))
    for record in _record("r20261201110000-bbbb", "2.0.0", "2026-12-01T11:00:00+00:00"):
        files.append_record(NEW, encode_record(record))
    files.append_record(OLD, b'{"type": "step", "rel')  # a torn last line
    read = Journal(files, DEFAULT_STATE_DIR, "shop", ("ux-shop",)).read()
    assert [r.version for r in fold_releases(read.records)] == ["1.0.0", "2.0.0", "3.0.0"]
    assert read.torn == 1
    only_own = Journal(files, DEFAULT_STATE_DIR, "shop").read()
    assert [r.version for r in fold_releases(only_own.records)] == ["2.0.0"]


HOLDER = LockHolder("bob", "desk", "2026-12-01T10:00:00+00:00", version="3.0.0",
                    release="r20261201100000-aaaa", pid=0)


def test_a_deploy_under_the_new_name_sees_a_lock_held_under_the_old_one() -> None:
    engine, files = deployed_ad_hoc()
    assert DeployLock(files, DEFAULT_STATE_DIR, "ux-shop").acquire(HOLDER) is None
    declared = releases_on(engine, files, Config(apps=(SHOP,)))
    app = declared.resolve("shop")
    assert declared.status(app).lock == HOLDER
    refused = re.escape("shop is locked: deploy by bob@desk of 3.0.0")
    with pytest.raises(ActionRefused, match=refused):
        declared.deploy(app, declared.plan_deploy(app, "1.0.0"), True)
    assert not files.exists(f"{DEFAULT_STATE_DIR}/shop/lock")  # what it took, given back
    assert DeployLock(files, DEFAULT_STATE_DIR, "ux-shop").holder() == HOLDER


def test_a_freeze_of_the_declared_app_holds_the_old_name_too_and_unlock_frees_both() -> None:
    engine, files = deployed_ad_hoc()
    declared = releases_on(engine, files, Config(apps=(SHOP,)))
    app = declared.resolve("shop")
    declared.lock(app, "incident", True)
    old_name = DeployLock(files, DEFAULT_STATE_DIR, "ux-shop")
    held = old_name.holder()  # an opsui that knows the app as ux-shop sees the freeze
    assert held is not None and held.manual and held.message == "incident"
    assert old_name.acquire(HOLDER) == held
    declared.unlock(app, True)
    assert old_name.holder() is None and declared.status(app).lock is None


def test_giving_back_the_app_lock_leaves_another_names_live_lock() -> None:
    files = FakeHostFiles()
    stale = LockHolder("ann", "box", "2026-12-01T09:00:00+00:00", release="r1", pid=0)
    assert DeployLock(files, DEFAULT_STATE_DIR, "shop").acquire(stale) is None
    assert DeployLock(files, DEFAULT_STATE_DIR, "ux-shop").acquire(HOLDER) is None
    lock = AppLock(files, DEFAULT_STATE_DIR, "shop", ("ux-shop",))
    assert lock.holder() == stale
    lock.release()  # taking over the stale one
    assert lock.holder() == HOLDER


def test_read_only_shows_the_old_history_and_writes_nothing() -> None:
    engine, files = deployed_ad_hoc()
    before = dict(files.files)
    declared = releases_on(engine, files, Config(apps=(SHOP,)), ActionGate(read_only=True))
    app = declared.resolve("shop")
    status = declared.status(app)
    assert [r.version for r in status.releases] == ["1.0.0", "2.0.0"]
    assert files.files == before


def test_each_journal_keeps_the_order_it_was_written_in() -> None:
    """An audit line is written when its action ends, stamped when it began: a deploy
    refused during a long one is written first, and stays first."""
    files = FakeHostFiles()
    files.append_record(OLD, encode_record(_record("r20261201090000-aaaa", "1.0.0",
                                                   "2026-12-01T09:00:00+00:00")[0]))
    for outcome, at in (("refused", "2026-12-01T10:05:00+00:00"),
                        ("cancelled", "2026-12-01T10:00:00+00:00")):
        files.append_record(NEW, encode_record({"type": "action", "action": "deploy",
                                                "outcome": outcome, "at": at}))
    read = Journal(files, DEFAULT_STATE_DIR, "shop", ("ux-shop",)).read()
    assert [r.get("outcome") for r in read.records if r.get("type") == "action"] == [
        "refused", "cancelled"]
    assert read.records[0].get("type") == "release"  # the older journal's, before them
