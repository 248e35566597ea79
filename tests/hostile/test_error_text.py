"""Exception text is host text too: every control in it is shown inert.

An error quotes what it is about: a container's name, a remote command's stderr, a
library's message that quotes an engine's reply. The CLI prints ``str(error)`` and its
hint straight to the terminal and the UI puts them in a notification, so the message
is cleaned where every error is made (:class:`~opsui.domain.errors.OpsuiError`), and
a foreign exception where the UI explains it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from integration.helpers import wait_until
from integration.pty_terminal import Terminal

from opsui.domain.errors import ActionFailed, ActionRefused, HostError, OpsuiError
from opsui.ui.errors import explain

from .payloads import (
    CONTROLS,
    INTRODUCERS,
    forbidden_in_terminal,
    missing,
    shown,
    visible_controls,
)

# Escape-sequence introducers last: each takes what follows it along when removed.
PAYLOAD = ("".join("." + chr(code) for code in CONTROLS if code not in INTRODUCERS)
           + "".join(map(chr, INTRODUCERS)))
#: What a message may still hold: the newline between lines of a multi-line error.
KEPT = {"\n"}


def _raw_controls(text: str) -> list[str]:
    return [f"U+{ord(ch):04X}" for ch in text if ord(ch) in set(CONTROLS) and ch not in KEPT]


@pytest.mark.parametrize("kind", [OpsuiError, ActionFailed, ActionRefused, HostError])
def test_every_control_in_an_error_message_and_hint_is_shown_inert(
        kind: type[OpsuiError]) -> None:
    error = kind(f"stop failed: {PAYLOAD}", hint=f"try {PAYLOAD}")
    for text in (str(error), error.hint, explain(error)):
        assert _raw_controls(text) == []
        assert [c for c in visible_controls() if shown(c) not in text] == []


def test_a_foreign_exception_quoting_host_text_is_explained_inert() -> None:
    text = explain(RuntimeError(f"container {PAYLOAD}"))
    assert text.startswith("Unexpected RuntimeError")
    assert _raw_controls(text) == []
    assert shown(0x202E) in text and shown(0x07) in text


@pytest.mark.integration
def test_the_cli_prints_an_error_quoting_hostile_text_inert(tmp_path: Path) -> None:
    """``opsui inspect REF`` with a reference pasted from elsewhere: the error quotes it.

    (No NUL: an argument cannot hold one.)
    """
    ref = "HXREF" + PAYLOAD.replace("\x00", "")
    term = Terminal([sys.executable, "-m", "opsui", "--host", "local", "inspect", ref],
                    tmp_path)
    try:
        wait_until(lambda: term.process.poll() is not None, timeout=30,
                   message="opsui inspect to exit")
        output = bytes(term.output)
    finally:
        term.close()
    assert term.process.returncode != 0
    assert b"HXREF" in output and b"no container named" in output
    assert forbidden_in_terminal(output) == []
    assert missing(output, [c for c in visible_controls() if c != 0x00]) == []
