# Defaults for every host; control_plane.py and workers.py set the per-role keys. The inventory
# and the command line (--data key=value) override these. Every key is documented in
# docs/data-keys.md and declared in kubeprep/keys.py; a test keeps the three in step.

# How far deploy.py goes: "ready" (account, firewall, swap, kernel, selinux: the nodes are ready
# for kubeadm), "runtime" (+ containerd), "kubernetes" (+ kubelet/kubeadm/kubectl), "cluster"
# (+ kubeadm init, joins, the CNI).
deploy_until = "cluster"

# --- account: the non-root admin user
admin_user = "kubeadmin"
# crypt(3) hash, never plain text: `openssl passwd -6` or `mkpasswd -m sha-512`.
# None creates the user with a locked password (SSH key login only).
admin_password_hash = None
admin_ssh_keys = []  # OpenSSH public key lines, e.g. "ssh-ed25519 AAAA... me@laptop"
admin_sudo = False  # add the user to wheel (RHEL) or sudo (Debian/Ubuntu)
admin_shell = "/bin/bash"

# --- firewall
firewall_ssh_port = "22/tcp"  # opened first, before firewalld can start, on every host
# firewall_ports (open to everyone) and firewall_cluster_ports (only the cluster's nodes reach
# them) are per role: see control_plane.py and workers.py.
firewall_zone = None  # None: firewalld's default zone (public)
firewall_prune = False  # True: close ports in that zone that are not listed
# True: firewall_cluster_ports (and the CNI's ports) are open only to the cluster's nodes, in a
# zone of their own whose sources are every node's cluster_address. False: the write-up's way,
# every port open to every source in firewall_zone.
firewall_cluster_only = True
firewall_cluster_zone = "kubeprep"  # owned by kubeprep: its sources and ports are kept exact
# Open ports through firewalld's kube-control-plane-secure / kube-worker definitions where one
# opens only listed ports (firewalld >= 1.2); the rest as plain ports.
firewall_services = True
# Another firewall (an active ufw, nftables.service or iptables.service with rules of its own)
# still drops what firewalld opens. False: such a host is refused before anything changes.
# True: the firewall task stops and disables it before firewalld starts.
firewall_disable_others = False

# --- CNI: "none", "flannel", "calico" or "cilium". Opens the CNI's ports and protocols between
# nodes and trusts the pod and service networks (docs/firewall.md, "CNI presets").
cni = "none"
cni_pod_cidr = "10.244.0.0/16"  # kubeadm init --pod-network-cidr; set your CNI to the same
cni_service_cidr = "10.96.0.0/12"  # kubeadm's default --service-cidr

# --- swap: "off" (the kubelet's default) or "keep" (leave swap alone)
swap = "off"

# --- kernel
kernel_modules = ["overlay", "br_netfilter"]
kernel_modules_file = "/etc/modules-load.d/k8s.conf"
kernel_sysctls = {
    "net.bridge.bridge-nf-call-iptables": 1,
    "net.bridge.bridge-nf-call-ip6tables": 1,
    "net.ipv4.ip_forward": 1,
}
kernel_sysctl_file = "/etc/sysctl.d/k8s.conf"

# --- selinux: "enforcing", "permissive" (kubeadm's install guide) or "disabled"
selinux_mode = "permissive"

# --- runtime: containerd, set up for the kubelet (docs/runtime.md)
# The cgroup driver of containerd (SystemdCgroup) now and of the kubelet (cgroupDriver) later:
# "systemd" (kubeadm's default since 1.22, for systemd hosts) or "cgroupfs". They must match.
cgroup_driver = "systemd"
containerd_package = None  # None: "containerd" on Debian/Ubuntu, "containerd.io" on the RHEL family
containerd_version = None  # None: the newest the repository has; else as apt/dnf list it
# RHEL family only (it ships no containerd): Docker's repository, or your mirror of it. None: the
# package comes from a repository the host already has.
containerd_rpm_repo = "https://download.docker.com/linux/centos/$releasever/$basearch/stable"
containerd_rpm_gpg_key = "https://download.docker.com/linux/centos/gpg"
# The pod sandbox (pause) image, with its registry host: the one `kubeadm config images list`
# names for your Kubernetes version (air-gapped: pulled through containerd_registry_mirrors).
containerd_sandbox_image = "registry.k8s.io/pause:3.10"
containerd_cni_bin_dir = None  # None: /usr/lib/cni on Debian/Ubuntu, /opt/cni/bin on RHEL
# Pull through mirrors, tried in order before the registry itself, e.g.
# {"docker.io": ["https://mirror.example.com:5000"], "registry.k8s.io": ["http://10.0.0.5:5000"]}
containerd_registry_mirrors = {}
# PEM of the CA that signs your https:// registry mirrors' certificates (kept in certs.d and named
# in their hosts files), e.g. Path("site-ca.pem").read_text(); None: the system's CAs.
containerd_registry_ca = None
# True: http:// repositories, registry mirrors and manifests are accepted (nothing proves that
# what they serve is what was published: anyone on the path could swap it); False refuses them.
plain_http_accepted = False

# --- kubernetes: packages (tasks/kubernetes.py) and the cluster (tasks/cluster.py).
# "1.N" installs the minor's newest patch and holds it; "1.N.P" pins it (1.31 or newer). The
# readiness check (check.py) reads it too: cgroup v1 is an error from 1.35 (the kubelet refuses
# it), a warning before, and the kernel levels are that minor's.
kubernetes_version = "1.35"
# The minor's repository; a mirror laid out like pkgs.k8s.io works ({minor} becomes e.g. 1.35).
kubernetes_repo_url = "https://pkgs.k8s.io/core:/stable:/v{minor}"
kubernetes_allow_downgrade = False  # True: a lower kubernetes_version downgrades the packages
# "host:port" every node reaches (a load balancer or DNS name for several control planes);
# None: the first control plane's cluster_address, port 6443.
kubernetes_control_plane_endpoint = None
kubernetes_swap_behavior = "LimitedSwap"  # with swap = "keep": the kubelet's memorySwap behaviour
kubernetes_config_file = "/etc/kubernetes/kubeadm-config.yaml"  # kubeadm's config, per node
# The CNI's manifest: an http(s) URL or a path on the machine running pyinfra (air-gapped);
# None: the preset's upstream manifest (flannel, calico; cilium needs one).
cni_manifest = None
# Air-gapped: kubeadm's image repository, and the etcd and CoreDNS tags a mirror serves instead of
# kubeadm's defaults (None: kubeadm's own).
kubernetes_image_repository = None
kubernetes_etcd_image_tag = None
kubernetes_dns_image_tag = None
# kubeadm's timeouts for init and join (v1beta4 names, Go durations), e.g. on slow machines
# {"controlPlaneComponentHealthCheck": "10m", "kubeletHealthCheck": "10m"}; {}: kubeadm's.
kubernetes_timeouts = {}
# Extra flags per control-plane component (kubeadm's extraArgs), flag name without dashes, e.g.
# {"controllerManager": {"leader-elect-lease-duration": "60s"}}; {}: kubeadm's.
kubernetes_control_plane_args = {}
# Environment variables per control-plane component (kubeadm's extraEnvs), e.g.
# {"apiServer": {"GOGC": "200"}}; {}: none.
kubernetes_control_plane_env = {}
# More KubeletConfiguration fields for every node (set at init: the cluster's kubelet-config), e.g.
# {"nodeStatusUpdateFrequency": "1m"}; {}: the kubelet's defaults.
kubernetes_kubelet_config = {}
# The control-plane static pods' probes (kubeadm patches at init and join), per component, e.g.
# {"apiServer": {"livenessProbe": {"failureThreshold": 30}}}; {}: kubeadm's.
kubernetes_control_plane_probes = {}
# Renew a control plane's kubeadm certificates once one has fewer days left than this (kubeadm's
# last: 365 days), its static pods restarted one at a time; 0: never.
kubernetes_certificate_renewal_days = 0
# kubeadm's encryptionAlgorithm for the cluster's keys, e.g. "ECDSA-P256"; None: kubeadm's RSA-2048.
kubernetes_encryption_algorithm = None
# Nodes to take out of the cluster, by their inventory names, e.g. ["w2"] (drained and deleted on
# the first control plane, then reset); out of the list again, the next run joins them.
kubernetes_removed_nodes = []
# True: the list may hold every control plane; their reset ends the cluster and its etcd data.
kubernetes_remove_last_control_plane = False
# Where the first control plane keeps the etcd snapshot it takes before each kubeadm upgrade apply.
kubernetes_etcd_snapshot_dir = "/var/lib/kubeprep/etcd-snapshots"
