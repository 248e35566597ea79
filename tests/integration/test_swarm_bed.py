"""The three-node Swarm test bed itself (scripts/testbed/swarm.sh, issue 15).

What later cluster tests rely on: three engines with their own hostnames and addresses
that all see the same swarm of three managers, every node holding the test images, and
no route off the nodes' private network.
"""

from __future__ import annotations

import contextlib
import subprocess

from .helpers import APP_HEALTHY
from .swarm_bed import SwarmBed


def test_three_engines_form_one_swarm_of_three_managers(swarm_bed: SwarmBed) -> None:
    hostnames = {node.hostname for node in swarm_bed.nodes}
    assert len(hostnames) == 3
    for number in (1, 2, 3):
        with contextlib.closing(swarm_bed.client(number)) as client:
            info = client.info()
            assert info["Name"] == swarm_bed.node(number).hostname
            assert info["Swarm"]["NodeAddr"] == swarm_bed.node(number).address
            assert info["Swarm"]["ControlAvailable"] is True  # a manager
            # Every node is asked for the cluster, not only the one that created it.
            nodes = client.api.nodes()
            assert {n["Description"]["Hostname"] for n in nodes} == hostnames
            assert {n["Status"]["State"] for n in nodes} == {"ready"}
            assert {n["Status"]["Addr"] for n in nodes} == {
                node.address for node in swarm_bed.nodes}
            assert len([n for n in nodes if n["Spec"]["Role"] == "manager"]) == 3
            # The nodes run services of the test images: they must have them.
            assert client.images.get(APP_HEALTHY).tags


def test_the_nodes_have_no_route_off_their_network(swarm_bed: SwarmBed) -> None:
    for node in swarm_bed.nodes:
        routes = subprocess.run(["ip", "-n", node.hostname, "-4", "route", "show"],
                                capture_output=True, text=True, check=True).stdout
        assert "default" not in routes, routes
        assert f"10.77.0.0/24 dev eth0 proto kernel scope link src {node.address}" in routes
