"""The readiness check's model: levels, the table's columns, what a node should be (NodeSpec),
a node with its facts and results (Node), reachability paths and their results, the Report.

Pure Python, no pyinfra, no ``kubeprep.facts`` imports; NodeSpec's data keys are typed as
kubeprep.settings stores them (``key_view``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeprep.settings import key_view

OK, WARNING, ERROR = "ok", "warning", "error"
LEVELS = (OK, WARNING, ERROR)

COLUMNS = (
    "swap", "forward", "bridge", "overlay", "persist", "selinux", "firewall", "others",
    "cpu/mem", "hostname", "address", "uuid", "mac", "cgroup", "kernel", "tools", "ports",
    "leftover", "proxy", "runtime", "packages", "tokens", "certs", "reach",
)
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")


@dataclass(frozen=True)
class Result:
    check: str  # one of COLUMNS (or "data", "ssh")
    level: str  # ok | warning | error
    detail: str
    fix: str = ""



@dataclass(frozen=True)
class _DerivedSpec:
    """What a node should be: its role, what follows from its data and the inventory (these
    fields), and the data keys the checks read (``KEYS``, one field per key as
    ``kubeprep.settings.Settings`` stores them; kubeprep.fleet.readiness builds one from the
    Settings)."""

    KEYS = (
        "swap", "selinux_mode", "kernel_modules", "kernel_sysctls",
        "firewall_disable_others",  # tasks/firewall.py stops the other firewalls
        "cluster_address",  # None: the node's default route's address
        "cni_pod_cidr", "cni_service_cidr", "kubernetes_version",
        "cgroup_driver",  # containerd's SystemdCgroup and the kubelet's cgroupDriver
    )

    role: str
    public_ports: tuple[str, ...]  # the public zone's (firewall_zone, else the default zone)
    cluster_zone: str | None  # the nodes-only zone; None: every port is public
    cluster_ports: tuple[str, ...]  # the cluster zone's
    cluster_sources: tuple[str, ...] | None  # every node's address; None: not known
    protocols: tuple[str, ...]  # the CNI's: in the cluster zone, else in the public zone
    nodes_only_ports: tuple[str, ...]  # ports only nodes may reach (not also public ports)
    api_endpoint: str | None  # HOST:PORT the nodes join (the first control plane's); None: unknown


NodeSpec = key_view("NodeSpec", _DerivedSpec, __name__)


@dataclass
class Node:
    name: str
    role: str
    spec: NodeSpec | None  # None: the data was refused or never read
    facts: Mapping[str, Any] | None  # None: not read (data refused, SSH failed)
    problem: Result | None = None  # why facts is None
    cluster_address: str | None = None  # from the host's data
    results: list[Result] = field(default_factory=list)

    @property
    def address(self) -> str | None:
        """The address the cluster uses: cluster_address, else the default-route IPv4."""
        if self.cluster_address:
            return self.cluster_address
        return (self.facts or {}).get("default_address")


@dataclass(frozen=True)
class Path:
    source: str
    target: str
    address: str
    port: int
    why: str  # what uses it
    expected: str = "open"  # "closed": a nodes-only port probed from a host that is not a node


@dataclass(frozen=True)
class PathResult:
    path: Path
    result: str  # open | refused | filtered | not checked
    detail: str

    @property
    def level(self) -> str:
        if self.result == "not checked":
            return WARNING
        return OK if (self.result == "open") == (self.path.expected == "open") else ERROR


@dataclass
class Report:
    nodes: list[Node]
    paths: list[PathResult]
    kubernetes_version: str

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(LEVELS, 0)
        for node in self.nodes:
            for result in node.results:
                counts[result.level] += 1
        return counts

    @property
    def ok(self) -> bool:
        return self.counts[ERROR] == 0


def worst(levels: Iterable[str]) -> str:
    found = [LEVELS.index(level) for level in levels]
    return LEVELS[max(found)] if found else OK


def parse_version(text: str) -> tuple[int, int] | None:
    match = _VERSION.match(str(text).strip())
    return (int(match.group(1)), int(match.group(2))) if match else None

