"""opsui in a real terminal (tmux), read back as an operator sees it.

The pty driver (:mod:`pty_terminal`) keeps raw bytes, which is what the hostile-text
tests need; flows need the *screen*: tmux renders the escape sequences into a grid and
``capture-pane`` gives it back as text. Each terminal runs on a tmux server of its own
(``-L``), so tests and benches never touch an operator's tmux, and closing it ends the
server and what runs in it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping

KEY_NAMES = {"esc": "Escape", "enter": "Enter", "ctrl+c": "C-c", "ctrl+q": "C-q",
             "ctrl+p": "C-p", "f1": "F1", "up": "Up", "down": "Down", "tab": "Tab"}


class TmuxTerminal:
    """One command in a detached tmux session of its own server."""

    def __init__(self, args: list[str], *, size: tuple[int, int] = (160, 45),
                 env: Mapping[str, str] | None = None, cwd: str | None = None) -> None:
        self.server = f"opsui-t-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.tmux = ["tmux", "-L", self.server, "-f", "/dev/null"]
        self.session = "opsui"
        command = " ".join(shlex.quote(a) for a in args)
        full_env = {**os.environ, **(env or {}), "TERM": "xterm-256color"}
        self.started = time.perf_counter()
        subprocess.run([*self.tmux, "new-session", "-d", "-s", self.session,
                        "-x", str(size[0]), "-y", str(size[1]), command],
                       check=True, env=full_env, cwd=cwd)
        subprocess.run([*self.tmux, "set-option", "-t", self.session, "remain-on-exit", "on"],
                       check=False, capture_output=True)
        self.keys_sent = 0
        """Key presses sent (the incident bench counts them)."""

    def screen(self) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-t", self.session],
                              capture_output=True, text=True, check=False).stdout

    def press(self, *keys: str) -> None:
        """Press keys one by one, by name (``esc``, ``enter``, ``ctrl+c``) or as a
        single character."""
        for key in keys:
            name = KEY_NAMES.get(key, key)
            literal = ["-l"] if name == key and len(key) == 1 else []
            subprocess.run([*self.tmux, "send-keys", "-t", self.session, *literal, name],
                           check=True)
            self.keys_sent += 1

    def wait_for(self, predicate: Callable[[str], bool] | str, what: str,
                 timeout: float = 30.0, interval: float = 0.02) -> str:
        """Poll the screen until ``predicate`` holds (or the text appears); the screen."""
        check = (lambda text: predicate in text) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")
            time.sleep(interval)

    def pane_dead(self) -> bool:
        """The command has exited (the pane stays, showing what it printed last)."""
        out = subprocess.run([*self.tmux, "display-message", "-p", "-t", self.session,
                              "#{pane_dead}"], capture_output=True, text=True, check=False)
        return out.stdout.strip() == "1"

    def pane_pid(self) -> int:
        out = subprocess.run([*self.tmux, "display-message", "-p", "-t", self.session,
                              "#{pane_pid}"], capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], check=False, capture_output=True)

    def __enter__(self) -> TmuxTerminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
