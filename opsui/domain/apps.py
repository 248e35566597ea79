"""Which containers belong to a configured app."""

from __future__ import annotations

from opsui.config import AppConfig
from opsui.domain.models import Container


def app_matches(app: AppConfig, container: Container) -> bool:
    """True when ``container`` is the app's container or a replica of its compose service."""
    if app.container is not None:
        return container.name == app.container
    if app.service is not None:
        project, _, service = app.service.partition("/")
        return container.compose_project == project and container.compose_service == service
    return container.name == app.name
