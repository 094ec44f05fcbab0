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
firewall_ports = []  # the role's ports: see control_plane.py and workers.py
firewall_zone = None  # None: firewalld's default zone (public)
firewall_prune = False  # True: close ports in the zone that are not listed above

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
