"""The front proxy (``opsui front``, issue 13): its generated configs, its plan text, its
config table, and the copy request's ports and networks (pure functions; the real
engine, nginx and HAProxy are in tests/integration/test_front_proxy.py)."""

from __future__ import annotations

from typing import Any

import pytest

from opsui.backends.docker_front import bindings_of, with_bindings, with_network
from opsui.config import config_from_data
from opsui.domain.errors import ConfigError
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.front_config import listen_ports, proxy_file
from opsui.domain.operations.front_proxy import (
    MOVE,
    UNDO,
    FrontPlan,
    alias_for,
    decode_ports,
    encode_ports,
)
from opsui.domain.ports import HostBinding

WEB = HostBinding(3000, "tcp", "", "3000")
ADMIN = HostBinding(9000, "tcp", "127.0.0.1", "9443")


def test_nginx_re_resolves_the_alias_through_a_variable_upstream() -> None:
    file = proxy_file("nginx", "shop", listen_ports((WEB,)), "shop-front")
    assert file.path == "/etc/nginx/conf.d/opsui-front.conf"
    assert "listen 18000;" in file.text
    assert "resolver 127.0.0.11 valid=1s ipv6=off;" in file.text
    assert "set $opsui_upstream http://shop-front:3000;" in file.text
    assert "proxy_pass $opsui_upstream;" in file.text
    assert "proxy_pass http://" not in file.text  # a literal name is resolved once


def test_haproxy_fills_servers_from_dockers_dns_with_a_connection_per_request() -> None:
    file = proxy_file("haproxy", "shop", listen_ports((WEB,)))
    assert file.path == "/usr/local/etc/haproxy/haproxy.cfg"
    assert "resolvers docker\n    nameserver dns 127.0.0.11:53" in file.text
    assert "bind :18000" in file.text
    assert "server-template app 4 shop:3000 check inter 1s resolvers docker" in file.text
    assert "option http-server-close" in file.text


def test_each_published_port_gets_its_own_listen_port_and_server() -> None:
    listen = listen_ports((ADMIN, WEB))
    assert listen == {18000: WEB, 18001: ADMIN}  # by host port: stable
    nginx = proxy_file("nginx", "shop", listen).text
    assert "listen 18000;" in nginx and "listen 18001;" in nginx
    assert "http://shop:3000;" in nginx and "http://shop:9000;" in nginx
    haproxy = proxy_file("haproxy", "shop", listen).text
    assert "bind :18001" in haproxy and "shop:9000" in haproxy


def test_the_proxys_ports_label_gives_the_bindings_back_exactly() -> None:
    listen = listen_ports((ADMIN, WEB))
    assert decode_ports(encode_ports(listen)) == listen
    with pytest.raises(Exception, match="not opsui's"):
        decode_ports('{"18000": "x"}')


def test_the_alias_is_the_apps_name_unless_the_container_holds_that_name() -> None:
    assert alias_for("shop", "shop-web-1") == "shop"
    assert alias_for("web", "web") == "web-front"  # the old one keeps "web" while draining


def _plan(action: str = MOVE, kept: tuple[Container, ...] = (), compose: bool = False
          ) -> FrontPlan:
    serving = Container("c1", "web", "shop/web:1.0.0", ContainerState.RUNNING)
    return FrontPlan("prod", "web", action, serving, listen_ports((WEB,)),
                     "opsui-front-web", "nginx:1.27", "nginx", "opsui-front", kept,
                     "p1" if action == UNDO else "", 10, compose, "web-front")


def test_the_move_plan_says_what_moves_where_the_one_interruption_and_how_to_undo() -> None:
    kept = (Container("k1", "web.before-r20261201000000-abcd", "shop/web:0.9",
                      ContainerState.EXITED),)
    text = _plan(kept=kept, compose=True).describe()
    for said in ("published ports that move: 3000->3000/tcp",
                 "proxy container: opsui-front-web from image nginx:1.27",
                 "config /etc/nginx/conf.d/opsui-front.conf", "for HTTP ports only",
                 "network: opsui-front (created if missing)", "by alias web-front",
                 "ONE short interruption while the port changes hands",
                 "web stops (its stop timeout: up to 10 s), then the proxy starts",
                 "releases of the app are start-first with drain",
                 "kept releases re-made without the ports, on opsui-front: "
                 "web.before-r20261201000000-abcd",
                 "drop `ports:` from the service",
                 "undo: opsui front web --undo"):
        assert said in text, said


def test_the_undo_plan_says_the_app_publishes_its_ports_again_and_releases_stop_first() -> None:
    text = _plan(UNDO).describe()
    for said in ("front web on prod --undo: the app publishes 3000->3000/tcp itself again",
                 "proxy opsui-front-web is removed", "ONE short interruption",
                 "releases of the app are stop-first again",
                 "network opsui-front is removed if no container is left on it",
                 "to go behind the proxy again: opsui front web"):
        assert said in text, said
    assert _plan(UNDO).request.detail == "--undo"


def test_front_proxy_config_guesses_the_kind_from_the_image() -> None:
    nginx = config_from_data("o.toml", {"front_proxy": {"image": "nginx:1.27"}}).front_proxy
    assert nginx is not None and (nginx.kind, nginx.network) == ("nginx", "opsui-front")
    haproxy = config_from_data("o.toml", {"front_proxy": {"image": "haproxy:3.0"}})
    assert haproxy.front_proxy is not None and haproxy.front_proxy.kind == "haproxy"
    assert config_from_data("o.toml", {}).front_proxy is None


@pytest.mark.parametrize(("table", "key"), [
    ({}, "front_proxy.image"),
    ({"image": "nginx latest"}, "front_proxy.image"),
    ({"image": "nginx", "kind": "apache"}, "front_proxy.kind"),
    ({"image": "nginx", "network": "no spaces"}, "front_proxy.network"),
    ({"image": "nginx", "port": 80}, "front_proxy.port"),
])
def test_a_bad_front_proxy_table_names_the_file_and_the_key(table: dict[str, Any],
                                                             key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_data("o.toml", {"front_proxy": table})
    assert "o.toml" in str(caught.value) and key in str(caught.value)


def test_the_copy_drops_only_the_fixed_host_ports() -> None:
    body: dict[str, Any] = {"HostConfig": {"PortBindings": {
        "3000/tcp": [{"HostIp": "", "HostPort": "3000"}],
        "9000/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}}}
    assert bindings_of(body["HostConfig"]) == (WEB,)
    with_bindings(body, ())
    assert body["HostConfig"]["PortBindings"] == {
        "9000/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}  # the engine's pick stays
    with_bindings(body, (WEB,))
    assert bindings_of(body["HostConfig"]) == (WEB,)
    assert "3000/tcp" in body["ExposedPorts"]


def test_the_copy_joins_the_network_with_the_alias_keeping_its_others_and_leaves_it() -> None:
    body: dict[str, Any] = {
        "HostConfig": {"NetworkMode": "shop_default"},
        "NetworkingConfig": {"EndpointsConfig": {"shop_default": {"Aliases": ["web"]}}},
        "_extra_networks": {}}
    with_network(body, "opsui-front", "web-front")
    assert body["NetworkingConfig"]["EndpointsConfig"] == {"shop_default": {"Aliases": ["web"]}}
    assert body["_extra_networks"] == {"opsui-front": {"Aliases": ["web-front"]}}
    with_network(body, "opsui-front", "")
    assert body["_extra_networks"] == {}
    assert body["NetworkingConfig"]["EndpointsConfig"] == {"shop_default": {"Aliases": ["web"]}}
