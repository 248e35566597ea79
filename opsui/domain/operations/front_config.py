"""The config file of an app's front proxy: nginx or HAProxy, re-resolving the app's alias.

The proxy reaches the app by its network alias through Docker's DNS (127.0.0.11), and
must ask again about once a second: a release adds the new container to the alias and
then takes the old one out of it (operations/traffic.py), and a proxy that resolved
the name once at start would keep sending to the old address until it stops. nginx
does that only with a *variable* upstream and a ``resolver`` (a literal host name in
``proxy_pass`` is resolved once); HAProxy with a ``resolvers`` section and
``server-template`` slots filled from the name's addresses.

Each published port gets its own listen port inside the proxy (:data:`LISTEN_BASE` up):
not the app's container port, which an image's own default site may already listen on
(the official nginx image serves its welcome page on 80).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opsui.domain.ports import HostBinding

LISTEN_BASE = 18000
"""The proxy listens on 18000, 18001... one per published port of the app."""
_SERVER_OPTIONS = "check inter 1s resolvers docker init-addr none"
HAPROXY_SLOTS = 4
"""Servers a HAProxy backend can fill from the alias (a release has two at most)."""


@dataclass(frozen=True)
class ProxyFile:
    """Where the config goes in the proxy's image, and what it says."""

    folder: str
    name: str
    text: str

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.name}"


def listen_ports(bindings: tuple[HostBinding, ...]) -> dict[int, HostBinding]:
    """The proxy's listen port of each binding (host port order, so it is stable)."""
    ordered = sorted(bindings, key=lambda b: (b.host_port, b.host_ip, b.container_port))
    return {LISTEN_BASE + i: binding for i, binding in enumerate(ordered)}


def proxy_file(kind: str, app: str, listen: Mapping[int, HostBinding],
               alias: str | None = None) -> ProxyFile:
    """The config of ``kind`` ("nginx" or "haproxy") sending ``listen`` ports to ``app``
    by ``alias`` (default: the app's name)."""
    alias = alias or app
    if kind == "haproxy":
        return ProxyFile("/usr/local/etc/haproxy", "haproxy.cfg",
                         haproxy_config(app, listen, alias))
    return ProxyFile("/etc/nginx/conf.d", "opsui-front.conf", nginx_config(app, listen, alias))


def nginx_config(app: str, listen: Mapping[int, HostBinding], alias: str) -> str:
    """A server per listen port; the upstream is a variable, so the resolver is asked
    again once its answer is a second old."""
    servers = "".join(f"""
server {{
    # {binding} on the host
    listen {port};
    resolver 127.0.0.11 valid=1s ipv6=off;
    resolver_timeout 2s;

    location / {{
        set $opsui_upstream http://{alias}:{binding.container_port};
        proxy_pass $opsui_upstream;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_connect_timeout 2s;
        proxy_next_upstream error timeout;
    }}
}}
""" for port, binding in listen.items())
    return (f"# Written by opsui (`opsui front {app}`): the app by its network alias "
            f"'{alias}', re-resolved every second.\n{servers}")


def haproxy_config(app: str, listen: Mapping[int, HostBinding], alias: str) -> str:
    """The whole haproxy.cfg: Docker's DNS as resolvers, and per listen port a frontend
    and a backend of :data:`HAPROXY_SLOTS` servers filled from the alias."""
    sections = "".join(f"""
frontend opsui_front_{port}
    # {binding} on the host
    bind :{port}
    default_backend opsui_app_{port}

backend opsui_app_{port}
    balance roundrobin
    server-template app {HAPROXY_SLOTS} {alias}:{binding.container_port} {_SERVER_OPTIONS}
""" for port, binding in listen.items())
    return f"""# Written by opsui (`opsui front {app}`): the app by its network alias '{alias}',
# re-resolved every second.
global
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    # A server connection per request: a kept one is tied to its client connection,
    # which HAProxy closes when the server closes it (the old release stopping after
    # its drain), and a client sending its next request just then gets no answer.
    option http-server-close
    option redispatch
    retries 3
    timeout connect 2s
    timeout client 60s
    timeout server 60s

resolvers docker
    nameserver dns 127.0.0.11:53
    resolve_retries 3
    timeout resolve 1s
    timeout retry 1s
    hold valid 1s
    hold other 1s
    hold refused 1s
    hold nx 1s
    hold timeout 1s
    hold obsolete 1s
    accepted_payload_size 8192
{sections}"""
