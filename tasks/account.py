"""The account task alone: pyinfra inventory.py tasks/account.py."""

from kubeprep.deploys.account import account

account()
