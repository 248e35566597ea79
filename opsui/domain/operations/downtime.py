"""How long a stop-first release leaves an app without service, said before it runs.

An app that publishes a host port the operator chose (``ports: 3000:3000``) cannot have
two copies bound to it, so its deploys and rollbacks stop the old container before the
new one starts: the app answers nothing from the stop until the new one is up. The
plan must say so plainly, with a figure the operator can trust: not a guess, but what
the app's own last stop-first release took (its journaled "stop", "start" and "health
gate" steps), and what to do to avoid it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from opsui.domain.releases import OK, Release

DOWN_STEPS = frozenset({"stop old", "stop current", "start", "health gate"})
"""The steps of a stop-first release during which nothing serves the app."""

AVOID_HINT = ("To avoid it, let a proxy own the port: `opsui front {app}` moves the app "
              "behind a front proxy of your nginx or HAProxy image ([front_proxy] image), "
              "or put your own reverse proxy on a Docker network in front and drop the "
              "app's published port; releases then start the new version first and "
              "drain the old one.")


@dataclass(frozen=True)
class DowntimeEstimate:
    """What a stop-first release of an app is expected to cost, and from what."""

    app: str
    ports: tuple[str, ...]
    seconds: float | None
    """From the last stop-first release that ended ok; None when there is none yet."""
    measured_on: str = ""
    """Which release it was measured on (version and id)."""

    def describe(self) -> str:
        """The plan's paragraph: down, for about how long, why, and how to avoid it."""
        bound = ", ".join(self.ports)
        if self.seconds is None:
            how_long = ("for as long as the new version takes to start and pass its "
                        "health gate (no earlier stop-first release to measure)")
        else:
            how_long = (f"for about {self.seconds:.1f} s (its last stop-first release, "
                        f"{self.measured_on}, took that long from the stop to healthy)")
        return (f"DOWNTIME: the app publishes {bound} on the host, so the old container "
                f"stops before the new one starts: it answers nothing {how_long}; longer "
                f"if the new version fails and the old one must start again. "
                f"{AVOID_HINT.format(app=self.app)}")


def down_seconds(release: Release) -> float | None:
    """Seconds a finished stop-first release left the app down, None if it was not one."""
    names = {step.name for step in release.steps}
    if not names & {"stop old", "stop current"}:
        return None
    return sum(step.seconds for step in release.steps if step.name in DOWN_STEPS)


def estimate(app: str, ports: Iterable[str], releases: Iterable[Release]
             ) -> DowntimeEstimate:
    """From the newest stop-first release that ended ok (``releases`` in any order)."""
    ports = tuple(ports)
    measured = [(release, seconds) for release in releases
                if release.outcome == OK and (seconds := down_seconds(release)) is not None]
    if not measured:
        return DowntimeEstimate(app, ports, None)
    release, seconds = max(measured, key=lambda pair: pair[0].started_at)
    return DowntimeEstimate(app, ports, seconds, f"{release.version} {release.id}")
