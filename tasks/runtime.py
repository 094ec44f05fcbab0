"""The runtime task alone: pyinfra inventory.py tasks/runtime.py."""

from kubeprep.deploys.runtime import runtime

runtime()
