"""
Upgrade a running kubeadm cluster as kubeadm's upgrade guide orders it: ``kubeadm upgrade
apply`` on the first control plane after an etcd snapshot, then one node at a time drained,
``kubeadm upgrade node``, the kubelet and kubectl upgraded, the kubelet restarted, uncordoned.

Every node taking part calls ``drain``, ``node`` and ``uncordon`` for every node of the plan
(each does nothing on the others): pyinfra runs an operation on every host before the next, so
a node's upgrade waits for its drain on the first control plane, and the next drain for its
uncordon. A node is upgraded only once its drain succeeded in this run, and uncordoned only once
its upgrade did; else the first control plane stops there, so no later node is drained.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from pyinfra import host, logger, state
from pyinfra.api import FunctionCommand, StringCommand, operation
from pyinfra.api.command import QuoteString
from pyinfra.api.host import Host
from pyinfra.api.state import State

from kubeprep.fleet.remote import run_on
from kubeprep.kubeadm import UPGRADE_CONFIG
from kubeprep.node_files import ETCD_DATA_DIR
from kubeprep.operations.kubeadm import CRICTL, KUBECTL, drain_command, first_failed, retried
from kubeprep.operations.kubernetes import packages

# The version kubeadm upgrades to: the just upgraded kubeadm's own (the data may name a minor).
KUBEADM_VERSION = '"$(kubeadm version -o short)"'
# How often, 10 s apart, the uncordon and the wait for Ready (5 s each time) are tried: on a
# control plane the new kubelet restarts the static pods, so its API server may not answer for
# minutes (on the lab's cp1 both `kubectl uncordon` and, once that went through, `kubectl wait`
# met connection refused). 60 tries: at least 15 minutes for a node to be Ready again.
UNCORDON_TRIES = 60
UNCORDON_PAUSE = 10
# etcdctl in kubeadm's etcd container, with the certificates kubeadm made for its health check.
ETCDCTL = (
    "etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt "
    "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt "
    "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key"
)
SNAPSHOT_FILE = f"{ETCD_DATA_DIR}/kubeprep-snapshot.db"  # etcd's data folder: in its container
# The nodes drained, then upgraded, in this run (by inventory name).
_drained: WeakKeyDictionary[State, set[str]] = WeakKeyDictionary()
_upgraded: WeakKeyDictionary[State, set[str]] = WeakKeyDictionary()


@operation()
def apply(cluster: str, snapshot_dir: str, config: str = UPGRADE_CONFIG):
    """
    On the first control plane, with kubeadm already upgraded: an etcd snapshot kept in
    ``snapshot_dir`` (its path in the run's output), ``kubeadm upgrade plan``, then ``kubeadm
    upgrade apply -y`` to the installed kubeadm's version.

    + cluster: the cluster's version before (``v1.36.3``), in the snapshot's name
    + snapshot_dir: where the snapshot is kept, made mode 700
    + config: kubeadm's UpgradeConfiguration (``kubeprep.kubeadm.upgrade_config``)

    **Example:**

    .. code:: python

        upgrade.apply(name="kubeadm upgrade apply", cluster="v1.36.3",
                      snapshot_dir="/var/lib/kubeprep/etcd-snapshots")
    """
    yield FunctionCommand(_snapshot, (cluster, snapshot_dir), {})
    yield StringCommand("kubeadm upgrade plan", KUBEADM_VERSION)
    yield StringCommand("kubeadm upgrade apply", KUBEADM_VERSION, "--config", QuoteString(config),
                        "-y")


def snapshot_command(cluster: str, snapshot_dir: str) -> StringCommand:
    """Save etcd's snapshot inside its container, then move it to ``snapshot_dir``, printing
    its path."""
    return StringCommand(
        f"etcd=$({CRICTL} ps --name '^etcd$' -q | head -n 1) && [ -n \"$etcd\" ] &&",
        CRICTL, 'exec "$etcd"', ETCDCTL, "snapshot save", SNAPSHOT_FILE, ">&2 &&",
        "mkdir -p -m 700", QuoteString(snapshot_dir), "&& path=$(printf '%s/etcd-%s-%s.db'",
        QuoteString(snapshot_dir), QuoteString(cluster), '"$(date +%Y%m%dT%H%M%S)") &&',
        "mv", SNAPSHOT_FILE, '"$path" && echo "$path"',
    )


def _snapshot(state: State, host: Host, cluster: str, snapshot_dir: str) -> bool:
    ok, output = run_on(state, host, snapshot_command(cluster, snapshot_dir))
    if not ok:
        logger.error(
            f"{host.print_prefix}kubeprep: no etcd snapshot on {host.name} (etcdctl in "
            f"kubeadm's etcd container: {output.stderr or output.stdout}), so nothing is "
            "upgraded. Fix: make `crictl exec <etcd container> etcdctl ... snapshot save` work "
            f"on {host.name} (an etcd image with etcdctl, as registry.k8s.io's), then run "
            "kubeprep again.",
        )
        return False
    logger.info(f"{host.print_prefix}kubeprep: etcd snapshot before the upgrade: {output.stdout}")
    return True


@operation()
def drain(first: str, node: str, in_cluster: str, version: str):
    """
    Drain a node before its upgrade, on the first control plane; nothing elsewhere. A drain a
    PodDisruptionBudget stops fails with kubectl's message, the node left cordoned and said so.

    + first: the first control plane's inventory name
    + node: the node's inventory name
    + in_cluster: its name in the cluster
    + version: the version it is upgraded to, for the messages

    **Example:**

    .. code:: python

        upgrade.drain(name="Drain w1", first="cp1", node="w1", in_cluster="w1",
                      version="1.37.2")
    """
    if host.name != first:
        host.noop(f"{node} is drained on {first}")
        return
    yield drain_command(in_cluster, (
        f"{in_cluster} is left cordoned and not upgraded to {version}; the nodes after it "
        "wait. Fix: relax that budget or give its workload room on other nodes, or wait until "
        f"the API server answers, then run kubeprep again: it goes on from {in_cluster}"))
    yield FunctionCommand(_mark_drained, (node,), {})


def _mark_drained(state: State, host: Host, node: str) -> bool:
    _drained.setdefault(state, set()).add(node)
    return True


def _mark_upgraded(state: State, host: Host, node: str) -> bool:
    _upgraded.setdefault(state, set()).add(node)
    return True


@operation()
def node(node: str, first: str, version: str, apt: bool, config: str = UPGRADE_CONFIG):
    """
    Upgrade this node, if it is ``node`` and ``drain`` drained it earlier in the run: ``kubeadm
    upgrade node`` (but on the first control plane, where ``apply`` ran), the kubelet and
    kubectl upgraded and held, the kubelet restarted; nothing on the others.

    + node: the inventory name of the node upgraded now
    + first: the first control plane's inventory name
    + version: ``kubernetes_version``
    + apt: ``True`` on Debian and Ubuntu, ``False`` on dnf systems
    + config: kubeadm's UpgradeConfiguration (``kubeprep.kubeadm.upgrade_config``)

    **Example:**

    .. code:: python

        upgrade.node(name="Upgrade w1", node="w1", first="cp1", version="1.37.2", apt=True)
    """
    if host.name != node:
        host.noop(f"{node} is upgraded now")
        return
    if state.is_executing and node not in _drained.get(state, ()):
        yield FunctionCommand(first_failed, (
            first, f"is not upgraded: {first} did not drain it", "the drain is one operation "
            "before the upgrade"), {})
        return
    if host.name != first:
        yield StringCommand("kubeadm upgrade node --config", QuoteString(config))
    # The cluster says the running kubelet is old: it restarts even where its package is at
    # the version (a run cut between the two).
    yield from packages._inner(version=version, apt=apt, names=("kubelet", "kubectl"),
                               restart=True)
    yield FunctionCommand(_mark_upgraded, (node,), {})


@operation()
def uncordon(first: str, node: str, in_cluster: str):
    """
    Uncordon a node once ``node`` upgraded it earlier in the run, and wait until it is Ready,
    on the first control plane; nothing elsewhere. A node whose upgrade failed stays cordoned
    and the first control plane stops, so no later node is drained.

    + first: the first control plane's inventory name
    + node: the node's inventory name
    + in_cluster: its name in the cluster

    **Example:**

    .. code:: python

        upgrade.uncordon(name="Uncordon w1", first="cp1", node="w1", in_cluster="w1")
    """
    if host.name != first:
        host.noop(f"{node} is uncordoned on {first}")
        return
    if state.is_executing and node not in _upgraded.get(state, ()):
        yield FunctionCommand(_not_upgraded, (node, in_cluster), {})
        return
    yield uncordon_command(in_cluster, (
        f"kubeprep: {in_cluster} was not seen uncordoned and Ready in {UNCORDON_TRIES} tries "
        f"{UNCORDON_PAUSE} s apart after {node}'s kubelet restarted (kubectl's messages above "
        "say why: an API server that does not answer, a node not Ready): the nodes after it "
        f"wait. Fix: once `{KUBECTL} get nodes` answers on {first} and shows {in_cluster} "
        f"Ready, `kubectl uncordon {in_cluster}`, then run kubeprep again: it goes on from the "
        "next node."))


def uncordon_command(name: str, why: str) -> StringCommand:
    """``kubectl uncordon`` of the cluster's node ``name``, then ``kubectl wait`` for it to be
    Ready, tried until both pass (``UNCORDON_TRIES`` times ``UNCORDON_PAUSE`` s apart); then
    ``why`` on standard error."""
    return retried(
        (f"{KUBECTL} uncordon", QuoteString(name), f"&& {KUBECTL} wait --for=condition=Ready",
         QuoteString(f"node/{name}"), "--timeout=5s"),
        UNCORDON_TRIES, UNCORDON_PAUSE, "echo", QuoteString(why), ">&2;",
    )


def _not_upgraded(state: State, host: Host, node: str, in_cluster: str) -> bool:
    logger.error(
        f"{host.print_prefix}kubeprep: {node}'s upgrade failed (see its error): {in_cluster} "
        f"stays cordoned and no later node is drained. Fix: correct {node}, then run kubeprep "
        "again: the upgrade goes on from it.",
    )
    return False
