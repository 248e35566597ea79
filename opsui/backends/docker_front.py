"""The front proxy's engine calls: published ports, its network, copies, the proxy itself.

A container's published ports, like its name's network, are fixed when it is created:
moving an app's port to a proxy means a *copy* of the app without the port (same
image id, same config, see :mod:`~opsui.backends.docker_clone`) and a proxy container
created with it. The proxy's config file is written into the created container
(``PUT /containers/{id}/archive``) before it starts: no bind mount of a file on the
host, so it works the same on the local engine and through an SSH tunnel.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable
from typing import Any, TypeVar

import docker
import docker.errors

from opsui.backends.docker_clone import clone_request, create_clone
from opsui.backends.docker_errors import error_reason
from opsui.backends.docker_fields import mapping_or_empty
from opsui.domain.errors import ActionFailed
from opsui.domain.ports import HostBinding
from opsui.domain.sanitize import clean

_T = TypeVar("_T")
Call = Callable[[str, Callable[[], Any], str | None], Any]
Relabel = Callable[[dict[str, str]], dict[str, str]]


def _fixed(entry: Any) -> bool:
    port = str(mapping_or_empty(entry).get("HostPort") or "")
    return bool(port) and port != "0"


def bindings_of(host_config: Any) -> tuple[HostBinding, ...]:
    """The fixed host bindings of ``HostConfig.PortBindings`` (not the engine's picks)."""
    found: list[HostBinding] = []
    raw = mapping_or_empty(mapping_or_empty(host_config).get("PortBindings"))
    for key, entries in raw.items():
        port, _, protocol = str(key).partition("/")
        for entry in entries or ():
            if _fixed(entry) and port.isdigit():
                found.append(HostBinding(int(port), protocol or "tcp",
                                         str(mapping_or_empty(entry).get("HostIp") or ""),
                                         str(mapping_or_empty(entry).get("HostPort"))))
    return tuple(found)


def with_bindings(body: dict[str, Any], bindings: tuple[HostBinding, ...]) -> None:
    """``body``'s fixed host bindings become exactly ``bindings`` (engine-picked ones stay)."""
    host_config = body.setdefault("HostConfig", {})
    kept: dict[str, list[Any]] = {}
    for key, entries in mapping_or_empty(host_config.get("PortBindings")).items():
        rest = [entry for entry in entries or () if not _fixed(entry)]
        if rest:
            kept[str(key)] = rest
    exposed = dict(mapping_or_empty(body.get("ExposedPorts")))
    for binding in bindings:
        key = f"{binding.container_port}/{binding.protocol}"
        kept.setdefault(key, []).append({"HostIp": binding.host_ip,
                                         "HostPort": binding.host_port})
        exposed.setdefault(key, {})
    host_config["PortBindings"] = kept
    if exposed:
        body["ExposedPorts"] = exposed


def with_network(body: dict[str, Any], network: str, alias: str) -> None:
    """``body`` on ``network`` holding ``alias`` (its other aliases kept), or, with no
    alias, off ``network`` (its first network then the next one it has)."""
    first = dict(mapping_or_empty(mapping_or_empty(body.get("NetworkingConfig"))
                                  .get("EndpointsConfig")))
    extra = dict(mapping_or_empty(body.get("_extra_networks")))
    if alias:
        where = first if network in first else extra
        endpoint = dict(mapping_or_empty(where.get(network)))
        aliases = [str(a) for a in endpoint.get("Aliases") or []]
        endpoint["Aliases"] = [*aliases, *([] if alias in aliases else [alias])]
        where[network] = endpoint
    else:
        first.pop(network, None)
        extra.pop(network, None)
        host_config = body.setdefault("HostConfig", {})
        if host_config.get("NetworkMode") == network:
            host_config["NetworkMode"] = next(iter(first), None) or next(iter(extra), "bridge")
        if not first and extra:
            name = next(iter(extra))
            first[name] = extra.pop(name)
    body["NetworkingConfig"] = {"EndpointsConfig": first} if first else {}
    body["_extra_networks"] = extra


def config_archive(name: str, content: bytes) -> bytes:
    """A tar holding one file, as ``PUT /containers/{id}/archive`` takes it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mode = 0o644
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


class DockerFront:
    """:class:`opsui.domain.ports.FrontEngine` over the engine's low-level API."""

    def __init__(self, api: Any, call: Call) -> None:
        self._api = api
        self._call = call
        """The engine's translation of SDK errors (ContainerGone, ActionFailed...)."""

    def _do(self, what: str, action: Callable[[], _T]) -> _T:
        """A call about no container (a network, an image): its API errors name it."""
        def guarded() -> _T:
            try:
                return action()
            except docker.errors.APIError as exc:
                raise ActionFailed(f"{what}: {error_reason(exc)}") from None

        result: _T = self._call(what, guarded, None)
        return result

    def bindings(self, container_id: str) -> tuple[HostBinding, ...]:
        data = self._call("inspect", lambda: self._api.inspect_container(container_id),
                          container_id)
        return bindings_of(mapping_or_empty(data).get("HostConfig"))

    def ensure_network(self, name: str, labels: dict[str, str]) -> str:
        shown = clean(name, 60)

        def ensure() -> str:
            try:
                self._api.inspect_network(name)
                return f"network {shown} exists"
            except docker.errors.NotFound:
                self._api.create_network(name, driver="bridge", labels=labels,
                                         check_duplicate=True)
                return f"network {shown} created"

        return self._do(f"network {shown}", ensure)

    def remove_network_if_unused(self, name: str, label: str) -> str:
        shown = clean(name, 60)

        def remove() -> str:
            try:
                data = self._api.inspect_network(name)
            except docker.errors.NotFound:
                return f"network {shown} is gone"
            if label not in mapping_or_empty(mapping_or_empty(data).get("Labels")):
                return f"network {shown} kept (opsui did not create it)"
            attached = mapping_or_empty(mapping_or_empty(data).get("Containers"))
            if attached:
                return f"network {shown} kept ({len(attached)} container(s) on it)"
            self._api.remove_network(name)
            return f"network {shown} removed"

        return self._do(f"network {shown}", remove)

    def copy_as(self, container_id: str, name: str, *, bindings: tuple[HostBinding, ...],
                network: str, alias: str, relabel: Relabel | None = None) -> str:
        api = self._api

        def create() -> str:
            old = api.inspect_container(container_id)
            image_id = str(old.get("Image"))
            old_image = api.inspect_image(image_id)
            ref = str(mapping_or_empty(old.get("Config")).get("Image") or "")
            body = clone_request(old, old_image, self._same_image(ref, image_id), name)
            raw = mapping_or_empty(old.get("Config")).get("Labels") or {}
            labels = {str(k): str(v) for k, v in raw.items()}
            body["Labels"] = relabel(labels) if relabel is not None else labels
            with_bindings(body, bindings)
            with_network(body, network, alias)
            return create_clone(api, body)

        return str(self._call("copy", create, container_id))

    def _same_image(self, ref: str, image_id: str) -> str:
        """``ref`` while it still names ``image_id``; else the id: the exact image."""
        try:
            found = self._api.inspect_image(ref) if ref else {}
        except docker.errors.DockerException:
            return image_id
        return ref if mapping_or_empty(found).get("Id") == image_id else image_id

    def create_proxy(self, name: str, image: str, *, ports: dict[int, HostBinding],
                     network: str, labels: dict[str, str], config_dir: str,
                     config_name: str, config: bytes) -> str:
        api = self._api
        shown = clean(name, 80)

        def create() -> str:
            host_config = api.create_host_config(
                restart_policy={"Name": "unless-stopped"})
            host_config["PortBindings"] = {
                f"{port}/tcp": [{"HostIp": b.host_ip, "HostPort": b.host_port}]
                for port, b in ports.items()}
            created = api.create_container(
                image, name=name, labels=labels, ports=list(ports), host_config=host_config,
                networking_config=api.create_networking_config(
                    {network: api.create_endpoint_config()}))
            return str(created["Id"])

        proxy_id = self._do(f"create the proxy {shown} from {clean(image, 200)}", create)

        def upload() -> None:
            if not api.put_archive(proxy_id, config_dir, config_archive(config_name, config)):
                raise ActionFailed(f"the engine did not take {config_dir}/{config_name}")

        try:
            self._do(f"write {clean(config_dir, 100)}/{clean(config_name, 60)} into {shown} "
                     f"(does the image have {clean(config_dir, 100)}?)", upload)
        except ActionFailed:
            self._call("remove", lambda: api.remove_container(proxy_id, force=True), proxy_id)
            raise
        return proxy_id
