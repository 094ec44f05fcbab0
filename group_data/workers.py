# Worker nodes: kubelet and the NodePort range.
firewall_ports = ["10250/tcp", "30000-32767/tcp"]
