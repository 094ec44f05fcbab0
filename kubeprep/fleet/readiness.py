"""The pyinfra side of the readiness check (check.py): read each node, then check the fleet once.

pyinfra runs check.py once per host while it prepares: ``gather()`` validates the host's data and
reads the ``NodeReadiness`` fact (one round trip), and registers the node with the run's fleet.
The one operation check.py adds, ``finish``, runs on every host when pyinfra executes: the first
host to get there runs the fleet-wide part for everyone (uniqueness, reachability probes), prints
the report and writes the JSON; every host then fails its operation when it has an error, so
pyinfra exits non-zero.

The pyinfra internal relied on: ``pyinfra.context.ctx_state.get()``, the ``State`` behind the
``state`` proxy, which keys the run's fleet. Commands on the hosts go through
``kubeprep.fleet.remote``.
"""

from __future__ import annotations

import json
import os
import traceback
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

import click
import gevent
from gevent.event import Event
from pyinfra import host, logger
from pyinfra.api import State, StringCommand
from pyinfra.api.host import Host
from pyinfra.context import ctx_state

from kubeprep.checks.fleet import evaluate, outside_paths, required_paths
from kubeprep.checks.model import (
    ERROR,
    Node,
    NodeSpec,
    Path,
    PathResult,
    Report,
    Result,
)
from kubeprep.checks.node import BINARIES
from kubeprep.checks.probes import (
    CONNECT_SECONDS,
    classify_probe,
    listener_command,
    parse_listener,
    parse_probes,
    prefixed,
    probe_command,
    stop_command,
)
from kubeprep.errors import DataError
from kubeprep.facts.readiness import NodeReadiness
from kubeprep.firewalls import KUBERNETES_SERVICES
from kubeprep.fleet.hosts import address_of, cluster_addresses
from kubeprep.fleet.remote import run_on
from kubeprep.keys import BY_NAME
from kubeprep.kubeadm import control_plane_endpoint
from kubeprep.ports import covered
from kubeprep.report import render_json, render_text
from kubeprep.settings import OUTSIDE, ROLES, Settings, settings_from_data

JSON_ENV = "KUBEPREP_CHECK_JSON"  # a path for the JSON report, or "-" for stdout
BASE_SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
)




@dataclass(frozen=True)
class Outsider:
    """A host of the outside group: it probes every node's ports, through ``probe_prefix``."""

    name: str
    prefix: str
    problem: str | None = None  # why its probes cannot run (bad probe_prefix)


@dataclass
class Fleet:
    nodes: dict[str, Node] = field(default_factory=dict)
    outsiders: dict[str, Outsider] = field(default_factory=dict)
    kubernetes_version: str = BY_NAME["kubernetes_version"].default  # until a node's data says
    started: bool = False
    done: Event = field(default_factory=Event)
    report: Report | None = None


_fleets: WeakKeyDictionary[State, Fleet] = WeakKeyDictionary()


def _fleet(state: State) -> Fleet:
    if state not in _fleets:
        _fleets[state] = Fleet()
    return _fleets[state]


def gather() -> None:
    """check.py, per host at prepare time: the host's data and its ``NodeReadiness`` fact."""
    fleet = _fleet(ctx_state.get())
    data = host.data.dict()
    role = next((group for group in host.groups if group in ROLES), "?")
    if OUTSIDE in host.groups and role == "?":
        fleet.outsiders[host.name] = _outsider(host.name, data.get("probe_prefix", ""))
        return
    address = data.get("cluster_address")
    try:
        settings = settings_from_data(host.name, list(host.groups), data)
    except DataError as error:
        fleet.nodes[host.name] = Node(
            host.name, role, None, None,
            Result("data", ERROR, str(error), "correct the data (docs/data-keys.md)"), address,
        )
        return
    fleet.kubernetes_version = settings.kubernetes_version
    cluster_zone = settings.firewall_cluster_zone if settings.firewall_cluster_only else None
    spec = NodeSpec(
        role=settings.role,
        public_ports=tuple(settings.public_ports),
        cluster_zone=cluster_zone,
        cluster_ports=tuple(settings.cluster_zone_ports) if cluster_zone else (),
        cluster_sources=_cluster_sources(settings),
        protocols=settings.cni_protocols,
        nodes_only_ports=_nodes_only_ports(settings),
        api_endpoint=_api_endpoint(settings),
        **{name: getattr(settings, name) for name in NodeSpec.KEYS},
    )
    sysctls = list(dict.fromkeys([*BASE_SYSCTLS, *(key for key, _ in settings.kernel_sysctls)]))
    modules = list(dict.fromkeys(["overlay", "br_netfilter", *settings.kernel_modules]))
    facts = host.get_fact(
        NodeReadiness, modules=modules, sysctls=sysctls, binaries=list(BINARIES),
        zone=settings.firewall_zone, cluster_zone=cluster_zone,
        cni_bin_dir=settings.containerd_cni_bin_dir,  # None: the platform's, as tasks/runtime.py
        services=list(KUBERNETES_SERVICES),  # the ports of those a zone lists count
    )
    fleet.nodes[host.name] = Node(host.name, settings.role, spec, facts, cluster_address=address)


def _outsider(name: str, prefix: object) -> Outsider:
    """An outside host, or why its probe_prefix cannot wrap a command."""
    problem = "not a string"
    if isinstance(prefix, str):
        try:
            prefixed(prefix, "true")
            return Outsider(name, prefix)
        except ValueError as error:
            problem = str(error)
    return Outsider(name, "", (
        f"{name}: probe_prefix = {prefix!r}: {problem}. Fix: give the command words to run the "
        "probe through, e.g. 'ip netns exec kubeprep-lab', or leave it out"))


def _nodes_only_ports(settings: Settings) -> tuple[str, ...]:
    """The nodes' own ports (firewall_cluster_ports, the CNI's) that are not also public."""
    public = [settings.firewall_ssh_port, *settings.firewall_ports]
    return tuple(port for port in settings.node_ports if not covered(port, public))


def _api_endpoint(settings: Settings) -> str | None:
    """Where the nodes join: the data's control-plane endpoint, else the first control plane's
    address and the API port; None when that address is not known."""
    control_planes = list(ctx_state.get().inventory.get_group("control_plane", []))
    address = address_of(control_planes[0]) if control_planes else None
    kube = settings.kubernetes
    return control_plane_endpoint(kube, address) \
        if address or kube.kubernetes_control_plane_endpoint else None


def _cluster_sources(settings: Settings) -> tuple[str, ...] | None:
    """The sources the cluster zone must have: every node's address; None when one is not known
    (tasks/firewall.py refuses such a host, and the check skips the sources)."""
    if not settings.firewall_cluster_only:
        return ()
    addresses = cluster_addresses()
    return None if isinstance(addresses, DataError) else tuple(addresses)


def finish(state: State, host: Host) -> bool:
    """The operation on every host: the fleet part runs once; False (a failed operation, so a
    non-zero exit) when this host has an error."""
    fleet = _fleet(state)
    if not fleet.started:
        fleet.started = True
        try:
            fleet.report = _check_fleet(state, fleet)
            _output(fleet.report)
        except Exception:  # the report must not die silently: say what broke
            logger.error(f"kubeprep: the readiness check failed:\n{traceback.format_exc()}")
        finally:
            fleet.done.set()
    else:
        fleet.done.wait()
    if fleet.report is None:
        return False
    node = next((node for node in fleet.report.nodes if node.name == host.name), None)
    errors = [result for result in (node.results if node else []) if result.level == ERROR]
    if errors:
        host.log_styled(
            f"kubeprep: not ready, {len(errors)} errors: "
            + ", ".join(dict.fromkeys(result.check for result in errors)),
            fg="red", log_func=logger.error,
        )
        return False
    return True


def _check_fleet(state: State, fleet: Fleet) -> Report:
    nodes = []
    for inventory_host in state.inventory:
        if not state.is_host_in_limit(inventory_host):
            continue
        if OUTSIDE in inventory_host.groups and not set(inventory_host.groups) & set(ROLES):
            continue  # a probe source, not a node
        node = fleet.nodes.get(inventory_host.name)
        if node is None:  # never prepared: the SSH connection failed
            role = next((g for g in inventory_host.groups if g in ROLES), "?")
            node = Node(
                inventory_host.name, role, None, None,
                Result("ssh", ERROR, "could not connect, nothing was checked",
                       "check the inventory's ssh_* data and that the host is up"),
            )
        nodes.append(node)
    paths = [*required_paths(nodes), *outside_paths(list(fleet.outsiders), nodes)]
    results = reachability(state, {node.name: node for node in nodes}, paths, fleet.outsiders)
    return evaluate(nodes, results, fleet.kubernetes_version)


def _run(state: State, target: Host, command: str) -> list[str]:
    """The stdout lines of one shell command on any host of the run."""
    _, output = run_on(state, target, StringCommand(command))
    return output.stdout_lines


def reachability(
    state: State, nodes: dict[str, Node], paths: list[Path],
    outsiders: dict[str, Outsider] | None = None,
) -> list[PathResult]:
    """Probe every path: a short-lived listener on each target's free ports, a connection from
    each source (an outside host's through its probe_prefix); every listener is stopped at the
    end (and is bounded in time anyway)."""
    outsiders = outsiders or {}
    if not paths:
        return []
    decided: dict[Path, PathResult] = {}
    per_source: dict[str, int] = {}
    for path in paths:
        per_source[path.source] = per_source.get(path.source, 0) + 1
    seconds = min(300, 20 + (CONNECT_SECONDS + 1) * max(per_source.values()))
    listeners: dict[str, int] = {}
    already: dict[str, set[int]] = {}
    try:
        for target in dict.fromkeys(path.target for path in paths):
            already[target], pid, unchecked = _listen(
                state, target, nodes[target].facts or {},
                [path for path in paths if path.target == target], seconds,
            )
            if pid:
                listeners[target] = pid
            decided.update((result.path, result) for result in unchecked)

        def probe(source: str) -> None:
            todo = [path for path in paths if path.source == source and path not in decided]
            outsider = outsiders.get(source)
            if outsider and outsider.problem:
                decided.update((path, PathResult(path, "not checked", outsider.problem))
                               for path in todo)
                return
            if not todo:
                return
            command = probe_command([(path.address, path.port) for path in todo])
            if outsider:
                command = prefixed(outsider.prefix, command)
            lines = _run(state, state.inventory.get_host(source), command)
            found = parse_probes(lines)
            for path in todo:
                rc, message = found.get((path.address, path.port), (127, "no probe output"))
                result, detail = classify_probe(rc, message)
                if result == "open" and path.port in already.get(path.target, set()):
                    detail = "connected to the service already listening there"
                decided[path] = PathResult(path, result, detail)

        gevent.joinall(
            [gevent.spawn(probe, source) for source in dict.fromkeys(p.source for p in paths)],
            raise_error=True,
        )
    finally:
        for target, pid in listeners.items():
            _run(state, state.inventory.get_host(target), stop_command(pid))
    return [decided[path] for path in paths]


def _listen(
    state: State, target: str, facts: dict, paths: list[Path], seconds: int,
) -> tuple[set[int], int | None, list[PathResult]]:
    """A listener on ``target`` for the ports of ``paths`` (all to ``target``) that nothing
    listens on yet: (the ports something already listens on, the listener's pid, the paths whose
    port it could not listen on)."""
    ports = sorted({path.port for path in paths})
    already = {port for port in ports if port in (facts.get("listening") or [])}
    free = [port for port in ports if port not in already]
    if not free:
        return already, None, []
    python = facts.get("python")
    pid: int | None = None
    bound: set[int] = set()
    if python:
        command = listener_command(python, free, seconds)
        pid, bound = parse_listener(_run(state, state.inventory.get_host(target), command))
    reason = f" on {target}" + ("" if python else " (no python3 or platform-python)")
    return already, pid, [
        PathResult(path, "not checked", f"could not listen on {path.port}{reason}")
        for path in paths if path.port in free and path.port not in bound
    ]


def _output(report: Report) -> None:
    """The table on stdout, or on stderr when stdout carries the JSON report
    (KUBEPREP_CHECK_JSON=-); the JSON report where KUBEPREP_CHECK_JSON says."""
    destination = os.environ.get(JSON_ENV, "")
    click.echo(render_text(report), err=destination == "-", nl=False)
    if destination:
        text = json.dumps(render_json(report), indent=2) + "\n"
        if destination == "-":
            click.echo(text, nl=False)
        else:
            with open(destination, "w", encoding="utf-8") as handle:
                handle.write(text)
