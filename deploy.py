"""From fresh machines to a cluster: account, firewall, swap, kernel, selinux (the nodes are ready
for kubeadm), then runtime, kubernetes and cluster, as far as the data key ``deploy_until`` says.

    pyinfra inventory.py deploy.py          # apply
    pyinfra inventory.py deploy.py --dry    # show what would change
"""

from kubeprep.deploys.account import account
from kubeprep.deploys.cluster import cluster
from kubeprep.deploys.firewall import firewall
from kubeprep.deploys.kernel import kernel
from kubeprep.deploys.kubernetes import kubernetes
from kubeprep.deploys.runtime import runtime
from kubeprep.deploys.selinux import selinux
from kubeprep.deploys.swap import swap
from kubeprep.fleet.hosts import checked_host
from kubeprep.keys import DEPLOY_STAGES

# Data and platform are checked for every host before any deploy adds an operation.
checked = checked_host()
if checked:
    account()
    firewall()
    swap()
    kernel()
    selinux()
    stages = DEPLOY_STAGES[1:DEPLOY_STAGES.index(checked[0].deploy_until) + 1]
    if "runtime" in stages:
        runtime()
    if "kubernetes" in stages:
        kubernetes()
    if "cluster" in stages:
        cluster()
