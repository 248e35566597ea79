"""The downtime a published-port app's plan announces comes from its own last release."""

from __future__ import annotations

from opsui.domain.operations.downtime import estimate
from opsui.domain.releases import FAILED, OK, Release, Step


def release(rid: str, at: str, steps: dict[str, float], outcome: str = OK,
            version: str = "2.0.0") -> Release:
    return Release(rid, "deploy", f"shop:{version}", "", version, "ops@laptop", at,
                   steps=tuple(Step(name, OK, s) for name, s in steps.items()),
                   outcome=outcome)


STOP_FIRST = {"lock": 0.1, "pull": 3.0, "create": 0.2, "stop old": 0.4, "start": 0.3,
              "health gate": 1.1, "switch": 0.1}
START_FIRST = {"lock": 0.1, "pull": 3.0, "create": 0.2, "start": 0.3, "health gate": 1.1,
               "switch": 0.1}


def test_the_figure_is_the_stop_to_healthy_time_of_the_newest_ok_stop_first_release() -> None:
    older = release("r1", "2026-12-01T10:00:00+00:00", {**STOP_FIRST, "health gate": 9.0},
                    version="1.0.0")
    newest = release("r2", "2026-12-02T10:00:00+00:00", STOP_FIRST)
    failed = release("r3", "2026-12-03T10:00:00+00:00", {**STOP_FIRST, "health gate": 60.0},
                     outcome=FAILED, version="3.0.0")
    text = estimate("shop", ["127.0.0.1:3000->8080"], [newest, failed, older]).describe()
    # pull and create happen while the old one still serves: only stop+start+gate count
    assert "about 1.8 s" in text
    assert "2.0.0 r2" in text
    assert "127.0.0.1:3000->8080" in text
    assert "`opsui front shop`" in text  # and how to avoid it


def test_start_first_releases_are_no_measure_and_none_says_so_plainly() -> None:
    guess = estimate("shop", ["0.0.0.0:3000->3000"],
                     [release("r1", "2026-12-01T10:00:00+00:00", START_FIRST)])
    assert guess.seconds is None
    assert "no earlier stop-first release" in guess.describe()
    assert guess.describe().startswith("DOWNTIME:")
