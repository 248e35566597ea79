"""The host's time from its engine's clock (issue 16, part 2): the offset measured with
half the round trip, *now* in host time, and decisions refused when it cannot be read."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from opsui.domain.errors import HostError
from opsui.domain.host_clock import (
    TRUSTED_FOR_SECONDS,
    HostClock,
    measured_skew,
    skew_text,
)
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.settings import Config

from fakes import NOW, FakeEngine, FakeHostFiles, FakeProber, container

APP = "opsui-test/app"


class Ticks:
    """This machine's wall clock and a monotonic clock that a read advances."""

    def __init__(self, wall: float) -> None:
        self.wall = wall
        self.mono = 100.0

    def step(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def clock_over(ticks: Ticks, engine_at: float, round_trip: float = 0.0,
               reads: list[int] | None = None) -> HostClock:
    def read() -> datetime:
        if reads is not None:
            reads.append(1)
        ticks.step(round_trip / 2)
        answer = datetime.fromtimestamp(engine_at + (ticks.wall - LOCAL), UTC)
        ticks.step(round_trip / 2)
        return answer
    return HostClock(read, wall=lambda: ticks.wall, ticks=lambda: ticks.mono)


LOCAL = 1_800_000_000.0


def test_the_offset_is_the_engines_time_against_ours_at_the_middle_of_the_request() -> None:
    ticks = Ticks(LOCAL)
    clock = clock_over(ticks, LOCAL - 7200.0, round_trip=4.0)  # this machine 2 h ahead
    assert clock.skew is None
    assert clock.measure() == -7200.0  # not -7202: half the round trip is the engine's
    assert clock.timestamp() == ticks.wall - 7200.0
    assert clock.now() == datetime.fromtimestamp(ticks.wall - 7200.0, UTC)
    assert clock.shown_skew == -7200.0


def test_now_before_any_measurement_is_this_machines_and_reads_nothing() -> None:
    ticks = Ticks(LOCAL)
    reads: list[int] = []
    clock = clock_over(ticks, LOCAL + 30.0, reads=reads)
    assert clock.timestamp() == LOCAL and reads == []


def test_a_small_skew_is_kept_but_not_shown() -> None:
    ticks = Ticks(LOCAL)
    clock = clock_over(ticks, LOCAL + 3.0)
    clock.measure()
    assert clock.skew == 3.0 and clock.shown_skew is None


def test_a_decision_measures_once_and_again_only_when_the_measurement_is_old() -> None:
    ticks = Ticks(LOCAL)
    reads: list[int] = []
    clock = clock_over(ticks, LOCAL + 600.0, reads=reads)
    first = clock.trusted_now()
    assert first == datetime.fromtimestamp(LOCAL + 600.0, UTC) and len(reads) == 1
    ticks.step(10.0)
    assert clock.trusted_now() == first + timedelta(seconds=10) and len(reads) == 1
    ticks.step(TRUSTED_FOR_SECONDS)
    clock.trusted_now()
    assert len(reads) == 2


def test_a_clock_that_cannot_be_read_decides_nothing() -> None:
    def unreadable() -> datetime:
        raise HostError("engine gone")
    clock = HostClock(unreadable)
    assert clock.trusted_now() is None
    assert measured_skew(clock) is None


def test_skew_text_says_which_way_the_hosts_clock_is_off() -> None:
    assert skew_text(-7200.4) == "clock 2h 0m behind"
    assert skew_text(75) == "clock 1m 15s ahead"
    assert skew_text(-9) == "clock 9s behind"


# -- known good, on the engine's clock ------------------------------------------------


def deployed(engine_now: datetime | None, up: float) -> tuple[AppReleases, FakeEngine]:
    """ux-shop deployed to 2.0.0, its container started ``up`` seconds before NOW on
    the engine's clock; the engine's clock reads ``engine_now`` (None: unreadable)."""
    engine = FakeEngine([container("u1", "ux-shop", image=f"{APP}:1.0.0")])
    engine.add_image(f"{APP}:1.0.0", NOW - timedelta(days=5))
    engine.add_image(f"{APP}:2.0.0", NOW - timedelta(days=2))
    releases = AppReleases("local", engine, FakeProber(), FakeHostFiles(), ActionGate(),
                           Config())
    app = releases.resolve("ux-shop")
    releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True)
    serving = app.serving(engine.list_containers())
    assert serving is not None
    engine.containers[serving.id] = dataclasses.replace(
        serving, started_at=NOW - timedelta(seconds=up))

    def read() -> datetime:
        if engine_now is None:
            raise HostError("no /info")
        return engine_now
    engine.clock = HostClock(read)
    return releases, engine


def good_records(releases: AppReleases) -> list[Mapping[str, object]]:
    app = releases.resolve("ux-shop")
    status = releases.status(app)
    assert status.current is not None and status.current.version == "2.0.0"
    return [r for r in releases.journal(app).read().records
            if r.get("type") == "good" and r.get("release") == status.current.id]


def test_a_release_up_5_s_on_the_hosts_clock_is_not_known_good_whatever_our_clock_says() -> None:
    releases, _engine = deployed(NOW, up=5.0)  # this machine: weeks after NOW
    assert good_records(releases) == []


def test_known_good_is_measured_on_the_hosts_clock() -> None:
    releases, _engine = deployed(NOW + timedelta(seconds=200), up=5.0)
    (good,) = good_records(releases)
    assert good["up_seconds"] == 205
    assert good["at"] == (NOW + timedelta(seconds=200)).isoformat(timespec="seconds")


def test_no_known_good_when_the_hosts_clock_cannot_be_read() -> None:
    releases, _engine = deployed(None, up=3600.0)
    assert good_records(releases) == []
