# Worker nodes. Open to everyone: the NodePort range.
firewall_ports = ["30000-32767/tcp"]
# Only from cluster nodes: the kubelet.
firewall_cluster_ports = ["10250/tcp"]
