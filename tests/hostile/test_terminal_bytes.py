"""Every control, format and separator character, from a real container, into a pty.

One container carries the generated payloads (tests/hostile/payloads.py) in every
place a container controls text: its compose project and service labels (the table),
other labels, env values, health-check output, log lines, and its entrypoint (which
comes back in the engine's error when it cannot start). opsui runs in a real
pseudo-terminal as an operator would use it: the dashboard, the detail view, the log
pane, ``opsui logs``, ``ps``, ``inspect`` and ``start``. We assert on the bytes it
wrote: no payload character raw (only the terminal's own CR, LF and escape sequences),
and each one shown inert (``⟨U+202E⟩``, ``␇``) where the view has room for it.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from docker.models.containers import Container
from integration.helpers import APP_HEALTHY, wait_for_health, wait_until
from integration.pty_terminal import Terminal
from integration.test_hostile_terminal import filter_to

from .payloads import chunks, forbidden_in_terminal, log_bytes, missing, visible_controls

pytestmark = pytest.mark.integration

CHUNKS = chunks()
PROJECT = "HXP." + "".join(chr(c) for c in (0x202E, 0x2066, 0x200B, 0x7, 0x85, 0xFEFF))
SERVICE = "HXS." + "".join(chr(c) for c in (0x2028, 0x2029, 0xE0041, 0x61C, 0xAD))


def _script(data: bytes, then: str) -> list[str]:
    encoded = base64.b64encode(data).decode()
    return ["-c", f"echo {encoded} | base64 -d; {then}"]


@pytest.fixture(scope="module")
def hostile(docker_client: object) -> Iterator[Container]:
    """One container with every payload, healthy enough to stay up, unhealthy by check."""
    from integration.conftest import DockerResources
    resources = DockerResources(docker_client)  # type: ignore[arg-type]
    try:
        health = " ".join(CHUNKS).encode()  # one paragraph: five probes fit on screen
        container = resources.container(
            APP_HEALTHY, _script(log_bytes(CHUNKS), "sleep 3600"), entrypoint=["/bin/sh"],
            labels={"com.docker.compose.project": PROJECT,
                    "com.docker.compose.service": SERVICE,
                    **{f"hx.{n:02d}": chunk for n, chunk in enumerate(CHUNKS)}},
            # runc refuses NUL in an env value: every other control goes in.
            environment={f"HXENV{n:02d}": chunk.replace("\x00", "")
                         for n, chunk in enumerate(CHUNKS)},
            healthcheck={"test": ["CMD", "/bin/sh", *_script(health, "exit 1")],
                         "interval": 1_000_000_000, "timeout": 5_000_000_000, "retries": 1},
        )
        wait_until(lambda: b"HX-LAST-LINE" in container.logs(), timeout=30,
                   message="the hostile log lines")
        wait_for_health(container, "unhealthy")
        yield container
    finally:
        resources.cleanup()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def start(*args: str, size: tuple[int, int] = (220, 60)) -> Terminal:
        term = Terminal([sys.executable, "-m", "opsui", "--host", "local", *args], tmp_path,
                        size=size)
        opened.append(term)
        return term

    yield start
    for term in opened:
        term.close()


def _finished(term: Terminal) -> bytes:
    wait_until(lambda: term.process.poll() is not None, timeout=30, message="opsui to exit")
    return bytes(term.output)


def test_opsui_logs_shows_every_control_of_a_log_line_inert(
        hostile: Container, run: Callable[..., Terminal]) -> None:
    output = _finished(run("logs", str(hostile.name)))
    assert b"HX-LAST-LINE" in output
    assert forbidden_in_terminal(output) == []
    assert missing(output, visible_controls()) == []


def test_opsui_ps_and_inspect_show_labels_env_and_health_output_inert(
        hostile: Container, run: Callable[..., Terminal]) -> None:
    listing = _finished(run("ps"))
    assert forbidden_in_terminal(listing) == []
    assert missing(listing, map(ord, PROJECT[4:])) == []  # the project column
    details = _finished(run("inspect", str(hostile.name)))
    assert forbidden_in_terminal(details) == []
    assert missing(details, visible_controls()) == []  # env values and health output



def test_dashboard_and_detail_view_draw_every_control_inert(
        hostile: Container, run: Callable[..., Terminal]) -> None:
    term = run(size=(230, 120))
    filter_to(term, str(hostile.name))
    assert forbidden_in_terminal(bytes(term.output)) == []
    assert missing(bytes(term.output), map(ord, PROJECT[4:])) == []  # the table's project
    mark = term.mark()
    term.type("\r")  # its detail view: unhealthy, so the health output comes first
    term.wait_for_after(mark, b"HXEND", 30)  # the health output's last chunk
    term.type("\x1b[F")  # End: scroll down to the environment and the labels
    last = f"{len(CHUNKS) - 1:02d}".encode()
    for needle in (b"HXENV00", b"HXENV" + last, b"hx.00", b"hx." + last):
        term.wait_for_after(mark, needle, 30)
    output = bytes(term.output)
    assert term.process.poll() is None
    assert forbidden_in_terminal(output) == []
    assert missing(output[mark:], visible_controls()) == []


def test_log_pane_draws_every_control_of_a_log_line_inert(
        hostile: Container, run: Callable[..., Terminal]) -> None:
    term = run(size=(230, 80))
    filter_to(term, str(hostile.name))
    mark = term.mark()
    term.type("l")  # its log pane
    term.wait_for_after(mark, b"HX-LAST-LINE", 30)
    term.wait_for_after(mark, b"HX00", 30)
    output = bytes(term.output)
    assert forbidden_in_terminal(output) == []
    assert missing(output[mark:], visible_controls()) == []
