"""Project-wide pytest hooks.

With ``OPSUI_REQUIRE_DOCKER=1`` (set by scripts/test.sh in CI) a skipped integration
test is reported as a failure carrying the skip reason, so a green CI run always
means the real Docker/SSH/registry paths ran. xfail stays xfail.

Tests marked ``testbed_stack`` need the stack parts of the test bed
(``scripts/testbed/up.sh --stack``, issue 13; scripts/test.sh, and so CI, always brings
them up): their skips fail the run only when ``OPSUI_TESTBED_STACK=1`` says the stack
was asked for, so a developer's plain ``up.sh`` may still skip them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

REQUIRE_ENV = "OPSUI_REQUIRE_DOCKER"
STACK_ENV = "OPSUI_TESTBED_STACK"
STACK_MARKER = "testbed_stack"
INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"


def _docker_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _stack_wanted() -> bool:
    return os.environ.get(STACK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _skip_may_stay(item: pytest.Item) -> bool:
    """An opt-in stack test may skip while nobody asked for the stack."""
    return item.get_closest_marker(STACK_MARKER) is not None and not _stack_wanted()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{STACK_MARKER}: needs scripts/testbed/up.sh --stack; a skip fails under "
        f"{REQUIRE_ENV}=1 only when {STACK_ENV}=1",
    )


def _skip_reason(longrepr: Any) -> str:
    # A skip's longrepr is (path, lineno, "Skipped: <reason>").
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _failure_text(reason: str) -> str:
    return f"{REQUIRE_ENV}=1: integration tests must not skip, but this one did: {reason}"


def _is_integration(node: pytest.Item | pytest.Collector) -> bool:
    if node.get_closest_marker("integration") is not None:
        return True
    path = getattr(node, "path", None)
    return path is not None and INTEGRATION_DIR in Path(path).resolve().parents


def pytest_report_header(config: pytest.Config) -> str | None:
    if _docker_required():
        return f"opsui: {REQUIRE_ENV}=1, a skipped integration test fails the run"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Any:
    report: pytest.TestReport = yield
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and _docker_required()
        and _is_integration(item)
        and not _skip_may_stay(item)
    ):
        report.outcome = "failed"
        report.longrepr = _failure_text(_skip_reason(report.longrepr))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    # A module-level pytest.skip()/importorskip() in tests/integration skips the
    # whole file at collection time: treat that the same way.
    report: pytest.CollectReport = yield
    if report.skipped and _docker_required() and _is_integration(collector):
        report.outcome = "failed"
        report.longrepr = _failure_text(_skip_reason(report.longrepr))
    return report
