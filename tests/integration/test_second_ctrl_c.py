"""Issue 13: a second Ctrl-C while a cancelled replica rollout goes back.

The real ``opsui deploy`` on a 2-replica compose project of the test bed's stack: Ctrl-C
during the first replica's drain (the rollout goes back), Ctrl-C again during that
replica's drain back (opsui stops at once). It must say what it left and the one command
that mends it, and ``opsui recover shop --rollback`` must put both replicas back on
1.0.0 under the ``app`` alias, with the release closed in the history.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_zero_downtime import REPO, Stack

pytestmark = pytest.mark.testbed_stack


class OwnStack(Stack):
    PREFIX = "opsint-2cc"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    made = OwnStack(tmp_path, "dynamic", name_proxy=False, drain=8)
    try:
        yield made
    finally:
        made.down()


def _lines(run: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The CLI's merged output, line by line, read on a thread (None at its end)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert run.stdout is not None
        for line in run.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _until(lines: queue.Queue[str | None], seen: list[str], wanted: str,
           seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if wanted in line and line.lstrip().startswith("…"):
            return
    pytest.fail(f"no step '{wanted}' in time:\n{''.join(seen)}")


def _aliases(container: object) -> set[str]:
    networks = container.attrs["NetworkSettings"]["Networks"]  # type: ignore[attr-defined]
    return {alias for net in networks.values() for alias in (net.get("Aliases") or ())}


def test_recover_rollback_mends_a_rollout_stopped_at_once_on_its_way_back(
        stack: Stack) -> None:
    run = subprocess.Popen(stack.argv("deploy", "shop", "2.0.0", "--yes"),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           cwd=REPO, env=stack.env())
    seen: list[str] = []
    try:
        lines = _lines(run)
        _until(lines, seen, "drain (")
        run.send_signal(signal.SIGINT)
        _until(lines, seen, " back)", 600)  # rejoin/start again/gate/leave aliases
        _until(lines, seen, "drain (")
        run.send_signal(signal.SIGINT)
        run.wait(timeout=120)
        while (line := lines.get(timeout=30)) is not None:
            seen.append(line)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    output = "".join(seen)
    assert run.returncode == 130, output
    # the first Ctrl-C said what a cancel in a drain does, not "stopped, never takes over"
    assert "the new version already serves: the drain is cut short" in output.lower(), output
    assert "stopped at once during 'drain (" in output, output
    assert "opsui recover shop --rollback" in output, output

    ok, recovered = stack.opsui("recover", "shop", "--rollback", "--yes")
    assert ok, recovered
    replicas = stack.containers("app")
    assert len(replicas) == 2, [c.name for c in replicas]
    assert stack.versions() == ["1.0.0", "1.0.0"], recovered
    for replica in replicas:
        assert "app" in _aliases(replica), (replica.name, recovered)
    ok, history = stack.opsui("history", "shop")
    assert ok, history
    assert "INTERRUPTED:" not in history, history
    assert "unfinished" not in history, history
