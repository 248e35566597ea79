"""One history of an app on several hosts, merged from the hosts' own journals.

Each host keeps its own journal (the single-host tools read it alone). A release made
across hosts carries one id on all of them, so merging is grouping by id: one row per
release, saying how it ended on each host; the ``multi_host`` record every host got
at its end adds what the release did on hosts where it ran nothing (not deployed, or
returned by a rollback of its own). Releases of one host only (the release adopted at
a first deploy, a deploy with ``--host``) are rows of that host alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opsui.domain.operations.app_releases import AppReleases, AppStatus
from opsui.domain.operations.multi_host import MULTI_HOST
from opsui.domain.sanitize import clean


@dataclass(frozen=True)
class MergedRelease:
    """One release across the hosts it concerned, newest last."""

    id: str
    action: str
    version: str
    started_at: str
    who: str
    hosts: tuple[tuple[str, str], ...]
    """(host, how it ended there) in the app's host order."""
    outcome: str
    """Of the whole release: its ``multi_host`` record's, else the one host's."""
    reason: str = ""


@dataclass(frozen=True)
class MultiHistory:
    app: str
    statuses: tuple[AppStatus, ...]
    """Each host's own status (lock, serving, current release), in host order."""
    releases: tuple[MergedRelease, ...]

    @property
    def newest_first(self) -> list[MergedRelease]:
        return list(reversed(self.releases))


def multi_history(name: str, releases: Sequence[AppReleases]) -> MultiHistory:
    """Read every host's journal (marking nothing: reading changes no host)."""
    statuses, records = [], []
    for host in releases:
        app = host.resolve(name)
        statuses.append(host.status(app, mark_good=False))
        records.append((host.host, host.journal(app).read().records))
    return MultiHistory(name, tuple(statuses), merge(statuses, records))


def merge(statuses: Sequence[AppStatus],
          records: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]
          ) -> tuple[MergedRelease, ...]:
    order = [host for host, _ in records]
    rows: dict[str, dict[str, Any]] = {}
    for status, (host, _) in zip(statuses, records, strict=True):
        for release in status.releases:
            row = rows.setdefault(release.id, {
                "action": release.action, "version": release.version,
                "at": release.started_at, "who": release.who, "hosts": {},
                "outcome": release.shown_outcome, "reason": release.reason})
            row["hosts"][host] = release.shown_outcome
            row["at"] = min(row["at"], release.started_at) or release.started_at
    for _, journal in records:
        for record in journal:
            if record.get("type") != MULTI_HOST:
                continue
            rid = clean(str(record.get("release") or ""), 100)
            row = rows.setdefault(rid, {
                "action": clean(str(record.get("action") or ""), 20),
                "version": clean(str(record.get("version") or ""), 128),
                "at": clean(str(record.get("at") or ""), 64),
                "who": clean(str(record.get("who") or ""), 200), "hosts": {}})
            row["outcome"] = clean(str(record.get("outcome") or ""), 20)
            row["reason"] = clean(str(record.get("reason") or ""), 2000)
            for result in record.get("results") or ():
                if isinstance(result, Mapping):
                    host = clean(str(result.get("host") or ""), 100)
                    state = clean(str(result.get("state") or ""), 40)
                    if host and (state != "switched" or host not in row["hosts"]):
                        row["hosts"][host] = state
    merged = [MergedRelease(rid, row["action"], row["version"], row["at"], row["who"],
                            tuple(sorted(row["hosts"].items(), key=lambda item: _place(
                                order, item[0]))), row["outcome"], row["reason"])
              for rid, row in rows.items()]
    return tuple(sorted(merged, key=lambda r: r.started_at))


def _place(order: list[str], host: str) -> int:
    return order.index(host) if host in order else len(order)
