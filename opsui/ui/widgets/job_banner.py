"""The dashboard's line for runs that go on while the operator looks elsewhere.

A release, restore, migration or backup keeps running when its step screen is left
(Esc is "back"), so the dashboard must say so: one line per run with its current step
and how long it has run, and runs that ended while nobody watched, until ``J`` shows
them. Hidden when there is nothing to say.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from opsui.domain.jobs import Job
from opsui.domain.releases import OK
from opsui.domain.sanitize import clean
from opsui.ui.palette import Palette
from opsui.ui.widgets.step_log import OUTCOME_STEP


def job_line(job: Job, palette: Palette, now: float) -> Text:
    """``▶ rollback of web on local: health gate · 12s  (J watch)`` or the outcome."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if job.running:
        text.append("▶ ", style=palette.accent)
        text.append(job.title().capitalize(), style=palette.strong)
        step = job.current_step
        if step and step != OUTCOME_STEP:
            text.append(f": {clean(step, 64)}")
        text.append(f" · {int(now - job.started)}s", style=palette.muted)
        if job.cancelled.is_set():
            text.append("  cancelling…", style=palette.warn)
        text.append("   J watch", style=palette.muted)
        return text
    ok = job.outcome == OK
    text.append("✓ " if ok else "✗ ", style=palette.ok if ok else palette.bad)
    text.append(f"{job.title().capitalize()}: {job.outcome}",
                style=palette.ok if ok else palette.bad)
    text.append("   J shows its steps", style=palette.muted)
    return text


class JobBanner(Static):
    """Runs of this opsui: running ones, and ended ones nobody has looked at yet."""

    DEFAULT_CSS = """
    JobBanner {
        height: auto;
        padding: 0 1;
        background: $primary-muted;
        color: $text;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.jobs: tuple[Job, ...] = ()
        self._ticker: Timer | None = None

    def on_mount(self) -> None:
        self.display = bool(self.jobs)

    def show(self, jobs: Sequence[Job]) -> None:
        self.jobs = tuple(jobs)
        self.display = bool(self.jobs)
        running = any(job.running for job in self.jobs)
        if running and self._ticker is None:
            self._ticker = self.set_interval(1.0, self._draw)
        elif not running and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self._draw()

    def _draw(self) -> None:
        palette, now = Palette.of(self.app), time.monotonic()
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, job in enumerate(self.jobs):
            if index:
                text.append("\n")
            text.append_text(job_line(job, palette, now))
        self.update(text)

    @property
    def plain(self) -> str:
        """What the banner says (for tests and the help of the moment)."""
        palette, now = Palette.of(self.app), time.monotonic()
        return "\n".join(job_line(job, palette, now).plain for job in self.jobs)
