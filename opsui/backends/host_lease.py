"""A lease on the host: work opsui started there is undone once opsui stops renewing it.

Some work outlives the call that started it: a one-off migration container runs in the
engine whatever happens to the opsui following its output. Before it starts, a *watcher*
is started on the host through the host's command runner (a local process, or over SSH
an exec session, so it lives on the host and not in opsui): it holds a lease file and,
once that file has gone :data:`LEASE_SECONDS` without a touch, runs the undo command
(``docker rm -f NAME``). opsui touches the file every :data:`RENEW_SECONDS` while it
follows the work (over SSH through the kept shell: an exec session per renewal would
cost sshd CPU), and removes it when the work ended under its eyes; the watcher then
leaves quietly. A killed opsui, or a link lost for good, stops the touches.

Only POSIX sh, stat, date, sleep, touch and rm are assumed on the host.
"""

from __future__ import annotations

import contextlib
import uuid

from opsui.domain.errors import ActionFailed, OpsuiError
from opsui.domain.ports import CommandRunner
from opsui.domain.sanitize import clean, clean_block

LEASE_SECONDS = 15
"""Work whose lease was not touched for this long has no owner: seven missed renewals."""
RENEW_SECONDS = 2.0
LEASE_FOLDER = "/tmp"
"""Where lease files live on the host: writable for any user, and never a backup folder."""

# $1 the lease file, $2 seconds, the rest: the undo command. The watcher runs detached
# (no output, no stdin: the runner returns at once) and ignores the hang-up and the
# interrupt of whoever started it: only the lease decides. It leaves quietly once the
# file is gone (opsui saw the work end).
_WATCH = r"""
lease=$1; seconds=$2; shift 2
: > "$lease" || exit 1
(
    trap '' HUP INT
    while sleep 1; do
        t=$(stat -c %Y -- "$lease" 2>/dev/null) || exit 0
        [ $(($(date +%s) - t)) -ge "$seconds" ] || continue
        rm -f -- "$lease"
        "$@"
        exit 0
    done
) </dev/null >/dev/null 2>&1 &
echo watching
"""
# Renew: never create the file (a late renewal must not outlive a watcher that left).
_RENEW = r'touch -c -- "$1"'
_RELEASE = r'rm -f -- "$1"'


class HostLease:
    """One lease: :meth:`start` before the work exists, :meth:`renew` while it runs,
    :meth:`release` once opsui has seen it end (or the work was never made)."""

    def __init__(self, leases: HostLeases, name: str, undo: list[str]) -> None:
        self._leases = leases
        self.path = f"{LEASE_FOLDER}/.opsui-lease-{name}-{uuid.uuid4().hex[:8]}"
        self._undo = undo
        self._renewed = 0.0

    def start(self) -> None:
        """Start the watcher; ActionFailed when it cannot run (the work must not start
        unowned)."""
        try:
            result = self._leases.runner.run(
                ["sh", "-c", _WATCH, "sh", self.path, str(self._leases.seconds),
                 *self._undo], 30.0)
        except OpsuiError as exc:
            raise ActionFailed(f"cannot start the lease's watcher on the host: {exc}") \
                from None
        if result.exit_code != 0 or result.stdout.strip() != b"watching":
            raise ActionFailed(
                f"cannot start the lease's watcher on the host ({clean(self.path, 200)}): "
                f"{clean_block(result.stderr, 500).strip() or f'exit {result.exit_code}'}")

    def renew(self, now: float) -> None:
        """Touch the lease when ``renew_seconds`` have passed since the last touch
        (``now``: a monotonic time); a failed touch is skipped, the next one retries."""
        if now - self._renewed < self._leases.renew_seconds:
            return
        self._renewed = now
        with contextlib.suppress(OpsuiError):
            self._leases.poll_runner.run(["sh", "-c", _RENEW, "sh", self.path], 10.0)

    def release(self) -> None:
        """Best effort: a lease left behind only means the undo runs on ended work."""
        with contextlib.suppress(OpsuiError):
            self._leases.poll_runner.run(["sh", "-c", _RELEASE, "sh", self.path], 10.0)


class HostLeases:
    """Leases on one host: ``runner`` starts the watchers, ``poll_runner`` (over SSH the
    kept shell) renews and releases them; ``docker`` is the docker CLI there."""

    def __init__(self, runner: CommandRunner, poll_runner: CommandRunner | None = None,
                 docker: tuple[str, ...] = ("docker",), seconds: int = LEASE_SECONDS,
                 renew_seconds: float = RENEW_SECONDS) -> None:
        self.runner = runner
        self.poll_runner = poll_runner or runner
        self.docker = docker
        self.seconds = seconds
        self.renew_seconds = renew_seconds

    def lease(self, name: str, undo: list[str]) -> HostLease:
        """A lease whose lapse runs ``undo`` on the host."""
        return HostLease(self, name, undo)

    def container(self, name: str) -> HostLease:
        """A lease whose lapse removes the container ``name`` (created after the watcher
        starts: a kill in between removes it as well, or finds nothing)."""
        return self.lease(name, [*self.docker, "rm", "-f", name])
