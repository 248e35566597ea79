"""Stats feeds of removed containers are forgotten (issue 16): a host where containers
come and go all night keeps getting streamed samples, and opsui keeps nothing per
container that no longer exists."""

from __future__ import annotations

from collections.abc import Callable

import docker
import pytest
from docker.models.containers import Container as DockerContainer

from opsui.backends.docker_engine import DockerEngine, connect_local

from .helpers import APP_HEALTHY, wait_until

pytestmark = pytest.mark.integration


def _id(container: DockerContainer) -> str:
    assert container.id is not None
    return container.id


def _feed_open(engine: DockerEngine, container_id: str) -> bool:
    """The engine holds an open stats stream (its own connection) for the container."""
    feed = engine._feeds.get(container_id)
    return feed is not None and feed._sock.fileno() != -1


def test_a_removed_containers_feed_does_not_hold_a_feed_slot(
    docker_client: docker.DockerClient, make_container: Callable[..., DockerContainer]
) -> None:
    """With room for one feed, the next container on screen after a removed one still
    gets a feed: the removed one's ended feed no longer counts against the limit (it
    did, so after enough containers came and went every sample was a one-shot request
    waiting a tick, and the dead feeds were kept for ever)."""
    engine = DockerEngine(connect_local(None), max_stats_feeds=1)
    try:
        gone, staying = make_container(APP_HEALTHY), make_container(APP_HEALTHY)
        assert _id(gone) in engine.stats_many([_id(gone)])
        assert _feed_open(engine, _id(gone))
        gone.remove(force=True)
        wait_until(lambda: _id(staying) in engine.stats_many([_id(staying)])
                   and _id(gone) not in engine._feeds, timeout=15,
                   message="a sample of the container still there, the removed one's feed gone")
        assert _feed_open(engine, _id(staying)), "a one-shot request instead of a feed"
    finally:
        engine.close()
