# Control-plane nodes. Open to everyone: the API server.
firewall_ports = ["6443/tcp"]
# Only from cluster nodes: etcd, kubelet, controller-manager, scheduler.
firewall_cluster_ports = ["2379-2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp"]
