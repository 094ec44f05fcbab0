"""Custom pyinfra operations for what pyinfra lacks: firewalld, SELinux mode, swap, sysctl.d,
containerd, Kubernetes packages, kubeadm."""
