"""The cluster task alone: pyinfra inventory.py tasks/cluster.py."""

from kubeprep.deploys.cluster import cluster

cluster()
