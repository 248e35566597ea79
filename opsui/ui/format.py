"""Short, fixed-width renderings of numbers and times for table cells and panels.

Plain functions of plain values, so the cells stay stable in snapshots and the
rules (binary units, coarse durations) are tested once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(count: float) -> str:
    """``1536`` -> ``1.5 KiB``; three significant digits at most."""
    value = float(count)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{int(value)} B"
            # Decide on the rounded value, so 99.97 is "100 KiB", not "100.0 KiB".
            return f"{value:.1f} {unit}" if abs(value) < 99.95 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def duration(seconds: float) -> str:
    """A coarse age such as ``45s``, ``12m``, ``3h 05m``, ``4d 02h``."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def since(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was, or empty when unknown."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return duration((now - moment).total_seconds())


def clock_time(moment: datetime | None) -> str:
    """``2024-05-01 12:03:04Z`` in UTC, or ``-`` when unknown."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def percent(value: float) -> str:
    """``12.345`` -> ``12.3%``; wide enough for 100% and multi-core CPU (``350%``)."""
    return f"{value:.0f}%" if value >= 99.95 else f"{value:.1f}%"


def same_text(old: Text, new: Text) -> bool:
    """Equal text *and* style (``Text.__eq__`` ignores the base style, i.e. the colour)."""
    return old == new and old.style == new.style
