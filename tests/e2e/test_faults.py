"""Faults on the real lab: a node that cannot be reached, and nodes that lose power in the
middle of a deploy. The deploy must report the unreachable node and converge the others; after a
power cut the next run converges the node, and nothing is lost (fstab byte for byte, or
restorable from its backup).

Runs last (see conftest's FILE_ORDER): it cuts power to w2, and boots it again on its disks.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

pytestmark = pytest.mark.lab

# w2 made to need both the firewall and the swap task again: no cluster zone, swap back on.
UNDO_FIREWALL_AND_SWAP = (
    "firewall-cmd --permanent --delete-zone=kubeprep && firewall-cmd --reload"
    " && cp /etc/fstab.kubeprep.bak /etc/fstab && systemctl unmask swap.target"
    " && systemctl daemon-reload && swapon -a"
)


def sh(lab, node: str, command: str) -> str:
    return lab.run(node, command, check=True).stdout


def deploy(lab, *args: str) -> tuple[int, dict]:
    result = lab.pyinfra("--json", *args, "deploy.py")
    return result.rc, json.loads(result.stdout)["results"]


def changed(results: dict) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for op in results["operations"]:
        for host in op["success"]:
            found.setdefault(host, set()).add(op["name"].split(" | ")[-1])
    return found


def check_converged(lab, node: str, fstab_before: str) -> None:
    """No swap, only the swap lines of ``fstab_before`` commented, the zones as kubeprep sets them."""
    assert sh(lab, node, "swapon --show --noheadings").strip() == ""
    after = sh(lab, node, "cat /etc/fstab").split("\n")
    before = fstab_before.split("\n")
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        is_swap = not old.startswith("#") and len(old.split()) > 2 and old.split()[2] == "swap"
        assert new == ("#kubeprep# " + old if is_swap else old), (old, new)
    sources = set(sh(lab, node, "firewall-cmd --zone=kubeprep --list-sources").split())
    assert sources == set(lab.cluster_address.values())


@pytest.fixture(scope="module")
def converged(lab):
    """Every node converged, whatever ran before; w2's fstab as the installer left it."""
    rc, _ = deploy(lab)
    assert rc == 0
    return sh(lab, "w2", "cat /etc/fstab.kubeprep.bak")


def test_unreachable_node_is_reported_and_the_others_converge(lab, converged):
    sh(lab, "w1", "sysctl -w net.ipv4.ip_forward=0")
    lab.lab("poweroff", "w2")
    try:
        result = lab.pyinfra("deploy.py")
    finally:
        lab.lab("poweron", "w2", timeout=900)
    output = result.stdout + result.stderr
    print("FAULT w2 powered off during a deploy of all:", *(
        line.strip() for line in output.splitlines() if "[w2]" in line), f"rc={result.rc}")
    assert result.rc != 0, output[-3000:]
    assert "[w2]" in output and "Could not connect" in output, output[-3000:]
    assert sh(lab, "w1", "sysctl -n net.ipv4.ip_forward").strip() == "1"
    rc, results = deploy(lab)
    assert rc == 0 and changed(results) == {}  # w2 was converged before the cut


def cut_power_during(lab, operation: str, delay: float) -> str:
    """Start a deploy on w2 and kill w2's qemu ``delay`` s after ``operation`` starts on it."""
    process = subprocess.Popen(
        [str(lab.repo_dir / ".venv/bin/pyinfra"), "-y", "lab/inventory.py", "--limit", "w2",
         "deploy.py"],
        cwd=lab.repo_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "Starting operation:" in line and operation in line:
            time.sleep(delay)
            lab.lab("poweroff", "w2")
            break
    seen.extend(process.stdout)
    process.wait(timeout=600)
    output = "".join(seen)
    assert process.returncode != 0, output[-3000:]
    return output


@pytest.mark.parametrize(("operation", "delay"), [
    ("Open every node port to the cluster zone", 2.0),  # inside the firewall task
    ("Swap off, now and at boot", 1.0),  # between swapoff and the fstab edit
])
def test_power_cut_mid_deploy_is_converged_by_the_next_run(lab, converged, operation, delay):
    sh(lab, "w2", UNDO_FIREWALL_AND_SWAP)
    assert sh(lab, "w2", "swapon --show --noheadings").strip() != ""
    output = cut_power_during(lab, operation, delay)
    assert "w2" in output
    lab.lab("poweron", "w2", timeout=900)
    fstab = sh(lab, "w2", "cat /etc/fstab")
    zones = sh(lab, "w2", "firewall-cmd --get-zones").split()
    swaps = sh(lab, "w2", "swapon --show=NAME --noheadings").split()
    last = [line.strip() for line in output.splitlines() if "Starting operation" in line][-1]
    print(f"FAULT power cut {delay} s into {operation!r}; last started: {last}; after power-on: "
          f"fstab {'as installed' if fstab == converged else 'swap lines commented'}, "
          f"zone kubeprep {'present' if 'kubeprep' in zones else 'absent'}, swap {swaps or 'off'}")
    # Nothing lost: fstab is the original or the original with swap commented; the backup holds.
    assert sh(lab, "w2", "cat /etc/fstab.kubeprep.bak") == converged
    assert fstab == converged or fstab.replace("#kubeprep# ", "") == converged
    rc, results = deploy(lab, "--limit", "w2")
    assert rc == 0, results
    print(f"FAULT next run changed: {sorted(changed(results).get('w2', []))}")
    check_converged(lab, "w2", converged)
    rc, results = deploy(lab, "--limit", "w2")
    assert rc == 0 and changed(results) == {}
