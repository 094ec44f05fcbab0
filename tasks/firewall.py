"""The firewall task alone: pyinfra inventory.py tasks/firewall.py."""

from kubeprep.deploys.firewall import firewall

firewall()
