"""Nodes someone set up by hand before kubeprep: cp1 with the write-up's firewall (every port
open to all in public, one port at a time), w2 with ufw active. The deploy takes both over,
proven by reachability from a node and from an address that is not one (192.168.77.250, the
lab namespace's own). Runs on the converged lab (after test_readiness.py) and leaves it converged.
"""

from __future__ import annotations

import time

import pytest
from checkrun import MANY_LISTENERS, OUTSIDER, PROBE
from test_node_prep import changes_by_host, data_args, deploy, sh

pytestmark = pytest.mark.lab

# The write-up's own commands (the seed), after deleting kubeprep's cluster zone.
WRITE_UP = (
    "firewall-cmd --permanent --delete-zone=kubeprep"
    " && firewall-cmd --zone=public --add-port=22/tcp --permanent"
    " && firewall-cmd --permanent --add-port={6443,2379,2380,10250,10259,10257}/tcp"
    " && firewall-cmd --reload"
)
CONTROL_PLANE_PORTS = (6443, 2379, 2380, 10250, 10257, 10259)
WORKER_PORTS = (10250, 30080)
PUBLIC = {6443, 30080}
UFW_ON = "apt-get install -y ufw && ufw allow 22/tcp && ufw --force enable"


def reachability(lab, node: str, ports: tuple[int, ...], peer: str) -> dict[int, tuple[str, str]]:
    """Port -> (from the non-node address, from ``peer``), with a listener on every port."""
    # A listener from an earlier call lives 90 s: wait until its ports are free.
    busy = " or ".join(f"sport = :{port}" for port in ports)
    sh(lab, node, f"for i in $(seq 95); do ss -ltnH '( {busy} )' | grep -q . || break; sleep 1; done")
    sh(lab, node, MANY_LISTENERS.format(ports=" ".join(map(str, ports))))
    address = lab.cluster_address[node]
    found = {}
    for port in ports:
        outside = lab.netns_exec("python3", "-c", PROBE, address, str(port), OUTSIDER)
        inside = lab.run(peer, f"python3 -c '{PROBE}' {address} {port}", check=True)
        found[port] = (outside.stdout.strip(), inside.stdout.strip())
    return found


def nodes_only(ports: tuple[int, ...]) -> dict[int, tuple[str, str]]:
    """What kubeprep leaves: public ports open to all, the rest to the nodes only."""
    return {port: ("open" if port in PUBLIC else "filtered", "open") for port in ports}


def test_write_up_node_is_taken_over_by_port_coverage(lab):
    sh(lab, "cp1", WRITE_UP)
    listed = sh(lab, "cp1", "firewall-cmd --zone=public --list-ports").split()
    assert {"2379/tcp", "2380/tcp"} <= set(listed), listed  # one by one, not 2379-2380/tcp
    before = reachability(lab, "cp1", CONTROL_PLANE_PORTS, "w2")
    print(f"write-up cp1, from 192.168.77.250 / from w2: {before}")
    assert before == dict.fromkeys(CONTROL_PLANE_PORTS, ("open", "open"))

    started = time.monotonic()
    results = deploy(lab, "--limit", "cp1")
    print(f"converge of the write-up's cp1: {time.monotonic() - started:.0f} s")
    assert results["totals"]["error"] == 0
    assert "Open the SSH port and the role's public ports" in changes_by_host(results)["cp1"]
    for config in ("", "--permanent "):
        assert set(sh(lab, "cp1", f"firewall-cmd {config}--zone=public --list-ports").split()) == \
            {"22/tcp", "6443/tcp"}, config
    after = reachability(lab, "cp1", CONTROL_PLANE_PORTS, "w2")
    print(f"converged cp1, from 192.168.77.250 / from w2: {after}")
    assert after == nodes_only(CONTROL_PLANE_PORTS)

    started = time.monotonic()
    assert changes_by_host(deploy(lab, "--limit", "cp1")) == {}
    print(f"no-change re-run on cp1: {time.monotonic() - started:.0f} s")


def test_active_ufw_is_refused_unchanged_then_disabled_on_request(lab):
    sh(lab, "w2", UFW_ON)
    assert sh(lab, "w2", "ufw status").startswith("Status: active")
    # ufw drops what firewalld's cluster zone lets the nodes reach.
    assert reachability(lab, "w2", WORKER_PORTS, "cp1")[10250] == ("filtered", "filtered")
    # Stateless: the counters of ufw's rules move with every packet.
    state = "ufw status verbose; nft -s list ruleset | md5sum; firewall-cmd --list-all-zones | md5sum"
    before = sh(lab, "w2", state)

    refused = lab.pyinfra("--limit", "w2", *data_args(lab), "deploy.py")
    output = refused.stdout + refused.stderr
    assert refused.rc != 0
    assert ("w2: firewall_disable_others = False: ufw is active, which would still drop what "
            "firewalld opens. Fix: stop it yourself (ufw disable), or set "
            "firewall_disable_others = True") in output, output[-3000:]
    assert sh(lab, "w2", state) == before

    started = time.monotonic()
    results = deploy(lab, "--limit", "w2", "--data", "firewall_disable_others=True")
    print(f"converge of w2 with ufw disabled: {time.monotonic() - started:.0f} s")
    assert changes_by_host(results) == {"w2": {"Stop and disable the other firewalls"}}
    assert sh(lab, "w2", "ufw status").startswith("Status: inactive")
    assert "ENABLED=no" in sh(lab, "w2", "cat /etc/ufw/ufw.conf")
    after = reachability(lab, "w2", WORKER_PORTS, "cp1")
    print(f"converged w2, from 192.168.77.250 / from cp1: {after}")
    assert after == nodes_only(WORKER_PORTS)
    assert changes_by_host(deploy(lab, "--limit", "w2")) == {}
