"""Folding the journal into releases, and choosing a rollback target."""

from __future__ import annotations

from typing import Any

from opsui.domain.history import encode_record, parse_journal
from opsui.domain.releases import OK, current_release, fold_releases, rollback_target


def release(rid: str, digest: str, **extra: Any) -> dict[str, Any]:
    return {"type": "release", "id": rid, "image": f"app:{rid}", "digest": digest,
            "version": rid, "who": "ana@laptop", "at": "2026-11-23T19:00:00Z", **extra}


def outcome(rid: str, value: str) -> dict[str, Any]:
    return {"type": "outcome", "release": rid, "outcome": value}


def journal(*records: dict[str, Any]) -> bytes:
    return b"".join(encode_record(r) for r in records) + b'{"type": "outcome", "rel'  # torn


def test_a_torn_journal_folds_into_releases_with_steps_and_outcomes() -> None:
    read = parse_journal(journal(
        release("r1", "sha256:1"), {"type": "step", "release": "r1", "name": "pull",
                                    "outcome": OK, "seconds": 1.5}, outcome("r1", OK),
        release("r2", "sha256:2", replaces="r1"), outcome("r2", "failed"),
        release("r3", "sha256:3")))
    releases = fold_releases(read.records)
    assert read.torn == 1
    assert [r.id for r in releases] == ["r1", "r2", "r3"]
    assert releases[0].steps[0].name == "pull" and releases[0].steps[0].seconds == 1.5
    assert releases[1].outcome == "failed" and releases[1].replaces == "r1"
    assert releases[2].outcome is None  # interrupted, or still running
    assert current_release(releases) == releases[0]


def test_rollback_prefers_the_last_known_good_and_never_a_failed_release() -> None:
    releases = fold_releases([
        release("r1", "sha256:1"), outcome("r1", OK), {"type": "good", "release": "r1"},
        release("r2", "sha256:2"), outcome("r2", OK),
        release("r3", "sha256:3"), outcome("r3", "failed"),
        release("r4", "sha256:4"), outcome("r4", OK)])
    current = releases[-1]
    assert rollback_target(releases, current) == releases[0]  # r1 was known good
    unmarked = fold_releases([release("a", "sha256:a"), outcome("a", OK),
                              release("b", "sha256:b"), outcome("b", "failed"),
                              release("c", "sha256:c"), outcome("c", OK)])
    assert rollback_target(unmarked, unmarked[-1]) == unmarked[0]  # never b
    assert rollback_target(unmarked[:1], unmarked[0]) is None


def test_hostile_fields_are_cleaned() -> None:
    [r] = fold_releases([release("r1", "sha256:1", who="\x1b]0;pwned\x07eve")])
    assert "\x1b" not in r.who and "eve" in r.who
