"""The readiness check (check.py) on the lab's fresh VMs: it fails with the expected errors and
changes nothing on them.

Named to sort before test_node_prep.py, which converges the VMs; test_readiness.py checks them
after that. Runs on the VMs as test_lab_smoke.py leaves them (untouched).
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.lab

KUBEADM_PORTS = (6443, 2379, 2380, 10250, 10257, 10259)
# Everything the check could change if it were wrong: files under /etc (names, sizes, times),
# the firewall (nftables ruleset, firewalld config when installed), modules, live sysctls, swap.
SNAPSHOT = (
    "find /etc -xdev \\( -type f -o -type l \\) -printf '%p %s %T@\\n' | sort | md5sum; "
    "nft list ruleset 2>/dev/null | md5sum; "
    "firewall-cmd --list-all 2>/dev/null | md5sum; "
    "cut -d' ' -f1 /proc/modules | sort | md5sum; "
    "sysctl -a 2>/dev/null | grep -E '^net\\.(ipv4\\.ip_forward|bridge\\.)' | sort; "
    "swapon --show=NAME --noheadings; getenforce 2>/dev/null; hostname"
)


def snapshot(lab) -> dict[str, str]:
    return {node: lab.run(node, SNAPSHOT, check=True).stdout for node in lab.nodes}


def leftovers(lab) -> dict[str, str]:
    """Listeners on kubeadm's ports and probe processes still running, per node."""
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


def run_check(lab, tmp_path, monkeypatch, *args: str):
    report = tmp_path / "readiness.json"
    monkeypatch.setenv("KUBEPREP_CHECK_JSON", str(report))
    result = lab.pyinfra(*args, "check.py", timeout=600)
    assert report.exists(), f"no JSON report:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result, json.loads(report.read_text())


def statuses(data: dict) -> dict[str, dict[str, str | None]]:
    return {name: node["status"] for name, node in data["nodes"].items()}


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
