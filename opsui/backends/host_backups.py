"""Backup files on a host, written by shell scripts run through its command runner.

The same code locally and over SSH (like :mod:`opsui.backends.host_files`): the dump
command runs *on the host* with its stdout redirected to a dot-prefixed temporary file
in the destination folder, so the bytes go from the database container to the disk and
never over the link. The script checks the dump's exit status, refuses an empty file,
fsyncs and sums it; opsui then runs the engine's check on the temporary file and only
then renames it to its final name (and journals it), so a file under a final name was
always checked and is (but for a few milliseconds) in the journal.

Work on the host is owned by a live opsui. The dump script starts a *guard* beside it
that ends the dump and removes what it wrote when

* the **lease** lapses: opsui touches ``.NAME.partial.lease`` at every progress poll
  (about twice a second, through the kept shell over SSH); a killed opsui, or a lost
  link, stops touching it, and after :data:`LEASE_SECONDS` the dump is stopped and the
  temporary file removed, even one that already finished and awaits its check;
* the dump **stalls**: the file has not grown for ``stall_seconds`` (a paused or
  blocked database), failed with that reason instead of hanging for hours;
* the operator **cancels** (a ``.cancelled`` mark).

Stopping kills the dump's host-side process (for ``docker exec``, the docker CLI) and
then runs the engine's ``stop`` command, which ends the work *in the container* (for
PostgreSQL, ``pg_terminate_backend`` of the dump's session: killing the docker CLI
leaves pg_dump running inside). A paused container refuses every exec, so the guard
retries the stop while the container stays paused (up to :data:`REAP_SECONDS`).
Only POSIX sh, mkdir, dd, stat, date, sleep, touch, wc, df, sha256sum, mv and rm are
assumed.
"""

from __future__ import annotations

import contextlib
import shlex
import threading
import time

from opsui.backends import host_restore
from opsui.backends.backup_download import Downloader
from opsui.domain.errors import ActionFailed, OpsuiError
from opsui.domain.ports import (
    Cancellation,
    CommandResult,
    CommandRunner,
    DumpCheck,
    DumpResult,
    Progress,
)
from opsui.domain.sanitize import clean, clean_block

POLL_SECONDS = 0.5
LEASE_SECONDS = 15
"""A dump whose lease was not touched for this long has no owner: 30 missed polls."""
REAP_SECONDS = 3600
"""How long the guard retries the engine's stop on a paused container."""

# $1 folder, $2 final name, $3 lease seconds, $4 stall seconds, $5 the engine's stop
# command (shell-quoted, may be empty), the rest: the dump's argv. stdout: one status
# line. The finished dump stays at the temporary name for opsui to check and rename.
_DUMP = r"""
set -u
dir=$1; name=$2; lease=$3; stall=$4; stop=$5; shift 5
tmp="$dir/.$name.partial"
mkdir -p -- "$dir" || { echo "fail mkdir"; exit 1; }
rm -f -- "$tmp" "$tmp.why" "$tmp.cancelled"
: > "$tmp.lease" || { echo "fail lease"; exit 1; }
"$@" > "$tmp" &
pid=$!
# The engine's stop, once; 2 when the container is paused (it refuses every exec).
stop_once() {
    [ -n "$stop" ] || return 0
    out=$(eval "$stop" 2>&1 </dev/null) && return 0
    case $out in *[Pp]aused*) return 2 ;; esac
    return 1
}
guard() {
    last=-1; since=$(date +%s)
    while sleep 1; do
        running=; kill -0 "$pid" 2>/dev/null && running=1
        [ -n "$running" ] || [ -e "$tmp" ] || break
        now=$(date +%s); why=
        touched=$(stat -c %Y -- "$tmp.lease" 2>/dev/null || echo 0)
        if [ -e "$tmp.cancelled" ]; then why=cancelled
        elif [ $((now - touched)) -ge "$lease" ]; then why=lease
        elif [ -n "$running" ]; then
            size=$(stat -c %s -- "$tmp" 2>/dev/null || echo 0)
            if [ "$size" != "$last" ]; then last=$size; since=$now
            elif [ $((now - since)) -ge "$stall" ]; then why=stall
            fi
        fi
        [ -n "$why" ] || continue
        [ -z "$running" ] || echo "$why" > "$tmp.why"
        rm -f -- "$tmp" "$tmp.lease"
        [ -n "$running" ] || break
        kill -TERM "$pid" 2>/dev/null  # the host side first: a stuck stop must not hold it
        stop_once; paused=$?  # then where the work runs: pg_dump ends with its session
        t=0
        while [ "$paused" -eq 2 ] && [ "$t" -lt "$REAP" ]; do
            sleep 2; t=$((t + 2)); stop_once; paused=$?
        done
        kill -KILL "$pid" 2>/dev/null
        break
    done
    rm -f -- "$tmp.lease"
}
( guard ) </dev/null >/dev/null 2>&1 &
gpid=$!
fail() { kill "$gpid" 2>/dev/null; rm -f -- "$tmp" "$tmp.lease"; echo "fail $1"; exit 1; }
wait "$pid"
rc=$?
why=$(cat -- "$tmp.why" 2>/dev/null) || why=
if [ -n "$why" ]; then  # the guard stopped it, and goes on to stop it in the database
    rm -f -- "$tmp.why" "$tmp.cancelled"; echo "fail $why"; exit 1
fi
if [ "$rc" -ne 0 ]; then
    avail=$(df -Pk -- "$dir" 2>/dev/null | awk 'NR == 2 {print $4}')
    fail "dump $rc ${avail:-?}"
fi
[ -s "$tmp" ] || fail empty
dd if=/dev/null of="$tmp" bs=1 count=0 conv=notrunc,fsync status=none || fail fsync
size=$(wc -c < "$tmp") && sum=$(sha256sum < "$tmp") || fail sum
echo "ok $size ${sum%% *}"
""".replace("$REAP", str(REAP_SECONDS))
# One poll: renew the lease (never create it: a late poll must not outlive the guard)
# and say the temporary file's size.
_POLL = r'touch -c -- "$1.lease" 2>/dev/null; stat -c %s -- "$1" 2>/dev/null || echo 0'
# The guard sees the mark within a second: it stops the dump and the engine's work.
# Only while the guard lives (its lease file exists): a late mark would be left behind.
_CANCEL = r'[ ! -e "$1.lease" ] || : > "$1.cancelled"'
# $1 the checked temporary file, $2 its final name, $3 the folder; exit 3: it is gone
# (the guard removed it: the lease lapsed or the backup was cancelled).
_COMMIT = r"""
[ -e "$1" ] || exit 3
mv -f -- "$1" "$3/$2" || exit 1
rm -f -- "$1.lease" "$1.cancelled"
sync -- "$3" 2>/dev/null || true
"""
# Without its lease file the guard, if any is left, stops at once.
_DISCARD = r'rm -f -- "$1" "$1.lease" "$1.why" "$1.cancelled"'
_FEED = r'f=$1; shift; "$@" < "$f"'
_CHECKSUM = r"""
[ -e "$1" ] || exit 3
size=$(wc -c < "$1") && sum=$(sha256sum < "$1") || exit 1
echo "$size ${sum%% *}"
"""
_REMOVE = r'rm -f -- "$1"'
_KEPT_NOTHING = "Nothing was kept under the backup's name; earlier backups are untouched."


class _Lease:
    """Renews a dump's lease every :data:`POLL_SECONDS` from the script's start to the
    rename, reports the temporary file's size while the dump runs, and passes a cancel
    on to the guard."""

    def __init__(self, store: ShellBackupStore, path: str, progress: Progress | None,
                 cancelled: Cancellation | None) -> None:
        self._store = store
        self._path = path
        self._progress = progress
        self._cancelled = cancelled
        self._done = threading.Event()
        self.dumping = True
        """Progress is reported only while the dump writes."""
        self._thread = threading.Thread(target=self._run, name=f"backup-lease {path}",
                                        daemon=True)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join(POLL_SECONDS * 4)

    def _run(self) -> None:
        started = time.monotonic()
        last_size, last_at = 0, started
        marked = False
        while not self._done.wait(POLL_SECONDS):
            if self._cancelled is not None and self._cancelled.is_set() and not marked:
                marked = self._store.poll(_CANCEL, self._path) is not None
            result = self._store.poll(_POLL, self._path)
            if result is None or self._progress is None or not self.dumping:
                continue  # a failed poll is skipped: progress is only shown
            try:
                size = int(result.stdout.strip() or b"0")
            except ValueError:
                continue
            if self._done.is_set() or size < last_size:
                continue
            now = time.monotonic()
            rate = (size - last_size) / (now - last_at) if now > last_at else 0.0
            last_size, last_at = size, now
            self._progress(size, max(rate, 0.0))


class ShellBackupStore:
    """:class:`opsui.domain.ports.BackupStore` as shell scripts on the host.

    ``downloader(remote_path, local_path, progress)`` copies a file to the operator's
    machine: a plain copy locally, SFTP over SSH (:mod:`opsui.backends.backup_download`).
    """

    def __init__(self, runner: CommandRunner, host: str, downloader: Downloader,
                 poll_runner: CommandRunner | None = None) -> None:
        self._runner = runner
        self._poll_runner = poll_runner or runner
        """Runs the polls (the lease) and the cancel: over SSH the host's kept shell,
        since an exec session per poll cost sshd about a core-second per ten polls
        (bench/backup.py), taken from the dump it watches."""
        self._host = host
        self._downloader = downloader

    def _sh(self, script: str, *args: str, timeout: float = 30.0,
            runner: CommandRunner | None = None) -> CommandResult:
        return (runner or self._runner).run(["sh", "-c", script, "sh", *args], timeout)

    def poll(self, script: str, path: str) -> CommandResult | None:
        """A short script through the poll runner; None when it could not run."""
        try:
            return self._sh(script, path, timeout=10.0, runner=self._poll_runner)
        except OpsuiError:
            return None

    def dump(self, argv: list[str], folder: str, name: str, *, timeout: float,
             progress: Progress | None = None, cancelled: Cancellation | None = None,
             stop: list[str] | None = None, stall_seconds: float = 120.0,
             check: DumpCheck | None = None) -> DumpResult:
        started = time.monotonic()
        tmp = f"{folder}/.{name}.partial"
        with _Lease(self, tmp, progress, cancelled) as lease:
            try:
                result = self._sh(_DUMP, folder, name, str(LEASE_SECONDS),
                                  str(max(1, round(stall_seconds))),
                                  shlex.join(stop) if stop else "", *argv, timeout=timeout)
            finally:
                lease.dumping = False
            seconds = time.monotonic() - started
            status = result.stdout.decode("utf-8", "replace").strip().splitlines()
            words = status[-1].split() if status else []
            if not (result.exit_code == 0 and len(words) == 3 and words[0] == "ok"):
                if not words or words[0] != "fail":  # killed on a timeout, say: no guard
                    self._discard(tmp)
                raise self._dump_failed(words, result, folder, stall_seconds, cancelled)
            size, sha256 = int(words[1]), words[2]
            if progress is not None:
                progress(size, size / seconds if seconds > 0 else 0.0)
            if check is not None and not (cancelled is not None and cancelled.is_set()):
                ok, detail = check(tmp)
                if not ok:
                    self._discard(tmp)
                    raise ActionFailed(f"{self._host}: the fresh dump failed its check: "
                                       f"{detail}", hint=_KEPT_NOTHING)
            if cancelled is not None and cancelled.is_set():
                self._discard(tmp)
                raise ActionFailed(f"{self._host}: the backup was cancelled; nothing was kept")
            committed = self._sh(_COMMIT, tmp, name, folder)
        if committed.exit_code == 3:
            raise ActionFailed(
                f"{self._host}: the finished dump was removed before it could be kept: "
                f"opsui's lease on it lapsed (no heartbeat for {LEASE_SECONDS} s)",
                hint=_KEPT_NOTHING)
        if committed.exit_code != 0:
            self._discard(tmp)
            raise ActionFailed(f"{self._host}: backup failed at rename in "
                               f"{clean(folder, 300)}: "
                               f"{clean_block(committed.stderr, 500).strip() or 'no output'}",
                               hint=_KEPT_NOTHING)
        return DumpResult(f"{folder}/{name}", size, sha256, seconds)

    def _discard(self, tmp: str) -> None:
        """Best effort: the guard removes the file anyway once the lease lapses."""
        with contextlib.suppress(OpsuiError):
            self._sh(_DISCARD, tmp)

    def _dump_failed(self, words: list[str], result: CommandResult, folder: str,
                     stall_seconds: float, cancelled: Cancellation | None) -> ActionFailed:
        stderr = clean_block(result.stderr, 1500).strip()
        stage = words[1] if len(words) > 1 and words[0] == "fail" else ""
        hint = _KEPT_NOTHING
        if stage == "cancelled" or (cancelled is not None and cancelled.is_set()):
            return ActionFailed(f"{self._host}: the backup was cancelled; nothing was kept")
        if stage == "stall":
            return ActionFailed(f"{self._host}: the dump was stopped: no progress for "
                                f"{stall_seconds:g} s: is the database paused or blocked?",
                                hint="The dump was stopped in the database too. " + hint)
        if stage == "lease":
            return ActionFailed(f"{self._host}: the dump was stopped: no heartbeat from "
                                f"opsui for {LEASE_SECONDS} s (its lease lapsed)", hint=hint)
        no_space = "no space left" in stderr.lower() or (
            stage == "dump" and len(words) > 3 and words[3] == "0")
        if no_space:
            return ActionFailed(f"{self._host}: backup failed: no space left on device in "
                                f"{clean(folder, 300)}" + (f" ({stderr})" if stderr else ""),
                                hint="Free space there, or set dest under "
                                     "[apps.NAME.backup]. " + hint)
        if stage == "dump":
            return ActionFailed(f"{self._host}: the dump failed (exit {words[2]}): "
                                f"{stderr or 'no error output'}", hint=hint)
        if stage == "empty":
            return ActionFailed(f"{self._host}: the dump wrote nothing"
                                + (f": {stderr}" if stderr else ""), hint=hint)
        if stage:
            return ActionFailed(f"{self._host}: backup failed at {stage} in "
                                f"{clean(folder, 300)}: {stderr or 'no error output'}",
                                hint=hint)
        return ActionFailed(f"{self._host}: backup failed (exit {result.exit_code}): "
                            f"{stderr or 'no error output'}", hint=hint)


    def feed(self, argv: list[str], path: str, timeout: float) -> CommandResult:
        return self._sh(_FEED, path, *argv, timeout=timeout)

    def restore(self, argv: list[str], path: str, *, timeout: float,
                stop: list[str] | None = None, busy: list[str] | None = None,
                stall_seconds: float = 120.0,
                cancelled: Cancellation | None = None) -> CommandResult:
        """:mod:`opsui.backends.host_restore`'s script, leased like a dump (the same
        polls renew it and pass a cancel on)."""
        base = host_restore.lease_base(path)
        with _Lease(self, base, None, cancelled):
            result = self._sh(host_restore.SCRIPT, path, base, str(LEASE_SECONDS),
                              str(max(1, round(stall_seconds))),
                              shlex.join(stop) if stop else "",
                              shlex.join(busy) if busy else "", *argv, timeout=timeout)
        stdout, words = host_restore.status_of(result.stdout)
        if words[:1] == ["rc"]:
            return CommandResult(result.exit_code, stdout, result.stderr)
        with contextlib.suppress(OpsuiError):  # killed on the timeout, say: no guard left
            self._sh(_DISCARD, base)
        why = words[1] if len(words) > 1 else ""
        if why == "cancelled" or (cancelled is not None and cancelled.is_set()):
            raise ActionFailed(f"{self._host}: the restore was cancelled")
        if why == "stall":
            raise ActionFailed(f"{self._host}: the restore was stopped: no progress for "
                               f"{stall_seconds:g} s: is the database paused or blocked?",
                               hint="It was stopped in the database too.")
        if why == "lease":
            raise ActionFailed(f"{self._host}: the restore was stopped: no heartbeat from "
                               f"opsui for {LEASE_SECONDS} s (its lease lapsed)")
        stderr = clean_block(result.stderr, 1500).strip()
        return CommandResult(result.exit_code if result.exit_code else 1, stdout,
                             (f"restore {why or 'cut off'}: {stderr}" if stderr
                              else f"restore {why or 'cut off'}").encode())

    def checksum(self, path: str) -> tuple[int, str] | None:
        result = self._sh(_CHECKSUM, path, timeout=3600.0)
        if result.exit_code == 3:
            return None
        words = result.stdout.decode("utf-8", "replace").split()
        if result.exit_code != 0 or len(words) != 2:
            raise ActionFailed(f"{self._host}: cannot read {clean(path, 300)}: "
                               f"{clean_block(result.stderr, 500).strip() or 'no output'}")
        return int(words[0]), words[1]

    def remove(self, path: str) -> None:
        result = self._sh(_REMOVE, path)
        if result.exit_code != 0:
            raise ActionFailed(f"{self._host}: cannot remove {clean(path, 300)}: "
                               f"{clean_block(result.stderr, 500).strip()}")

    def download(self, path: str, local_path: str,
                 progress: Progress | None = None) -> tuple[int, str]:
        return self._downloader(path, local_path, progress)
