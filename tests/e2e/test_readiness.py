"""The readiness check (check.py) on the lab after the deploy (test_node_prep.py leaves the VMs
converged and rebooted): it passes, changes nothing, flags a duplicate hostname on both nodes and
a port closed by hand on exactly its path. Every change made here is undone at the end.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.lab

KUBEADM_PORTS = (6443, 2379, 2380, 10250, 10257, 10259)
SNAPSHOT = (
    "find /etc -xdev \\( -type f -o -type l \\) -printf '%p %s %T@\\n' | sort | md5sum; "
    "nft list ruleset 2>/dev/null | md5sum; "
    "firewall-cmd --list-all 2>/dev/null | md5sum; "
    "firewall-cmd --permanent --list-all 2>/dev/null | md5sum; "
    "cut -d' ' -f1 /proc/modules | sort | md5sum; "
    "sysctl -a 2>/dev/null | grep -E '^net\\.(ipv4\\.ip_forward|bridge\\.)' | sort; "
    "swapon --show=NAME --noheadings; getenforce 2>/dev/null; hostname"
)
ALL_PATHS = {
    ("w1", "cp1", 6443), ("w2", "cp1", 6443), ("cp1", "w1", 10250), ("cp1", "w2", 10250),
}


def snapshot(lab) -> dict[str, str]:
    return {node: lab.run(node, SNAPSHOT, check=True).stdout for node in lab.nodes}


def leftovers(lab) -> dict[str, str]:
    found = {}
    for node in lab.nodes:
        out = lab.run(
            node,
            "ss -ltnH | awk '{print $4}' | grep -E ':(" + "|".join(map(str, KUBEADM_PORTS))
            + ")$'; ps -eo args | grep -E '[s]elect\\.select|[d]ev/tcp' ; true",
            check=True,
        ).stdout.strip()
        if out:
            found[node] = out
    return found


def run_check(lab, tmp_path, monkeypatch):
    report = tmp_path / "readiness.json"
    monkeypatch.setenv("KUBEPREP_CHECK_JSON", str(report))
    result = lab.pyinfra("check.py", timeout=600)
    assert report.exists(), f"no JSON report:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result, json.loads(report.read_text())


def levels(data: dict) -> dict[str, dict[str, str | None]]:
    return {name: node["status"] for name, node in data["nodes"].items()}


def paths(data: dict) -> dict[tuple[str, str, int], str]:
    return {(p["source"], p["target"], p["port"]): p["result"] for p in data["paths"]}


def test_converged_fleet_passes_changes_nothing_leaves_no_listener(lab, tmp_path, monkeypatch):
    before = snapshot(lab)
    result, data = run_check(lab, tmp_path, monkeypatch)
    print(result.stdout)
    after = snapshot(lab)
    assert result.rc == 0, f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert data["ready"] is True and data["errors"] == 0
    for node, status in levels(data).items():
        assert "error" not in status.values(), (node, status)
        for check in ("swap", "forward", "bridge", "overlay", "persist", "selinux", "firewall",
                      "hostname", "uuid", "mac", "cgroup", "kernel", "ports", "reach"):
            assert status[check] == "ok", (node, check, data["nodes"][node]["checks"])
    assert paths(data) == dict.fromkeys(ALL_PATHS, "open")
    assert after == before
    assert leftovers(lab) == {}


def test_duplicate_hostname_is_flagged_on_both_nodes(lab, tmp_path, monkeypatch):
    lab.run("w2", "hostname w1", check=True)  # the kernel's hostname only; /etc is untouched
    try:
        result, data = run_check(lab, tmp_path, monkeypatch)
    finally:
        lab.run("w2", "hostname w2", check=True)
    assert result.rc != 0
    found = levels(data)
    assert (found["w1"]["hostname"], found["w2"]["hostname"], found["cp1"]["hostname"]) == (
        "error", "error", "ok")
    details = {
        node: " ".join(c["detail"] for c in data["nodes"][node]["checks"] if c["check"] == "hostname")
        for node in ("w1", "w2")
    }
    assert "also the hostname of w2" in details["w1"]
    assert "also the hostname of w1" in details["w2"]
    assert lab.run("w2", "hostname", check=True).stdout.strip() == "w2"


def test_port_closed_by_hand_is_filtered_on_exactly_that_path(lab, tmp_path, monkeypatch):
    lab.run("w2", "firewall-cmd --remove-port=10250/tcp", check=True)  # runtime only
    try:
        result, data = run_check(lab, tmp_path, monkeypatch)
        remaining = leftovers(lab)
    finally:
        lab.run("w2", "firewall-cmd --add-port=10250/tcp", check=True)
    print(result.stdout)
    assert result.rc != 0
    expected = dict.fromkeys(ALL_PATHS, "open")
    expected[("cp1", "w2", 10250)] = "filtered"
    assert paths(data) == expected
    found = levels(data)
    assert found["w2"]["reach"] == "error" and found["w1"]["reach"] == "ok"
    assert found["w2"]["firewall"] == "error"  # 10250/tcp missing from the runtime config
    assert "cp1 -> w2:10250" in result.stdout and "filtered" in result.stdout
    assert remaining == {}
    assert "10250/tcp" in lab.run("w2", "firewall-cmd --list-ports", check=True).stdout.split()
