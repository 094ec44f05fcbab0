"""The fleet checks (hostname, product_uuid and MAC uniqueness), the reachability paths the
cluster needs, and ``evaluate``: every node's results from the node checks, the fleet checks and
the probed paths. Pure Python, no pyinfra.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kubeprep.checks.model import ERROR, OK, WARNING, Node, Path, PathResult, Report, Result
from kubeprep.checks.node import NODE_CHECKS, check_proxy
from kubeprep.checks.software import check_package_versions

API_PORT, KUBELET_PORT, ETCD_PORTS = 6443, 10250, (2379, 2380)
MAX_RANGE_PROBES = 8  # a range up to this size is probed port by port, a larger one at its start


def _duplicates(values: Mapping[str, Iterable[str]]) -> dict[str, dict[str, list[str]]]:
    """node -> {value: [other nodes with that value]} for values held by more than one node."""
    holders: dict[str, set[str]] = {}
    for node, node_values in values.items():
        for value in set(node_values):
            holders.setdefault(value, set()).add(node)
    result: dict[str, dict[str, list[str]]] = {}
    for value, nodes in holders.items():
        if len(nodes) > 1:
            for node in nodes:
                result.setdefault(node, {})[value] = sorted(nodes - {node})
    return result


def fleet_checks(nodes: list[Node]) -> dict[str, list[Result]]:
    """Hostname, product_uuid and MAC uniqueness across every node that was read; the HTTPS
    proxy against every node's address; one kubelet version."""
    read = [node for node in nodes if node.facts is not None]
    results: dict[str, list[Result]] = {node.name: [] for node in read}
    addresses = list(dict.fromkeys(node.address for node in nodes if node.address))
    for node in read:
        if node.spec is not None:
            results[node.name] += check_proxy(node.spec, node.facts, addresses)
    names = {
        node.name: [node.facts["hostname"].lower()] for node in read if node.facts.get("hostname")
    }
    _flag_duplicates(
        results, names, "hostname", "hostname {value} is also the hostname of {others}",
        "hostnamectl set-hostname with a unique name on each node",
    )
    uuids = {}
    for node in read:
        uuid = node.facts.get("product_uuid")
        if uuid:
            uuids[node.name] = [uuid.lower()]
            results[node.name].append(Result("uuid", OK, f"product_uuid {uuid.lower()}"))
        else:
            results[node.name].append(Result(
                "uuid", WARNING, "could not read /sys/class/dmi/id/product_uuid (needs root)",
                "run the check as root (ssh_user root, or --sudo)",
            ))
    _flag_duplicates(
        results, uuids, "uuid", "product_uuid {value} is also on {others} (cloned VM?)",
        "give each VM its own SMBIOS UUID (hypervisor setting), or re-create the clone",
    )
    macs = {}
    for node in read:
        interfaces = node.facts.get("interfaces") or []
        nics = [i for i in interfaces if i["device"]] or interfaces
        macs[node.name] = [
            i["address"] for i in nics if i["address"] and i["address"] != "00:00:00:00:00:00"
        ]
        results[node.name].append(Result("mac", OK, " ".join(
            f"{i['name']} {i['address']}" for i in nics) or "no network interface"))
    _flag_duplicates(
        results, macs, "mac", "MAC {value} is also on {others} (cloned VM?)",
        "give each VM NIC its own MAC address (regenerate it in the hypervisor)",
    )
    for name, found in check_package_versions(read).items():
        results[name] += found
    return results


def _flag_duplicates(
    results: dict[str, list[Result]], values: Mapping[str, Iterable[str]], check: str,
    detail: str, fix: str,
) -> None:
    """An error on every node that shares one of its ``values`` with another node."""
    for name, dups in _duplicates(values).items():
        for value, others in dups.items():
            results[name].append(
                Result(check, ERROR, detail.format(value=value, others=", ".join(others)), fix),
            )


# ------------------------------------------------------------------------------ reachability


def required_paths(nodes: list[Node]) -> list[Path]:
    """Every worker to every control plane's 6443; every control plane to every other node's
    10250; control-plane peers to each other's 2379-2380. Nodes without an address are left out.
    """
    usable = [node for node in nodes if node.facts is not None and node.address]
    control = [node for node in usable if node.role == "control_plane"]
    paths = []
    for source in usable:
        for target in usable:
            if source is target:
                continue
            ports: list[tuple[int, str]] = []
            if target.role == "control_plane" and source.role == "workers":
                ports.append((API_PORT, "API server"))
            if source in control:
                ports.append((KUBELET_PORT, "kubelet API"))
                if target in control:
                    ports += [(port, "etcd") for port in ETCD_PORTS]
            for port, why in ports:
                paths.append(Path(source.name, target.name, target.address or "", port, why))
    return paths


def _probe_ports(port: str) -> list[int]:
    """The TCP port numbers to probe for a firewalld port: each of a small range, else its
    first (a probe connects over TCP: UDP ports are left out)."""
    numbers, _, proto = port.partition("/")
    if proto != "tcp":
        return []
    first, _, last = numbers.partition("-")
    low, high = int(first), int(last or first)
    return list(range(low, high + 1)) if high - low < MAX_RANGE_PROBES else [low]


def outside_paths(outsiders: list[str], nodes: list[Node]) -> list[Path]:
    """From each host that is not a node (the inventory group ``outside``) to every node: its
    nodes-only ports must be closed, its public ports open."""
    paths = []
    for source in outsiders:
        for node in nodes:
            if node.facts is None or node.spec is None or not node.address:
                continue
            for port in dict.fromkeys(p for spec in node.spec.nodes_only_ports
                                      for p in _probe_ports(spec)):
                paths.append(Path(source, node.name, node.address, port, "nodes only",
                                  expected="closed"))
            for port in dict.fromkeys(p for spec in node.spec.public_ports
                                      for p in _probe_ports(spec)):
                paths.append(Path(source, node.name, node.address, port, "public"))
    return paths


def _reach_fix(path: PathResult, node: str) -> str:
    if path.result == "not checked" and "listen" in path.detail:
        return "install python3 on the target (platform-python on EL8) to test this path"
    if path.result == "not checked":
        return (f"make {path.path.source} able to run bash and timeout (a host of the outside "
                "group: its probe_prefix)")
    if path.path.expected == "closed":
        return (f"close {path.path.port}/tcp on {node} to everyone but the nodes: see the firewall "
                "column (pyinfra inventory.py tasks/firewall.py, or the firewall-cmd lines "
                "there); check firewalls in front of the nodes")
    return (f"open {path.path.port}/tcp on {node} (runtime and permanent): "
            "pyinfra inventory.py tasks/firewall.py; check firewalls between the nodes")


def evaluate(nodes: list[Node], paths: list[PathResult], kubernetes_version: str) -> Report:
    """Fill every node's results: node checks, fleet checks, then reachability."""
    fleet = fleet_checks(nodes)
    for node in nodes:
        if node.facts is None or node.spec is None:
            node.results = [node.problem or Result("ssh", ERROR, "not checked")]
            continue
        results: list[Result] = []
        for check in NODE_CHECKS:
            results.extend(check(node.spec, node.facts))
        results.extend(fleet.get(node.name, []))
        into = [path for path in paths if path.path.target == node.name]
        if into:
            bad = [path for path in into if path.level != OK]
            if not bad:
                closed = sum(path.path.expected == "closed" for path in into)
                parts = [f"{len(into) - closed} paths in, all open" if len(into) > closed else "",
                         f"{closed} nodes-only from outside, all closed" if closed else ""]
                results.append(Result("reach", OK, "; ".join(part for part in parts if part)))
            for path in bad:
                reached = (" (reachable from a non-node address)"
                           if path.path.expected == "closed" else "")
                results.append(Result(
                    "reach", path.level,
                    f"{path.path.source} -> {node.name}:{path.path.port} ({path.path.why}) "
                    f"{path.result}{reached}: {path.detail}",
                    _reach_fix(path, node.name),
                ))
        node.results = results
    return Report(nodes, paths, kubernetes_version)
