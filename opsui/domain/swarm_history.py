"""A Swarm service's release history kept in the cluster, so every manager shares it.

The journal of an app lives in the state folder of the host opsui deployed through; for
a Swarm service that is one manager among several, and losing it would lose the
history. So each finished release of a service is also written into the cluster's own
replicated store (its raft log): one Swarm ``config`` object per release, immutable,
labelled with the service and the release, whose data is the release's journal records
as compact JSON. Any manager lists them, and the last :data:`KEEP` per service are kept.

The data is untrusted on the way back (anyone with a manager's socket can write a
config with our labels): it is size-checked, parsed strictly, and every string cleaned
and bounded, on writing and again on reading. This module encodes and decodes; the
backend (opsui/backends/docker_swarm_history.py) talks to the engine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from opsui.domain.history import merge_journals
from opsui.domain.sanitize import clean, clean_block

FORMAT = "opsui.swarm-history/1"
HISTORY_LABEL = "opsui.history"
"""On every config holding a release: its value is the format."""
SERVICE_LABEL = "opsui.history.service"
RELEASE_LABEL = "opsui.history.release"
AT_LABEL = "opsui.history.at"
KEEP = 30
"""Releases kept per service: older configs are removed when a new one is written."""
MAX_BYTES = 64 * 1024
"""Per release, written or read (the engine allows 500 KB per config): a release that
would not fit keeps its first records and says it was cut."""
MAX_RECORDS = 200
MAX_TEXT = 6000
"""Longest string kept (a release's reason is the longest journaled text)."""
_MAX_KEYS = 40
_MAX_DEPTH = 4
_NAME_LIMIT = 64


@dataclass(frozen=True)
class StoredRelease:
    """One release as the cluster holds it (from a config's labels and data)."""

    name: str
    """The config's name (what removing it takes)."""
    service: str
    release: str
    at: str
    data: bytes


@runtime_checkable
class ClusterHistory(Protocol):
    """Release records of Swarm services in the cluster's store (issue 15).

    Raises OpsuiError subclasses (EngineUnavailable, ActionFailed), never library ones.
    """

    def publish_release(self, service: str, release_id: str,
                        records: Sequence[Mapping[str, Any]]) -> None:
        """Write one finished release of ``service`` and drop the oldest past KEEP."""
        ...

    def release_records(self, service: str) -> tuple[Mapping[str, Any], ...]:
        """Every record of the kept releases of ``service``, oldest release first."""
        ...


def config_name(service: str, release_id: str, data: bytes) -> str:
    """A config name (unique in the cluster, at most 64 of ``[a-zA-Z0-9_.-]``) for one
    state of one release of one service: the release id when it is plain, after a short
    hash of the service and the data (two services may hold releases with equal ids; a
    recovered release is written again, with its outcome, next to its first state).
    The same data twice is the same name: writing it again is a no-op."""
    digest = hashlib.sha256(f"{service}\0{release_id}\0".encode() + data).hexdigest()
    plain = "".join(ch for ch in release_id if ch.isascii() and (ch.isalnum() or ch in "-_."))
    return f"opsui-rel-{digest[:12]}-{plain}"[:_NAME_LIMIT]


def labels_of(service: str, release_id: str, at: str) -> dict[str, str]:
    return {HISTORY_LABEL: FORMAT, SERVICE_LABEL: clean(service, 200),
            RELEASE_LABEL: clean(release_id, 100), AT_LABEL: clean(at, 64)}


def records_of(release_id: str, records: Iterable[Mapping[str, Any]]
               ) -> list[Mapping[str, Any]]:
    """The journal records that belong to ``release_id``: its ``release`` record, its
    steps, notes and outcome, and the ``rolled_back`` mark it wrote about the release
    it replaced."""
    return [r for r in records
            if (r.get("id") if r.get("type") == "release" else r.get("release")) == release_id
            or (r.get("type") == "rolled_back" and r.get("by") == release_id)]


def encode_release(service: str, release_id: str,
                   records: Sequence[Mapping[str, Any]]) -> bytes:
    """Compact JSON of one release, cleaned and bounded to :data:`MAX_BYTES`: records
    past what fits are dropped (the first ones, which say what the release was, stay)
    and ``cut`` says how many."""
    kept: list[Any] = []
    cut = 0
    base = {"format": FORMAT, "service": clean(service, 200),
            "release": clean(release_id, 100)}
    size = len(_dump({**base, "records": [], "cut": 0}))
    for record in records[:MAX_RECORDS]:
        value = _bounded(record, 0)
        if not isinstance(value, dict):
            cut += 1
            continue
        piece = len(_dump(value)) + 1
        if cut or size + piece > MAX_BYTES - 32:
            cut += 1
            continue
        kept.append(value)
        size += piece
    cut += max(0, len(records) - MAX_RECORDS)
    return _dump({**base, "records": kept, "cut": cut}).encode()


def decode_release(data: bytes, service: str) -> list[Mapping[str, Any]]:
    """The records of one stored release, or none when the data is not ours (too big,
    not JSON, another format, another service): cleaned and bounded as when written."""
    if len(data) > MAX_BYTES:
        return []
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return []
    if not isinstance(value, dict) or value.get("format") != FORMAT \
            or value.get("service") != clean(service, 200):
        return []
    records = value.get("records")
    if not isinstance(records, list):
        return []
    found: list[Mapping[str, Any]] = []
    for record in records[:MAX_RECORDS]:
        bounded = _bounded(record, 0)
        if isinstance(bounded, dict) and isinstance(bounded.get("type"), str):
            found.append(bounded)
    return found


def newest_first(stored: Iterable[StoredRelease]) -> list[StoredRelease]:
    """One config per release (of several states of one release, the longest: a
    recovery's has the outcome), by when the release began (the label), then by
    release id (ids sort by time)."""
    best: dict[str, StoredRelease] = {}
    for entry in stored:
        held = best.get(entry.release)
        if held is None or (len(entry.data), entry.name) > (len(held.data), held.name):
            best[entry.release] = entry
    return sorted(best.values(), key=lambda s: (s.at, s.release), reverse=True)


def to_remove(stored: Iterable[StoredRelease], keep: int = KEEP) -> list[StoredRelease]:
    """The configs past the newest ``keep`` releases of a service, and the states of a
    release superseded by a longer one."""
    entries = list(stored)
    kept = {entry.name for entry in newest_first(entries)[:keep]}
    return [entry for entry in entries if entry.name not in kept]


def merged(own: Sequence[Mapping[str, Any]], cluster: Sequence[Mapping[str, Any]]
           ) -> list[Mapping[str, Any]]:
    """The host's journal with the cluster's releases it lacks (made through another
    manager, or before this host's state folder was lost), each release whole from one
    source: the host's own records (with its later "good" marks) win; interleaved by
    when each release began."""
    known = {r.get("id") for r in own if r.get("type") == "release"}
    extra: list[Mapping[str, Any]] = []
    current = ""
    for record in cluster:
        if record.get("type") == "release":
            current = str(record.get("id") or "")
        if current and current not in known:
            extra.append(record)
    return list(merge_journals([extra, own])) if extra else list(own)


def _bounded(value: Any, depth: int) -> Any:
    """JSON values with every string cleaned (no escape or control characters but
    newlines) and cut,
    dicts and lists bounded in size and depth; anything else (floats aside) dropped."""
    if isinstance(value, str):
        return clean_block(value, MAX_TEXT)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else None
    if isinstance(value, float):
        return value if value == value and abs(value) < 1e15 else None
    if depth >= _MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {clean(str(k), 64): _bounded(v, depth + 1)
                for k, v in list(value.items())[:_MAX_KEYS]}
    if isinstance(value, list | tuple):
        return [_bounded(v, depth + 1) for v in list(value)[:_MAX_KEYS]]
    return None


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)
