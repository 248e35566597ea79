"""Left open under container churn, the dashboard's memory, threads and fds stay flat
(issue 16): a short version of ``bench/soak.py``'s loop.

The real opsui runs in tmux against a real engine of its own (a second dockerd, so
other tests' containers on the shared engine do not count) while containers are created,
removed and restarted (about one event a second); the log pane follows a chatty
container early on and is closed again. The first third of the run is warm-up (stats
feeds open, pools start, everything is drawn once); over the other two thirds RSS must
not grow by more than a few KB per event (it grew ~200 KB per event before), and
threads and descriptors must not climb.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .helpers import APP_HEALTHY, Testbed
from .second_engine import SecondEngine
from .soak_loop import Churn, Sample, kb_per_event, soak
from .tmux_terminal import TmuxTerminal

pytestmark = pytest.mark.integration

SECONDS = 240.0
INTERVAL = 5.0
KB_PER_EVENT_BOUND = 30.0
THREADS_SLACK = 3
"""Stats readers are replaced as containers restart and pool threads retire when idle:
a few threads come and go; a leak climbs past this."""
FDS_SLACK = 4


def _peak(samples: list[Sample], attribute: str) -> int:
    return max(int(getattr(s, attribute)) for s in samples)


def test_memory_threads_and_fds_stay_flat_under_container_churn(
        second_engine: SecondEngine, testbed: Testbed, tmp_path: Path) -> None:
    image = testbed.registry_ref(APP_HEALTHY)
    client = second_engine.client()
    try:
        client.images.pull(image)
    finally:
        client.close()
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_STATE_HOME": str(tmp_path / "st")}
    command = [sys.executable, "-m", "opsui", "--host", second_engine.url]
    churn = Churn(second_engine.url, image)
    try:
        with TmuxTerminal(command, size=(200, 50), env=env) as term:
            term.wait_for(churn.chatty, "the table", timeout=60)
            samples = soak(term, churn, SECONDS, INTERVAL, logs_between=(10.0, 40.0))
    finally:
        churn.stop()
    third = SECONDS / 3
    measured = [s for s in samples if s.seconds >= third]
    middle = [s for s in measured if s.seconds < 2 * third]
    last = [s for s in measured if s.seconds >= 2 * third]
    series = "\n".join(f"{s.seconds:6.0f} s  {s.rss_mb:6.1f} MB  {s.threads} threads  "
                       f"{s.fds} fds  {s.events} events" for s in samples)
    growth = kb_per_event(measured)
    print(f"\nsoak: {growth:+.1f} KB per event over {measured[-1].events - measured[0].events} "
          f"events; threads peak {_peak(middle, 'threads')} then {_peak(last, 'threads')}; "
          f"fds peak {_peak(middle, 'fds')} then {_peak(last, 'fds')}\n{series}")  # with -s
    assert measured[-1].events - measured[0].events > 60, series  # the churn really ran
    assert growth < KB_PER_EVENT_BOUND, f"RSS +{growth:.1f} KB per event\n{series}"
    assert _peak(last, "threads") <= _peak(middle, "threads") + THREADS_SLACK, series
    assert _peak(last, "fds") <= _peak(middle, "fds") + FDS_SLACK, series
