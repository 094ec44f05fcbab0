"""The fleet checks (hostname, product_uuid and MAC uniqueness), the reachability paths the
cluster needs, and ``evaluate``: every node's results from the node checks, the fleet checks and
the probed paths. Pure Python, no pyinfra.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kubeprep.checks.model import ERROR, OK, WARNING, Node, Path, PathResult, Report, Result
from kubeprep.checks.node import NODE_CHECKS, check_proxy

API_PORT, KUBELET_PORT, ETCD_PORTS = 6443, 10250, (2379, 2380)


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
    proxy against every node's address."""
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
            bad = [path for path in into if path.result != "open"]
            if not bad:
                results.append(Result("reach", OK, f"{len(into)} paths in, all open"))
            for path in bad:
                results.append(Result(
                    "reach", path.level,
                    f"{path.path.source} -> {node.name}:{path.path.port} ({path.path.why}) "
                    f"{path.result}: {path.detail}",
                    f"open {path.path.port}/tcp on {node.name} (runtime and permanent): "
                    "pyinfra inventory.py tasks/firewall.py; check firewalls between the nodes"
                    if path.result in ("filtered", "refused") else
                    "install python3 on the target (platform-python on EL8) to test this path",
                ))
        node.results = results
    return Report(nodes, paths, kubernetes_version)
