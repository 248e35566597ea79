"""A new container with everything the old one had, except its image.

What a deploy starts: env, mounts, published ports, networks and aliases, restart
policy, labels and resources come from the running container; the image is the new
one. Settings the old container only had because its *image* said so (an ENV default,
an image label, the image's CMD or HEALTHCHECK) are left out, so the new image's own
defaults apply: copying them would pin, say, APP_VERSION=1.0.0 into version 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsui.backends.docker_fields import mapping_or_empty

_HOST_CONFIG_SKIP = {"ContainerIDFile"}
_CONFIG_FROM_IMAGE_IF_EQUAL = ("Cmd", "Entrypoint", "Healthcheck", "WorkingDir", "User",
                               "StopSignal")


def _env_dict(env: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env or []:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def clone_request(old: Mapping[str, Any], old_image: Mapping[str, Any], new_image: str,
                  name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The body of ``POST /containers/create`` for ``new_image``, from the old
    container's inspect data and its image's inspect data.

    ``labels`` are added (a deploy's app, release and digest). Networks beyond the
    first are in ``["_extra_networks"]`` (name -> endpoint settings): engines before API
    1.44 take one network at create time, the rest are connected before start.
    """
    config = mapping_or_empty(old.get("Config"))
    image_config = mapping_or_empty(old_image.get("Config"))
    body: dict[str, Any] = {"Image": new_image}

    image_env = _env_dict(image_config.get("Env"))
    body["Env"] = [f"{k}={v}" for k, v in _env_dict(config.get("Env")).items()
                   if image_env.get(k) != v]
    image_labels = mapping_or_empty(image_config.get("Labels"))
    body["Labels"] = {**{k: v for k, v in mapping_or_empty(config.get("Labels")).items()
                         if image_labels.get(k) != v}, **(labels or {})}
    for key in _CONFIG_FROM_IMAGE_IF_EQUAL:
        value = config.get(key)
        if value not in (None, "", []) and value != image_config.get(key):
            body[key] = value
    for key in ("Tty", "OpenStdin", "StdinOnce", "AttachStdin", "ExposedPorts", "Volumes",
                "Domainname"):
        if config.get(key):
            body[key] = config[key]
    old_id = str(old.get("Id", ""))
    hostname = str(config.get("Hostname") or "")
    if hostname and not old_id.startswith(hostname):
        body["Hostname"] = hostname  # set on purpose, not the engine's id default

    host_config = {k: v for k, v in mapping_or_empty(old.get("HostConfig")).items()
                   if k not in _HOST_CONFIG_SKIP}
    body["HostConfig"] = host_config

    networks = dict(mapping_or_empty(
        mapping_or_empty(old.get("NetworkSettings")).get("Networks")))
    endpoints = {net: _endpoint(settings, old_id) for net, settings in networks.items()}
    mode = str(host_config.get("NetworkMode") or "")
    first = mode if mode in endpoints else next(iter(endpoints), None)
    if first is not None:
        body["NetworkingConfig"] = {"EndpointsConfig": {first: endpoints.pop(first)}}
    body["_extra_networks"] = endpoints
    body["_name"] = name
    return body


def _endpoint(settings: Any, old_id: str) -> dict[str, Any]:
    """Aliases the operator gave (not the engine's short-id alias), static IPs, links."""
    settings = mapping_or_empty(settings)
    aliases = [a for a in settings.get("Aliases") or [] if not old_id.startswith(str(a))]
    out: dict[str, Any] = {}
    if aliases:
        out["Aliases"] = aliases
    if settings.get("IPAMConfig"):
        out["IPAMConfig"] = settings["IPAMConfig"]
    if settings.get("Links"):
        out["Links"] = settings["Links"]
    return out


def create_clone(api: Any, body: Mapping[str, Any]) -> str:
    """Create the container ``clone_request`` described (not started); its id."""
    request = {k: v for k, v in body.items() if not k.startswith("_")}
    created = api.post(api._url("/containers/create"), params={"name": body["_name"]},
                       json=request)
    api._raise_for_status(created)
    container_id = str(created.json()["Id"])
    for network, endpoint in mapping_or_empty(body.get("_extra_networks")).items():
        api.connect_container_to_network(container_id, network,
                                          aliases=endpoint.get("Aliases"),
                                          links=endpoint.get("Links"))
    return container_id
