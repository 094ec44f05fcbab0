# Defaults for every host. control_plane.py and workers.py override per role; the inventory and
# the command line (--data key=value) override these. Every key is documented in the README.

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
firewall_ports = []  # the role's ports open to everyone: see control_plane.py and workers.py
firewall_cluster_ports = []  # the role's ports only cluster nodes reach: see the role files
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
# nodes and trusts the pod and service networks (README, "CNI presets").
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

# --- readiness check (check.py): the Kubernetes minor version the nodes will run. It decides
# whether cgroup v1 is an error (the kubelet refuses it from 1.35) or a warning.
kubernetes_version = "1.35"
