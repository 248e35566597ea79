"""The hostile suite reuses the integration fixtures: labelled containers, removed after."""

from __future__ import annotations

from integration.conftest import docker_client, labelled, make_container

__all__ = ["docker_client", "labelled", "make_container"]
