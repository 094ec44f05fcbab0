"""The cluster bench (``./run bench --cluster``): 3 pristine VMs to every node Ready, the time
per task, the no-change re-run against the floor, then (``--upgrade``) the upgrade to the lab's
next minor, per node. Prints figures, asserts nothing."""

from __future__ import annotations

import json
import runpy
import subprocess
import time

from timing import PREPARE, ROOT, Timing, lab, timed

OLD, NEW = runpy.run_path(str(ROOT / "lab/inventory.py"))["_KUBERNETES_VERSIONS"]
CLUSTER = ["--data", "deploy_until=cluster"]
NODES = ("cp1", "w1", "w2")
NODE_LIST = "kubectl --kubeconfig=/etc/kubernetes/admin.conf get nodes -o json"


def ready_at(version: str) -> bool:
    """Whether cp1's API server lists every lab node Ready with its kubelet at ``version``."""
    listed = subprocess.run([str(ROOT / "lab/lab"), "ssh", "cp1", NODE_LIST], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    if listed.returncode != 0:
        return False
    found = {item["metadata"]["name"]: (
        item["status"]["nodeInfo"]["kubeletVersion"],
        any(c["type"] == "Ready" and c["status"] == "True" for c in item["status"]["conditions"]),
    ) for item in json.loads(listed.stdout)["items"]}
    return found == {node: (f"v{version}", True) for node in NODES}


def wait_ready(version: str, timeout: float = 1800) -> float:
    """The monotonic moment every node was first seen Ready at ``version`` (polled every 5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready_at(version):
                return time.monotonic()
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"not every node Ready at {version} within {timeout:.0f} s")
        time.sleep(5)


def per_node_upgrade(upgrade: Timing) -> dict[str, float]:
    """Seconds per node of its drain, upgrade and uncordon (with the wait for Ready): the
    operations "Drain w1 for 1.37.2", "Upgrade w1 to 1.37.2", "Uncordon w1, Ready at 1.37.2"."""
    took = dict.fromkeys(NODES, 0.0)
    for name, seconds in upgrade.phases.items():
        step, node = (name.split()[:2] + ["", ""])[:2]
        if step in ("Drain", "Upgrade", "Uncordon") and node.rstrip(",") in took:
            took[node.rstrip(",")] += seconds
    return took


def cluster_bench(upgrade: bool) -> None:
    lab("kube")  # the lab's Kubernetes packages and images, built or reused
    lab("reset")
    # as the cluster tests do: under TCG the control plane on cp1 gets the CPU first
    lab("nice", "19", "w1", "w2")
    floor = timed(["exec", "--", "true"])
    started = time.monotonic()
    converge = timed([*CLUSTER, "deploy.py"])
    ready = wait_ready(OLD) - started
    rerun = timed([*CLUSTER, "deploy.py"])
    print(f"\n3 pristine nodes to a cluster at {OLD} (deploy_until = cluster)\n")
    print("| task | first converge |")
    print("|---|---|")
    for task, seconds in converge.tasks.items():
        print(f"| {task or PREPARE} | {seconds:.1f} s |")
    print(f"| the deploy | {converge.seconds:.1f} s |")
    print(f"| every node Ready, from the deploy's start | {ready:.1f} s "
          f"(+{ready - converge.seconds:.1f} s after it) |")
    print(f"\nno-change re-run: {rerun.seconds:.1f} s ({rerun.seconds / floor.seconds:.1f}x the "
          f"floor `exec -- true`, {floor.seconds:.1f} s)")
    slowest = sorted(rerun.phases.items(), key=lambda item: -item[1])[:6]
    print("where the re-run goes: " + "; ".join(f"{name} {seconds:.1f} s"
                                                 for name, seconds in slowest))
    if not upgrade:
        return
    started = time.monotonic()
    upgraded = timed([*CLUSTER, "--data", f"kubernetes_version={NEW}", "deploy.py"])
    ready = wait_ready(NEW) - started
    again = timed([*CLUSTER, "--data", f"kubernetes_version={NEW}", "deploy.py"])
    nodes = ", ".join(f"{node} {seconds:.1f} s" for node, seconds in
                      per_node_upgrade(upgraded).items())
    apply = sum(seconds for name, seconds in upgraded.phases.items()
                if name.startswith("kubeadm upgrade apply"))
    print(f"\nupgrade {OLD} -> {NEW} on 3 nodes: {upgraded.seconds:.1f} s, every node Ready at "
          f"{NEW} after {ready:.1f} s; kubeadm upgrade apply (etcd snapshot, plan, apply) "
          f"{apply:.1f} s; per node, drain to Ready: {nodes}; the re-run after it "
          f"{again.seconds:.1f} s")
