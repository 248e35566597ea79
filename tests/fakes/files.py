"""The host's state folder in a dict (:class:`~opsui.domain.ports.HostFiles`)."""

from __future__ import annotations

import threading


class FakeHostFiles:
    """The host's state folder in a dict: the journal and the lock of every app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = set()

    def read(self, path: str) -> bytes | None:
        with self._lock:
            return self.files.get(path)

    def append_record(self, path: str, record: bytes) -> None:
        with self._lock:
            self.files[path] = self.files.get(path, b"") + record

    def create_dir_with(self, path: str, name: str, content: bytes) -> bool:
        with self._lock:
            if path in self.dirs:
                return False
            self.dirs.add(path)
            self.files[f"{path}/{name}"] = content
            return True

    def exists(self, path: str) -> bool:
        with self._lock:
            return path in self.dirs or path in self.files

    def remove_dir(self, path: str) -> None:
        with self._lock:
            self.dirs.discard(path)
            for key in [k for k in self.files if k.startswith(f"{path}/")]:
                del self.files[key]
