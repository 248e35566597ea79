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

AVOID_HINT = ("Avoid it: `opsui front {app}` puts a front proxy ([front_proxy] image) on "
              "the port, or a reverse proxy of your own on a Docker network; releases "
              "then start the new version first and drain the old one.")


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
            how_long = ("until the new version is up and healthy (no earlier stop-first "
                        "release to measure)")
        else:
            how_long = (f"for about {self.seconds:.1f} s (its last stop-first release, "
                        f"{self.measured_on}, from stop to healthy)")
        return (f"DOWNTIME: the app itself publishes {bound}, so the old container stops "
                f"before the new one starts: nothing answers {how_long}, longer if the "
                f"new version fails. {AVOID_HINT.format(app=self.app)}")


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
