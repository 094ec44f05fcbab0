"""The readiness check (check.py) on the lab after the deploy (test_node_prep.py leaves the VMs
converged): it passes, changes nothing, flags a duplicate hostname on both nodes and
a port closed by hand on exactly its path. Every change made here is undone at the end.
"""

from __future__ import annotations

import pytest
from checkrun import leftovers, run_check, snapshot, statuses

pytestmark = pytest.mark.lab

ALL_PATHS = {
    ("w1", "cp1", 6443), ("w2", "cp1", 6443), ("cp1", "w1", 10250), ("cp1", "w2", 10250),
}


def paths(data: dict) -> dict[tuple[str, str, int], str]:
    return {(p["source"], p["target"], p["port"]): p["result"] for p in data["paths"]}


def test_converged_fleet_passes_changes_nothing_leaves_no_listener(lab, tmp_path, monkeypatch):
    before = snapshot(lab)
    result, data = run_check(lab, tmp_path, monkeypatch)
    print(result.stdout)
    after = snapshot(lab)
    assert result.rc == 0, f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert data["ready"] is True and data["errors"] == 0
    for node, status in statuses(data).items():
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
    found = statuses(data)
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
    # w2 opens 10250 to the nodes through kube-worker (10250 + NodePorts) in its cluster zone:
    # swap that for the NodePorts alone, at runtime only.
    cluster = "firewall-cmd --zone=kubeprep"
    lab.run("w2", f"{cluster} --add-port=30000-32767/tcp && {cluster} --remove-service=kube-worker",
            check=True)
    try:
        result, data = run_check(lab, tmp_path, monkeypatch)
        remaining = leftovers(lab)
    finally:
        lab.run("w2", f"{cluster} --add-service=kube-worker && "
                      f"{cluster} --remove-port=30000-32767/tcp", check=True)
    print(result.stdout)
    assert result.rc != 0
    expected = dict.fromkeys(ALL_PATHS, "open")
    expected[("cp1", "w2", 10250)] = "filtered"
    assert paths(data) == expected
    found = statuses(data)
    assert found["w2"]["reach"] == "error" and found["w1"]["reach"] == "ok"
    assert found["w2"]["firewall"] == "error"
    assert "not open (runtime, zone kubeprep): 10250/tcp" in result.stdout
    assert "cp1 -> w2:10250" in result.stdout and "filtered" in result.stdout
    assert remaining == {}
    assert lab.run("w2", f"{cluster} --list-services", check=True).stdout.split() == ["kube-worker"]
