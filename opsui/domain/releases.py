"""Releases of an app, folded from its journal, and which one a rollback goes back to.

The journal (:mod:`opsui.domain.history`) holds small events, each one line, so that a
crash between two of them leaves a readable history:

* ``release``: a deploy or rollback began: id, image, digest, version, who, when, and
  the release it replaces;
* ``step``: one step ended (name, outcome, seconds, detail);
* ``digest``: what the pulled tag resolved to;
* ``container``: the container that runs it (id, image id), so a rollback finds it;
* ``outcome``: the release ended: ok, failed, cancelled, interrupted;
* ``rolled_back``: a later rollback replaced it (it shows as "rolled back");
* ``good``: it stayed healthy for the configured time after it took over;
* ``action``: an audit line (who did what, when, how it ended) of any action on the app.

A release with a start but no outcome was interrupted (opsui killed, link lost) or is
still running: :attr:`Release.outcome` is None and the lock says which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from opsui.domain.sanitize import clean

OK, FAILED, ROLLED_BACK, CANCELLED = "ok", "failed", "rolled back", "cancelled"
INTERRUPTED = "interrupted"
SUPERSEDED = "superseded"
"""An unfinished release a later release of the app ended ok after: nobody finishes it
any more, and what serves is that later release's (issue 13: the banner stayed)."""
ADOPT = "adopt"
"""The release opsui records for what was already running at an app's first deploy."""


@dataclass(frozen=True)
class Step:
    name: str
    outcome: str
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class Release:
    id: str
    action: str
    """deploy or rollback"""
    image: str
    digest: str
    version: str
    who: str
    started_at: str
    replaces: str | None = None
    steps: tuple[Step, ...] = ()
    outcome: str | None = None
    reason: str = ""
    known_good: bool = False
    container_id: str = ""
    image_id: str = ""
    ended_at: str = ""
    rolled_back_by: str = ""
    target: str = ""
    """For a rollback: the release it went back to."""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def shown_outcome(self) -> str:
        """What the history shows: a release a rollback replaced reads "rolled back";
        one with no outcome yet is running or was interrupted."""
        if self.rolled_back_by and self.outcome == OK:
            return ROLLED_BACK
        return self.outcome or "unfinished"

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    @property
    def identity(self) -> str:
        """What says two releases run the same image: its id, else the pulled digest."""
        return self.image_id or self.digest

    @property
    def can_be_target(self) -> bool:
        return self.outcome == OK and not self.rolled_back_by


@dataclass(frozen=True)
class AuditLine:
    """One ``action`` record: any action taken on the app, by anyone."""

    action: str
    target: str
    who: str
    at: str
    outcome: str
    detail: str = ""
    error: str = ""


def _text(record: Mapping[str, Any], key: str, limit: int = 300) -> str:
    return clean(str(record.get(key) or ""), limit)


def fold_releases(records: Iterable[Mapping[str, Any]]) -> list[Release]:
    """Releases in the order they began; events for unknown releases are ignored."""
    releases: dict[str, Release] = {}
    for record in records:
        kind, release_id = record.get("type"), _text(record, "release", 100)
        if kind == "release":
            rid = _text(record, "id", 100)
            if rid and rid not in releases:
                releases[rid] = Release(
                    id=rid, action=_text(record, "action", 20) or "deploy",
                    image=_text(record, "image"), digest=_text(record, "digest", 100),
                    version=_text(record, "version", 128), who=_text(record, "who", 200),
                    started_at=_text(record, "at", 64),
                    replaces=_text(record, "replaces", 100) or None,
                    target=_text(record, "target", 100), extra=dict(record))
            continue
        current = releases.get(release_id)
        if current is None:
            continue
        if kind == "step":
            step = Step(_text(record, "name", 64), _text(record, "outcome", 20),
                        float(record.get("seconds") or 0.0), _text(record, "detail", 2000))
            releases[release_id] = replace(current, steps=(*current.steps, step))
        elif kind == "outcome" and current.outcome is None:
            releases[release_id] = replace(current, outcome=_text(record, "outcome", 20),
                                           reason=_text(record, "reason", 6000),
                                           ended_at=_text(record, "at", 64))
        elif kind == "container":
            releases[release_id] = replace(current, container_id=_text(record, "id", 100),
                                           image_id=_text(record, "image_id", 100))
        elif kind == "rolled_back":
            releases[release_id] = replace(current, rolled_back_by=_text(record, "by", 100))
        elif kind == "digest":
            releases[release_id] = replace(current, digest=_text(record, "digest", 100))
        elif kind == "good":
            releases[release_id] = replace(current, known_good=True)
    return _superseded(list(releases.values()))


def _superseded(releases: list[Release]) -> list[Release]:
    """Close every unfinished release that a later one ended ok after."""
    later_ok = ""
    for index in range(len(releases) - 1, -1, -1):
        release = releases[index]
        if release.outcome is None and later_ok:
            releases[index] = replace(release, outcome=SUPERSEDED,
                                      reason=f"superseded by release {later_ok}, which "
                                             "ended ok after it")
        elif release.outcome == OK and not later_ok:
            later_ok = release.id
    return releases


def rollback_target(releases: list[Release], current: Release | None) -> Release | None:
    """Where a rollback from ``current`` goes: the newest earlier release that ended ok
    and was marked known good, else the newest earlier one that ended ok. Never a
    failed, cancelled, unfinished or rolled-back release, never one running the same
    image as ``current``, and never ``current`` itself."""
    earlier = releases[: releases.index(current)] if current in releases else releases
    candidates = [r for r in reversed(earlier) if r.can_be_target
                  and (current is None or r.identity != current.identity)]
    good = [r for r in candidates if r.known_good]
    chosen = good or candidates
    return chosen[0] if chosen else None


def current_release(releases: list[Release]) -> Release | None:
    """The release serving now: the newest that ended ok and was not rolled back."""
    return next((r for r in reversed(releases) if r.can_be_target), None)


def unfinished(releases: list[Release]) -> list[Release]:
    """Releases with a start but no outcome: running now, or interrupted."""
    return [r for r in releases if r.outcome is None]


def audit_lines(records: Iterable[Mapping[str, Any]]) -> list[AuditLine]:
    return [AuditLine(_text(r, "action", 20), _text(r, "target", 200), _text(r, "who", 200),
                      _text(r, "at", 64), _text(r, "outcome", 20), _text(r, "detail", 300),
                      _text(r, "error", 2000))
            for r in records if r.get("type") == "action"]
