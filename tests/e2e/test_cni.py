"""A CNI preset on a real node: calico's ports and IP-in-IP reach w2 from the nodes only, and the
pod and service networks are trusted. Runs last (see conftest's FILE_ORDER): w2 keeps them."""

from __future__ import annotations

import json

import pytest
from checkrun import MANY_LISTENERS, OUTSIDER, PROBE

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
    for config in ("", "--permanent "):
        cluster = f"firewall-cmd {config}--zone=kubeprep"
        assert set(sh(lab, f"{cluster} --list-ports").split()) >= CALICO_PORTS, config
        assert sh(lab, f"{cluster} --list-protocols").split() == ["4"], config
        assert set(sh(lab, f"firewall-cmd {config}--zone=trusted --list-sources").split()) == {
            "10.244.0.0/16", "10.96.0.0/12"}, config
        assert not CALICO_PORTS & set(sh(lab, f"firewall-cmd {config}--zone=public "
                                              "--list-ports").split()), config
    # BGP answers a node, not another address on the same network.
    sh(lab, MANY_LISTENERS.format(ports="179"))
    address = lab.cluster_address["w2"]
    assert lab.run("w1", f"python3 -c '{PROBE}' {address} 179", check=True).stdout.strip() == "open"
    outside = lab.netns_exec("python3", "-c", PROBE, address, "179", OUTSIDER)
    assert outside.stdout.strip() == "filtered", outside
    again = firewall_w2(lab)
    assert not any(op["success"] for op in again["operations"])
