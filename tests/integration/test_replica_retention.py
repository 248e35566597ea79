"""Issue 13: retention keeps every replica's copy of the rollback target, and the
rollback boots each replica from its own kept copy (never a bare image id).

A 2-replica compose project of its own (``scripts/testbed/stack.sh up --project
opsret-...``), the real ``opsui deploy``/``opsui rollback`` CLI against the local engine,
``retain = 1``: the journal names one container per release, and before the fix the
other replica's copy of the release just replaced was the first to go.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_zero_downtime import Stack

pytestmark = [pytest.mark.integration, pytest.mark.testbed_stack]


class RetentionStack(Stack):
    PREFIX = "opsret"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RetentionStack]:
    made = RetentionStack(tmp_path, "dynamic", name_proxy=False, drain=1)
    try:
        with made.config.open("a") as config:
            config.write("retain = 1\n")
        yield made
    finally:
        made.down()


def kept_copies(stack: RetentionStack, tag: str) -> list[str]:
    """The names of the project's stopped copies kept for rollback that run ``tag``."""
    found = stack.client.containers.list(all=True, filters={"label": [
        f"opsui.hidden.com.docker.compose.project={stack.project}", "opsui.test=1"]})
    names = [(str(c.name), str(c.attrs["Config"]["Image"])) for c in found]
    return sorted(name for name, image in names
                  if ".before-" in name and image.endswith(f":{tag}"))


def test_both_replicas_keep_their_copy_and_roll_back_to_it(stack: RetentionStack) -> None:
    replicas = sorted(c.name for c in stack.containers("app"))
    assert len(replicas) == 2
    ok, output = stack.opsui("deploy", "shop", "2.0.0", "--yes")
    assert ok, output
    ok, output = stack.opsui("deploy", "shop", "5.0.0", "--yes")
    assert ok, output
    assert stack.versions() == ["5.0.0", "5.0.0"]
    copies = kept_copies(stack, "2.0.0")
    assert [name.split(".before-")[0] for name in copies] == replicas, output
    removed = [line for line in output.splitlines() if "retention" in line]
    assert not [name for name in copies if any(name in line for line in removed)], output
    ok, output = stack.opsui("rollback", "shop", "--yes")
    assert ok, output
    assert "its container was removed" not in output, output
    assert stack.versions() == ["2.0.0", "2.0.0"], output  # the tag, not sha256:...
