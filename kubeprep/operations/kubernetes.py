"""
Install kubeadm, kubelet and kubectl at one version and hold them there.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyinfra import host
from pyinfra.api import OperationValueError, StringCommand, operation
from pyinfra.api.command import QuoteString

from kubeprep.facts.kubernetes import KubernetesPackages
from kubeprep.kubeadm import PACKAGES, downgrade_refused, downgrades, matches, version_glob


@operation()
def packages(version: str, apt: bool, allow_downgrade: bool = False,
             names: Sequence[str] = PACKAGES, restart: bool = False):
    """
    Install, upgrade (kubeadm first, as kubeadm's upgrade guide orders it) or, when allowed,
    downgrade kubeadm, kubelet and kubectl to ``version``, and hold them: ``apt-mark hold`` on
    apt; on dnf the repository's ``exclude=`` holds them and kubeprep installs with
    ``--disableexcludes=kubernetes``. The kubelet restarts when it was upgraded.

    + version: ``1.N`` (the minor's newest patch) or ``1.N.P``
    + apt: ``True`` on Debian and Ubuntu, ``False`` on dnf systems
    + allow_downgrade: install a lower version than the installed one
    + names: which of the three (a cluster's upgrade moves kubeadm before the others)
    + restart: restart the kubelet even where it is at ``version`` already (a cluster's upgrade
      whose kubelet was upgraded by a run cut before its restart)

    **Example:**

    .. code:: python

        kubernetes.packages(
            name="kubeadm, kubelet and kubectl 1.35.2, held",
            version="1.35.2",
            apt=True,
        )
    """
    found = host.get_fact(KubernetesPackages)
    installed, held = found["installed"], found["held"]
    wrong = [name for name in names if not matches(installed.get(name, "0"), version)]
    moved = {name: installed[name] for name in wrong if name in installed}
    refused = downgrade_refused(moved, version, allow_downgrade)
    if refused:
        raise OperationValueError(refused)
    lower = downgrades(moved, version)

    pattern = version_glob(version)
    steps = [group for group in (["kubeadm"], ["kubelet", "kubectl"]) if set(group) & set(wrong)]
    if steps and apt:
        yield "apt-get update"
    for group in steps:
        moving = [name for name in group if name in wrong]
        if apt:
            yield StringCommand(
                "DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages",
                *(["--allow-downgrades"] if lower else []),
                *(QuoteString(f"{name}={pattern}") for name in moving),
            )
        else:
            yield StringCommand(
                "dnf", "downgrade" if lower else "install", "-y", "--disableexcludes=kubernetes",
                *(QuoteString(f"{name}-{pattern}") for name in moving),
            )
    # A new version can come back unheld (dpkg -i set the selection back to "install" when
    # tried on dpkg 1.21): every package installed here is held again.
    unheld = [name for name in names if name in wrong or name not in held]
    if apt and unheld:
        yield StringCommand("apt-mark hold", *unheld)
    if restart or ("kubelet" in wrong and "kubelet" in installed):
        yield "systemctl daemon-reload"
        yield "systemctl restart kubelet"
    if not wrong and not (apt and unheld) and not restart:
        listed = f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]
        host.noop(f"{listed} {'are' if len(names) > 1 else 'is'} {version} and held")
