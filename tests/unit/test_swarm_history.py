"""The encoding of a Swarm service's release history kept in the cluster (issue 15):
bounded, hostile text made inert, another service's or a foreign config ignored."""

from __future__ import annotations

import json
import re

from opsui.domain.releases import fold_releases
from opsui.domain.swarm_history import (
    KEEP,
    MAX_BYTES,
    StoredRelease,
    config_name,
    decode_release,
    encode_release,
    merged,
    newest_first,
    records_of,
    to_remove,
)

ESC = "\x1b"


def release(rid: str, at: str, **extra: object) -> list[dict[str, object]]:
    return [{"type": "release", "id": rid, "action": "deploy", "at": at, "version": "2.0.0",
             **extra},
            {"type": "step", "release": rid, "name": "converge", "outcome": "ok",
             "seconds": 1.5, "detail": "opsui-sw1: web.1 running, healthy"},
            {"type": "outcome", "release": rid, "outcome": "ok", "reason": "serves"}]


def test_a_release_round_trips_and_folds_as_journaled() -> None:
    records = release("r1", "2026-12-07T14:00:00+00:00")
    data = encode_release("web", "r1", records)
    # Compact JSON on one line: what the config holds is small.
    assert data == json.dumps(json.loads(data), separators=(",", ":")).encode()
    [folded] = fold_releases(decode_release(data, "web"))
    assert (folded.id, folded.outcome, folded.version) == ("r1", "ok", "2.0.0")
    assert folded.steps[0].detail == "opsui-sw1: web.1 running, healthy"


def test_a_huge_release_is_cut_to_the_bound_keeping_what_it_was() -> None:
    records = release("r1", "2026-12-07T14:00:00+00:00")
    records[1:1] = [{"type": "step", "release": "r1", "name": f"s{i}", "outcome": "ok",
                     "detail": "x" * 50_000} for i in range(300)]
    data = encode_release("web", "r1", records)
    assert len(data) <= MAX_BYTES
    decoded = decode_release(data, "web")
    assert decoded[0]["type"] == "release" and decoded[0]["id"] == "r1"
    assert json.loads(data)["cut"] > 0
    assert all(len(str(r.get("detail", ""))) <= 6001 for r in decoded)


def test_hostile_text_in_a_stored_release_is_made_inert() -> None:
    hostile = {"format": "opsui.swarm-history/1", "service": "web", "release": "r1",
               "records": [
                   {"type": "release", "id": "r1", "at": "2026-12-07T14:00:00+00:00",
                    "image": f"app{ESC}]0;pwned{ESC}\\:1 {ESC}[31mred\x07\x08",
                    f"k{ESC}[2J": "v", "deep": [[[[["too deep"]]]]]},
                   {"type": "outcome", "release": "r1", "outcome": "ok",
                    "reason": f"line one\nline two{ESC}[0m\r"},
                   "not a record", 42, {"no": "type"}]}
    decoded = decode_release(json.dumps(hostile).encode(), "web")
    assert [r["type"] for r in decoded] == ["release", "outcome"]
    # No escape or control character survives anywhere (keys too), newlines aside.
    assert not re.search(r"[\x00-\x1f\x7f]", "".join(_strings(decoded)))
    assert "[31m" not in decoded[0]["image"] and "pwned" not in decoded[0]["image"]
    assert decoded[0]["deep"] == [[[None]]]  # nesting past the bound is dropped
    assert decoded[1]["reason"].startswith("line one\nline two")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value.replace("\n", "")]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_foreign_or_oversized_data_is_ignored() -> None:
    good = encode_release("web", "r1", release("r1", "2026-12-07T14:00:00+00:00"))
    assert decode_release(good, "other") == []  # another service's, mislabelled
    assert decode_release(b"\xff\xfe not json", "web") == []
    assert decode_release(json.dumps({"format": "x", "service": "web"}).encode(), "web") == []
    assert decode_release(b" " * (MAX_BYTES + 1) + good, "web") == []


def test_config_names_are_valid_for_any_release_id() -> None:
    for rid in ("r20261207140000-abcd", "../../etc", "r" * 200, "é\x1b[31m;rm -rf"):
        name = config_name("web", rid, b"{}")
        assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}", name), name
    assert config_name("web", "r1", b"a") != config_name("api", "r1", b"a")
    assert config_name("web", "r1", b"a") != config_name("web", "r1", b"ab")


def stored(rid: str, at: str, data: bytes = b"x") -> StoredRelease:
    return StoredRelease(f"n-{rid}-{len(data)}", "web", rid, at, data)


def test_only_the_newest_releases_are_kept() -> None:
    entries = [stored(f"r{i:03d}", f"2026-12-07T14:{i // 60:02d}:{i % 60:02d}")
               for i in range(KEEP + 5)]
    doomed = to_remove(entries)
    assert {d.release for d in doomed} == {f"r{i:03d}" for i in range(5)}
    assert [s.release for s in newest_first(entries)][:2] == [f"r{KEEP + 4:03d}",
                                                             f"r{KEEP + 3:03d}"]


def test_a_recovered_release_supersedes_its_first_state() -> None:
    first, recovered = stored("r1", "t1", b"short"), stored("r1", "t1", b"longer data")
    assert newest_first([first, recovered]) == [recovered]
    assert to_remove([first, recovered]) == [first]


def test_the_host_journal_gets_the_cluster_releases_it_lacks_in_time_order() -> None:
    own = release("r2", "2026-12-07T14:10:00+00:00")
    cluster = [*release("r1", "2026-12-07T14:00:00+00:00"),
               *release("r2", "2026-12-07T14:10:00+00:00", version="hidden")]
    folded = fold_releases(merged(own, cluster))
    assert [r.id for r in folded] == ["r1", "r2"]
    assert folded[1].version == "2.0.0"  # the host's own record of r2 wins
    assert merged(own, []) == own


def test_a_release_s_records_include_its_rolled_back_mark() -> None:
    journal: list[dict[str, object]] = [*release("r1", "a"), *release("r2", "b"),
               {"type": "rolled_back", "release": "r1", "by": "r2"},
               {"type": "action", "action": "deploy"}]
    mine = records_of("r2", journal)
    assert [r["type"] for r in mine] == ["release", "step", "outcome", "rolled_back"]
