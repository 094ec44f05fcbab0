"""A running cluster's upgrade to the data's ``kubernetes_version``, as kubeadm's upgrade guide
orders it: ``kubeadm upgrade apply`` on the first control plane, then each node in turn
(control planes first, then workers): drained, ``kubeadm upgrade node`` on all but the first,
the kubelet and kubectl upgraded, the kubelet restarted, uncordoned and Ready again.

What is left to do is read from the cluster itself (``ClusterVersions`` on the first control
plane): its version, and each node's running kubelet. So a run cut anywhere resumes where it
stopped, and a kubelet upgraded but not restarted is not taken for done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeprep.kubeadm import downgrades, matches, minor_skipped


@dataclass(frozen=True)
class UpgradePlan:
    version: str  # the data's kubernetes_version: 1.N or 1.N.P
    cluster: str | None  # the cluster's version (kubeadm-config): v1.36.3
    apply: bool  # kubeadm upgrade apply on the first control plane
    # (inventory name, name in the cluster) of each node whose kubelet is not at version, in
    # upgrade order
    nodes: tuple[tuple[str, str], ...]
    cordoned: tuple[str, ...] = ()  # cluster names of nodes at version yet cordoned
    # cluster name -> the running kubelet's version, for each node of ``nodes``
    kubelets: Mapping[str, str] = field(default_factory=dict)

    @property
    def busy(self) -> bool:
        return self.apply or bool(self.nodes)

    def takes_part(self, name: str, first: str) -> bool:
        """Whether the node ``name`` has operations in the upgrade: the first control plane
        (the apply, the drains) and every node upgraded."""
        return self.busy and (name == first or name in dict(self.nodes))


def upgrade_plan(version: str, cluster: Mapping[str, Any], addresses: Mapping[str, str],
                 order: Sequence[str]) -> UpgradePlan:
    """What upgrading the cluster to ``version`` leaves to do: ``addresses`` maps the inventory
    names of ``order`` (first control plane, other control planes, workers) to their cluster
    addresses; ``cluster`` is what ``kubeprep.facts.kubernetes.ClusterVersions`` reads. Nodes of
    the cluster outside ``order`` are left alone."""
    names = {node["address"]: name for name, node in cluster["nodes"].items()}
    behind = tuple(
        (name, names[addresses[name]]) for name in order
        if addresses.get(name) in names
        and not matches(cluster["nodes"][names[addresses[name]]]["kubelet"], version)
    )
    cordoned = tuple(names[addresses[name]] for name in order if addresses.get(name) in names
                     and (name, names[addresses[name]]) not in behind
                     and cluster["nodes"][names[addresses[name]]]["cordoned"])
    current = cluster["version"]
    return UpgradePlan(version, current, bool(current) and not matches(current, version), behind,
                       cordoned, {node: cluster["nodes"][node]["kubelet"] for _, node in behind})


def plan_steps(plan: UpgradePlan, first: str) -> list[str]:
    """The plan a numbered step per line, as the run (and ``--dry``) prints it: what ``kubeadm
    upgrade apply`` moves on ``first``, then each node in turn."""
    steps = [
        f"{first}: an etcd snapshot, then kubeadm upgrade plan and apply: kube-apiserver, "
        f"kube-controller-manager, kube-scheduler and kube-proxy {plan.cluster} -> "
        f"{plan.version}, etcd and CoreDNS to what kubeadm {plan.version} pins",
    ] if plan.apply else []
    steps += [
        f"{name}: drained, {'' if name == first else 'kubeadm upgrade node, '}kubelet and "
        f"kubectl {plan.kubelets[node]} -> {plan.version} and held, the kubelet restarted, "
        "uncordoned, Ready"
        for name, node in plan.nodes
    ]
    return [f"{number}. {step}" for number, step in enumerate(steps, start=1)]


def upgrade_refused(plan: UpgradePlan) -> str | None:
    """Why the cluster cannot go to the plan's version: a downgrade, or a skipped minor (kubeadm
    upgrades a cluster one minor at a time); None when it can."""
    if not plan.cluster:
        return None
    lower = downgrades({"the cluster": plan.cluster}, plan.version)
    if lower:
        return f"would downgrade {lower[0]}: kubeadm does not downgrade a cluster"
    skipped = minor_skipped({"kubeadm": plan.cluster}, plan.version)
    if skipped:
        return (f"would skip {skipped} (the cluster is at {plan.cluster}): kubeadm upgrades a "
                "cluster one minor at a time")
    return None
