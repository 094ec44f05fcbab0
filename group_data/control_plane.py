# Control-plane nodes: API server, etcd, kubelet, controller-manager, scheduler.
firewall_ports = ["6443/tcp", "2379-2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp"]
