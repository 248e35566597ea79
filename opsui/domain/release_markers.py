"""Deploy and rollback markers for a log tail, read from the app's journal on the host.

When a release starts or ends while an operator watches the app's logs, a marker line
says so in the pane ("» deploy r2026… of 2.0.0 by alice@desk started"), within a few
seconds of the moment: the journal is the one record every opsui shares, so a deploy
made from another laptop, or by CI, shows up too.
"""

from __future__ import annotations

from collections.abc import Callable

from opsui.domain.releases import Release

History = Callable[[], list[Release]]


class ReleaseMarkers:
    """Turns journal changes into marker texts; the first read only learns what exists."""

    def __init__(self, history: History) -> None:
        self._history = history
        self._seen: set[tuple[str, str]] | None = None

    def poll(self) -> list[str]:
        """Markers for releases started or ended since the last poll (raises OpsuiError
        when the journal cannot be read; the caller keeps tailing)."""
        events = [(event, release) for release in self._history()
                  for event in ("start", "end") if event == "start" or release.outcome]
        if self._seen is None:
            self._seen = {(event, release.id) for event, release in events}
            return []
        texts = []
        for event, release in events:
            if (event, release.id) not in self._seen:
                self._seen.add((event, release.id))
                texts.append(describe(event, release))
        return texts


def describe(event: str, release: Release) -> str:
    what = f"{release.action} {release.id} of {release.version or release.image}"
    if event == "start":
        return f"{what} by {release.who} started"
    reason = release.reason.splitlines()[0] if release.reason and release.outcome != "ok" else ""
    return (f"{what} ended {release.outcome} ({release.seconds:.1f} s)"
            + (f": {reason}" if reason else ""))
