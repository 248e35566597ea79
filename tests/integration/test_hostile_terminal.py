"""Hostile text from a real container never reaches the terminal as control sequences.

opsui runs in a real pseudo-terminal; a container carries escape sequences and markup
in a label, an env value and its health-check output. We open its detail view with the
keys an operator would press and assert on the bytes opsui wrote to the terminal.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from docker.models.containers import Container

from .helpers import APP_HEALTHY, wait_for_health, wait_until

pytestmark = pytest.mark.integration

TITLE = "\x1b]0;PWNED-TITLE\x07"
CLIPBOARD = "\x1b]52;c;UFdORUQ=\x07"
LINK = "\x1b]8;;http://evil.example/\x1b\\LINKTEXT\x1b]8;;\x1b\\"
CLEAR = "\x1b[2J\x1bc"
MARKUP = "[@click=app.quit]QUITLINK [bold]BOLDTAG [/usr/bin]"
FORBIDDEN = (b"PWNED-TITLE", b"\x1b]52;c;UFdORUQ", b"evil.example", b"\x1bc", b"\x9b")


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


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[[list[str]], Terminal]]:
    opened: list[Terminal] = []

    def open_terminal(args: list[str]) -> Terminal:
        term = Terminal([sys.executable, "-m", "opsui", *args], tmp_path)
        opened.append(term)
        return term

    yield open_terminal
    for term in opened:
        term.close()


def test_hostile_label_env_and_health_output_stay_inert(
        make_container: Callable[..., Container],
        terminal: Callable[[list[str]], Terminal]) -> None:
    payload = TITLE + CLIPBOARD + LINK + CLEAR + MARKUP
    container = make_container(
        APP_HEALTHY,
        labels={"evil": payload},
        environment={"GREETING": payload},
        healthcheck={"test": ["CMD", "sh", "-c", f"printf '%b' '{_shell(payload)}'; exit 1"],
                     "interval": 1_000_000_000, "timeout": 2_000_000_000, "retries": 1},
    )
    wait_for_health(container, "unhealthy")
    name = str(container.name)

    term = terminal(["--host", "local"])
    wait_until(lambda: term.seen(b"containers"), timeout=30, message="the dashboard")
    term.type("/" + name + "\r")  # filter to our container, back to the table
    wait_until(lambda: term.seen(name.encode()), timeout=30, message="the container row")
    term.type("\r")  # open its detail view
    wait_until(lambda: term.seen(b"QUITLINK"), timeout=30, message="the detail view")
    wait_until(lambda: term.seen(b"health"), timeout=10, message="the health log")
    for key in ("\t", "\x1b[B", "\x1b[B"):
        term.type(key)  # move around: markup must stay text, never an action
    assert term.process.poll() is None, "a label's [@click=app.quit] quit the app"
    output = bytes(term.output)
    for forbidden in FORBIDDEN:
        assert forbidden not in output, f"{forbidden!r} reached the terminal"
    assert b"[@click=app.quit]QUITLINK" in output or b"@click=app.quit" in output
    assert b"BOLDTAG" in output and b"[bold]" in output
    assert b"LINKTEXT" in output


def _shell(text: str) -> str:
    """``text`` for printf %b inside single quotes: escapes as \\0NNN, quotes closed."""
    return "".join(f"\\0{ord(ch):03o}" if ord(ch) < 0x20 else ch
                   for ch in text).replace("'", "'\\''")
