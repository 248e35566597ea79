"""Backup files on a host, written by shell scripts run through its command runner.

The same code locally and over SSH (like :mod:`opsui.backends.host_files`): the dump
command runs *on the host* with its stdout redirected to a dot-prefixed temporary file
in the destination folder, so the bytes go from the database container to the disk and
never over the link. The script checks the dump's exit status, refuses an empty file,
fsyncs, and only then renames it to its final name; on any failure it removes the
temporary file and says why on its stdout (the dump owns nothing but the file). A
second command polls the temporary file's size about twice a second for the progress
callback. Only POSIX sh, mkdir, dd, stat, wc, df, sha256sum, mv and rm are assumed.
"""

from __future__ import annotations

import threading
import time

from opsui.backends.backup_download import Downloader
from opsui.domain.errors import ActionFailed, OpsuiError
from opsui.domain.ports import (
    Cancellation,
    CommandResult,
    CommandRunner,
    DumpResult,
    Progress,
)
from opsui.domain.sanitize import clean, clean_block

POLL_SECONDS = 0.5

# $1 folder, $2 final name, the rest: the dump's argv. stdout: one status line.
_DUMP = r"""
set -u
dir=$1; name=$2; shift 2
tmp="$dir/.$name.partial"
mkdir -p -- "$dir" || { echo "fail mkdir"; exit 1; }
rm -f -- "$tmp"
"$@" > "$tmp" &
pid=$!
echo "$pid" > "$tmp.pid" 2>/dev/null
wait "$pid"
rc=$?
rm -f -- "$tmp.pid"
if [ -e "$tmp.cancelled" ]; then rm -f -- "$tmp" "$tmp.cancelled"; echo "fail cancelled"; exit 1; fi
if [ "$rc" -ne 0 ]; then
    avail=$(df -Pk -- "$dir" 2>/dev/null | awk 'NR == 2 {print $4}')
    rm -f -- "$tmp"; echo "fail dump $rc ${avail:-?}"; exit 1
fi
if [ ! -s "$tmp" ]; then rm -f -- "$tmp"; echo "fail empty"; exit 1; fi
if ! dd if=/dev/null of="$tmp" bs=1 count=0 conv=notrunc,fsync status=none; then
    rm -f -- "$tmp"; echo "fail fsync"; exit 1
fi
size=$(wc -c < "$tmp") && sum=$(sha256sum < "$tmp") || { rm -f -- "$tmp"; echo "fail sum"; exit 1; }
mv -f -- "$tmp" "$dir/$name" || { rm -f -- "$tmp"; echo "fail rename"; exit 1; }
rm -f -- "$tmp.cancelled"
sync -- "$dir" 2>/dev/null || true
echo "ok $size ${sum%% *}"
"""
_SIZE = r'stat -c %s -- "$1" 2>/dev/null || echo 0'
# Cancelling marks the dump cancelled, then signals its host-side process (for docker
# exec, the docker CLI, which may exit 0 on SIGTERM: the mark, not the exit status,
# tells the script to throw the partial file away).
_CANCEL = (r': > "$1.cancelled"; [ -s "$1.pid" ] && kill -TERM "$(cat -- "$1.pid")" 2>/dev/null;'
           r" exit 0")
_FEED = r'f=$1; shift; "$@" < "$f"'
_CHECKSUM = r"""
[ -e "$1" ] || exit 3
size=$(wc -c < "$1") && sum=$(sha256sum < "$1") || exit 1
echo "$size ${sum%% *}"
"""
_REMOVE = r'rm -f -- "$1"'



class ShellBackupStore:
    """:class:`opsui.domain.ports.BackupStore` as shell scripts on the host.

    ``downloader(remote_path, local_path, progress)`` copies a file to the operator's
    machine: a plain copy locally, SFTP over SSH (:mod:`opsui.backends.backup_download`).
    """

    def __init__(self, runner: CommandRunner, host: str, downloader: Downloader,
                 poll_runner: CommandRunner | None = None) -> None:
        self._runner = runner
        self._poll_runner = poll_runner or runner
        """Runs the size polls and the cancel: over SSH the host's kept shell, since an
        exec session per poll cost sshd about a core-second per ten polls (bench/backup.py),
        taken from the dump it watches."""
        self._host = host
        self._downloader = downloader

    def _sh(self, script: str, *args: str, timeout: float = 30.0,
            runner: CommandRunner | None = None) -> CommandResult:
        return (runner or self._runner).run(["sh", "-c", script, "sh", *args], timeout)

    def dump(self, argv: list[str], folder: str, name: str, *, timeout: float,
             progress: Progress | None = None,
             cancelled: Cancellation | None = None) -> DumpResult:
        started = time.monotonic()
        done = threading.Event()
        watcher = None
        if progress is not None or cancelled is not None:
            watcher = threading.Thread(
                target=self._watch, args=(f"{folder}/.{name}.partial", progress, done,
                                          started, cancelled),
                name=f"backup-progress {name}", daemon=True)
            watcher.start()
        try:
            result = self._sh(_DUMP, folder, name, *argv, timeout=timeout)
        finally:
            done.set()
            if watcher is not None:
                watcher.join(POLL_SECONDS * 4)
        seconds = time.monotonic() - started
        status = result.stdout.decode("utf-8", "replace").strip().splitlines()
        words = status[-1].split() if status else []
        if result.exit_code == 0 and len(words) == 3 and words[0] == "ok":
            size = int(words[1])
            if progress is not None:
                progress(size, size / seconds if seconds > 0 else 0.0)
            return DumpResult(f"{folder}/{name}", size, words[2], seconds)
        if cancelled is not None and cancelled.is_set():
            raise ActionFailed(f"{self._host}: the backup was cancelled; nothing was kept")
        raise self._dump_failed(words, result, folder)

    def _dump_failed(self, words: list[str], result: CommandResult,
                     folder: str) -> ActionFailed:
        stderr = clean_block(result.stderr, 1500).strip()
        stage = words[1] if len(words) > 1 and words[0] == "fail" else ""
        hint = "Nothing was kept under the backup's name; earlier backups are untouched."
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

    def _watch(self, path: str, progress: Progress | None, done: threading.Event,
               started: float, cancelled: Cancellation | None) -> None:
        """Report the temporary file's size until the dump ends (a failed poll is
        skipped: progress is only shown, never relied on); stop the dump when
        ``cancelled`` is set."""
        last_size, last_at = 0, started
        stopping = False
        while not done.wait(POLL_SECONDS):
            if cancelled is not None and cancelled.is_set() and not stopping:
                stopping = True
                try:
                    self._sh(_CANCEL, path, timeout=10.0, runner=self._poll_runner)
                except OpsuiError:
                    stopping = False  # try again on the next tick
            if progress is None:
                continue
            try:
                result = self._sh(_SIZE, path, timeout=10.0, runner=self._poll_runner)
                size = int(result.stdout.strip() or b"0")
            except (ValueError, OpsuiError):  # the dump itself will say what broke
                continue
            if done.is_set():
                return
            if size < last_size:  # renamed to its final name between two looks: done
                continue
            now = time.monotonic()
            rate = (size - last_size) / (now - last_at) if now > last_at else 0.0
            last_size, last_at = size, now
            progress(size, max(rate, 0.0))

    def feed(self, argv: list[str], path: str, timeout: float) -> CommandResult:
        return self._sh(_FEED, path, *argv, timeout=timeout)

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
