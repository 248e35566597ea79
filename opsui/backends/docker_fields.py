"""Tolerant readers for the loosely typed fields of the engine's JSON.

Fields come and go with the API version and the cgroup flavour, and any of them may be
missing, null or of an unexpected type. The mapping, event and stats code all read
numbers, nested objects and timestamps through these few functions, so a surprise
becomes None or an empty mapping instead of an exception in a worker thread.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")
_ZERO_TIME = "0001-01-01"


def parse_time(raw: object) -> datetime | None:
    """Docker's RFC 3339 timestamps (nanoseconds, Z) as aware datetimes; None for 'never'."""
    if not isinstance(raw, str) or not raw or raw.startswith(_ZERO_TIME):
        return None
    match = _TIMESTAMP.match(raw)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    text = base + (f".{fraction[:6]:0<6}" if fraction else "")
    text += "+00:00" if zone in (None, "Z") else zone
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def time_from_epoch(raw: object) -> datetime | None:
    """Unix seconds (the list call's ``Created``, an event's ``time``); None unless positive."""
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
        return datetime.fromtimestamp(raw, UTC)
    return None


def int_or_none(raw: object) -> int | None:
    """An int, or a string of digits; None for anything else, bools included."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    return None


def mapping_or_empty(raw: object) -> Mapping[str, Any]:
    """A nested object, or an empty one when it is missing or null, so lookups chain."""
    return raw if isinstance(raw, Mapping) else {}
