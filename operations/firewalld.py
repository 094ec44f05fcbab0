"""
Manage firewalld zones, ports, sources and protocols, runtime and permanent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pyinfra import host
from pyinfra.api import OperationTypeError, OperationValueError, StringCommand, operation
from pyinfra.api.command import QuoteString

from facts.firewalld import FirewalldZone, FirewalldZoneDict, ZoneConfigDict
from kubeprep.ports import common, covered, minus, port_error, source_error

# Whole-role definitions firewalld ships (>= 1.2), tried in this order by ``ports(services=True)``.
ROLE_SERVICES = ("kube-control-plane-secure", "kube-worker")


def _firewall_cmd(tool: tuple[str, ...], zone: str, *options: StringCommand | str) -> StringCommand:
    return StringCommand(*tool, _option("zone", zone), *options)


def _option(name: str, value: str) -> StringCommand:
    return StringCommand(f"--{name}=", QuoteString(value), _separator="")


def _targets(state: FirewalldZoneDict) -> list[tuple[str, ZoneConfigDict | None, tuple[str, ...]]]:
    """The configs to change: runtime then permanent while firewalld runs, else permanent only."""
    if state["active"]:
        return [("runtime", state["runtime"], ("firewall-cmd",)),
                ("permanent", state["permanent"], ("firewall-cmd", "--permanent"))]
    # Stopped or not installed yet: only the permanent config can change.
    return [("permanent", state["permanent"], ("firewall-offline-cmd",))]


def _check_list(name: str, values: object, problem_of: Callable[[str], str | None]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise OperationTypeError(f"{name} must be a list, not {values!r}")
    for value in values:
        problem = problem_of(value)
        if problem:
            raise OperationValueError(f"invalid {name[:-1]} {value!r}: {problem}")
    return list(dict.fromkeys(values))


def _zone_state(zone: str | None) -> tuple[FirewalldZoneDict, str]:
    state = host.get_fact(FirewalldZone, zone=zone)
    return state, zone or state["zone"] or "public"


@operation()
def zone(zone: str):
    """
    Create a firewalld zone (permanent), then reload firewalld so it exists at runtime too.

    + zone: the zone to create; nothing is done when it exists

    The reload happens only when the zone is created (or was created but never loaded): it makes
    the runtime config equal to the permanent one, which this package's operations keep equal.

    **Example:**

    .. code:: python

        firewalld.zone(name="Create the cluster zone", zone="kubeprep")
    """
    state, zone_name = _zone_state(zone)
    loaded = state["runtime"] is not None or not state["active"]
    if state["permanent"] is not None and loaded:
        host.noop(f"firewalld zone {zone_name} exists")
        return
    if state["permanent"] is None:
        tool = ("firewall-cmd", "--permanent") if state["active"] else ("firewall-offline-cmd",)
        yield StringCommand(*tool, _option("new-zone", zone_name))
    if state["active"]:
        yield "firewall-cmd --reload"


def _service_plan(wanted: list[str], state: FirewalldZoneDict) -> list[str]:
    """The role services on the host that open only listed ports, each adding a listed port."""
    chosen: list[str] = []
    opened: list[str] = []
    for service in ROLE_SERVICES:
        ports = state["service_ports"].get(service)
        if not ports or not all(covered(port, wanted) for port in ports):
            continue
        if all(covered(port, opened) for port in ports):
            continue
        chosen.append(service)
        opened.extend(ports)
    return chosen


def _service_ports(services: list[str], state: FirewalldZoneDict) -> list[str]:
    return [port for service in services for port in state["service_ports"].get(service, [])]


def _port_plan(
    config: ZoneConfigDict,
    state: FirewalldZoneDict,
    wanted: list[str],
    role_services: list[str],
    unwanted: Callable[[list[str]], list[str]],
    closing: list[str],
    daemon: bool,
) -> tuple[list[str], list[str], list[str], list[str]]:
    """(services to add, ports to add, services to remove, ports to remove) for one config.

    Ports are compared by the numbers they cover. An entry that holds unwanted numbers goes: the
    running daemon (firewalld >= 0.9) is told to remove just those numbers and splits the entry
    itself in one step, so its other numbers never close; ``firewall-offline-cmd`` only removes
    entries as listed, so there the entry goes and its other numbers are added back as ports.
    """
    current_services = config["services"]
    entries = [port for port in config["ports"] if not port_error(port)]
    bad = {entry: unwanted([entry]) for entry in entries}
    touched = [entry for entry in entries if bad[entry]]
    stale_services = [
        service for service in current_services
        if common(_service_ports([service], state), closing)
    ]
    services_open = _service_ports(
        [service for service in current_services if service not in stale_services], state,
    )
    untouched = [entry for entry in entries if not bad[entry]]
    kept_parts = [part for entry in touched for part in minus([entry], bad[entry])]
    stays = untouched + (kept_parts if daemon else []) + services_open
    # A service only for ports not open yet: a zone that has them as ports stays as it is.
    new_services = [
        service for service in role_services if service not in current_services
        and not all(covered(port, stays) for port in _service_ports([service], state))
    ]
    stays += _service_ports(new_services, state)
    # What must stay open but is only listed in what goes: added back as ports, first.
    stale_ports = _service_ports(stale_services, state)
    reopen = minus((kept_parts if not daemon else []) + minus(stale_ports, unwanted(stale_ports)),
                   stays)
    missing = [port for port in wanted if not covered(port, stays + reopen)]
    removed: list[str] = []
    for entry in touched:
        if not daemon:
            removed.append(entry)  # the entry as listed: its kept numbers are in reopen
            continue
        # Numbers inside one listed entry (an earlier removal may have split it already).
        pieces = minus(bad[entry], removed)
        removed += [entry] if pieces == minus([entry], []) else pieces
    return new_services, missing + reopen, stale_services, removed


@operation()
def ports(
    ports: list[str],
    zone: str | None = None,
    prune: bool = False,
    close: list[str] | None = None,
    services: bool = False,
):
    """
    Open ports in a firewalld zone, runtime and permanent, so they work now and after a reboot.

    + ports: ports such as ``22/tcp`` or ``30000-32767/tcp``; opened in this order
    + zone: the zone to change; the default zone when omitted
    + prune: also close the zone's port numbers that no listed port covers
    + close: ports to close in this zone (e.g. ports moved to another zone) however the zone
      lists them (single ports, ranges that hold them), with the services that open any of them;
      numbers also in ``ports`` stay open
    + services: open ports through the role service definitions on the host
      (``kube-control-plane-secure``, ``kube-worker``) where one opens only listed ports

    While firewalld runs, the runtime config is changed before the permanent one, so the ports are
    open at once and no reload is needed. While it is stopped, only the permanent config is
    changed (``firewall-offline-cmd``), so the ports are already open when it starts: listing the
    SSH port here before starting firewalld keeps the session alive. Ports a service in the zone
    already opens count as open. Every addition comes before any removal, and a range that holds
    a port to close keeps its other numbers open throughout.

    **Example:**

    .. code:: python

        firewalld.ports(
            name="Open the control-plane ports",
            ports=["22/tcp", "6443/tcp", "2379-2380/tcp"],
        )
    """
    wanted = _check_list("ports", ports, port_error)
    closing = minus(_check_list("close", close or [], port_error), wanted)
    state, zone_name = _zone_state(zone)
    role_services = _service_plan(wanted, state) if services else []

    def unwanted(listed: list[str]) -> list[str]:
        return minus(listed, wanted) if prune else common(listed, closing)

    plans = [
        (tool, _port_plan(config or _empty(), state, wanted, role_services, unwanted, closing,
                          daemon=tool[0] == "firewall-cmd"))
        for _, config, tool in _targets(state)
    ]
    # firewall-cmd takes one kind of option per call: services and ports go separately.
    # Every addition before any removal: nothing that stays listed is ever closed in between.
    options = ("add-service", "add-port", "remove-service", "remove-port")
    commands = [
        _firewall_cmd(tool, zone_name, *(_option(option, value) for value in values))
        for step, option in enumerate(options) for tool, plan in plans if (values := plan[step])
    ]
    yield from commands
    if not commands:
        configs = " and ".join(name for name, _, _ in _targets(state))
        host.noop(f"firewalld zone {zone_name} has {' '.join(wanted)} open ({configs})")


def _empty() -> ZoneConfigDict:
    return {"ports": [], "services": [], "sources": [], "protocols": []}


def _sync_values(
    option: str, wanted: list[str], zone: str | None, prune: bool, what: str,
) -> Iterator[StringCommand]:
    state, zone_name = _zone_state(zone)
    targets = _targets(state)
    # One kind of option per firewall-cmd call; every addition before any removal.
    commands = [
        _firewall_cmd(tool, zone_name, *(_option(f"add-{option}", value) for value in missing))
        for _, config, tool in targets
        if (missing := [value for value in wanted if value not in (config or {}).get(what, [])])
    ]
    if prune:
        commands += [
            _firewall_cmd(tool, zone_name, *(_option(f"remove-{option}", v) for v in surplus))
            for _, config, tool in targets
            if (surplus := [v for v in (config or {}).get(what, []) if v not in wanted])
        ]
    yield from commands
    if not commands:
        configs = " and ".join(name for name, _, _ in targets)
        shown = " ".join(wanted) or "none"
        host.noop(f"firewalld zone {zone_name} {what}: {shown} ({configs})")


@operation()
def sources(sources: list[str], zone: str | None = None, prune: bool = False):
    """
    Bind source addresses or networks to a firewalld zone, runtime and permanent.

    + sources: IPv4/IPv6 addresses or CIDR networks, such as ``192.168.77.11`` or ``10.244.0.0/16``
    + zone: the zone to change; the default zone when omitted
    + prune: also unbind the zone's sources that are not listed (for a zone this deploy owns)

    Traffic from a source is handled by the zone it is bound to, not by the interface's zone, so
    give that zone its ports before binding sources to it.

    **Example:**

    .. code:: python

        firewalld.sources(
            name="Cluster nodes use the cluster zone",
            sources=["192.168.77.11", "192.168.77.21"],
            zone="kubeprep",
            prune=True,
        )
    """
    wanted = _check_list("sources", sources, source_error)
    yield from _sync_values("source", wanted, zone, prune, "sources")


@operation()
def protocols(protocols: list[str], zone: str | None = None):
    """
    Accept IP protocols (``icmp``, or a number such as ``4`` for IP-in-IP) in a firewalld zone.

    + protocols: protocol names from ``/etc/protocols`` or numbers 0-255
    + zone: the zone to change; the default zone when omitted

    **Example:**

    .. code:: python

        firewalld.protocols(name="Accept IP-in-IP", protocols=["4"], zone="kubeprep")
    """

    def protocol_error(value: object) -> str | None:
        if isinstance(value, str) and (value.isdigit() and int(value) <= 255 or
                                       value.isalnum() and not value.isdigit()):
            return None
        return "expected a protocol name such as 'icmp' or a number 0-255"

    wanted = _check_list("protocols", protocols, protocol_error)
    yield from _sync_values("protocol", wanted, zone, False, "protocols")
