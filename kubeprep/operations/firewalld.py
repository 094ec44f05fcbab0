"""
Manage firewalld zones, ports, sources and protocols, runtime and permanent: over firewalld's
D-Bus API while it runs, with ``firewall-offline-cmd`` while it is stopped.

The operations share one read of a host's zones (``kubeprep.fleet.reads``) until one of them
changes them; a caller that reads the zones with other facts (with ``read_arguments()``) shares
its read through ``keep_zones()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from pyinfra import host
from pyinfra.api import OperationTypeError, OperationValueError, StringCommand, operation
from pyinfra.api.command import QuoteString

from kubeprep.facts.firewalld import (
    FIREWALLD_STATE,
    FirewalldZoneDict,
    FirewalldZones,
    ZoneConfigDict,
)
from kubeprep.fleet import reads
from kubeprep.ports import common, covered, minus, port_error, source_error

# firewalld's D-Bus API (firewalld >= 0.9): a call takes milliseconds where firewall-cmd starts
# Python (seconds on a small VM). Runtime methods take the zone; permanent ones are made on the
# zone's config object, found by name into $zone_path.
_BUSCTL = "busctl call org.fedoraproject.FirewallD1"
_RUNTIME = f"{_BUSCTL} /org/fedoraproject/FirewallD1 org.fedoraproject.FirewallD1.zone"
_CONFIG = f"{_BUSCTL} /org/fedoraproject/FirewallD1/config org.fedoraproject.FirewallD1.config"
_PERMANENT = f'{_BUSCTL} "$zone_path" org.fedoraproject.FirewallD1.config.zone'
# A reload rebuilds every rule: on a small, busy VM it can take longer than busctl's 25 s default.
_RELOAD = (
    "busctl --timeout=300 call org.fedoraproject.FirewallD1 /org/fedoraproject/FirewallD1"
    " org.fedoraproject.FirewallD1 reload"
)
_ZONE_DIR = "/etc/firewalld/zones"
# Waits out firewalld's start (state INIT, up to 2 minutes), then succeeds only if it runs on
# its own config: state RUNNING, not FAILED.
_WAIT_RUNNING = (
    f"for _ in $(seq 120); do state=$({FIREWALLD_STATE});"
    """ case "$state" in *RUNNING*|*FAILED*) break;; esac; sleep 1; done;"""
    """ case "$state" in *RUNNING*) true;; *) false;; esac"""
)
# (method, its runtime signature, its permanent signature) per option; runtime additions
# take a timeout (0: for good). Removing what is not there, or adding what is, is an error.
_METHODS = {
    "add-port": ("addPort", "sssi", "ss"), "remove-port": ("removePort", "sss", "ss"),
    "add-service": ("addService", "ssi", "s"), "remove-service": ("removeService", "ss", "s"),
    "add-source": ("addSource", "ss", "s"), "remove-source": ("removeSource", "ss", "s"),
    "add-protocol": ("addProtocol", "ssi", "s"),
    "remove-protocol": ("removeProtocol", "ss", "s"),
}


def read_arguments(
    zones: list[str | None], services: Sequence[str] = (),
) -> dict[str, list[str]]:
    """The arguments of the ``FirewalldZones`` read of ``zones`` (``None``: the default zone)
    with the definitions of ``services`` on the current host: them and every zone and service
    read before, so that one read serves every operation."""
    known = reads.last_arguments(FirewalldZones)
    return {
        "zones": list(dict.fromkeys([*known.get("zones", []), *(zone or "" for zone in zones)])),
        "services": list(dict.fromkeys([*known.get("services", []), *services])),
    }


def keep_zones(arguments: dict[str, list[str]], read: dict[str, FirewalldZoneDict]) -> None:
    """Share ``read`` (``FirewalldZones`` with ``arguments``) with the operations here."""
    reads.keep(FirewalldZones, read, **arguments)
    _drop_unless_installed(arguments["zones"], read)


def read_zones(
    zones: list[str | None], services: Sequence[str] = (),
) -> dict[str, FirewalldZoneDict]:
    """The current host's ``zones`` (``None``: the default zone) with the definitions of
    ``services``, and any read before, in one round trip unless a read still holds them all."""
    arguments = read_arguments(zones, services)
    read = reads.shared_fact(FirewalldZones, **arguments)
    _drop_unless_installed(arguments["zones"], read)
    return read


def _drop_unless_installed(names: list[str], read: dict[str, FirewalldZoneDict]) -> None:
    """A read that found firewalld missing is not shared: installing it changes everything."""
    if not all(read.get(name, {}).get("installed") for name in names):
        reads.drop(FirewalldZones)


def running_and_enabled(zone: str | None) -> bool:
    """Whether firewalld runs and starts at boot on the current host, from the read of its zones
    (``zone`` among them), shared with the operations here: no extra round trip on a host where
    none of them changed anything."""
    state = read_zones([zone])[zone or ""]
    return state["active"] and state["enabled"]


def _option(name: str, value: str) -> StringCommand:
    return StringCommand(f"--{name}=", QuoteString(value), _separator="")


def _targets(state: FirewalldZoneDict) -> list[tuple[str, ZoneConfigDict | None]]:
    """The configs to change: runtime then permanent while firewalld runs, else permanent only
    (stopped or not installed yet: ``firewall-offline-cmd``)."""
    if state["active"]:
        return [("runtime", state["runtime"]), ("permanent", state["permanent"])]
    return [("permanent", state["permanent"])]


def _call(target: str, zone: str, option: str, value: str) -> StringCommand:
    """One D-Bus call that makes ``--option=value`` in ``zone``'s runtime or permanent config."""
    method, runtime_signature, permanent_signature = _METHODS[option]
    values = [QuoteString(part) for part in (value.split("/") if "port" in option else [value])]
    if target == "runtime":
        timeout = ["0"] if runtime_signature.endswith("i") else []
        return StringCommand(_RUNTIME, method, runtime_signature, QuoteString(zone), *values,
                             *timeout)
    return StringCommand(_PERMANENT, method, permanent_signature, *values)


def _changes(
    zone: str, changes: list[tuple[str, str, list[str]]], running: bool,
) -> Iterator[StringCommand]:
    """Commands for ``changes`` ((target, option, values), in order) to ``zone``: while firewalld
    runs, one chain of D-Bus calls that stops at the first failure, else one
    ``firewall-offline-cmd`` per option (it takes one kind of option per call)."""
    if not changes:
        return
    reads.drop(FirewalldZones)
    if not running:
        for _, option, values in changes:
            yield StringCommand("firewall-offline-cmd", _option("zone", zone),
                                *(_option(option, value) for value in values))
        return
    calls: list[StringCommand | str] = []
    if any(target == "permanent" for target, _, _ in changes):
        calls.append(StringCommand(
            f"zone_path=$({_CONFIG} getZoneByName s", QuoteString(zone), ")",
            '&& zone_path=${zone_path#*\\"} && zone_path=${zone_path%\\"}',
        ))
    calls += [_call(target, zone, option, value)
              for target, option, values in changes for value in values]
    yield StringCommand(*calls, _separator=" && ")


def _check_list(name: str, values: object, problem_of: Callable[[str], str | None]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise OperationTypeError(f"{name} must be a list, not {values!r}")
    for value in values:
        problem = problem_of(value)
        if problem:
            raise OperationValueError(f"invalid {name[:-1]} {value!r}: {problem}")
    return list(dict.fromkeys(values))


def _service_error(value: object) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", value):
        return None
    return "expected a firewalld service name such as 'kube-worker'"


def _zone_state(
    zone: str | None, services: Sequence[str] = (),
) -> tuple[FirewalldZoneDict, str]:
    state = read_zones([zone], services)[zone or ""]
    return state, zone or state["zone"] or "public"


@operation()
def zone(zone: str):
    """
    Create a firewalld zone (permanent), then reload firewalld so it exists at runtime too.

    + zone: the zone to create; nothing is done when it exists

    While firewalld runs, the zone is made and firewalld reloaded over D-Bus, in one command; the
    reload happens only when the zone is created (or was created but never loaded): it makes the
    runtime config equal to the permanent one, which this package's operations keep equal.

    **Example:**

    .. code:: python

        firewalld.zone(name="Create the cluster zone", zone="kubeprep")
    """
    state, zone_name = _zone_state(zone)
    loaded = state["runtime"] is not None or not state["active"]
    if state["permanent"] is not None and loaded:
        host.noop(f"firewalld zone {zone_name} exists")
        return
    reads.drop(FirewalldZones)
    if not state["active"]:
        yield StringCommand("firewall-offline-cmd", _option("new-zone", zone_name))
        return
    create = [StringCommand(_CONFIG, "addZone2", "'sa{sv}'", QuoteString(zone_name), "0")]
    yield StringCommand(*(create if state["permanent"] is None else []), _RELOAD,
                        _separator=" && ")


@operation()
def loadable_zone_files(zones: list[str | None]):
    """
    Set aside the zone files firewalld cannot load (a write cut short by a power cut), so that it
    runs on its whole config again.

    + zones: the zones whose files in ``/etc/firewalld/zones`` to check (``None``: the default)

    A zone file that is empty or not valid XML makes firewalld fall back to its stock config (its
    FAILED state: every packet accepted, every permanent change refused). Each such file is
    moved to ``NAME.xml.kubeprep-broken-DATE`` (kept, never deleted). firewalld's copy of the file
    before its last write (``NAME.xml.old``) takes its place when that is valid; otherwise the zone
    is as the package ships it, or gone until it is created again. A running firewalld is then
    restarted, and the command fails if it still cannot load its config.

    **Example:**

    .. code:: python

        firewalld.loadable_zone_files(
            name="Set aside zone files firewalld cannot load", zones=["kubeprep", "public"],
        )
    """
    read = read_zones(list(zones))
    states = [read[zone or ""] for zone in dict.fromkeys(zones)]
    commands: list[StringCommand] = []
    for state in states:
        if not (state["etc_file"] and state["permanent_problem"]):
            continue
        path = f"{_ZONE_DIR}/{state['zone']}.xml"
        commands.append(StringCommand(
            "mv", QuoteString(path), StringCommand(
                QuoteString(f"{path}.kubeprep-broken-"), "$(date +%Y%m%d%H%M%S)", _separator="",
            ),
        ))
        if state["previous"] is not None:
            commands.append(StringCommand("cp", "-p", QuoteString(f"{path}.old"),
                                          QuoteString(path)))
    if not commands:
        names = ", ".join(str(state["zone"]) for state in states)
        host.noop(f"firewalld can load the zone files of {names}")
        return
    reads.drop(FirewalldZones)
    yield from commands
    if any(state["active"] for state in states):
        yield StringCommand(
            "systemctl restart firewalld &&", _WAIT_RUNNING,
            "|| { echo 'firewalld still cannot load its config:"
            " firewall-offline-cmd --check-config names the file' >&2; exit 1; }",
        )


def _service_plan(
    services: list[str], wanted: list[str], state: FirewalldZoneDict,
) -> list[str]:
    """The ``services`` defined on the host that open only wanted ports, in order, each adding a
    wanted port."""
    chosen: list[str] = []
    opened: list[str] = []
    for service in services:
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
    chosen_services: list[str],
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
        service for service in chosen_services if service not in current_services
        and not all(covered(port, stays) for port in _service_ports([service], state))
    ]
    stays += _service_ports(new_services, state)
    # What must stay open but is only listed in what goes: added back as ports, first.
    stale_ports = _service_ports(stale_services, state)
    reopen = minus((kept_parts if not daemon else []) + minus(stale_ports, unwanted(stale_ports)),
                   stays)
    # Each only while not open yet: the daemon refuses a port one entry holds (ALREADY_ENABLED).
    missing: list[str] = []
    for port in wanted:
        if not covered(port, stays + reopen + missing):
            missing.append(port)
    reopen = [port for port in reopen if not covered(port, missing)]
    removed: list[str] = []
    for entry in touched:
        if not daemon:
            removed.append(entry)  # the entry as listed: its kept numbers are in reopen
            continue
        # Numbers inside one listed entry (an earlier removal may have split it already).
        pieces = minus(bad[entry], removed)
        removed += [entry] if pieces == minus([entry], []) else pieces
    return new_services, missing + reopen, stale_services, removed


def _port_changes(
    state: FirewalldZoneDict,
    wanted: list[str],
    chosen_services: list[str],
    unwanted: Callable[[list[str]], list[str]],
    closing: list[str],
) -> list[tuple[str, str, list[str]]]:
    """(target, option, values) of ``_port_plan`` for each config, every addition first."""
    plans = [
        (target, _port_plan(config or _empty(), state, wanted, chosen_services, unwanted, closing,
                            daemon=state["active"]))
        for target, config in _targets(state)
    ]
    # Every addition before any removal: nothing that stays listed is ever closed in between.
    options = ("add-service", "add-port", "remove-service", "remove-port")
    return [
        (target, option, values)
        for step, option in enumerate(options) for target, plan in plans if (values := plan[step])
    ]

@operation()
def ports(
    ports: list[str],
    zone: str | None = None,
    prune: bool = False,
    close: list[str] | None = None,
    services: list[str] | None = None,
):
    """
    Open ports in a firewalld zone, runtime and permanent, so they work now and after a reboot.

    + ports: ports such as ``22/tcp`` or ``30000-32767/tcp``; opened in this order
    + zone: the zone to change; the default zone when omitted
    + prune: also close the zone's port numbers that no listed port covers
    + close: ports to close in this zone (e.g. ports moved to another zone) however the zone
      lists them (single ports, ranges that hold them), with the services that open any of them;
      numbers also in ``ports`` stay open
    + services: services to open ports through, in this order: each one that opens only listed
      ports, one not open yet, is added

    A service, listed here or in the zone, counts by the ports of its definition where the read
    of the zone holds it: the definitions of ``services`` are read with the zone, and a caller
    that reads more (those a zone may list) shares its read through ``keep_zones()``.

    While firewalld runs, the runtime config is changed before the permanent one (one command of
    D-Bus calls), so the ports are open at once and no reload is needed. While it is stopped,
    only the permanent config is changed (``firewall-offline-cmd``), so the ports are already
    open when it starts: listing the SSH port here before starting firewalld keeps the session
    alive. Ports a service in the zone already opens count as open. Every addition comes before
    any removal, and a range that holds a port to close keeps its other numbers open throughout.

    **Example:**

    .. code:: python

        firewalld.ports(
            name="Open the control-plane ports",
            ports=["22/tcp", "6443/tcp", "2379-2380/tcp", "10257/tcp", "10259/tcp"],
            services=["kube-control-plane-secure"],
        )
    """
    wanted = _check_list("ports", ports, port_error)
    closing = minus(_check_list("close", close or [], port_error), wanted)
    tried = _check_list("services", services or [], _service_error)
    state, zone_name = _zone_state(zone, tried)
    chosen_services = _service_plan(tried, wanted, state)

    def unwanted(listed: list[str]) -> list[str]:
        return minus(listed, wanted) if prune else common(listed, closing)

    changes = _port_changes(state, wanted, chosen_services, unwanted, closing)
    commands = list(_changes(zone_name, changes, state["active"]))
    yield from commands
    if not commands:
        configs = " and ".join(target for target, _ in _targets(state))
        host.noop(f"firewalld zone {zone_name} has {' '.join(wanted)} open ({configs})")


def _empty() -> ZoneConfigDict:
    return {"ports": [], "services": [], "sources": [], "protocols": []}


def _sync_values(
    option: str, wanted: list[str], zone: str | None, prune: bool, what: str,
) -> Iterator[StringCommand]:
    state, zone_name = _zone_state(zone)
    targets = _targets(state)
    # Every addition before any removal.
    changes = [
        (target, f"add-{option}", missing) for target, config in targets
        if (missing := [value for value in wanted if value not in (config or {}).get(what, [])])
    ]
    if prune:
        changes += [
            (target, f"remove-{option}", surplus) for target, config in targets
            if (surplus := [v for v in (config or {}).get(what, []) if v not in wanted])
        ]
    commands = list(_changes(zone_name, changes, state["active"]))
    yield from commands
    if not commands:
        configs = " and ".join(target for target, _ in targets)
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
