"""The firewall check: firewalld's zones as tasks/firewall.py leaves them, runtime and permanent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeprep.checks.model import ERROR, OK, WARNING, NodeSpec, Result
from kubeprep.firewalls import other_firewalls
from kubeprep.ports import covered


def _missing(ports: Iterable[str], opened: Iterable[str]) -> list[str]:
    opened = list(opened)
    return [port for port in ports if not covered(port, opened)]


@dataclass(frozen=True)
class _Zone:
    """A zone as tasks/firewall.py leaves it, and what the node read of it."""

    name: str
    ports: tuple[str, ...]
    sources: tuple[str, ...] | None  # None: not checked
    protocols: tuple[str, ...]
    configs: Mapping[str, Mapping[str, Any] | None]  # runtime, permanent
    file_problem: str | None  # why the zone file could not be read

    def summary(self) -> str:
        text = f"zone {self.name}: {' '.join(self.ports)} open"
        if self.sources is not None:
            text += f" to {len(self.sources)} nodes"
        if self.protocols:
            text += f", protocols {' '.join(self.protocols)} accepted"
        return text


def _zones(spec: NodeSpec, firewall: Mapping[str, Any]) -> list[_Zone]:
    """The public zone, then the cluster zone when the data has one."""
    cluster = spec.cluster_zone
    public = _Zone(
        firewall.get("zone") or "public", spec.public_ports, None,
        () if cluster else spec.protocols,
        {"runtime": firewall.get("runtime"), "permanent": firewall.get("permanent")},
        firewall.get("permanent_problem"),
    )
    if not cluster:
        return [public]
    return [public, _Zone(
        cluster, spec.cluster_ports, spec.cluster_sources, spec.protocols,
        {"runtime": firewall.get("cluster_runtime"),
         "permanent": firewall.get("cluster_permanent")},
        firewall.get("cluster_permanent_problem"),
    )]


def _zone_problems(
    zone: _Zone, service_ports: Mapping[str, list[str]],
) -> tuple[list[str], list[str]]:
    """(what the zone lacks, the sources it has beyond the nodes), per config; an unreadable
    zone file is check_firewall's own result."""
    if all(config is None for config in zone.configs.values()) and not zone.file_problem:
        return [f"zone {zone.name} does not exist"], []
    lacks, extra = [], []
    for name, config in zone.configs.items():
        where = f"({name}, zone {zone.name})"
        if config is None and name == "permanent" and zone.file_problem:
            continue
        if config is None:
            lacks.append(f"{name} config of zone {zone.name} missing or unreadable")
            continue
        opened = [*config["ports"], *(
            port for service in config["services"] for port in service_ports.get(service, [])
        )]
        for problem, missing in (
            ("not open", _missing(zone.ports, opened)),
            ("missing sources", [s for s in zone.sources or () if s not in config["sources"]]),
            ("protocols not accepted",
             [p for p in zone.protocols if p not in config["protocols"]]),
        ):
            if missing:
                lacks.append(f"{problem} {where}: {' '.join(missing)}")
        if zone.sources is not None:
            others = [s for s in config["sources"] if s not in zone.sources]
            if others:
                extra.append(f"extra sources {where}: {' '.join(others)}")
    return lacks, extra


def check_firewall(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """firewalld running, and its zones as tasks/firewall.py leaves them, runtime and permanent.

    The public zone (firewall_zone, else the default zone) has ``spec.public_ports``. With a
    cluster zone, that zone exists and has ``spec.cluster_ports``, every node's address as a
    source (unless the addresses are not known) and the CNI's protocols; without one, the
    public zone has the protocols. A port counts as open when a port, a range or a service of
    the zone opens it. A source of the cluster zone that is not a node is a warning: kubeadm
    does not mind, but it reaches the nodes-only ports (tasks/firewall.py removes it). A zone
    file that is not valid XML is an error of its own: firewalld cannot load that zone.
    """
    firewall = facts.get("firewalld") or {}
    fix = "pyinfra inventory.py tasks/firewall.py"
    if not firewall.get("installed"):
        return [Result("firewall", WARNING,
                       "firewalld is not installed: the role's ports are not managed here", fix)]
    if not firewall.get("active"):
        return [Result("firewall", WARNING,
                       "firewalld is not running: the role's ports are not managed here", fix)]
    zones = _zones(spec, firewall)
    lacks, extra = [], []
    for zone in zones:
        zone_lacks, zone_extra = _zone_problems(zone, firewall.get("service_ports") or {})
        lacks += zone_lacks
        extra += zone_extra
    results = [
        Result(
            "firewall", ERROR, f"zone {zone.name}: {zone.file_problem}",
            f"repair or remove /etc/firewalld/zones/{zone.name}.xml (firewall-offline-cmd "
            f"--check-config names the error), then {fix}",
        )
        for zone in zones if zone.file_problem
    ]
    if lacks:
        results.append(Result("firewall", ERROR, "; ".join(lacks), fix))
    if extra:
        results.append(Result(
            "firewall", WARNING, "; ".join(extra) + " (not nodes: they reach the nodes-only ports)",
            f"{fix} (keeps the cluster zone's sources to the inventory's nodes)",
        ))
    return results or [Result("firewall", OK, "firewalld active, " + "; ".join(
        zone.summary() for zone in zones))]


def _open_parts(port: str, opened: list[str]) -> list[str]:
    """The parts of ``port`` (``2379-2380/tcp``) that ``opened`` opens, as ports and ranges:
    coverage, not strings (``2379/tcp`` and ``2380/tcp`` listed apart open ``2379-2380/tcp``)."""
    numbers, _, proto = port.partition("/")
    first, _, last = numbers.partition("-")
    found: list[list[int]] = []
    for number in range(int(first), int(last or first) + 1):
        if covered(f"{number}/{proto}", opened):
            if found and found[-1][1] == number - 1:
                found[-1][1] = number
            else:
                found.append([number, number])
    return [f"{low}/{proto}" if low == high else f"{low}-{high}/{proto}" for low, high in found]


def _entries_opening(parts: list[str], config: Mapping[str, Any],
                     service_ports: Mapping[str, list[str]]) -> tuple[list[str], list[str]]:
    """The zone's (ports, services) that open any of ``parts``, as the zone lists them."""
    ports = [port for port in config["ports"] if any(_open_parts(part, [port]) for part in parts)]
    services = [
        service for service in config["services"]
        if any(_open_parts(part, service_ports.get(service, [])) for part in parts)
    ]
    return ports, services


def check_exposure(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """No nodes-only port open to every source: in the default zone or in a zone bound to an
    interface (now or in its file), runtime or permanent; a port, a range or a service of the
    zone counts. An error when the data keeps those ports to the nodes (a cluster zone), a
    warning when the data opens them to everyone (``firewall_cluster_only = False``).
    """
    firewall = facts.get("firewalld") or {}
    service_ports = firewall.get("service_ports") or {}
    results = []
    for zone, bound in (firewall.get("interface_zones") or {}).items():
        interfaces = list(dict.fromkeys([*bound["interfaces"], *bound["permanent_interfaces"]]))
        exposed, commands = {}, []
        for name in ("runtime", "permanent"):
            config = bound[name]
            if config is None:
                continue
            opened = [*config["ports"], *(
                port for service in config["services"] for port in service_ports.get(service, [])
            )]
            parts = [part for port in spec.nodes_only_ports for part in _open_parts(port, opened)]
            if not parts:
                continue
            exposed[name] = parts
            tool = "firewall-cmd" if name == "runtime" else (
                "firewall-cmd --permanent" if firewall.get("active") else "firewall-offline-cmd")
            if zone == spec.cluster_zone:
                options = [f"--remove-interface={i}" for i in interfaces]
            else:
                ports, services = _entries_opening(parts, config, service_ports)
                options = [*(f"--remove-port={p}" for p in ports),
                           *(f"--remove-service={s}" for s in services)]
            if options:
                commands.append(f"{tool} --zone={zone} {' '.join(options)}")
        if not exposed:
            continue
        why = [f"bound to {' '.join(interfaces)}"] if interfaces else []
        if zone == firewall.get("default_zone"):
            why.append("the default zone: every interface no other zone claims")
        detail = f"zone {zone} ({'; '.join(why)}) opens nodes-only ports to every source: " + \
            "; ".join(f"{' '.join(parts)} ({name})" for name, parts in exposed.items())
        if spec.cluster_zone is None:
            results.append(Result(
                "firewall", WARNING, detail + " (the data opens them to everyone)",
                "set firewall_cluster_only = True, then pyinfra inventory.py tasks/firewall.py",
            ))
            continue
        fix = " && ".join(commands)
        if zone == spec.cluster_zone:
            fix += " (the cluster zone is for the nodes' addresses only: bind the interface " \
                "to another zone)"
        elif zone == (firewall.get("zone") or "public"):
            fix += " (or pyinfra inventory.py tasks/firewall.py, for entries written exactly as " \
                "in firewall_cluster_ports)"
        results.append(Result("firewall", ERROR, detail, fix))
    return results


def check_others(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """No other firewall that would drop what firewalld opens: ufw active (or set to start at
    boot), nftables.service / iptables.service / ip6tables.service enabled or active with rules
    of their own (``kubeprep.firewalls.other_firewalls``). An error: the nodes' ports would be
    dropped whatever firewalld says. kubeadm has no such check (its Firewalld check only warns
    that firewalld runs).
    """
    found = other_firewalls(facts.get("other_firewalls") or {})
    if not found:
        return [Result("others", OK, "no other firewall (ufw, nftables, iptables services)")]
    commands = " && ".join(firewall.stop for firewall in found)
    rerun = "pyinfra inventory.py tasks/firewall.py"
    fix = (f"{rerun} again (firewall_disable_others = True stops and disables them)"
           if spec.firewall_disable_others else
           f"set firewall_disable_others = True and run {rerun}")
    return [Result(
        "others", ERROR,
        "; ".join(firewall.detail for firewall in found) + ": it drops what firewalld opens",
        f"{fix}, or by hand: {commands}",
    )]
