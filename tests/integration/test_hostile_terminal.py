"""Hostile text from a real container never reaches the terminal as control sequences.

opsui runs in a real pseudo-terminal; a container carries escape sequences and markup
in a label, an env value, its health-check output and its logs. We open its views with
the keys an operator would press (or run ``opsui logs``) and assert on the bytes opsui
wrote to the terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from docker.models.containers import Container

from .helpers import APP_HEALTHY, wait_for_health, wait_until
from .pty_terminal import Terminal

pytestmark = pytest.mark.integration

TITLE = "\x1b]0;PWNED-TITLE\x07"
CLIPBOARD = "\x1b]52;c;UFdORUQ=\x07"
LINK = "\x1b]8;;http://evil.example/\x1b\\LINKTEXT\x1b]8;;\x1b\\"
CLEAR = "\x1b[2J\x1bc"
MARKUP = "[@click=app.quit]QUITLINK [bold]BOLDTAG [/usr/bin]"
FORBIDDEN = (b"PWNED-TITLE", b"\x1b]52;c;UFdORUQ", b"evil.example", b"\x1bc", b"\x9b")


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
    filter_to(term, name)
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


def filter_to(term: Terminal, name: str) -> None:
    """Filter the table to one container, as a person does: look before each next key.

    A key goes to the widget focused when it arrives, so each step waits for what a
    person would see: the filter box, the status line's "1 of N", the table's footer.
    """
    term.wait_for_pattern(rb"\d+ containers", 30)
    mark = term.mark()
    term.type("/")  # keys go where focus was when they arrived: wait for the box
    term.wait_for_after(mark, b"filter: name, image", 30)
    mark = term.mark()
    term.type(name)
    term.wait_for_pattern(rb"1 of \d+ containers", 30, mark)
    mark = term.mark()
    term.type("\r")  # back to the table: its footer keys are drawn again
    term.wait_for_after(mark, b"Logs", 30)


def _shell(text: str) -> str:
    """``text`` for printf %b inside single quotes: escapes as \\0NNN, quotes closed."""
    return "".join(f"\\0{ord(ch):03o}" if ord(ch) < 0x20 else ch
                   for ch in text).replace("'", "'\\''")


LOG_SCRIPT = (
    # Each printf is one hostile line; then invalid UTF-8, a carriage return that would
    # hide text, and a 1 MB line without a newline before the last marker line.
    "printf '%b\\n' '{payload}'; "
    "printf 'bad utf8 \\377\\376 END\\n'; "
    "printf 'visible\\rHIDDEN\\n'; "
    "printf '\\302\\233 8-bit CSI \\302\\235 8-bit OSC\\n'; "
    "head -c 1048576 /dev/zero | tr '\\0' A; printf '\\nAFTER-HUGE-LINE\\n'; "
    "sleep 3600"
)


@pytest.fixture
def hostile_logger(make_container: Callable[..., Container]) -> Container:
    payload = _shell(TITLE + CLIPBOARD + LINK + CLEAR + "\x1bP1$qm\x1b\\" + MARKUP
                     + " [$accent]ACCENT")
    container = make_container(APP_HEALTHY, ["-c", LOG_SCRIPT.format(payload=payload)],
                               entrypoint=["/bin/sh"])
    wait_until(lambda: b"AFTER-HUGE-LINE" in container.logs(), timeout=30,
               message="the hostile lines to be written")
    return container


def assert_inert(output: bytes) -> None:
    for forbidden in (*FORBIDDEN, b"\x1bP1$q", b"\xc2\x9b", b"\xc2\x9d"):
        assert forbidden not in output, f"{forbidden!r} reached the terminal"


def test_hostile_log_lines_from_opsui_logs_reach_the_terminal_as_text(
        hostile_logger: Container, tmp_path: Path) -> None:
    term = Terminal([sys.executable, "-m", "opsui", "--host", "local", "logs",
                     str(hostile_logger.name)], tmp_path)
    try:
        term.wait_for(b"AFTER-HUGE-LINE", 30)
        wait_until(lambda: term.process.poll() is not None, timeout=30,
                   message="opsui logs to exit")
        output = bytes(term.output)
    finally:
        term.close()
    assert_inert(output)
    assert b"\x1b" not in output  # plain text: not even colour
    assert b"[@click=app.quit]QUITLINK [bold]BOLDTAG [/usr/bin] [$accent]ACCENT" in output
    assert "bad utf8 \ufffd\ufffd END".encode() in output
    assert "visible\u240dHIDDEN".encode() in output
    longest = max(len(line) for line in output.split(b"\n"))
    assert 8_000 < longest < 40_000, "the 1 MB line is shown, capped"


def test_hostile_log_lines_in_the_log_pane_stay_inert(
        hostile_logger: Container, terminal: Callable[[list[str]], Terminal]) -> None:
    name = str(hostile_logger.name)
    term = terminal(["--host", "local"])
    term.wait_for(b"containers", 30)
    filter_to(term, name)
    term.type("l")  # its log pane
    term.wait_for(b"AFTER-HUGE-LINE", 30)
    term.wait_for(b"QUITLINK", 30)
    for key in ("g", "G", "\x1b[A", "\x1b[B"):
        term.type(key)  # move around: markup must stay text, never an action
    assert term.process.poll() is None, "a log line's [@click=app.quit] quit the app"
    output = bytes(term.output)
    assert_inert(output)
    assert b"BOLDTAG" in output and b"[bold]" in output and b"[/usr/bin]" in output
    assert b"[$accent]" in output
    assert b"HIDDEN" in output and b"visible" in output
