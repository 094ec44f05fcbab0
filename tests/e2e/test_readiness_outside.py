"""The readiness check's probes from a host that is not a node: the lab host itself, inside the
lab's network namespace (192.168.77.250), as the inventory group ``outside`` with
``probe_prefix = "ip netns exec kubeprep-lab"``. On the converged lab every nodes-only port is
filtered from there and every public port open; a nodes-only port opened by hand in the public
zone is found twice, by the firewall column (the config) and by the probe (for real).

It runs on the converged lab that test_node_prep.py leaves (FILE_ORDER in conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from checkrun import BEFORE_CLUSTER, leftovers

pytestmark = pytest.mark.lab

NODES_ONLY = {"cp1": (2379, 2380, 10250, 10257, 10259), "w1": (10250,), "w2": (10250,)}
PUBLIC = {"cp1": (22, 6443), "w1": (22, 30000), "w2": (22, 30000)}


def run_check_with_outsider(lab, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """``pyinfra -y INVENTORY check.py``: the lab's nodes plus @local in the group outside."""
    inventory = tmp_path / "inventory_outside.py"
    inventory.write_text(
        "import runpy\n"
        f"_lab = runpy.run_path({str(lab.inventory)!r})\n"
        'control_plane, workers = _lab["control_plane"], _lab["workers"]\n'
        f'outside = [("@local", {{"probe_prefix": "ip netns exec {lab.netns}"}})]\n'
    )
    report = tmp_path / "readiness.json"
    pyinfra = Path(sys.executable).parent / "pyinfra"
    result = subprocess.run(
        [str(pyinfra), "-y", str(inventory), *BEFORE_CLUSTER, "check.py"], cwd=lab.repo_dir,
        capture_output=True,
        text=True, timeout=900, stdin=subprocess.DEVNULL,
        env={**os.environ, "KUBEPREP_CHECK_JSON": str(report)},
    )
    assert report.exists(), f"no JSON report:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result, json.loads(report.read_text())


def outside_paths(data: dict) -> dict[tuple[str, int], tuple[str, str]]:
    return {(p["target"], p["port"]): (p["expected"], p["result"])
            for p in data["paths"] if p["source"] == "@local"}


def test_nodes_only_ports_are_closed_to_a_non_node_address(lab, tmp_path):
    result, data = run_check_with_outsider(lab, tmp_path)
    print(result.stdout)
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert set(data["nodes"]) == set(lab.nodes)  # the outside host is no node
    found = outside_paths(data)
    for node in lab.nodes:
        for port in NODES_ONLY[node]:
            assert found[(node, port)] == ("closed", "filtered"), (node, port)
        for port in PUBLIC[node]:
            assert found[(node, port)] == ("open", "open"), (node, port)
    assert leftovers(lab) == {}


def test_nodes_only_port_opened_to_everyone_is_seen_in_the_config_and_for_real(lab, tmp_path):
    lab.run("w1", "firewall-cmd --zone=public --add-port=10250/tcp", check=True)  # runtime only
    try:
        result, data = run_check_with_outsider(lab, tmp_path)
    finally:
        lab.run("w1", "firewall-cmd --zone=public --remove-port=10250/tcp", check=True)
    print(result.stdout)
    assert result.returncode != 0
    assert outside_paths(data)[("w1", 10250)] == ("closed", "open")
    assert outside_paths(data)[("w2", 10250)] == ("closed", "filtered")
    w1 = data["nodes"]["w1"]
    assert (w1["status"]["firewall"], w1["status"]["reach"]) == ("error", "error")
    details = " ".join(c["detail"] for c in w1["checks"])
    assert "zone public (the default zone: every interface no other zone claims) opens " \
        "nodes-only ports to every source: 10250/tcp (runtime)" in details
    assert "@local -> w1:10250 (nodes only) open (reachable from a non-node address)" in details
    assert data["nodes"]["w2"]["status"]["reach"] == "ok"
    assert leftovers(lab) == {}
