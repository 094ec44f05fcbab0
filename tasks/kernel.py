"""The kernel task alone: pyinfra inventory.py tasks/kernel.py."""

from kubeprep.deploys.kernel import kernel

kernel()
