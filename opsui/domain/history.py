"""The per-app journal on the host: one JSON object per line, appended, never rewritten.

Every operator's opsui appends to the same file on the target host, so everyone sees
the same releases and actions. A record is one line written in one flushed write
(:meth:`opsui.domain.ports.HostFiles.append_record`); a crash can at worst tear the
last line, which :func:`parse_journal` counts and skips instead of failing on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opsui.domain.errors import ActionRefused
from opsui.domain.ports import HostFiles

_SAFE_APP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def app_folder(state_dir: str, app: str) -> str:
    """The app's folder in the host's state folder. App names come from opsui.toml or
    from container names; one that could leave the folder (``..``, ``/``) is refused."""
    if not _SAFE_APP.fullmatch(app) or ".." in app:
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


class Journal:
    """The journal of one app in the host's state folder."""

    def __init__(self, files: HostFiles, state_dir: str, app: str) -> None:
        self._files = files
        self.path = f"{app_folder(state_dir, app)}/journal.jsonl"

    def append(self, record: Mapping[str, Any]) -> None:
        self._files.append_record(self.path, encode_record(record))

    def read(self) -> JournalRead:
        return parse_journal(self._files.read(self.path))
