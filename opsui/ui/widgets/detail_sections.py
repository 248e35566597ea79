"""The detail view's sections as Rich renderables built from plain ``Text``.

Health comes first when the container is not healthy: the question at 3 a.m. is
"why is it unhealthy", and the answer (the probe's own output and exit code) must
be on screen without scrolling.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from opsui.domain.models import (
    ContainerDetail,
    Health,
    HealthLogEntry,
    HttpHealth,
)
from opsui.domain.operations.release_marks import ReleaseMark
from opsui.ui.format import clock_time, since
from opsui.ui.palette import Palette
from opsui.ui.widgets.container_cells import HEALTH_SYMBOL


def _grid() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    return table


def _plain_table(headers: Sequence[str], palette: Palette) -> Table:
    table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style=palette.muted)
    for header in headers:
        table.add_column(Text(header), overflow="fold")
    return table


def _none(what: str, palette: Palette) -> Text:
    return Text(what, style=palette.muted)


def overview(detail: ContainerDetail, palette: Palette, now: datetime,
             release: ReleaseMark | None = None) -> RenderableType:
    """``release``: what opsui says of the release this container serves (compose's
    view, or that it was replaced), when its app is one opsui released."""
    c = detail.container
    grid = _grid()

    def row(label: str, value: Text | str) -> None:
        grid.add_row(Text(label, style=palette.muted),
                     value if isinstance(value, Text) else Text(value))

    row("Name", Text(c.name, style=palette.strong))
    row("Id", c.id)
    row("Image", c.image)
    row("Image id", detail.image_id or "-")
    state = Text(c.state.value, style=palette.state(c.state))
    if c.exit_code is not None and c.state.value != "running":
        state.append(f" (exit code {c.exit_code})")
    row("State", state)
    row("Health", Text(HEALTH_SYMBOL[c.health], style=palette.health(c.health)))
    if c.compose_project:
        row("Compose", f"{c.compose_project}/{c.compose_service or '?'}")
    if release is not None:
        row("Release", Text(f"{release.marker}: {release.text}",
                            style=palette.warn if release.trouble else ""))
    row("Restart policy", detail.restart_policy or "-")
    row("Command", detail.command or "-")
    row("Entrypoint", detail.entrypoint or "-")
    started = clock_time(c.started_at)
    if c.started_at is not None:
        started += f"  ({since(c.started_at, now)} ago)"
    row("Started", started)
    row("Created", clock_time(c.created_at))
    row("Restarts", "-" if c.restart_count is None else str(c.restart_count))
    row("Status", c.status_text or "-")
    return grid


def health_log(detail: ContainerDetail, palette: Palette) -> RenderableType:
    """The Docker HEALTHCHECK verdict, failing streak, and each probe's output, newest first."""
    c = detail.container
    if c.health is Health.NONE and not detail.health_log:
        return _none("This container has no HEALTHCHECK (the image defines none).", palette)
    head = Text()
    head.append(HEALTH_SYMBOL[c.health], style=palette.health(c.health))
    if detail.health_failing_streak:
        head.append(f"   failing streak: {detail.health_failing_streak}", style=palette.bad)
    if detail.health_log:
        last = _newest(detail.health_log)[0]
        head.append(f"   last exit code: {last.exit_code}",
                    style=palette.ok if last.exit_code == 0 else palette.bad)
    parts: list[RenderableType] = [head]
    for entry in _newest(detail.health_log):
        parts.append(Text())
        parts.append(_probe_line(entry, palette))
        output = entry.output.rstrip("\n")
        body = Table.grid(padding=(0, 0, 0, 2))
        body.add_column(overflow="fold")
        body.add_row(Text(output) if output else Text("(no output)", style=palette.muted))
        parts.append(body)
    return Group(*parts)


def _newest(entries: Sequence[HealthLogEntry]) -> list[HealthLogEntry]:
    def moment(entry: HealthLogEntry) -> float:
        when = entry.started_at or entry.ended_at
        return when.timestamp() if when else 0.0
    return sorted(entries, key=moment, reverse=True)


def _probe_line(entry: HealthLogEntry, palette: Palette) -> Text:
    ok = entry.exit_code == 0
    line = Text()
    line.append("✓ " if ok else "✗ ", style=palette.ok if ok else palette.bad)
    line.append(f"exit {entry.exit_code}", style=palette.ok if ok else palette.bad)
    line.append(f"   {clock_time(entry.started_at)}", style=palette.muted)
    if entry.started_at and entry.ended_at:
        took = (entry.ended_at - entry.started_at).total_seconds()
        line.append(f"   took {took:.1f}s", style=palette.muted)
    return line


def http_health(results: Sequence[tuple[str, tuple[HttpHealth, ...]]],
                palette: Palette) -> RenderableType:
    """Each configured health URL of the apps this container serves, with sub-checks."""
    parts: list[RenderableType] = []
    for app, probes in results:
        for probe in probes:
            line = Text()
            healthy = probe.ok and all(check.ok for check in probe.checks)
            line.append("✓ " if healthy else "✗ ", style=palette.ok if healthy else palette.bad)
            line.append(app, style=palette.strong)
            line.append("  ")
            line.append(probe.url)
            if probe.status_code is not None:
                line.append(f"  HTTP {probe.status_code}",
                            style=palette.ok if probe.ok else palette.bad)
            if probe.latency_ms is not None:
                line.append(f"  {probe.latency_ms:.0f} ms", style=palette.muted)
            if probe.checked_at is not None:
                line.append(f"  at {clock_time(probe.checked_at)}", style=palette.muted)
            parts.append(line)
            if probe.error:
                parts.append(Text(f"    {probe.error}", style=palette.bad))
            for check in probe.checks:
                mark = palette.ok if check.ok else palette.bad
                sub = Text("    ")
                sub.append("✓ " if check.ok else "✗ ", style=mark)
                sub.append(check.name, style=palette.strong)
                if check.detail:
                    sub.append(f"  {check.detail}", style=palette.muted if check.ok else mark)
                parts.append(sub)
    return Group(*parts) if parts else _none("No HTTP health URL configured for this container.",
                                             palette)


def ports(detail: ContainerDetail, palette: Palette) -> RenderableType:
    bindings = detail.container.ports
    if not bindings:
        return _none("No ports exposed.", palette)
    return Text("\n".join(str(p) for p in bindings))


def networks(detail: ContainerDetail, palette: Palette) -> RenderableType:
    if not detail.networks:
        return _none("Not attached to any network.", palette)
    table = _plain_table(("Network", "IP address", "Aliases"), palette)
    for net in detail.networks:
        table.add_row(Text(net.name, style=palette.strong), Text(net.ip_address or "-"),
                      Text(", ".join(net.aliases) or "-"))
    return table


def mounts(detail: ContainerDetail, palette: Palette) -> RenderableType:
    if not detail.mounts:
        return _none("No mounts.", palette)
    table = _plain_table(("Type", "Source", "Destination", "Mode"), palette)
    for mount in detail.mounts:
        table.add_row(Text(mount.kind), Text(mount.source), Text(mount.destination),
                      Text("ro" if mount.read_only else "rw",
                           style=palette.muted if mount.read_only else ""))
    return table


def pairs(items: Sequence[tuple[str, str]], empty: str, palette: Palette) -> RenderableType:
    """Environment or labels: key = value, values exactly as the backend gave them."""
    if not items:
        return _none(empty, palette)
    grid = _grid()
    for key, value in items:
        grid.add_row(Text(key, style=palette.accent), Text(value))
    return grid
