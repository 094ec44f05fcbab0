"""pyinfra inventory of the kubeprep VM lab (see lab/README.md).

Static: three VMs booted by `lab/lab up`, reached over SSH port forwards on
127.0.0.1. `cluster_address` is each node's address on the isolated lab
network (192.168.77.0/24), the one the cluster should use.

Honours the same environment as lab/lab:
  KUBEPREP_LAB_PORT_BASE  SSH ports are base+1 (cp1), +2 (w1), +3 (w2); default 2200
The root key is copied by `lab/lab up` to lab/.state/id_ed25519, a stable
path whatever KUBEPREP_LAB_CACHE (where the image and its key live) is.

Usage (from the repo root):
  .venv/bin/pyinfra lab/inventory.py deploy.py
  .venv/bin/pyinfra lab/inventory.py exec -- uname -a
Keep the node table in sync with NODE_TABLE in lab/lib/common.sh.
"""

import os
from pathlib import Path

_LAB_DIR = Path(__file__).resolve().parent
_PORT_BASE = int(os.environ.get("KUBEPREP_LAB_PORT_BASE", "2200"))
_SSH_KEY = str(_LAB_DIR / ".state" / "id_ed25519")


# The lab image serves containerd 1.6 (bookworm, what an unpinned install gets) and 2.x (unstable,
# pinned in lab/image/sid-packages.txt): w2 runs 2.x, so both config formats run for real.
_SID_PACKAGES = dict(
    line.split("=", 1)
    for line in (_LAB_DIR / "image" / "sid-packages.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)
# The lab's Kubernetes, built from its Go modules (lab/k8s-build/), is served on the lab network as
# an air-gapped site serves it: the signed package repository and the image registry mirror that
# `lab/lab up` starts on the host's side of the lab network. The nodes reach them only through
# kubeprep's own data keys below.
_KUBERNETES_VERSIONS = [
    line.strip()
    for line in (_LAB_DIR / "k8s-build" / "kubernetes-versions").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
_SERVER = "192.168.77.250"
_MIRROR = f"http://{_SERVER}:5000"
_COMPANIONS = {
    tuple(line.split()[:2]): line.split()[2]
    for line in (_LAB_DIR / "k8s-build" / "versions").read_text().splitlines()
    if line.strip() and not line.startswith("#")
}
_MINOR = _KUBERNETES_VERSIONS[0].rsplit(".", 1)[0]
KUBERNETES = {
    "kubernetes_version": _KUBERNETES_VERSIONS[0],
    # Plain HTTP on the lab's own network, nobody else on it: accepted, and each run says so.
    "plain_http_accepted": True,
    "kubernetes_repo_url": f"http://{_SERVER}:8099/core:/stable:/v{{minor}}",
    "containerd_registry_mirrors": {"registry.k8s.io": [_MIRROR], "ghcr.io": [_MIRROR]},
    "containerd_sandbox_image": f"registry.k8s.io/pause:{_COMPANIONS[(_MINOR, 'pause')]}",
    # The mirror's etcd and CoreDNS builds: kubeadm's default tags are not served as modules.
    "kubernetes_etcd_image_tag": f"{_COMPANIONS[(_MINOR, 'etcd')]}-0",
    "kubernetes_dns_image_tag": f"v{_COMPANIONS[(_MINOR, 'coredns')]}",
}


# The controllers the lab's cluster uses: kubeadm's (every default one, plus the bootstrap
# token signer and cleaner that joins need) without those for volumes, quotas, autoscaling,
# cron jobs and cloud nodes, which the lab has none of. Every controller is more watches on an
# API server that TCG already keeps busy. The job controller stays: `kubeadm upgrade apply`'s
# health check runs a Job and waits 60 s for it to complete. The names must hold for every minor
# the lab runs: kube-controller-manager 1.37 refuses 1.36's cloud controllers (service-lb,
# cloud-node-lifecycle, node-route; idle without a cloud provider) and exits, which the lab's
# first upgrade to 1.37.2 met.
_LAB_CONTROLLERS = ",".join(["*", "bootstrap-signer-controller", "token-cleaner-controller"] + [
    f"-{name}-controller" for name in (
        "horizontal-pod-autoscaler", "cronjob", "ttl-after-finished", "resourcequota",
        "statefulset", "replicationcontroller", "ephemeral-volume", "resourceclaim",
        "device-taint-eviction", "persistentvolume-attach-detach", "persistentvolume-binder",
        "persistentvolume-expander", "persistentvolume-protection",
        "persistentvolumeclaim-protection", "volumeattributesclass-protection",
        "storage-version-migrator", "validatingadmissionpolicy-status", "podgroup-protection",
        "resourcepoolstatusrequest", "kube-apiserver-serving-clustertrustbundle-publisher")])


_PATIENT_LIVENESS = {"periodSeconds": 30, "timeoutSeconds": 30, "failureThreshold": 20}


def _node(name: str, index: int, cluster_address: str, **data: str) -> tuple[str, dict]:
    return (
        name,
        {
            "ssh_hostname": "127.0.0.1",
            "ssh_port": _PORT_BASE + index,
            "ssh_user": "root",
            "ssh_key": _SSH_KEY,
            "ssh_strict_host_key_checking": "no",
            "ssh_known_hosts_file": "/dev/null",
            "cluster_address": cluster_address,
            # All the way: kubeadm init on cp1, w1 and w2 joined, flannel from the lab's
            # manifest. The data below is what a control plane under TCG on 2 host cores needs
            # to stay up (docs/cluster.md).
            "deploy_until": "cluster",
            "cni": "flannel",
            "cni_manifest": str(_LAB_DIR / "cluster" / "kube-flannel.yml"),
            # TCG VMs are slow: kubeadm waits longer for the static pods, the kubelet and the
            # API server's answers (its RBAC bootstrap takes minutes here), and an upgrade for
            # each static pod's restart.
            "kubernetes_timeouts": {name: "15m" for name in (
                "controlPlaneComponentHealthCheck", "kubeletHealthCheck", "tlsBootstrap",
                "kubernetesAPICall", "etcdAPICall", "upgradeManifests")},
            # a control plane under TCG spends its CPU on TLS handshakes: ECDSA keys, not RSA
            "kubernetes_encryption_algorithm": "ECDSA-P256",
            # and the controller-manager and the scheduler lost their 15 s leader lease to a
            # slow API server and restarted ("Leaderelection lost"): longer leases
            "kubernetes_control_plane_args": {
                **{component: {"leader-elect-lease-duration": "60s",
                               "leader-elect-renew-deadline": "50s",
                               "leader-elect-retry-period": "10s"}
                   for component in ("controllerManager", "scheduler")},
                # one client set, no need for fair queueing between tenants
                "apiServer": {"enable-priority-and-fairness": "false"},
            } | {"controllerManager": {"leader-elect-lease-duration": "60s",
                                       "leader-elect-renew-deadline": "50s",
                                       "leader-elect-retry-period": "10s",
                                       "controllers": _LAB_CONTROLLERS,
                                       # a node is unhealthy after missing 3 renewals, not 1
                                       "node-monitor-grace-period": "180s"}},
            # The joined workers' kubelets were what tipped cp1 over (with them paused its API
            # server became ready again within 3 minutes): fewer status writes and lease
            # renewals (every 30 s, not 10 s), fewer events, for every kubelet.
            "kubernetes_kubelet_config": {
                "nodeStatusUpdateFrequency": "1m", "nodeLeaseDurationSeconds": 120,
                "eventRecordQPS": 5},
            # A restarted API server under TCG is met by every client's relist at once, and
            # restarted again before its RBAC bootstrap ends: the kubelet gives the control
            # plane's containers 10 minutes of failed liveness probes, not 80 s, and asks the
            # API server's /readyz every 10 s, not every second (a TLS handshake each).
            "kubernetes_control_plane_probes": {
                component: {"livenessProbe": _PATIENT_LIVENESS}
                for component in ("controllerManager", "scheduler", "etcd")
            } | {"apiServer": {"livenessProbe": _PATIENT_LIVENESS,
                               "readinessProbe": {"periodSeconds": 10, "timeoutSeconds": 30}}},
            # and on garbage collection: collect less often
            "kubernetes_control_plane_env": {
                "apiServer": {"GOGC": "200"},
                **{component: {"GOGC": "400"}
                   for component in ("controllerManager", "scheduler", "etcd")},
            },
            **KUBERNETES,
            **data,
        },
    )


control_plane = [_node("cp1", 1, "192.168.77.11")]
workers = [
    _node("w1", 2, "192.168.77.21"),
    _node("w2", 3, "192.168.77.22", containerd_version=_SID_PACKAGES["containerd"]),
]
