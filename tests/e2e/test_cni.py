"""A CNI preset on a real node: calico's ports and IP-in-IP reach w2 from the nodes only, and the
pod and service networks are trusted. Runs last (see conftest's FILE_ORDER): w2 keeps them."""

from __future__ import annotations

import json

import pytest
from checkrun import listening, probe, zone_sets

pytestmark = pytest.mark.lab

CALICO_PORTS = {"179/tcp", "4789/udp", "5473/tcp"}


def firewall_w2(lab) -> dict:
    result = lab.pyinfra("--json", "--limit", "w2", "--data", "cni=calico", "tasks/firewall.py")
    assert result.rc == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return json.loads(result.stdout)["results"]


def sh(lab, command: str) -> str:
    return lab.run("w2", command, check=True).stdout


def test_calico_preset_on_a_node(lab):
    first = firewall_w2(lab)
    assert first["totals"]["error"] == 0
    zones = zone_sets(lab, "w2", "kubeprep", "trusted", "public")
    for config in ("runtime", "permanent"):
        cluster = zones[config]["kubeprep"]
        assert cluster["ports"] >= CALICO_PORTS, config
        assert cluster["protocols"] == {"4"}, config
        assert zones[config]["trusted"]["sources"] == {"10.244.0.0/16", "10.96.0.0/12"}, config
        assert not CALICO_PORTS & zones[config]["public"]["ports"], config
    # BGP answers a node, not another address on the same network.
    address = lab.cluster_address["w2"]
    with listening(lab, "w2", (179,)):
        assert probe(lab, address, (179,), "w1") == {179: "open"}
        assert probe(lab, address, (179,)) == {179: "filtered"}
    again = firewall_w2(lab)
    assert not any(op["success"] for op in again["operations"])
