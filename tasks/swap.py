"""The swap task alone: pyinfra inventory.py tasks/swap.py."""

from kubeprep.deploys.swap import swap

swap()
