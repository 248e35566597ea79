"""Whether what opsui released is what runs, and what compose would make of it.

Two questions the history and the dashboard answer next to "current release":

- **Replaced?** The journal says release R serves; the app's serving container must be
  R's (its id, or its ``opsui.release`` label). If compose (``up -d``) or anyone
  replaced it, removed it or left it stopped, opsui says so instead of claiming R serves.
- **Drift?** Compose's own ``config --hash`` of the service against the running
  container's ``config-hash`` label: different means the next ``up -d`` recreates it
  from the compose file; equal hashes with another image mean compose takes the
  container for what its file says (it carries that hash) and puts the file's image back
  at the next change of the service.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsui.domain.logfeed import RELEASE_LABEL
from opsui.domain.models import Container, ContainerState
from opsui.domain.releases import Release

AGREES, DRIFTS, UNKNOWN = "agrees", "drifts", "unknown"


@dataclass(frozen=True)
class ComposeCheck:
    """Compose's view of one container: AGREES, DRIFTS or UNKNOWN, and why."""

    state: str
    text: str

    @property
    def marker(self) -> str:
        """A few words for a table cell or a detail row."""
        return {AGREES: "compose agrees", DRIFTS: "compose drift"}.get(
            self.state, "compose unknown")


def replacement_note(current: Release | None, containers: list[Container],
                     serving: Container | None) -> str:
    """"" when the current release's container runs; else what happened instead.

    ``containers``: the app's containers (replicas, kept copies); ``serving``: the one
    serving the app now."""
    if current is None:
        return ""
    what = f"release {current.id} ({current.version or current.image})"
    if current.container_id:
        mine = next((c for c in containers if c.id == current.container_id), None)
    else:  # an old journal: the container's label says which release made it
        mine = next((c for c in containers if c.labels.get(RELEASE_LABEL)
                     in (current.id, current.target) and c.id), None)
    if mine is not None and mine.state is ContainerState.RUNNING:
        return ""
    if mine is not None:
        return f"{what} does not serve: its container {mine.name} is {mine.state.value}"
    if serving is None:
        return f"{what} does not serve: its container is gone and nothing of the app runs"
    return (f"{what} does not serve: its container is gone; {serving.name} "
            f"({serving.image}) runs, not made by this release (compose `up -d`, "
            f"or by hand)")
