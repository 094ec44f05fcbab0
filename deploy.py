"""Prepare every host for kubeadm: account, firewall, swap, kernel, selinux, runtime, in that order.

    pyinfra inventory.py deploy.py          # apply
    pyinfra inventory.py deploy.py --dry    # show what would change
"""

from pyinfra import local

from fleet.hosts import checked_host

# Data and platform are checked for every host before any task adds an operation.
if checked_host():
    local.include("tasks/account.py")
    local.include("tasks/firewall.py")
    local.include("tasks/swap.py")
    local.include("tasks/kernel.py")
    local.include("tasks/selinux.py")
    local.include("tasks/runtime.py")
