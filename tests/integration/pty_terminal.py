"""opsui in a real pseudo-terminal, keeping every byte it writes (tests and bench)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path


class Terminal:
    """opsui on a pty: everything it writes is kept as bytes."""

    def __init__(self, args: list[str], cwd: Path, size: tuple[int, int] = (170, 50)) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor",
               "XDG_CONFIG_HOME": str(cwd / "cfg"), "XDG_STATE_HOME": str(cwd / "state")}
        self.process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave,
                                        cwd=cwd, env=env, start_new_session=True)
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._lock = threading.Lock()
        self._grown = threading.Condition(self._lock)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.output += chunk
                self._grown.notify_all()

    def seen(self, needle: bytes) -> bool:
        with self._lock:
            return needle in self.output

    def type(self, keys: str) -> None:
        for key in keys:
            os.write(self.master, key.encode())
            time.sleep(0.02)  # a person's typing pace; the app reads keys as events

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        os.close(self.master)
        self._reader.join(5)

    def mark(self) -> int:
        """A position in the output, for :meth:`wait_for_after`."""
        with self._lock:
            return len(self.output)

    def tail(self, size: int) -> bytes:
        with self._lock:
            return bytes(self.output[-size:])

    def wait_for(self, needle: bytes, timeout: float) -> None:
        self.wait_for_after(0, needle, timeout)

    def wait_for_pattern(self, pattern: bytes, timeout: float, mark: int = 0) -> None:
        """Block until the output after ``mark`` matches the regex ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._grown:
            while not regex.search(self.output, mark):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{pattern!r} not seen within {timeout} s")
                self._grown.wait(left)

    def wait_for_after(self, mark: int, needle: bytes, timeout: float) -> None:
        """Block until ``needle`` is written after ``mark``; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._grown:
            while needle not in self.output[mark:]:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{needle!r} not seen within {timeout} s")
                self._grown.wait(left)
