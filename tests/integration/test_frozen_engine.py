"""A frozen Docker engine never freezes opsui: quitting is prompt, commands give up.

A real second dockerd (never the test bed's main engine: other tests use it) runs one
container, opsui watches it, then the engine is SIGSTOPped: its socket still accepts
connections, but nothing answers. That is what a wedged or swapping engine looks like
from the outside, and what used to make ``q`` blank the screen and never exit (a stats
request without a read timeout, its thread joined at exit). The engine is always
continued in teardown.

Over SSH a quit already ended promptly before the fix (a stopping monitor closes the
SSH transport, which wakes the reads waiting on the engine), so the quit tests run
against the local socket, where nothing wakes a read in flight; the headless commands
run both ways.

The bounds below are deadlines for "it exits", far above the ~1 s a prompt quit takes
and below the engine's 10 s request timeout, so waiting out a request fails the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .engine_sshd import EngineSshd
from .helpers import APP_HEALTHY, TEST_LABELS, Testbed, wait_until
from .pty_terminal import Terminal
from .second_engine import SecondEngine

pytestmark = pytest.mark.integration

QUIT_DEADLINE = 5.0
"""A quit that has not ended the process by now is waiting on the frozen engine."""
CLI_DEADLINE = 30.0
"""A headless command gives up after the engine's 10 s request timeout, well within this."""


@pytest.fixture
def engine_with_app(second_engine: SecondEngine, testbed: Testbed) -> str:
    """The second engine's url, with one running container (removed by its cleanup)."""
    client = second_engine.client()
    try:
        image = testbed.registry_ref(APP_HEALTHY)
        client.images.pull(image)
        client.containers.run(image, detach=True, name="frozen-app", labels=dict(TEST_LABELS))
    finally:
        client.close()
    return second_engine.url


@pytest.fixture(params=["local", "ssh"])
def opsui_args(request: pytest.FixtureRequest, engine_with_app: str, testbed: Testbed,
               tmp_path: Path) -> Iterator[list[str]]:
    """How opsui is pointed at the second engine: its socket, or a host over SSH whose
    sessions use it (``docker system dial-stdio`` on the far side)."""
    if request.param == "local":
        yield ["--host", engine_with_app]
        return
    sshd = EngineSshd.start(testbed, engine_with_app, tmp_path / "sshd")
    try:
        yield ["--config", str(sshd.config), "--host", "remote"]
    finally:
        sshd.stop()


@pytest.fixture
def freeze(second_engine: SecondEngine) -> Iterator[Callable[[], None]]:
    """SIGSTOP the second engine on demand; always SIGCONT it afterwards."""
    stopped: list[int] = []

    def stop() -> None:
        pid = second_engine.pid
        assert pid is not None, "the second engine is not running"
        os.kill(pid, signal.SIGSTOP)
        stopped.append(pid)

    try:
        yield stop
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@pytest.fixture
def opsui_tui(tmp_path: Path) -> Iterator[Callable[[list[str]], Terminal]]:
    opened: list[Terminal] = []

    def start(args: list[str]) -> Terminal:
        term = Terminal([sys.executable, "-m", "opsui", *args], tmp_path)
        opened.append(term)
        return term

    yield start
    for term in opened:
        term.close()


def _wait_for_stats(term: Terminal) -> None:
    """The row with its memory: its stats are being sampled (the host panel says GiB)."""
    wait_until(lambda: term.seen(b"frozen-app") and (term.seen(b" KiB") or term.seen(b" MiB")),
               timeout=60, message="the dashboard with the container's memory")


def _exited(term: Terminal) -> int | None:
    return term.process.poll()


def _quits_promptly(term: Terminal) -> None:
    term.type("q")
    wait_until(lambda: _exited(term) is not None, timeout=QUIT_DEADLINE,
               message="opsui to exit after q with the engine frozen")


def test_q_exits_with_a_frozen_engine_after_the_link_is_judged_lost(
        engine_with_app: str, freeze: Callable[[], None],
        opsui_tui: Callable[[list[str]], Terminal]) -> None:
    """The stats of the row on screen were being sampled when the engine froze; by the
    time the sidebar says the link is lost, a stats request is waiting on it."""
    term = opsui_tui(["--host", engine_with_app])
    _wait_for_stats(term)
    freeze()
    wait_until(lambda: term.seen(b"reconnecting") or term.seen(b"no engine"), timeout=60,
               message="the sidebar to say the engine is lost")
    _quits_promptly(term)


def test_q_exits_while_a_view_waits_on_a_frozen_engine(
        engine_with_app: str, freeze: Callable[[], None],
        opsui_tui: Callable[[list[str]], Terminal]) -> None:
    """Opening a container's detail reads it in a worker thread; quitting while that
    read waits on the frozen engine must not wait for it."""
    term = opsui_tui(["--host", engine_with_app])
    _wait_for_stats(term)
    freeze()
    mark = term.mark()
    term.type("\r")  # the only row: its detail view, which inspects it
    term.wait_for_after(mark, "Inspecting…".encode(), timeout=10)  # and waiting
    _quits_promptly(term)


@pytest.mark.parametrize("command", [["ps"], ["logs", "frozen-app"]], ids=["ps", "logs"])
def test_headless_commands_give_up_on_a_frozen_engine_and_say_so(
        opsui_args: list[str], freeze: Callable[[], None], tmp_path: Path,
        command: list[str]) -> None:
    freeze()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "opsui", *opsui_args, *command],
                          capture_output=True, text=True, timeout=CLI_DEADLINE, cwd=tmp_path,
                          env=env, check=False)
    assert done.returncode == 3, done
    assert "did not answer within" in done.stderr, done.stderr
    assert "Start the Docker engine" not in done.stderr, done.stderr  # it is running
    assert "UnixHTTPConnectionPool" not in done.stderr, done.stderr
