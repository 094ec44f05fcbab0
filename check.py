"""Readiness check: every node against what kubeadm and the kubelet need, one table for the fleet.

    pyinfra -y inventory.py check.py                              # table; exit 1 on any error
    KUBEPREP_CHECK_JSON=report.json pyinfra -y inventory.py check.py   # plus a JSON report

Read-only: one fact per node, then short-lived listeners and connections for the reachability
of the cluster's ports (see docs/readiness.md).
"""

from pyinfra.operations import python

from kubeprep.fleet.readiness import finish, gather

gather()
python.call(name="Readiness check (kubeadm, kubelet)", function=finish)
