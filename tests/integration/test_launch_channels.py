"""Over SSH the first list rides a channel opened while connecting (issue 14).

Every channel runs its own ``docker system dial-stdio`` on the host, whose start costs
far more than a request. The event stream holds one channel for good; the first list,
asked right after subscribing, must not wait for a new one to start. Against the test
bed's real sshd (``testbed`` from conftest.py; skips when the bed is not up).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from .helpers import Testbed, count_execs, wait_until
from .ssh_home import isolated_home  # noqa: F401  (autouse: an empty ~/.ssh, no agent)

pytestmark = pytest.mark.integration


def test_subscribing_then_listing_opens_no_new_channel(testbed: Testbed,
                                                       tmp_path: Path) -> None:
    host = testbed.opsui_ssh_host(tmp_path)
    host.connect()
    try:
        wait_until(lambda: not any(t.name == "dial-stdio-spare"
                                   for t in threading.enumerate()), 10,
                   message="the spare channel")
        opened = count_execs(host.connection)
        events = host.engine.events()
        try:
            assert host.engine.list_containers() is not None
        finally:
            events.close()
        assert opened == []
    finally:
        host.close()
