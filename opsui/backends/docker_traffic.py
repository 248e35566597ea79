"""Network aliases and proxy reloads over the Docker API, for a switch with drain.

The engine has no call that edits an endpoint's aliases, so an alias set is changed by
disconnecting the container from the network and connecting it again with the new
aliases. Asked for its old address, the engine keeps it on networks with a configured
subnet; elsewhere its allocator hands the freed address straight back (checked after
the fact and reported when it did not), so a proxy that still holds the old address in
its DNS cache keeps reaching the container while it drains. The container keeps
running throughout: its sockets live in its namespace, not on the interface.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import docker

from opsui.backends.docker_fields import mapping_or_empty
from opsui.domain.errors import ActionFailed
from opsui.domain.ports import CommandResult
from opsui.domain.sanitize import clean

_T = TypeVar("_T")
Call = Callable[[str, Callable[[], Any], str | None], Any]
DEFAULT_STOP_TIMEOUT = 10


class DockerTraffic:
    """:class:`opsui.domain.ports.TrafficEngine` over the engine's low-level API."""

    def __init__(self, api: Any, call: Call) -> None:
        self._api = api
        self._call = call
        """The engine's translation of SDK errors (ContainerGone, ActionFailed...)."""

    def _inspect(self, container_id: str) -> dict[str, Any]:
        return dict(self._call("inspect", lambda: self._api.inspect_container(container_id),
                               container_id))

    def _endpoints(self, data: dict[str, Any]) -> dict[str, Any]:
        return dict(mapping_or_empty(mapping_or_empty(data.get("NetworkSettings"))
                                     .get("Networks")))

    def aliases(self, container_id: str) -> dict[str, tuple[str, ...]]:
        data = self._inspect(container_id)
        own_id = str(data.get("Id", ""))
        found: dict[str, tuple[str, ...]] = {}
        for network, endpoint in self._endpoints(data).items():
            aliases = tuple(str(a) for a in mapping_or_empty(endpoint).get("Aliases") or []
                            if not own_id.startswith(str(a)))
            if aliases:
                found[str(network)] = aliases
        return found

    def set_aliases(self, container_id: str, network: str,
                    aliases: tuple[str, ...]) -> str:
        data = self._inspect(container_id)
        endpoint = mapping_or_empty(self._endpoints(data).get(network))
        if not endpoint:
            raise ActionFailed(f"{clean(container_id, 12)} is not on network "
                               f"{clean(network, 60)}")
        address = str(endpoint.get("IPAddress") or "")
        links = endpoint.get("Links") or None
        api = self._api
        self._call("disconnect", lambda: api.disconnect_container_from_network(
            container_id, network), container_id)
        try:
            self._connect(container_id, network, list(aliases) or None, links, address)
        except ActionFailed:  # back as it was rather than off the network
            self._connect(container_id, network, self._own(endpoint, data) or None, links,
                          address)
            raise
        now = mapping_or_empty(self._endpoints(self._inspect(container_id)).get(network))
        names = ", ".join(aliases) or "no alias"
        kept = (f"address {address} kept" if not address or now.get("IPAddress") == address
                else f"address now {now.get('IPAddress')} (was {address})")
        return f"{clean(network, 60)}: {clean(names, 200)} ({kept})"

    @staticmethod
    def _own(endpoint: Any, data: dict[str, Any]) -> list[str]:
        own_id = str(data.get("Id", ""))
        return [str(a) for a in endpoint.get("Aliases") or [] if not own_id.startswith(str(a))]

    def _connect(self, container_id: str, network: str, aliases: list[str] | None,
                 links: Any, address: str) -> None:
        api = self._api

        def connect(ip: str | None) -> None:
            api.connect_container_to_network(container_id, network, aliases=aliases,
                                              links=links, ipv4_address=ip)

        if address:
            try:
                connect(address)
                return
            except docker.errors.APIError as exc:  # no configured subnet: engine chooses
                if "user specified ip address" not in str(exc).lower():
                    raise ActionFailed(f"connect {clean(container_id, 12)} to "
                                       f"{clean(network, 60)}: {clean(str(exc), 300)}"
                                       ) from None
        self._call("connect", lambda: connect(None), container_id)

    def stop_timeout(self, container_id: str) -> int:
        config = mapping_or_empty(self._inspect(container_id).get("Config"))
        value = config.get("StopTimeout")
        return int(value) if isinstance(value, int) and value >= 0 else DEFAULT_STOP_TIMEOUT

    def exec(self, container_id: str, argv: list[str], timeout: float) -> CommandResult:
        """Waits at most ``timeout`` for the command (a reload that hangs must not hold a
        switch that can no longer be cancelled); past it, ActionFailed (the command may
        still run in the container)."""
        api = self._api
        created = self._call("exec", lambda: api.exec_create(container_id, argv, stdout=True,
                                                             stderr=True), container_id)
        exec_id = str(created["Id"])
        done: list[Any] = []
        failed: list[BaseException] = []

        def start() -> None:
            try:
                done.append(self._call("exec", lambda: api.exec_start(exec_id, demux=True),
                                       container_id))
            except BaseException as exc:  # handed to the caller's thread
                failed.append(exc)

        worker = threading.Thread(target=start, daemon=True, name="opsui-exec")
        worker.start()
        worker.join(timeout)
        if failed:
            raise failed[0]
        if not done:
            raise ActionFailed(f"{' '.join(argv)[:80]} in {clean(container_id, 12)} did not "
                               f"end within {timeout:g} s (it may still run there)")
        out = done[0]
        stdout, stderr = out if isinstance(out, tuple) else (out, b"")
        info = self._call("exec", lambda: api.exec_inspect(exec_id), container_id)
        code = info.get("ExitCode")
        return CommandResult(int(code) if code is not None else -1, stdout or b"",
                             stderr or b"")
