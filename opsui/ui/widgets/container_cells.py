"""What each container-table cell says and how it is coloured, and how rows sort.

Every cell is a Rich ``Text`` built from the plain string, never from markup, so a
container called ``[@click=app.quit]q`` is shown as exactly that. Sort keys are
computed from the model, not from the rendered text, so "3h" sorts after "45m".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text

from opsui.domain.apps import is_release_copy
from opsui.domain.compose_drift import DRIFTS, UNKNOWN
from opsui.domain.models import (
    Container,
    ContainerState,
    ContainerStats,
    Health,
    HostStatus,
    HttpHealth,
)
from opsui.domain.operations.release_marks import NOT_SERVING, REPLACED, ReleaseMark
from opsui.ui.format import human_bytes, percent, since
from opsui.ui.palette import Palette

MAX_CELL = 48
"""Long images or port lists are cut so one container cannot push the others off screen."""
MAX_NAME = 40
"""Names are cut (…) here: State and Health must stay on an 80-column screen next to the
longest name; the detail view shows the whole name."""
KEPT_MARK = "↳ "
"""Starts the name of a kept release copy, drawn right under its app's row."""

HEALTH_SYMBOL = {
    Health.HEALTHY: "● healthy",
    Health.UNHEALTHY: "✗ unhealthy",
    Health.STARTING: "◌ starting",
    Health.NONE: "· none",
}

RELEASE_MARK = {
    DRIFTS: "⚠ drift",
    REPLACED: "⚠ replaced",
    NOT_SERVING: "⚠ not serving",
    UNKNOWN: "? compose",
}
"""What the Health cell of an app's serving container adds about the release opsui made
(compose agreeing adds nothing): short, so Name, State and Health still fit 80 columns;
the detail view says it in full."""


class KeyedText(Text):
    """A cell that remembers its container id, so DataTable.sort can use our own order."""

    container_id: str = ""


@dataclass(frozen=True)
class Column:
    """One table column: its key, header and (when sortable) its sort key."""

    key: str
    label: str
    sort: Callable[[Container, ContainerStats | None], Any] | None = None
    width: int | None = None
    """Fixed content width, for cells that change every few seconds: updating them then
    never re-measures the column nor moves the columns to its right. None: fit the text."""


_HEALTH_ORDER = {Health.UNHEALTHY: 0, Health.STARTING: 1, Health.HEALTHY: 2, Health.NONE: 3}
_STATE_ORDER = {
    ContainerState.RESTARTING: 0, ContainerState.DEAD: 1, ContainerState.EXITED: 2,
    ContainerState.PAUSED: 3, ContainerState.CREATED: 4, ContainerState.REMOVING: 5,
    ContainerState.RUNNING: 6, ContainerState.UNKNOWN: 7,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def host_now(local: datetime, status: HostStatus) -> datetime:
    """Now on the host's clock, for :func:`row_cells`: uptimes compare it with the
    engine's start times, so this machine's drift never shows as hours of uptime (or
    none at all)."""
    return local + timedelta(seconds=status.clock_skew or 0.0)


def _started(container: Container) -> datetime:
    """Most recently started first, so "uptime" ascending means shortest uptime first."""
    moment = container.started_at
    if moment is None or container.state is not ContainerState.RUNNING:
        return _EPOCH
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_NAME = Column("name", "Name", lambda c, s: c.name.lower())
_PROJECT = Column("project", "Project/Service", lambda c, s: (c.compose_project or "~",
                                                              c.compose_service or ""))
_STATE = Column("state", "State", lambda c, s: _STATE_ORDER[c.state])
_HEALTH = Column("health", "Health", lambda c, s: _HEALTH_ORDER[c.health])
_UPTIME = Column("uptime", "Uptime", lambda c, s: -_started(c).timestamp())
_RESTARTS = Column("restarts", "Restarts", lambda c, s: -(c.restart_count or 0))
_CPU = Column("cpu", "CPU", lambda c, s: -(s.cpu_percent if s else -1.0), width=6)
_MEM = Column("mem", "Memory", lambda c, s: -(s.memory_bytes if s else -1), width=8)
_IMAGE = Column("image", "Image", lambda c, s: c.image.lower())

COLUMNS: tuple[Column, ...] = (_NAME, _STATE, _HEALTH, _PROJECT, _UPTIME, _RESTARTS, _CPU,
                               _MEM, _IMAGE, Column("ports", "Ports"))
"""Most urgent first: what it is, is it up, is it healthy (so an 80-column terminal shows
those three without scrolling sideways); its project, age and load next; the image and
ports last.

CPU fits ``percent()`` up to ``99999%`` and memory ``human_bytes()`` (``1023.9 MiB`` is
never produced: three significant digits, so at most ``1023 MiB``)."""
STATS_KEYS = ("cpu", "mem")
"""The cells a new stats sample changes (the rest of the row stays as it is)."""
HTTP_COLUMN = Column("http", "HTTP")
SORTABLE = (_NAME, _PROJECT, _STATE, _HEALTH, _UPTIME, _RESTARTS, _CPU, _MEM, _IMAGE)
"""The order ``s`` cycles through (kept as it was when Project came second on screen)."""


def table_columns(with_http: bool) -> tuple[Column, ...]:
    """The columns in display order; the HTTP verdict sits next to Docker's health."""
    if not with_http:
        return COLUMNS
    at = next(i for i, c in enumerate(COLUMNS) if c.key == "health") + 1
    return (*COLUMNS[:at], HTTP_COLUMN, *COLUMNS[at:])


def column_label(column: Column, sort_key: str, reverse: bool) -> Text:
    """Header text; the sorted column carries an arrow, the others keep room for one."""
    arrow = ("▲" if reverse else "▼") if column.key == sort_key else " "
    return Text(f"{column.label} {arrow}")


def order_key(container: Container, stats: ContainerStats | None, column: Column,
              grouped: bool) -> tuple[Any, ...]:
    """Sort key of one row: compose project first (when grouped), then the column, then name."""
    assert column.sort is not None
    group = (container.compose_project is None, container.compose_project or "") if grouped else ()
    return (*group, column.sort(container, stats), container.name.lower(), container.id)


def _cut(text: str, limit: int = MAX_CELL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut_middle(text: str, limit: int) -> str:
    """Names keep their end (a replica's ``-2``, a release copy's id) and their start."""
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 3
    return text[: limit - 1 - tail] + "…" + text[len(text) - tail:]


def http_summary(results: Sequence[tuple[str, tuple[HttpHealth, ...]]]) -> tuple[str, bool | None]:
    """A short verdict over every HTTP health URL of the apps a container serves."""
    probes = [probe for _, found in results for probe in found]
    if not probes:
        return "", None
    failing = [p for p in probes if not p.ok or any(not c.ok for c in p.checks)]
    if not failing:
        return f"✓ {len(probes)}/{len(probes)} ok", True
    first = failing[0]
    bad_checks = [c.name for c in first.checks if not c.ok]
    if bad_checks:
        reason = ", ".join(bad_checks)
    elif first.status_code is not None:
        reason = str(first.status_code)
    else:
        reason = first.error or "failed"
    return _cut(f"✗ {reason}"), False


def row_cells(
    container: Container,
    stats: ContainerStats | None,
    http: Sequence[tuple[str, tuple[HttpHealth, ...]]],
    palette: Palette,
    now: datetime,
    with_http: bool,
    release: ReleaseMark | None = None,
) -> dict[str, Text]:
    """Every cell of one row, keyed by column; ``release``: the mark of the app this
    container serves (:mod:`opsui.domain.operations.release_marks`)."""
    kept = is_release_copy(container.name)
    unhealthy = container.health is Health.UNHEALTHY and not kept
    running = container.state is ContainerState.RUNNING
    if kept:
        name = KeyedText(KEPT_MARK + _cut_middle(container.name, MAX_NAME - len(KEPT_MARK)),
                         style=palette.muted)
    else:
        name = KeyedText(_cut_middle(container.name, MAX_NAME), style=palette.bad if unhealthy
                         else (palette.strong if running else palette.muted))
    name.container_id = container.id
    if container.compose_project:
        project = Text(container.compose_project, style=palette.primary)
        project.append(f"/{container.compose_service or '?'}", style=palette.accent)
    else:
        project = Text("—", style=palette.muted)
    state_text = container.state.value
    if container.state is ContainerState.EXITED and container.exit_code is not None:
        state_text = f"exited ({container.exit_code})"
    if running and container.started_at is not None:
        uptime = Text(since(container.started_at, now))
    else:
        uptime = Text(_cut(_status_age(container.status_text)), style=palette.muted)
    restarts = container.restart_count
    cells = {
        "name": name,
        "project": project,
        "image": Text(_cut(container.image)),
        "state": Text(state_text, style=palette.state(container.state)),
        "health": Text(HEALTH_SYMBOL[container.health], style=palette.health(container.health)),
        "uptime": uptime,
        "restarts": Text("-" if restarts is None else str(restarts),
                         style=palette.warn if restarts else palette.muted, justify="right"),
        **stats_cells(stats, palette),
        "ports": Text(_cut(", ".join(str(p) for p in container.ports if p.host_port)
                           or ", ".join(str(p) for p in container.ports)), style=palette.muted),
    }
    if with_http:
        summary, ok = http_summary(http)
        cells["http"] = Text(summary, style=palette.muted if ok is None else
                             (palette.ok if ok else palette.bad))
    if ".before-r" in container.name:  # kept for a rollback: its last health is history
        cells["health"] = Text("· kept")
    marker = RELEASE_MARK.get(release.kind, "") if release is not None and not kept else ""
    if marker:
        assert release is not None
        cells["health"].append(f" {marker}", style=palette.warn if release.trouble
                               else palette.muted)
    if kept:  # opsui's own copy, stopped on purpose: dimmed, never red
        for key, cell in cells.items():
            if key != "name":
                cells[key] = Text(cell.plain, style=palette.muted, justify=cell.justify)
    return cells


def stats_cells(stats: ContainerStats | None, palette: Palette) -> dict[str, Text]:
    """The CPU and memory cells of a row (keys: :data:`STATS_KEYS`)."""
    return {"cpu": _cpu(stats, palette), "mem": _memory(stats, palette)}


def _status_age(status: str) -> str:
    """Docker's status text without what the state and health columns already say.

    ``Exited (1) 2 hours ago`` -> ``2 hours ago``; ``Up 3 minutes (unhealthy)`` -> ``3 minutes``
    (the list call gives no start time; the row gets a precise uptime once re-read).
    """
    if status.startswith("Exited (") and ") " in status:
        return status.split(") ", 1)[1]
    if status.startswith("Up "):
        return status[3:].split(" (", 1)[0]
    return status


def _cpu(stats: ContainerStats | None, palette: Palette) -> Text:
    if stats is None:
        return Text("", justify="right")
    style = palette.bad if stats.cpu_percent >= 90 else (
        palette.warn if stats.cpu_percent >= 60 else None)
    return Text(percent(stats.cpu_percent), style=style or "", justify="right")


def _memory(stats: ContainerStats | None, palette: Palette) -> Text:
    if stats is None:
        return Text("", justify="right")
    style = ""
    if stats.memory_limit_bytes and stats.memory_bytes >= 0.9 * stats.memory_limit_bytes:
        style = str(palette.bad)
    return Text(human_bytes(stats.memory_bytes), style=style, justify="right")


def matches(container: Container, needle: str) -> bool:
    """The filter: a case-insensitive substring of name, image, project/service or state."""
    if not needle:
        return True
    needle = needle.lower()
    fields = (container.name, container.image, container.compose_project or "",
              container.compose_service or "", container.state.value, container.health.value)
    return any(needle in f.lower() for f in fields)
