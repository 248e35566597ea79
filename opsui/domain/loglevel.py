"""Severity of a log line, guessed from its text, for the pane's level filter.

Containers log in many shapes: JSON lines (``"level":"warn"``, pino's ``"level":50``),
logfmt (``level=error``), bracketed tags (``[ERROR]``, nginx's ``[error]``), Python's
``ERROR:root:...``, or a bare upper-case word near the start (``2026-... WARN  x``).
The guess must be cheap (it runs on every line a level filter scans) and must not
read "error" inside an ordinary sentence as a severity, so free text only counts as
an upper-case word within the first columns of the line.
"""

from __future__ import annotations

import enum
import re


class Level(enum.IntEnum):
    """Ordered, so "at least warn" is ``level >= Level.WARN``."""

    DEBUG = 10
    INFO = 20
    WARN = 30
    ERROR = 40


LEVEL_NAMES: dict[str, Level] = {
    "trace": Level.DEBUG, "debug": Level.DEBUG, "dbg": Level.DEBUG, "verbose": Level.DEBUG,
    "info": Level.INFO, "inf": Level.INFO, "notice": Level.INFO, "log": Level.INFO,
    "warn": Level.WARN, "warning": Level.WARN, "wrn": Level.WARN,
    "error": Level.ERROR, "err": Level.ERROR, "eror": Level.ERROR, "fatal": Level.ERROR,
    "critical": Level.ERROR, "crit": Level.ERROR, "panic": Level.ERROR, "alert": Level.ERROR,
    "emerg": Level.ERROR, "emergency": Level.ERROR, "severe": Level.ERROR,
}
"""Every spelling we accept, lower case (Python, Go, Java, syslog, nginx, Postgres)."""

LEVEL_HEAD = 160
"""Only this many leading characters are examined for tags and bare words."""

_KEYED = re.compile(
    r"""["']?(?:level|lvl|severity|levelname|log\.level|loglevel)["']?\s*[:=]\s*["']?
        (?P<word>[A-Za-z]+|\d{1,2})""",
    re.VERBOSE | re.IGNORECASE,
)
_BRACKETED = re.compile(r"[\[<(](?P<word>[A-Za-z]{3,9})[\]>)]")
_BARE = re.compile(
    r"(?<![A-Za-z0-9_])(?P<word>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL"
    r"|CRIT|PANIC|SEVERE|LOG)(?![A-Za-z0-9_])"
)
_NUMERIC = {10: Level.DEBUG, 20: Level.DEBUG, 30: Level.INFO, 40: Level.WARN,
            50: Level.ERROR, 60: Level.ERROR}
"""pino / bunyan numeric levels."""


def parse_level(name: str) -> Level | None:
    """``"warning"`` -> WARN; also numeric pino levels; None when not a level."""
    if name.isdigit():
        return _NUMERIC.get(int(name))
    return LEVEL_NAMES.get(name.lower())


def detect_level(text: str) -> Level | None:
    """The line's severity, or None when it does not say.

    Keyed fields (JSON, logfmt) win anywhere in the line's head; then a bracketed tag;
    then the first bare upper-case level word.
    """
    head = text[:LEVEL_HEAD]
    lower = head.lower()
    # Substring tests first: they cost far less than a regex that finds nothing.
    if "lev" in lower or "lvl" in lower or "sever" in lower:
        for match in _KEYED.finditer(head):
            level = parse_level(match.group("word"))
            if level is not None:
                return level
    if "[" in head or "<" in head or "(" in head:
        for match in _BRACKETED.finditer(head):
            level = LEVEL_NAMES.get(match.group("word").lower())
            if level is not None:
                return level
    bare = _BARE.search(head)
    return None if bare is None else LEVEL_NAMES[bare.group("word").lower()]
