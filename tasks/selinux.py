"""The selinux task alone: pyinfra inventory.py tasks/selinux.py."""

from kubeprep.deploys.selinux import selinux

selinux()
