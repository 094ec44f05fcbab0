"""The readiness checks: facts of every node (+ its data, + the fleet) in, results out.

Pure Python, no pyinfra: ``facts`` is what ``facts.readiness.NodeReadiness`` returns. Each check
gives one or more ``Result`` (check = the table column, level ok|warning|error, detail, fix), with
the level kubeadm or the kubelet gives the same problem. Reachability probes are built and read
here too; running them is fleet.readiness's job.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeprep.ports import covered

OK, WARNING, ERROR = "ok", "warning", "error"
LEVELS = (OK, WARNING, ERROR)

COLUMNS = (
    "swap", "forward", "bridge", "overlay", "persist", "selinux", "firewall", "cpu/mem",
    "hostname", "uuid", "mac", "cgroup", "kernel", "tools", "ports", "reach",
)
REQUIRED_BINARIES = ("ip", "iptables", "mount", "nsenter")  # kubeadm: errors
OPTIONAL_BINARIES = ("ebtables", "ethtool", "socat", "tc", "touch", "conntrack")  # warnings
BINARIES = REQUIRED_BINARIES + OPTIONAL_BINARIES
# What kubeadm's preflight finds in use (init: control plane; join: worker).
ROLE_PORTS = {
    "control_plane": (6443, 10259, 10257, 2379, 2380, 10250),
    "workers": (10250,),
}
API_PORT, KUBELET_PORT, ETCD_PORTS = 6443, 10250, (2379, 2380)
MIN_CPUS, MIN_MEMORY_MB = 2, 1700  # kubeadm init
CONNECT_SECONDS = 5
_RHEL_IDS = {"rocky", "almalinux", "rhel", "centos", "fedora", "ol"}
# A Node name: a lower-case RFC 1123 subdomain (kubeadm lower-cases the hostname).
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")
_ADDRESS = re.compile(r"^[A-Za-z0-9.:_-]+$")
# Packages that provide each binary (RHEL: dnf resolves the path).
_DEBIAN_PACKAGES = {
    "ip": "iproute2", "iptables": "iptables", "mount": "mount", "nsenter": "util-linux",
    "ebtables": "ebtables", "ethtool": "ethtool", "socat": "socat", "tc": "iproute2",
    "touch": "coreutils", "conntrack": "conntrack",
}
_RHEL_PATHS = {
    "ip": "/usr/sbin/ip", "iptables": "/usr/sbin/iptables", "mount": "/usr/bin/mount",
    "nsenter": "/usr/bin/nsenter", "ebtables": "/usr/sbin/ebtables",
    "ethtool": "/usr/sbin/ethtool", "socat": "/usr/bin/socat", "tc": "/usr/sbin/tc",
    "touch": "/usr/bin/touch", "conntrack": "/usr/sbin/conntrack",
}


@dataclass(frozen=True)
class Result:
    check: str  # one of COLUMNS (or "data", "ssh")
    level: str  # ok | warning | error
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class NodeSpec:
    """What a node should be: its role and data (from kubeprep.settings), and its address."""

    name: str
    role: str
    swap: str = "off"
    selinux_mode: str = "permissive"
    kernel_modules: tuple[str, ...] = ("overlay", "br_netfilter")
    kernel_sysctls: tuple[tuple[str, str], ...] = (
        ("net.bridge.bridge-nf-call-iptables", "1"),
        ("net.bridge.bridge-nf-call-ip6tables", "1"),
        ("net.ipv4.ip_forward", "1"),
    )
    open_ports: tuple[str, ...] = ()  # the public zone's (firewall_zone, else the default zone)
    cluster_zone: str | None = None  # the nodes-only zone; None: every port is public
    cluster_ports: tuple[str, ...] = ()  # the cluster zone's
    cluster_sources: tuple[str, ...] | None = ()  # every node's address; None: not known
    protocols: tuple[str, ...] = ()  # the CNI's: in the cluster zone, else in the public zone
    kubernetes_version: str = "1.35"
    address: str | None = None  # cluster_address from host data


@dataclass
class Node:
    spec: NodeSpec
    facts: Mapping[str, Any] | None  # None: not read (data refused, SSH failed)
    problem: Result | None = None  # why facts is None
    results: list[Result] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> str | None:
        """The address the cluster uses: cluster_address, else the default-route IPv4."""
        if self.spec.address:
            return self.spec.address
        return (self.facts or {}).get("default_address")


@dataclass(frozen=True)
class Path:
    source: str
    target: str
    address: str
    port: int
    why: str  # what uses it


@dataclass(frozen=True)
class PathResult:
    path: Path
    result: str  # open | refused | filtered | not checked
    detail: str

    @property
    def level(self) -> str:
        return {"open": OK, "not checked": WARNING}.get(self.result, ERROR)


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


def family(facts: Mapping[str, Any]) -> str:
    os_release = facts.get("os") or {}
    like = str(os_release.get("like", "")).split()
    if os_release.get("id") in _RHEL_IDS or {"rhel", "fedora", "centos"} & set(like):
        return "rhel"
    return "debian"


def install_fix(facts: Mapping[str, Any], binaries: Iterable[str]) -> str:
    names = list(binaries)
    if family(facts) == "rhel":
        return "dnf install -y " + " ".join(_RHEL_PATHS.get(name, name) for name in names)
    packages = dict.fromkeys(_DEBIAN_PACKAGES.get(name, name) for name in names)
    return "apt-get install -y " + " ".join(packages)


# ------------------------------------------------------------------------------ node checks


def check_swap(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    swaps = facts.get("swaps") or []
    if not swaps:
        return [Result("swap", OK, "no active swap")]
    active = ", ".join(f"{swap['name']} ({swap['type']})" for swap in swaps)
    if spec.swap == "keep":
        if facts.get("cgroup_fs") != "cgroup2fs":
            return [Result(
                "swap", WARNING, f"swap kept (data swap=keep) on cgroup v1: {active}",
                "NodeSwap (LimitedSwap) needs cgroup v2; boot with "
                "systemd.unified_cgroup_hierarchy=1, or set swap=off",
            )]
        return [Result(
            "swap", OK,
            f"swap kept (data swap=keep): {active}; set failSwapOn: false in the kubelet config",
        )]
    return [Result(
        "swap", ERROR, f"swap is on: {active}; the kubelet refuses to start with swap",
        "pyinfra inventory.py tasks/swap.py (swapoff -a, swap lines in /etc/fstab commented), "
        "or set swap=keep and configure the kubelet for NodeSwap",
    )]


def check_ip_forward(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    value = (facts.get("sysctls") or {}).get("net.ipv4.ip_forward")
    if value == "1":
        return [Result("forward", OK, "net.ipv4.ip_forward = 1")]
    shown = "unreadable" if value is None else value
    return [Result(
        "forward", ERROR, f"net.ipv4.ip_forward = {shown} (kubeadm requires 1)",
        "pyinfra inventory.py tasks/kernel.py (sets it in /etc/sysctl.d/k8s.conf and applies it)",
    )]


def check_bridge(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """br_netfilter loaded and the bridge sysctls at 1.

    kubeadm stopped checking this in 1.30, but kube-proxy and most network plugins need it:
    an error when the data asks for these keys (kubeprep's default), a warning otherwise.
    """
    keys = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")
    wanted = dict(spec.kernel_sysctls)
    level = ERROR if any(key in wanted for key in keys) else WARNING
    module = (facts.get("modules") or {}).get("br_netfilter") or {}
    problems = []
    if not (module.get("loaded") or module.get("builtin")):
        problems.append("br_netfilter is not loaded")
    live = facts.get("sysctls") or {}
    for key in keys:
        if live.get(key) != "1":
            problems.append(f"{key} = {live.get(key, 'absent')}")
    if not problems:
        return [Result("bridge", OK, "br_netfilter loaded, bridge-nf-call-iptables/ip6tables = 1")]
    return [Result(
        "bridge", level, "; ".join(problems) + " (bridged pod traffic bypasses iptables)",
        "pyinfra inventory.py tasks/kernel.py (modprobe br_netfilter, then the sysctls)",
    )]


def check_overlay(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    module = (facts.get("modules") or {}).get("overlay") or {}
    if module.get("loaded") or module.get("builtin"):
        return [Result("overlay", OK, "overlay " + ("loaded" if module.get("loaded") else
                                                    "built in"))]
    if module.get("available"):
        return [Result("overlay", OK, "overlay loadable (not loaded yet)")]
    return [Result(
        "overlay", ERROR,
        "overlay is neither loaded, built in nor installed (the container runtime's snapshotter)",
        "install the kernel's modules package (RHEL: kernel-modules; Debian: linux-image) "
        "and reboot into it",
    )]


def check_persist(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """Modules and sysctls are in the boot-time files, not only live."""
    persisted_modules = facts.get("modules_persisted") or {}
    modules = facts.get("modules") or {}
    missing = [
        module for module in spec.kernel_modules
        if module not in persisted_modules and not (modules.get(module) or {}).get("builtin")
    ]
    persisted = facts.get("sysctls_persisted") or {}
    wrong = []
    for key, value in spec.kernel_sysctls:
        found = persisted.get(key)
        if found is None:
            wrong.append(f"{key} not set")
        elif found["value"] != str(value):
            wrong.append(f"{key} = {found['value']} in {found['file']}")
    if not missing and not wrong:
        return [Result("persist", OK, "modules in modules-load.d, sysctls in sysctl.d")]
    parts = []
    if missing:
        parts.append(f"not loaded at boot: {', '.join(missing)}")
    if wrong:
        parts.append(f"not persisted: {'; '.join(wrong)}")
    return [Result(
        "persist", ERROR, "; ".join(parts) + " (lost at the next reboot)",
        "pyinfra inventory.py tasks/kernel.py (/etc/modules-load.d/k8s.conf, "
        "/etc/sysctl.d/k8s.conf)",
    )]


def check_selinux(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """The mode now and at boot against the data; SELinux disabled in the kernel counts as
    permissive (it stays off whatever the config says until the kernel enables it)."""
    selinux = facts.get("selinux") or {}
    current, config = selinux.get("current"), selinux.get("config")
    wanted = spec.selinux_mode
    fix = "pyinfra inventory.py tasks/selinux.py"
    if current is None and config is None:
        return [Result("selinux", OK, "no SELinux on this host")]
    detail = f"SELinux {current or 'absent'} now, {config or 'unset'} at boot; data says {wanted}"
    if wanted != "enforcing" and "enforcing" in (current, config):
        return [Result("selinux", ERROR, detail + " (kubeadm's install guide needs permissive)",
                       fix)]
    if (config is not None and config != wanted) or (wanted == "enforcing" and
                                                      current != "enforcing"):
        return [Result("selinux", WARNING, detail, fix)]
    return [Result("selinux", OK, detail)]


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
        firewall.get("zone") or "public", spec.open_ports, None,
        () if cluster else spec.protocols,
        {"runtime": firewall.get("runtime"), "permanent": firewall.get("permanent")},
    )
    if not cluster:
        return [public]
    return [public, _Zone(
        cluster, spec.cluster_ports, spec.cluster_sources, spec.protocols,
        {"runtime": firewall.get("cluster_runtime"),
         "permanent": firewall.get("cluster_permanent")},
    )]


def _zone_problems(
    zone: _Zone, service_ports: Mapping[str, list[str]],
) -> tuple[list[str], list[str]]:
    """(what the zone lacks, the sources it has beyond the nodes), per config."""
    if all(config is None for config in zone.configs.values()):
        return [f"zone {zone.name} does not exist"], []
    lacks, extra = [], []
    for name, config in zone.configs.items():
        where = f"({name}, zone {zone.name})"
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

    The public zone (firewall_zone, else the default zone) has ``spec.open_ports``. With a
    cluster zone, that zone exists and has ``spec.cluster_ports``, every node's address as a
    source (unless the addresses are not known) and the CNI's protocols; without one, the
    public zone has the protocols. A port counts as open when a port, a range or a service of
    the zone opens it. A source of the cluster zone that is not a node is a warning: kubeadm
    does not mind, but it reaches the nodes-only ports (tasks/firewall.py removes it).
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
    results = []
    if lacks:
        results.append(Result("firewall", ERROR, "; ".join(lacks), fix))
    if extra:
        results.append(Result(
            "firewall", WARNING, "; ".join(extra) + " (not nodes: they reach the nodes-only ports)",
            f"{fix} (keeps the cluster zone's sources to the inventory's nodes)",
        ))
    return results or [Result("firewall", OK, "firewalld active, " + "; ".join(
        zone.summary() for zone in zones))]


def check_resources(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    cpus, memory = facts.get("cpus"), facts.get("memory_mb")
    control_plane = spec.role == "control_plane"
    results = []
    if cpus is None or memory is None:
        results.append(Result("cpu/mem", WARNING, "could not read CPUs or memory"))
    if control_plane and cpus is not None and cpus < MIN_CPUS:
        results.append(Result("cpu/mem", ERROR, f"{cpus} CPU (kubeadm init needs {MIN_CPUS})",
                              "give the VM at least 2 vCPUs"))
    if memory is not None and memory < MIN_MEMORY_MB:
        level = ERROR if control_plane else WARNING
        needs = "kubeadm init needs" if control_plane else "a worker should have"
        results.append(Result("cpu/mem", level, f"{memory} MB memory ({needs} {MIN_MEMORY_MB})",
                              "give the machine at least 2 GB of memory"))
    return results or [Result("cpu/mem", OK, f"{cpus} CPUs, {memory} MB")]


def check_hostname(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    name = facts.get("hostname")
    if not name:
        return [Result("hostname", ERROR, "could not read the hostname")]
    node_name = name.lower()
    fix = "hostnamectl set-hostname NAME (lower-case letters, digits, '-' and '.')"
    results = []
    if len(node_name) > 253 or not _DNS_SUBDOMAIN.match(node_name):
        results.append(Result("hostname", ERROR,
                              f"{name!r} is not a valid node name (RFC 1123 subdomain)", fix))
    elif node_name.split(".")[0] == "localhost":
        results.append(Result("hostname", WARNING,
                              f"{name!r}: every fresh machine is called that", fix))
    if not facts.get("hostname_addresses"):
        results.append(Result(
            "hostname", WARNING, f"{name!r} does not resolve (kubeadm warns)",
            f"add '<address> {name}' to /etc/hosts or to DNS",
        ))
    return results or [Result("hostname", OK, f"{name} resolves to "
                              f"{', '.join(facts['hostname_addresses'])}")]


def check_cgroup(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    fs_type = facts.get("cgroup_fs")
    if fs_type == "cgroup2fs":
        return [Result("cgroup", OK, "cgroup v2")]
    if fs_type is None:
        return [Result("cgroup", WARNING, "could not read the cgroup file system type")]
    version = parse_version(spec.kubernetes_version)
    fix = (
        "grubby --update-kernel=ALL --args=systemd.unified_cgroup_hierarchy=1, then reboot"
        if family(facts) == "rhel" else
        "add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, "
        "update-grub, then reboot"
    )
    if version is None or version >= (1, 35):
        return [Result(
            "cgroup", ERROR,
            f"cgroup v1 ({fs_type}): the kubelet {spec.kubernetes_version} refuses to start "
            "(failCgroupV1 is true from 1.35)", fix,
        )]
    return [Result("cgroup", WARNING,
                   f"cgroup v1 ({fs_type}): in maintenance mode, an error from kubelet 1.35", fix)]


def check_kernel(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """kubeadm's SystemVerification list: 4.19+ of 4.x, any 5.x or 6.x (and later).

    Outside the list it is a warning from kubeadm 1.34 (system-validators 1.10.1), an error in
    1.32 and 1.33, which introduced the 4.19 floor.
    """
    release = facts.get("kernel")
    match = re.match(r"^(\d+)\.(\d+)", release or "")
    if not match:
        return [Result("kernel", WARNING, "could not read the kernel release")]
    major, minor = int(match.group(1)), int(match.group(2))
    if major >= 5 or (major, minor) >= (4, 19):
        return [Result("kernel", OK, release)]
    version = parse_version(spec.kubernetes_version)
    level = ERROR if version in ((1, 32), (1, 33)) else WARNING
    return [Result(
        "kernel", level,
        f"{release} is outside kubeadm's validated kernels (4.19+, 5.x, 6.x)",
        "run a newer kernel (EL9: 5.14), or pass --ignore-preflight-errors=SystemVerification",
    )]


def check_binaries(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    found = facts.get("binaries") or {}
    results = []
    for names, level in ((REQUIRED_BINARIES, ERROR), (OPTIONAL_BINARIES, WARNING)):
        missing = [name for name in names if not found.get(name)]
        if missing:
            results.append(Result("tools", level, f"not on PATH: {' '.join(missing)}",
                                  install_fix(facts, missing)))
    return results or [Result("tools", OK, "all of " + " ".join(BINARIES))]


def check_ports(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    ports = ROLE_PORTS.get(spec.role, ())
    busy = [port for port in ports if port in (facts.get("listening") or [])]
    if busy:
        return [Result(
            "ports", ERROR, f"already in use: {' '.join(map(str, busy))} (kubeadm needs them free)",
            f"find the process with ss -ltnp 'sport = :{busy[0]}' and stop it "
            "(or kubeadm reset after an earlier attempt)",
        )]
    return [Result("ports", OK, f"free: {' '.join(map(str, ports))}")]


NODE_CHECKS = (
    check_swap, check_ip_forward, check_bridge, check_overlay, check_persist, check_selinux,
    check_firewall, check_resources, check_hostname, check_cgroup, check_kernel, check_binaries,
    check_ports,
)


# ------------------------------------------------------------------------------ fleet checks


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
    """Hostname, product_uuid and MAC uniqueness across every node that was read."""
    read = [node for node in nodes if node.facts is not None]
    results: dict[str, list[Result]] = {node.name: [] for node in read}
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
    control = [node for node in usable if node.spec.role == "control_plane"]
    paths = []
    for source in usable:
        for target in usable:
            if source is target:
                continue
            ports: list[tuple[int, str]] = []
            if target.spec.role == "control_plane" and source.spec.role == "workers":
                ports.append((API_PORT, "API server"))
            if source in control:
                ports.append((KUBELET_PORT, "kubelet API"))
                if target in control:
                    ports += [(port, "etcd") for port in ETCD_PORTS]
            for port, why in ports:
                paths.append(Path(source.name, target.name, target.address or "", port, why))
    return paths


# A listener that accepts and closes every connection on the given ports; it binds what it can.
_LISTENER = (
    "import select,socket,sys\n"
    "ss=[]\n"
    "for a in sys.argv[1:]:\n"
    " s=socket.socket()\n"
    " s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    " try:\n"
    "  s.bind(('0.0.0.0',int(a)));s.listen(64);ss.append(s)\n"
    " except OSError:\n"
    "  s.close()\n"
    "while ss:\n"
    " for s in select.select(ss,[],[])[0]:\n"
    "  try:\n"
    "   s.accept()[0].close()\n"
    "  except OSError:\n"
    "   pass\n"
)


def listener_command(python: str, ports: list[int], seconds: int) -> str:
    """Start a listener on ``ports`` for at most ``seconds``, in the background, detached from
    the SSH session; wait until it listens; print ``pid N`` and one ``bound PORT`` per port.
    Nothing is written on the host."""
    hexes = " ".join(f"{port:04X}" for port in ports)
    return (
        f"timeout {int(seconds)} {shlex.quote(python)} -c {shlex.quote(_LISTENER)} "
        f"{' '.join(str(int(port)) for port in ports)} </dev/null >/dev/null 2>&1 & "
        "pid=$!; n=0; while [ $n -lt 40 ]; do all=1; "
        f"for h in {hexes}; do "
        'grep -q ":$h 00000000:0000 0A" /proc/net/tcp || all=0; done; '
        '[ $all = 1 ] && break; sleep 0.1; n=$((n+1)); done; echo "pid $pid"; '
        f"for h in {hexes}; do "
        'grep -q ":$h 00000000:0000 0A" /proc/net/tcp && echo "bound $h"; done; true'
    )


def parse_listener(lines: list[str]) -> tuple[int | None, set[int]]:
    pid, bound = None, set()
    for line in lines:
        key, _, value = line.strip().partition(" ")
        if key == "pid" and value.isdigit():
            pid = int(value)
        elif key == "bound":
            try:
                bound.add(int(value, 16))
            except ValueError:
                continue
    return pid, bound


def stop_command(pid: int) -> str:
    """Stop the listener (timeout passes the signal to python); it was bounded anyway."""
    return f"kill {int(pid)} 2>/dev/null; true"


def probe_command(targets: list[tuple[str, int]]) -> str:
    """Connect to each address:port from this node, one after the other, each bounded to
    CONNECT_SECONDS; print ``probe ADDRESS PORT RC MESSAGE``."""
    for address, _ in targets:
        if not _ADDRESS.match(address):
            raise ValueError(f"not an address: {address!r}")
    pairs = " ".join(f"{address}/{int(port)}" for address, port in targets)
    return (
        f"for t in {pairs}; do "
        f"m=$(timeout {CONNECT_SECONDS} bash -c \"exec 3<>/dev/tcp/$t\" 2>&1); rc=$?; "
        'echo "probe ${t%/*} ${t##*/} $rc" $m; done; true'
    )


def parse_probes(lines: list[str]) -> dict[tuple[str, int], tuple[int, str]]:
    found = {}
    for line in lines:
        fields = line.strip().split(" ", 4)
        if len(fields) >= 4 and fields[0] == "probe" and fields[2].isdigit() \
                and fields[3].lstrip("-").isdigit():
            found[(fields[1], int(fields[2]))] = (int(fields[3]), fields[4] if len(fields) > 4
                                                  else "")
    return found


def classify_probe(rc: int, message: str) -> tuple[str, str]:
    """(result, detail) of one ``timeout 5 bash -c 'exec 3<>/dev/tcp/A/P'``."""
    if rc == 0:
        return "open", "connected"
    if "refused" in message.lower():
        return "refused", "connection refused (TCP reset: nothing listens, or a reject rule)"
    if rc == 124:
        return "filtered", f"no answer in {CONNECT_SECONDS} s (packets dropped)"
    if "no route to host" in message.lower():
        return "filtered", "rejected (ICMP host-prohibited: a firewall reject rule)"
    if rc == 127:
        return "not checked", "no bash or timeout on the source node"
    return "filtered", message.strip() or f"failed (rc {rc})"


# ------------------------------------------------------------------------------ everything


def evaluate(nodes: list[Node], paths: list[PathResult], kubernetes_version: str) -> Report:
    """Fill every node's results: node checks, fleet checks, then reachability."""
    fleet = fleet_checks(nodes)
    for node in nodes:
        if node.facts is None:
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
