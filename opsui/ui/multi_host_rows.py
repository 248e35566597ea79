"""The dashboard's mark on a row of an app on several hosts (``hosts = [...]``).

The table lists one host's containers; such a row is one host's part of the app, and
D, R and H on it act on every host (ui/multi_host_session.py). The Project cell says
so (the Name cell stays the container's name), so nobody takes a deploy from that row
for that host's alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from opsui.domain.apps import app_matches, is_release_copy
from opsui.domain.models import Container
from opsui.domain.settings import AppConfig


def hosts_mark(apps: Iterable[AppConfig], host: str, container: Container) -> str:
    """``web on 3 hosts`` for a row of an app on several hosts (its part on
    ``host``); "" for any other row, and for kept release copies (not the app's)."""
    if is_release_copy(container.name):
        return ""
    for app in apps:
        if len(app.every_host) > 1 and app.runs_on(host) and app_matches(app, container):
            return f"{app.name} on {len(app.every_host)} hosts"
    return ""
