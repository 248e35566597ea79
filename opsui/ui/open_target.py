"""``opsui --open TARGET``: the incident entry point.

TARGET is what ``opsui logs`` takes for one target: a container name or id, ``app:NAME``,
``project:NAME`` or ``PROJECT/SERVICE``. It is looked up in each host's first container
list as it arrives; once found, the dashboard selects its container and opens its log
pane, following. Only when every host has listed (or failed to) and none has it does the
operator hear that it is unknown: the dashboard is there either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsui.domain.app_shown import app_shown
from opsui.domain.logfeed import LogTarget
from opsui.domain.models import Container, ContainerState, LinkState, find_container
from opsui.ui.state import UiState

STILL_COMING = (LinkState.CONNECTING, LinkState.CONNECTED, LinkState.RECONNECTING)
"""A host in these states may still list the target."""


@dataclass(frozen=True)
class OpenFound:
    host: str
    container: Container
    """The row to select: the container named, or the target's serving container."""
    target: LogTarget
    """What the log pane follows (the container's lasting identity)."""


def find_open_target(ref: str, state: UiState) -> OpenFound | str | None:
    """Where ``ref`` is: found; a message once no host can have it; None: not yet known."""
    waiting = False
    for name, view in state.hosts.items():
        if not view.listed:
            waiting = waiting or view.status.state in STILL_COMING
            continue
        containers = list(view.containers.values())
        try:
            target = LogTarget.parse([ref], containers)
        except ValueError:
            continue
        container = find_container(containers, ref)
        if container is None:
            configured = [a for a in state.apps if a.host == name]
            container = app_shown(target, containers, configured).serving or next(
                iter(sorted((c for c in containers if target.matches(c)),
                            key=lambda c: c.state is not ContainerState.RUNNING)), None)
        if container is not None:
            return OpenFound(name, container, target)
    if waiting:
        return None
    hosts = ", ".join(state.hosts) or "no host"
    return (f"--open {ref}: no container, app or service of that name on {hosts}. "
            "Pick one in the table (l opens its logs).")
