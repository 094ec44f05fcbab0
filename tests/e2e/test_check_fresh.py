"""The readiness check (check.py) on the lab's fresh VMs: it fails with the expected errors and
changes nothing on them.

Named to sort before test_node_prep.py, which converges the VMs; test_readiness.py checks them
after that. It runs first, on the VMs the session's `lab/lab reset` just booted.
"""

from __future__ import annotations

import pytest
from checkrun import leftovers, run_check, snapshot, statuses

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def fresh_check(lab, tmp_path_factory):
    before = snapshot(lab)
    monkeypatch = pytest.MonkeyPatch()
    try:
        result, data = run_check(lab, tmp_path_factory.mktemp("fresh"), monkeypatch)
    finally:
        monkeypatch.undo()
    return {"result": result, "data": data, "before": before, "after": snapshot(lab),
            "leftovers": leftovers(lab)}


def test_fresh_fleet_fails_with_a_table_and_a_non_zero_exit(fresh_check):
    result, data = fresh_check["result"], fresh_check["data"]
    print(result.stdout)
    assert result.rc != 0
    assert data["ready"] is False and data["errors"] > 0
    header = next(line for line in result.stdout.splitlines() if line.startswith("node "))
    assert header.split()[2:] == list(data["nodes"]["cp1"]["status"])
    assert "Errors and warnings:" in result.stdout and "fix: " in result.stdout


def test_fresh_fleet_has_the_expected_errors(fresh_check):
    found = statuses(fresh_check["data"])
    for node in ("cp1", "w1", "w2"):
        # swap on, ip_forward 0, br_netfilter not loaded, nothing persisted: errors everywhere
        for check in ("swap", "forward", "bridge", "persist"):
            assert found[node][check] == "error", (node, check, found[node])
        # firewalld not installed: kubeadm only warns; Debian 12 is cgroup v2 on 6.1
        assert found[node]["firewall"] == "warning", (node, found[node])
        for check in ("overlay", "hostname", "uuid", "mac", "cgroup", "kernel", "ports"):
            assert found[node][check] == "ok", (node, check, found[node])
    assert found["cp1"]["selinux"] == "error"  # enforcing, data says permissive
    assert found["cp1"]["cpu/mem"] == "ok"  # 2 vCPUs, 2 GB
    assert found["w1"]["cpu/mem"] == "warning"  # 1.5 GB worker


def test_fresh_fleet_paths_are_open_without_a_firewall(fresh_check):
    paths = {(p["source"], p["target"], p["port"]): p["result"] for p in fresh_check["data"]["paths"]}
    assert paths == {
        ("w1", "cp1", 6443): "open", ("w2", "cp1", 6443): "open",
        ("cp1", "w1", 10250): "open", ("cp1", "w2", 10250): "open",
    }


def test_fresh_check_changed_nothing_and_left_no_listener(fresh_check):
    assert fresh_check["after"] == fresh_check["before"]
    assert fresh_check["leftovers"] == {}
