"""The kubernetes task alone: pyinfra inventory.py tasks/kubernetes.py."""

from kubeprep.deploys.kubernetes import kubernetes

kubernetes()
