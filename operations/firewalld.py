"""
Manage firewalld ports in the runtime and the permanent config, without a full reload.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import OperationTypeError, OperationValueError, StringCommand, operation
from pyinfra.api.command import QuoteString

from facts.firewalld import FirewalldZone
from kubeprep.ports import covered, port_error


def _firewall_cmd(tool: str, zone: str, option: str, ports: list[str], *extra: str):
    return StringCommand(
        tool, *extra, StringCommand("--zone=", QuoteString(zone), _separator=""),
        *(StringCommand(f"--{option}-port=", QuoteString(port), _separator="") for port in ports),
    )


@operation()
def ports(ports: list[str], zone: str | None = None, prune: bool = False):
    """
    Open ports in a firewalld zone, runtime and permanent, so they work now and after a reboot.

    + ports: ports such as ``22/tcp`` or ``30000-32767/tcp``; opened in this order
    + zone: the zone to change; the default zone when omitted
    + prune: also close the zone's ports that no listed port covers

    While firewalld runs, the runtime config is changed before the permanent one, so the ports are
    open at once and no reload is needed. While it is stopped, only the permanent config is
    changed (``firewall-offline-cmd``), so the ports are already open when it starts: listing the
    SSH port here before starting firewalld keeps the session alive.

    **Example:**

    .. code:: python

        firewalld.ports(
            name="Open the control-plane ports",
            ports=["22/tcp", "6443/tcp", "2379-2380/tcp"],
        )
    """
    if isinstance(ports, str) or not isinstance(ports, list | tuple):
        raise OperationTypeError(f"ports must be a list of ports, not {ports!r}")
    for port in ports:
        problem = port_error(port)
        if problem:
            raise OperationValueError(f"invalid port {port!r}: {problem}")

    state = host.get_fact(FirewalldZone, zone=zone)
    zone_name = zone or state["zone"] or "public"
    wanted = list(dict.fromkeys(ports))

    if state["active"]:
        targets = [("runtime", state["runtime"], ("firewall-cmd",)),
                   ("permanent", state["permanent"], ("firewall-cmd", "--permanent"))]
    else:
        # Stopped or not installed yet: only the permanent config can change.
        targets = [("permanent", state["permanent"], ("firewall-offline-cmd",))]

    changed = False
    for _, config, (tool, *extra) in targets:
        current = (config or {}).get("ports", [])
        missing = [port for port in wanted if not covered(port, current)]
        if missing:
            changed = True
            yield _firewall_cmd(tool, zone_name, "add", missing, *extra)
    if prune:
        for _, config, (tool, *extra) in targets:
            surplus = [
                port for port in (config or {}).get("ports", []) if not covered(port, wanted)
            ]
            if surplus:
                changed = True
                yield _firewall_cmd(tool, zone_name, "remove", surplus, *extra)

    if not changed:
        configs = " and ".join(name for name, _, _ in targets)
        host.noop(f"firewalld zone {zone_name} has {' '.join(wanted)} open ({configs})")
