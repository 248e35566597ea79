"""Each SSH host's engine socket, remembered between launches.

Asking a host which socket its docker CLI dials starts a session: sshd runs the user's
shell (and its .bashrc) and the docker CLI. With twenty hosts those shells are most of a
launch. So the answer is kept in the user's state folder, and a launch lists each host
over a streamlocal channel to the remembered socket at once; the host is asked again
right after (:meth:`opsui.backends.ssh_host.SshHost.connect`), before anything but that
first list goes to the engine, and a changed answer replaces the remembered one.

One small JSON file (host route -> socket path), written whole through a temporary file
and a rename; a file that cannot be read or written is as good as none (the host is
asked, as without memory), never an error for the operator.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "engine-sockets.json"


class EngineSocketMemory:
    """``host -> socket path`` in one JSON file; thread-safe within the process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def get(self, host: str) -> str | None:
        with self._lock:
            path = self._read().get(host)
        return path if isinstance(path, str) and path.startswith("/") else None

    def put(self, host: str, socket_path: str | None) -> None:
        """Remember ``socket_path`` for ``host`` (None: forget it)."""
        with self._lock:
            known = self._read()
            if known.get(host) == socket_path:
                return
            if socket_path is None:
                known.pop(host, None)
            else:
                known[host] = socket_path
            self._write(known)

    def _read(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.info("%s: not read (%s); the hosts will be asked", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, known: dict[str, object]) -> None:
        temporary: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.path.parent,
                                             prefix=f".{FILE_NAME}.", delete=False) as out:
                temporary = out.name
                json.dump(known, out, indent=1, sort_keys=True)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.info("%s: not written (%s); the hosts will be asked next time",
                     self.path, exc)
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
