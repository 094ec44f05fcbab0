"""
Manage the SELinux mode, now and at boot.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import StringCommand, operation
from pyinfra.api.command import QuoteString

from facts.selinux import SelinuxMode

MODES = ("enforcing", "permissive", "disabled")
CONFIG = "/etc/selinux/config"


@operation()
def mode(mode: str = "permissive"):
    """
    Set the SELinux mode now (``setenforce``) and at boot (``SELINUX=`` in ``/etc/selinux/config``,
    with a backup of the file next to it).

    + mode: ``enforcing``, ``permissive`` or ``disabled`` (``disabled`` takes effect at boot;
      until then the host is set permissive)

    On a host without SELinux (no ``getenforce`` and no config file) nothing is done.

    **Example:**

    .. code:: python

        selinux.mode(
            name="Set SELinux permissive, as kubeadm's install guide asks",
            mode="permissive",
        )
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")

    state = host.get_fact(SelinuxMode)
    if state["current"] is None and state["config"] is None:
        host.noop("SELinux is not installed on this host")
        return

    changed = False
    runtime_mode = "permissive" if mode == "disabled" else mode
    if state["current"] in ("enforcing", "permissive") and state["current"] != runtime_mode:
        changed = True
        yield "setenforce 1" if runtime_mode == "enforcing" else "setenforce 0"

    if state["config"] is not None and state["config"] != mode:
        changed = True
        yield StringCommand(
            "sed", "-i.kubeprep.bak", "-E",
            QuoteString(f"s/^[[:space:]]*SELINUX=.*/SELINUX={mode}/"), CONFIG,
        )

    if not changed:
        now = "disabled in the kernel" if state["current"] == "disabled" else state["current"]
        boot = f"{mode} at boot" if state["config"] else f"has no {CONFIG}"
        host.noop(f"SELinux is {now} now and {boot}")
