"""Long runs that belong to the app, not to the screen that started them.

A deploy, a rollback, the recovery of an interrupted release, a restore, a migration
and a backup each run for seconds to minutes. An operator in an incident leaves the
screen that shows one (Esc means "back" everywhere), opens the logs, comes back. So a
run is a :class:`Job` held by the :class:`JobBoard`: its thread, its cancellation
event, and a record of what it reported (steps, output, progress, outcome). Screens
*subscribe* and get that record replayed, then every new event; unsubscribing (a
screen closing) never touches the run. Cancelling is an explicit call, and a program
that wants to quit asks the board what is still running first.

Listeners are called on the job's thread with the board's lock held, so a subscriber
sees every event exactly once and in order, replay included. They must only hand the
event on (Textual's thread-safe ``post_message``), never block.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from opsui.domain.errors import ActionRefused
from opsui.domain.operations.release_run import StepEvent
from opsui.domain.releases import CANCELLED, FAILED

REFUSED = "refused"
"""The outcome when the gate or the lock refused before any step ran."""

KEPT_OUTPUT_LINES = 2000
"""Lines of a migration's output a job keeps for a screen that subscribes late."""


@dataclass(frozen=True)
class OutputLine:
    """One line of a migration's output (untrusted: the screen cleans it again)."""

    text: str


@dataclass(frozen=True)
class ProgressSample:
    """Bytes a backup has written so far, and the rate."""

    done: int
    rate: float


@dataclass(frozen=True)
class JobEnded:
    """The run returned (``error`` None) or raised."""

    outcome: str
    error: BaseException | None = None


JobEvent = StepEvent | OutputLine | ProgressSample | JobEnded
JobListener = Callable[["Job", JobEvent], None]


@dataclass
class JobContext:
    """What a run is handed: where to report, and the event that asks it to stop."""

    job: Job
    cancelled: threading.Event

    def report(self, event: StepEvent) -> None:
        self.job.emit(event)

    def output(self, line: str) -> None:
        self.job.emit(OutputLine(line))

    def progress(self, done: int, rate: float) -> None:
        self.job.emit(ProgressSample(done, rate))


JobRun = Callable[[JobContext], str]
"""The work: returns the outcome (ok, failed, cancelled...) or raises."""


@dataclass(eq=False)
class Job:
    """One run on one app: what it is, and everything it has reported so far."""

    id: int
    kind: str
    """deploy, rollback, recovery, restore, migrate or backup."""
    host: str
    app: str
    summary: str
    """One line: what runs (shown in banners and on the step screen)."""
    board: JobBoard
    started: float = field(default_factory=time.monotonic)
    cancelled: threading.Event = field(default_factory=threading.Event)
    history: list[StepEvent | ProgressSample] = field(default_factory=list)
    """Steps and progress in the order reported (a run of progress samples kept as its
    newest), so a screen that subscribes late replays them as they happened."""
    output: deque[str] = field(default_factory=lambda: deque(maxlen=KEPT_OUTPUT_LINES))
    output_count: int = 0
    ended: JobEnded | None = None
    result: object = None
    """What the run produced besides its outcome (a backup's record), set by the run."""
    watched_at_end: bool = False
    """A screen was subscribed when the run ended (else the operator has not seen it)."""
    _listeners: list[JobListener] = field(default_factory=list)
    _done: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return self.ended is None

    @property
    def outcome(self) -> str | None:
        return self.ended.outcome if self.ended is not None else None

    @property
    def steps(self) -> list[StepEvent]:
        """The step events reported so far, in order."""
        with self.board.lock:
            return [event for event in self.history if isinstance(event, StepEvent)]

    @property
    def current_step(self) -> str | None:
        """The step under way, or the last one that ended."""
        steps = self.steps
        return steps[-1].step if steps else None

    def title(self) -> str:
        return f"{self.kind} of {self.app} on {self.host}"

    def cancel(self) -> bool:
        """Ask the run to stop after its current step; False when it already ended."""
        if not self.running:
            return False
        if not self.cancelled.is_set():
            self.cancelled.set()
            self.board.changed(self)  # banners and the step screen say "cancelling"
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """True once the run has ended."""
        return self._done.wait(timeout)

    def subscribe(self, listener: JobListener) -> Callable[[], None]:
        """Replay what was reported, then pass on every new event; returns the
        unsubscribe function (which never stops the run)."""
        with self.board.lock:
            for event in self.history:
                listener(self, event)
            if self.output_count:
                for line in self.output:
                    listener(self, OutputLine(line))
            if self.ended is not None:
                listener(self, self.ended)
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self.board.lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def emit(self, event: JobEvent) -> None:
        """Record ``event`` and hand it to every listener (the run's thread calls this)."""
        with self.board.lock:
            match event:
                case StepEvent():
                    self.history.append(event)
                case OutputLine(text=text):
                    self.output.append(text)
                    self.output_count += 1
                case ProgressSample():
                    if self.history and isinstance(self.history[-1], ProgressSample):
                        self.history[-1] = event
                    else:
                        self.history.append(event)
                case JobEnded():
                    self.ended = event
                    self.watched_at_end = bool(self._listeners)
            for listener in list(self._listeners):
                listener(self, event)
            if not isinstance(event, OutputLine | ProgressSample):
                self.board.changed(self)


class JobBoard:
    """Every job this opsui started; the running ones are what quitting must ask about."""

    def __init__(self, on_change: Callable[[Job], None] | None = None) -> None:
        self.lock = threading.RLock()
        """Held while a job records an event and calls its listeners."""
        self._on_change = on_change
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)

    def start(self, kind: str, host: str, app: str, summary: str, run: JobRun) -> Job:
        """Start ``run`` on its own thread and return its job at once."""
        with self.lock:
            job = Job(next(self._ids), kind, host, app, summary, self)
            self._jobs[job.id] = job
        self.changed(job)
        thread = threading.Thread(target=self._main, args=(job, run), daemon=True,
                                  name=f"opsui-{kind}-{app}")
        thread.start()
        return job

    def _main(self, job: Job, run: JobRun) -> None:
        ended: JobEnded
        try:
            ended = JobEnded(run(JobContext(job, job.cancelled)))
        except BaseException as error:  # reported to whoever watches, never lost
            outcome = REFUSED if isinstance(error, ActionRefused) else (
                CANCELLED if job.cancelled.is_set() and not job.steps else FAILED)
            ended = JobEnded(outcome, error)
        try:
            job.emit(ended)
        finally:
            job._done.set()

    def changed(self, job: Job) -> None:
        if self._on_change is not None:
            self._on_change(job)

    def get(self, job_id: int) -> Job | None:
        with self.lock:
            return self._jobs.get(job_id)

    def latest(self) -> list[Job]:
        """The newest job of each (host, app) this opsui ran, running or ended."""
        with self.lock:
            newest: dict[tuple[str, str], Job] = {}
            for job in self._jobs.values():
                newest[(job.host, job.app)] = job
            return list(newest.values())

    def running(self) -> list[Job]:
        """Jobs still running, oldest first."""
        with self.lock:
            return [job for job in self._jobs.values() if job.running]

    def forget_ended(self, keep: int = 20) -> None:
        """Drop all but the ``keep`` newest ended jobs (a long session starts many)."""
        with self.lock:
            ended = [job_id for job_id, job in self._jobs.items() if not job.running]
            for job_id in ended[:-keep] if keep else ended:
                del self._jobs[job_id]
