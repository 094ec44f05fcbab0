"""What the readiness check's lab tests share: run it, snapshot the nodes, find leftovers."""

from __future__ import annotations

import json

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


def snapshot(lab) -> dict[str, str]:
    """Everything the check could change if it were wrong, per node."""
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
    """``pyinfra -y lab/inventory.py ARGS check.py`` with a JSON report: (result, report)."""
    report = tmp_path / "readiness.json"
    monkeypatch.setenv("KUBEPREP_CHECK_JSON", str(report))
    result = lab.pyinfra(*args, "check.py", timeout=600)
    assert report.exists(), f"no JSON report:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result, json.loads(report.read_text())


def statuses(data: dict) -> dict[str, dict[str, str | None]]:
    """Node -> check -> level."""
    return {name: node["status"] for name, node in data["nodes"].items()}
