"""What the lab tests share: run the readiness check, snapshot the nodes, find leftovers, probe
ports from a node or from an address that is not one."""

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


# Connect from an address, print open, refused (no listener: the firewall let it through) or
# filtered (rejected by the firewall, or no answer).
PROBE = """
import socket, sys
sock = socket.socket()
sock.settimeout(6)
if len(sys.argv) > 3:
    sock.bind((sys.argv[3], 0))
try:
    sock.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except ConnectionRefusedError:
    print("refused")
except OSError:
    print("filtered")
"""
MANY_LISTENERS = """nohup timeout 90 python3 -c '
import socket, sys, time
listeners = []
for port in sys.argv[1:]:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("", int(port)))
    listener.listen(16)
    listeners.append(listener)
time.sleep(90)
' {ports} >/dev/null 2>&1 & sleep 2"""
OUTSIDER = "192.168.77.250"  # the lab namespace's own address: on the lab network, not a node
