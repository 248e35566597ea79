"""The deploy lock of an app, on its host: taken atomically, shown to everyone.

Taking it is creating a folder (atomic on every filesystem: exactly one of two racing
operators succeeds) holding who took it, when, for which version and why. A lock taken
by hand (``opsui lock APP --message ...``) freezes deploys; nobody waits on it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass

from opsui.domain.history import app_folder
from opsui.domain.ports import HostFiles
from opsui.domain.sanitize import clean

HOLDER_FILE = "holder.json"
HOLDER_WRITE_SECONDS = 1.0
"""How long a lock's creator may take to write its details after creating it."""


@dataclass(frozen=True)
class LockHolder:
    user: str
    machine: str
    taken_at: str
    """ISO 8601, UTC."""
    version: str = ""
    message: str = ""
    manual: bool = False
    """Taken by hand (a freeze), not by a running deploy."""
    release: str = ""
    """The release a deploy or rollback holds it for."""
    pid: int = 0
    """The holding opsui process on ``machine`` (tells a dead holder from a live one)."""

    def holder_is_dead(self) -> bool:
        """True only when the holder was an opsui process on this machine that is gone.

        A holder on another machine, or a freeze, is never judged dead: only its
        owner (or an operator who checked) may break it.
        """
        if self.manual or not self.pid or self.machine != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def describe(self) -> str:
        what = "frozen by" if self.manual else "deploy by"
        version = f" of {self.version}" if self.version else ""
        message = f": {self.message}" if self.message else ""
        return f"{what} {self.user}@{self.machine}{version} since {self.taken_at}{message}"


UNKNOWN_HOLDER = LockHolder("?", "?", "?", message="the lock holds no details (taken by a "
                                                    "process that died while taking it?)")


def _holder_from(data: bytes | None) -> LockHolder:
    try:
        raw = json.loads(data or b"")
    except ValueError:
        return UNKNOWN_HOLDER
    if not isinstance(raw, dict):
        return UNKNOWN_HOLDER
    return LockHolder(
        user=clean(str(raw.get("user", "?")), 64), machine=clean(str(raw.get("machine", "?")), 128),
        taken_at=clean(str(raw.get("taken_at", "?")), 64),
        version=clean(str(raw.get("version", "")), 200),
        message=clean(str(raw.get("message", "")), 500), manual=bool(raw.get("manual", False)),
        release=clean(str(raw.get("release", "")), 100), pid=_int(raw.get("pid")))


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class DeployLock:
    """The lock folder of one app in the host's state folder."""

    def __init__(self, files: HostFiles, state_dir: str, app: str) -> None:
        self._files = files
        self.path = f"{app_folder(state_dir, app)}/lock"

    def acquire(self, holder: LockHolder) -> LockHolder | None:
        """Take the lock: None on success, else who holds it (nothing is waited on).

        The winner of a race creates the folder a moment before it writes who it is:
        a loser that looks in between gives the winner up to a second to say so,
        rather than reporting a lock without details.
        """
        content = json.dumps(asdict(holder), sort_keys=True).encode()
        if self._files.create_dir_with(self.path, HOLDER_FILE, content):
            return None
        deadline = time.monotonic() + HOLDER_WRITE_SECONDS
        while True:
            held = self.holder()
            if held is None:  # released meanwhile: the next deploy may try again
                return UNKNOWN_HOLDER
            if held is not UNKNOWN_HOLDER or time.monotonic() >= deadline:
                return held
            time.sleep(0.05)

    def holder(self) -> LockHolder | None:
        """Who holds the lock, or None when it is free."""
        data = self._files.read(f"{self.path}/{HOLDER_FILE}")
        if data is None:
            return UNKNOWN_HOLDER if self._files.exists(self.path) else None
        return _holder_from(data)

    def release(self) -> None:
        self._files.remove_dir(self.path)


class HeldLock(DeployLock):
    """An app's lock that whoever runs this release already holds: a multi-host release
    takes every host's lock before anything changes, then runs each host's release
    under it. Taking it checks it is still that holder's (nobody broke it meanwhile);
    giving it back is left to the one who took it."""

    def __init__(self, lock: DeployLock, holder: LockHolder) -> None:
        self.path = lock.path
        self._lock = lock
        self._holder = holder

    def acquire(self, holder: LockHolder) -> LockHolder | None:
        current = self._lock.holder()
        return None if current == self._holder else current or UNKNOWN_HOLDER

    def holder(self) -> LockHolder | None:
        return self._lock.holder()

    def release(self) -> None:
        """Kept: the multi-host release gives every host's lock back at its end."""
