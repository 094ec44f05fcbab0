"""From fresh machines to a cluster: account, firewall, swap, kernel, selinux (the nodes are ready
for kubeadm), then runtime, kubernetes and cluster, as far as the data key ``deploy_until`` says.

    pyinfra inventory.py deploy.py          # apply
    pyinfra inventory.py deploy.py --dry    # show what would change
"""

from pyinfra import local

from kubeprep.fleet.hosts import checked_host
from kubeprep.keys import DEPLOY_STAGES

# Data and platform are checked for every host before any task adds an operation.
checked = checked_host()
if checked:
    local.include("tasks/account.py")
    local.include("tasks/firewall.py")
    local.include("tasks/swap.py")
    local.include("tasks/kernel.py")
    local.include("tasks/selinux.py")
    stages = DEPLOY_STAGES[1:DEPLOY_STAGES.index(checked[0].deploy_until) + 1]
    if "runtime" in stages:
        local.include("tasks/runtime.py")
    if "kubernetes" in stages:
        local.include("tasks/kubernetes.py")
    if "cluster" in stages:
        local.include("tasks/cluster.py")
