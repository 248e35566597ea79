"""The per-app journal on the host: one JSON object per line, appended, never rewritten.

Every operator's opsui appends to the same file on the target host, so everyone sees
the same releases and actions. A record is one line written in one flushed write
(:meth:`opsui.domain.ports.HostFiles.append_record`); a crash can at worst tear the
last line, which :func:`parse_journal` counts and skips instead of failing on.

An app deployed ad hoc is named after its container (``ux-shop``); declared later in
opsui.toml it has a new name (``shop``) and so a new folder. Its journal then reads the
journals of its former names too, merged in the order things happened, and writes only
its own: nothing is copied or moved, so nothing can be lost or torn on the way, and an
opsui that still knows the app by its old name keeps working. Which former names were
taken over is written once, as an audit line, so they stay known after the containers
that carried the old name are gone.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opsui.domain.errors import ActionRefused
from opsui.domain.ports import HostFiles

_SAFE_APP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")

ADOPT_HISTORY = "adopt history"
"""The audit action that records a former name's journal taken over by an app."""


def is_safe_app_name(app: str) -> bool:
    """A name that can name a folder in the state folder without leaving it."""
    return bool(_SAFE_APP.fullmatch(app)) and ".." not in app


def app_folder(state_dir: str, app: str) -> str:
    """The app's folder in the host's state folder. App names come from opsui.toml or
    from container names; one that could leave the folder (``..``, ``/``) is refused."""
    if not is_safe_app_name(app):
        raise ActionRefused(f"'{app[:60]}' cannot name an app's state folder",
                            hint="App names are letters, digits, '_', '.' and '-'.")
    return f"{state_dir.rstrip('/')}/{app}"


def encode_record(record: Mapping[str, Any]) -> bytes:
    """One line of JSON (ASCII, so no byte of it can be a newline but the last)."""
    return json.dumps(record, sort_keys=True, ensure_ascii=True,
                      separators=(",", ":")).encode("ascii") + b"\n"


@dataclass(frozen=True)
class JournalRead:
    records: tuple[Mapping[str, Any], ...]
    torn: int
    """Lines that were not whole JSON objects (a crash mid-write): skipped."""


def parse_journal(data: bytes | None) -> JournalRead:
    records: list[Mapping[str, Any]] = []
    torn = 0
    for line in (data or b"").split(b"\n"):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            torn += 1
            continue
        if isinstance(value, dict):
            records.append(value)
        else:
            torn += 1
    return JournalRead(tuple(records), torn)


def _when(at: object) -> str:
    """An ISO 8601 time as ``YYYYmmddHHMMSS`` in UTC, to compare; "" when it is none."""
    if not isinstance(at, str):
        return ""
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return ""
    return f"{(when.astimezone(UTC) if when.tzinfo else when):%Y%m%d%H%M%S}"


def _release_of(record: Mapping[str, Any]) -> str:
    found = record.get("id") if record.get("type") == "release" else record.get("release")
    return found if isinstance(found, str) else ""


def merge_journals(sources: Sequence[Sequence[Mapping[str, Any]]]
                   ) -> tuple[Mapping[str, Any], ...]:
    """Records of several journals, interleaved in the order things happened.

    Each journal's own order is kept as written (a release's records, audit lines
    written when an action ended); the journals are merged by when each record's release
    began (its ``release`` record's ``at``: for an adopted release, since when its
    container ran), an audit line by its own time. So a release made under an old name
    after the app was declared still comes after the ones before it. A record that says
    no time goes with the one before it in its journal; on a tie the earlier source first.
    """
    began: dict[str, str] = {}
    for records in sources:
        for record in records:
            if record.get("type") == "release":
                began.setdefault(_release_of(record), _when(record.get("at")))

    def keyed(index: int, records: Sequence[Mapping[str, Any]]
              ) -> Iterator[tuple[str, int, int, Mapping[str, Any]]]:
        key = ""
        for position, record in enumerate(records):
            release = _release_of(record)
            key = (began.get(release, "") if release else _when(record.get("at"))) or key
            yield key, index, position, record

    # (key, index, position) is unique: records themselves are never compared.
    merged = heapq.merge(*(keyed(index, records) for index, records in enumerate(sources)))
    return tuple(item[3] for item in merged)


class Journal:
    """The journal of one app in the host's state folder (and of its former names)."""

    def __init__(self, files: HostFiles, state_dir: str, app: str,
                 former: Iterable[str] = ()) -> None:
        self._files = files
        self._state_dir = state_dir
        self.app = app
        self.path = journal_path(state_dir, app)
        self.former = tuple(dict.fromkeys(
            name for name in former if name != app and is_safe_app_name(name)))
        """Names the app had before it was declared (see the module's docstring)."""

    def append(self, record: Mapping[str, Any]) -> None:
        self._files.append_record(self.path, encode_record(record))

    def read(self) -> JournalRead:
        """The app's records; with former names, theirs too, merged (writes go to the
        app's own journal only)."""
        own = parse_journal(self._files.read(self.path))
        names = self._former_names(own.records)
        if not names:
            return own
        reads = [parse_journal(self._files.read(journal_path(self._state_dir, name)))
                 for name in names]
        reads.append(own)
        return JournalRead(merge_journals([read.records for read in reads]),
                           sum(read.torn for read in reads))

    def not_yet_adopted(self) -> list[str]:
        """Former names with a journal of their own that no audit line has taken over
        yet: :meth:`adopt` each, so it stays known once its containers are gone."""
        recorded = set(_adopted(parse_journal(self._files.read(self.path)).records))
        return [name for name in self.former if name not in recorded
                and self._files.read(journal_path(self._state_dir, name))]

    def adopt(self, former: str, who: str, at: str) -> None:
        """The audit line that takes over ``former``'s history (read with this app's)."""
        self.append({"type": "action", "action": ADOPT_HISTORY, "target": self.app,
                     "who": who, "at": at, "outcome": "ok", "former": former,
                     "detail": f"the releases and audit lines of '{former}' (deployed "
                               f"before {self.app} was declared) are {self.app}'s"})

    def former_names(self) -> tuple[str, ...]:
        """The former names read with this app's: given, and taken over by audit lines."""
        return self._former_names(parse_journal(self._files.read(self.path)).records)

    def _former_names(self, own: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for name in (*self.former, *_adopted(own))
                                   if name != self.app and is_safe_app_name(name)))


def journal_path(state_dir: str, app: str) -> str:
    return f"{app_folder(state_dir, app)}/journal.jsonl"


def _adopted(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(r["former"]) for r in records if r.get("type") == "action"
            and r.get("action") == ADOPT_HISTORY and isinstance(r.get("former"), str)]
