"""Copying a backup from the host to the operator's machine, with progress.

Locally the "host" is this machine: a chunked copy. Over SSH the file comes through
SFTP on the host's existing connection (no second login, the same host-key checks).
Either way it is written beside the destination as a dot-prefixed temporary file and
renamed once complete, so an interrupted download never looks like a backup.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from opsui.domain.errors import ActionFailed, HostUnreachable
from opsui.domain.ports import Progress
from opsui.domain.sanitize import clean

if TYPE_CHECKING:
    from opsui.backends.ssh import SshConnection

CHUNK = 1024 * 1024

Downloader = Callable[[str, str, "Progress | None"], tuple[int, str]]
"""``(remote_path, local_path, progress) -> (bytes, sha256)``."""


def _partial(local_path: str) -> Path:
    target = Path(local_path)
    return target.with_name(f".{target.name}.partial")


class _Rate:
    """Turns byte counts into ``progress(bytes, rate)`` calls, at most ~2 a second."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._started = self._last = time.monotonic()

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if self._progress is None or (not final and now - self._last < 0.5):
            return
        self._last = now
        elapsed = now - self._started
        self._progress(done, done / elapsed if elapsed > 0 else 0.0)


def _finish(partial: Path, local_path: str) -> str:
    """fsync, hash what actually landed on disk, rename; the sha256."""
    digest = hashlib.sha256()
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    partial.replace(local_path)
    return digest.hexdigest()


def copy_local(path: str, local_path: str,
               progress: Progress | None = None) -> tuple[int, str]:
    """The backup is on this machine already: copy it in chunks."""
    partial = _partial(local_path)
    rate = _Rate(progress)
    done = 0
    try:
        with open(path, "rb") as source, partial.open("wb") as target:
            while chunk := source.read(CHUNK):
                target.write(chunk)
                done += len(chunk)
                rate(done)
        sha256 = _finish(partial, local_path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise ActionFailed(f"download {clean(path, 300)} to {clean(local_path, 300)}: "
                           f"{exc.strerror or exc}") from None
    rate(done, final=True)
    return done, sha256


class SftpDownloader:
    """Downloads over SFTP on an :class:`~opsui.backends.ssh.SshConnection`."""

    def __init__(self, conn: SshConnection) -> None:
        self._conn = conn

    def __call__(self, path: str, local_path: str,
                 progress: Progress | None = None) -> tuple[int, str]:
        import paramiko

        partial = _partial(local_path)
        rate = _Rate(progress)
        try:
            sftp = paramiko.SFTPClient.from_transport(self._conn.transport)
            if sftp is None:
                raise ActionFailed(f"{self._conn.label}: the host offers no SFTP")
            try:
                sftp.get(path, str(partial), callback=lambda done, total: rate(done))
                size = partial.stat().st_size
            finally:
                sftp.close()
            sha256 = _finish(partial, local_path)
        except (OSError, paramiko.SSHException, EOFError) as exc:
            with contextlib.suppress(OSError):
                partial.unlink()
            if not self._conn.is_alive():
                raise HostUnreachable(f"{self._conn.label}: SSH connection lost during "
                                      "the download") from None
            raise ActionFailed(f"download {clean(path, 300)} over SFTP: "
                               f"{clean(str(exc) or type(exc).__name__)}",
                               hint="The host's sshd needs 'Subsystem sftp'.") from None
        rate(size, final=True)
        return size, sha256
