"""Files on a node that mean something to another program: what an earlier kubeadm run left,
and SELinux's relabel mark. Pure constants, for the facts that look for them and the checks
that judge what they find."""

# The kubelet's kubeconfig, written by kubeadm init or join: the node has joined a cluster.
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
# The local etcd's data directory: kubeadm init refuses it when it is not empty.
ETCD_DATA_DIR = "/var/lib/etcd"
# What kubeadm refuses from an earlier attempt, per role (cmd/kubeadm/app/preflight/checks.go):
# init's FileAvailable checks of the static Pod manifests and its DirAvailable check of the
# local etcd's data; join's (a worker's) of the kubelet's kubeconfigs and the CA certificate.
KUBEADM_LEFTOVERS = {
    "control_plane": (
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
        "/etc/kubernetes/manifests/kube-scheduler.yaml",
        "/etc/kubernetes/manifests/etcd.yaml",
        ETCD_DATA_DIR,
    ),
    "workers": (
        KUBELET_CONF,
        "/etc/kubernetes/bootstrap-kubelet.conf",
        "/etc/kubernetes/pki/ca.crt",
    ),
}
# The file whose presence makes the next boot relabel the file system for SELinux.
RELABEL_MARK = "/.autorelabel"
