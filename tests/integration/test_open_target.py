"""``opsui --open NAME`` in a real terminal against the real engine: the dashboard starts
with the container's log pane open and following, with no key pressed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from docker.models.containers import Container

from .helpers import APP_HEALTHY
from .pty_terminal import Terminal

pytestmark = pytest.mark.integration


def test_open_starts_on_the_containers_logs_following_them(
        make_container: Callable[..., Container], tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY, environment={"APP_TICK": "0.2"})
    name = str(container.name)
    term = Terminal([sys.executable, "-m", "opsui", "--host", "local", "--open", name],
                    tmp_path)
    try:
        term.wait_for(b"opsui test app 1.0.0 starting", 30)  # its history, on screen
        term.wait_for(name.encode(), 10)  # the pane's title names it
        mark = term.mark()
        term.wait_for_pattern(rb"tick \d+", 30, mark)  # lines written after the start
        mark = term.mark()
        term.wait_for_pattern(rb"tick \d+", 30, mark)  # and the next ones: following
        assert term.process.poll() is None
    finally:
        term.close()


def test_open_an_unknown_target_starts_the_dashboard_and_says_so(tmp_path: Path) -> None:
    term = Terminal([sys.executable, "-m", "opsui", "--host", "local", "--open",
                     "opsui-no-such-container-x"], tmp_path)
    try:
        term.wait_for_pattern(rb"\d+ containers", 30)
        term.wait_for(b"opsui-no-such-container-x:", 30)  # the notification (it wraps)
        assert term.process.poll() is None
    finally:
        term.close()
