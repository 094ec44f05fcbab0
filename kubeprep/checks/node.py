"""The node checks, one small function each, and their registry ``NODE_CHECKS`` (as kubeadm's
preflight assembles its checks): a NodeSpec and the node's ``NodeReadiness`` fact in, results
out, with the level kubeadm or the kubelet gives the same problem. Pure Python, no pyinfra.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from kubeprep.checks.firewall import check_exposure, check_firewall, check_others
from kubeprep.checks.model import ERROR, OK, WARNING, NodeSpec, Result, parse_version
from kubeprep.checks.software import check_packages, check_runtime
from kubeprep.node_files import ETCD_DATA_DIR, KUBEADM_LEFTOVERS, KUBELET_CONF, RELABEL_MARK
from kubeprep.os_release import is_rhel_family

REQUIRED_BINARIES = ("ip", "iptables", "mount", "nsenter")  # kubeadm: errors
OPTIONAL_BINARIES = ("ebtables", "ethtool", "socat", "tc", "touch", "conntrack")  # warnings
BINARIES = REQUIRED_BINARIES + OPTIONAL_BINARIES
# The ports kubeadm's preflight requires free (its PortOpenCheck list, whatever the firewall
# data opens), from cmd/kubeadm/app/preflight/checks.go: init (control plane) checks the API
# server, scheduler, controller manager, etcd and kubelet ports; join (worker) the kubelet's.
KUBEADM_PREFLIGHT_PORTS = {
    "control_plane": (6443, 10259, 10257, 2379, 2380, 10250),
    "workers": (10250,),
}
MIN_CPUS, MIN_MEMORY_MB = 2, 1700  # kubeadm init
# A label value's limit: the kubelet labels its Node kubernetes.io/hostname=<hostname>.
MAX_LABEL_VALUE = 63
# A Node name: a lower-case RFC 1123 subdomain (kubeadm lower-cases the hostname).
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
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



def package_manager(facts: Mapping[str, Any]) -> str:
    """``dnf`` or ``apt``: which install command (and boot tooling) a fix should name."""
    os_release = facts.get("os") or {}
    rhel = is_rhel_family(str(os_release.get("id", "")), str(os_release.get("like", "")))
    return "dnf" if rhel else "apt"


def install_fix(facts: Mapping[str, Any], binaries: Iterable[str]) -> str:
    names = list(binaries)
    if package_manager(facts) == "dnf":
        return "dnf install -y " + " ".join(_RHEL_PATHS.get(name, name) for name in names)
    packages = dict.fromkeys(_DEBIAN_PACKAGES.get(name, name) for name in names)
    return "apt-get install -y " + " ".join(packages)


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
    permissive (it stays off whatever the config says until the kernel enables it). A relabel
    waiting for the next boot, and ``disabled`` without the kernel argument RHEL 9 needs, are
    warnings: neither enforces anything now."""
    selinux = facts.get("selinux") or {}
    current, config = selinux.get("current"), selinux.get("config")
    wanted = spec.selinux_mode
    fix = "pyinfra inventory.py tasks/selinux.py"
    if current is None and config is None:
        return [Result("selinux", OK, "no SELinux on this host")]
    detail = f"SELinux {current or 'absent'} now, {config or 'unset'} at boot; data says {wanted}"
    if wanted != "enforcing" and "enforcing" in (current, config):
        results = [Result("selinux", ERROR,
                          detail + " (kubeadm's install guide needs permissive)", fix)]
    elif (config is not None and config != wanted) or (wanted == "enforcing" and
                                                        current != "enforcing"):
        results = [Result("selinux", WARNING, detail, fix)]
    else:
        results = [Result("selinux", OK, detail)]
    # A pending relabel runs at the next boot only where the kernel starts SELinux by itself (the
    # RHEL family); Debian's kernel needs security=selinux first, so there the file just waits.
    if selinux.get("relabel_pending") and (
        package_manager(facts) == "dnf" or current in ("enforcing", "permissive")
    ):
        results.append(Result(
            "selinux", WARNING,
            f"reboot pending (relabel): {RELABEL_MARK} is there, so the next boot relabels the "
            f"file system and starts SELinux {config or 'as configured'}",
            f"reboot the node before kubeadm (the relabel takes minutes), then {fix}",
        ))
    if wanted == "disabled" and _config_cannot_disable(facts):
        boot_args = selinux.get("boot_args")
        if boot_args is None or not all(map(_selinux_off_at_boot, boot_args)):
            missing = ("grubby is not installed to read the boot entries" if boot_args is None
                       else "a boot entry lacks the selinux=0 kernel argument")
            results.append(Result(
                "selinux", WARNING,
                f"selinux_mode = disabled, but on {_release(facts)} SELINUX=disabled in "
                f"/etc/selinux/config does not disable SELinux (it boots enabled with no policy "
                f"loaded) and {missing}",
                f"{fix} (grubby --update-kernel ALL --args selinux=0), then reboot; or set "
                "selinux_mode = 'permissive'",
            ))
    return results


def _config_cannot_disable(facts: Mapping[str, Any]) -> bool:
    """RHEL 9 and later (and the Fedora releases they come from) dropped disabling SELinux
    through /etc/selinux/config: only the ``selinux=0`` kernel argument does."""
    major = str((facts.get("os") or {}).get("version", "")).split(".")[0]
    return package_manager(facts) == "dnf" and major.isdigit() and int(major) >= 9


def _release(facts: Mapping[str, Any]) -> str:
    os_release = facts.get("os") or {}
    return f"{os_release.get('id', '')} {os_release.get('version', '')}".strip()


def _selinux_off_at_boot(args: str) -> bool:
    """Whether a kernel command line turns SELinux off: its last ``selinux=`` is ``selinux=0``."""
    values = [arg for arg in args.split() if arg.startswith("selinux=")]
    return bool(values) and values[-1] == "selinux=0"


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
    elif len(node_name) > MAX_LABEL_VALUE:
        results.append(Result(
            "hostname", ERROR,
            f"{name!r} has {len(node_name)} characters: kubeadm warns ([WARNING Hostname]: name "
            f"part must be no more than {MAX_LABEL_VALUE} characters) and the kubelet cannot "
            "register the node (its kubernetes.io/hostname label value is limited to "
            f"{MAX_LABEL_VALUE})",
            "hostnamectl set-hostname with a name of at most 63 characters (e.g. the short name)",
        ))
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
        if package_manager(facts) == "dnf" else
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


# kubeadm's SystemVerification kernel list (kubernetes/system-validators, validators/types_unix.go
# KernelSpec.Versions; kernel_validator.go validateKernelVersion), per kubeadm minor version:
# system-validators 1.10.0 dropped 4.x for the kernel.org LTS 5.4, 5.10, 5.15 and any 6.x or
# later (used from kubeadm 1.34; 1.35 has 1.12.1, same list), and 1.10.1 made a release outside
# it a warning; 1.9.x (kubeadm 1.32 and 1.33) took 4.19+, 5.x, 6.x and refused the rest.
KERNELS_SINCE_1_34 = (
    r"^5\.4.*$", r"^5\.10.*$", r"^5\.15.*$", r"^([6-9]|[1-9][0-9]+)\.([0-9]+)\.([0-9]+).*$",
)
KERNELS_1_32 = (r"^4\.19.*$", r"^4\.[2-9][0-9].*$", r"^([5-9]|[1-9][0-9]+)\.([0-9]+)\.([0-9]+).*$")


def check_kernel(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """The kernel release against kubeadm's SystemVerification list for ``kubernetes_version``.

    From 1.34: 5.4, 5.10, 5.15, 6.x and later; outside it a warning (EL8's 4.18 and EL9's 5.14
    get kubeadm's warning too). 1.32 and 1.33: 4.19+, 5.x, 6.x; outside it an error. Before
    1.32 kubeadm took any 3.10+ kernel: nothing kubeprep supports is outside it.
    """
    release = facts.get("kernel")
    if not release or not re.match(r"^\d+\.\d+", release):
        return [Result("kernel", WARNING, "could not read the kernel release")]
    version = parse_version(spec.kubernetes_version)
    if version is not None and version < (1, 32):
        return [Result("kernel", OK, release)]
    old = version in ((1, 32), (1, 33))
    accepted = KERNELS_1_32 if old else KERNELS_SINCE_1_34
    if any(re.match(pattern, release) for pattern in accepted):
        return [Result("kernel", OK, release)]
    listed = "4.19+, 5.x, 6.x" if old else "5.4, 5.10, 5.15, 6.x and later"
    level = ERROR if old else WARNING
    return [Result(
        "kernel", level,
        f"{release} is outside kubeadm {spec.kubernetes_version}'s validated kernels ({listed}): "
        f"[{level.upper()} SystemVerification]",
        "run a kernel from that list, or pass --ignore-preflight-errors=SystemVerification",
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


def in_cluster(spec: NodeSpec, facts: Mapping[str, Any]) -> bool:
    """Whether the node is in this inventory's cluster: kubeadm wrote its kubelet.conf, naming
    the API server the nodes join, and the kubelet runs. Its ports and kubeadm's files are then
    the cluster's own, not what an earlier run left."""
    kubelet = facts.get("kubelet") or {}
    server = (kubelet.get("server") or "").lower().removeprefix("https://").rstrip("/")
    return (KUBELET_CONF in (facts.get("leftovers") or []) and kubelet.get("active") == "active"
            and spec.api_endpoint is not None and server == spec.api_endpoint.lower())


def check_ports(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    ports = KUBEADM_PREFLIGHT_PORTS.get(spec.role, ())
    busy = [port for port in ports if port in (facts.get("listening") or [])]
    if busy and in_cluster(spec, facts):
        return [Result("ports", OK, f"in use by the cluster on this node: "
                       f"{' '.join(map(str, busy))} (it has joined, its kubelet runs)")]
    if busy:
        return [Result(
            "ports", ERROR, f"already in use: {' '.join(map(str, busy))} (kubeadm needs them free)",
            f"find the process with ss -ltnp 'sport = :{busy[0]}' and stop it "
            "(or kubeadm reset after an earlier attempt)",
        )]
    return [Result("ports", OK, f"free: {' '.join(map(str, ports))}")]


def kubeadm_check_name(path: str) -> str:
    """kubeadm's name of the check that refuses ``path``: FileAvailable--etc-kubernetes-...,
    DirAvailable--var-lib-etcd (what --ignore-preflight-errors takes)."""
    kind = "DirAvailable" if path == ETCD_DATA_DIR else "FileAvailable"
    return f"{kind}-{path.replace('/', '-')}"


def check_leftovers(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """Nothing left from an earlier kubeadm run: what kubeadm refuses for this role is an error;
    the other role's files a warning (a former control plane joining as a worker would run
    its old static Pods)."""
    found = facts.get("leftovers") or []
    if in_cluster(spec, facts):
        return [Result("leftover", OK, "kubeadm's files are the cluster's: this node has "
                       f"joined {spec.api_endpoint} and its kubelet runs")]
    refused = [path for path in found if path in KUBEADM_LEFTOVERS.get(spec.role, ())]
    others = [path for path in found if path not in refused]
    fix = "kubeadm reset -f (it removes what an earlier init or join left), or remove them"
    results = []
    if refused:
        results.append(Result(
            "leftover", ERROR,
            "left from an earlier kubeadm run: " + "; ".join(
                f"{path} ([ERROR {kubeadm_check_name(path)}])" for path in refused),
            fix,
        ))
    if others:
        results.append(Result(
            "leftover", WARNING,
            f"left from an earlier kubeadm run: {' '.join(others)} (kubeadm does not check "
            f"them on a {'control plane' if spec.role == 'control_plane' else 'worker'})",
            fix,
        ))
    return results or [Result("leftover", OK, "no kubeadm leftovers")]


def check_tokens(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """No bootstrap token that never expires, where the node holds the admin kubeconfig: with
    one, anyone who has it can join a node to the cluster at any time."""
    tokens = facts.get("bootstrap_tokens") or {}
    forever = sorted(token for token, expires in tokens.items() if expires is None)
    if forever:
        return [Result(
            "tokens", WARNING,
            f"bootstrap token{'s' if len(forever) > 1 else ''} {' '.join(forever)} never "
            "expire(s): anyone holding one can join a node to the cluster",
            f"kubeadm token delete {' '.join(forever)} (kubeprep makes a 1 h token per run)",
        )]
    return [Result("tokens", OK, f"{len(tokens)} bootstrap token(s), each expiring" if tokens
                   else "no bootstrap token (or no admin kubeconfig on this node)")]


def check_cluster_address(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """The data's cluster_address is an address of this node (kubespray asserts the same): the
    other nodes and the firewall's sources use it."""
    address = spec.cluster_address
    if address is None:
        return [Result("address", OK, "no cluster_address: the default route's source address")]
    found = facts.get("ip_addresses") or []
    if not found:
        return [Result("address", WARNING, "could not read the node's addresses (ip -o addr)")]
    if ipaddress.ip_address(address) in {ipaddress.ip_address(a) for a in found}:
        return [Result("address", OK, f"cluster_address {address} is on this node")]
    listed = " ".join(a for a in found if not ipaddress.ip_address(a).is_loopback
                      and not ipaddress.ip_address(a).is_link_local)
    return [Result(
        "address", ERROR,
        f"cluster_address {address} is not an address of this node (it has {listed or 'none'})",
        "set cluster_address in the inventory to this node's address on the cluster network",
    )]


def _no_proxy_covers(entries: list[str], target: str) -> bool:
    """Whether a NO_PROXY list sends ``target`` (an address or a network) direct, as Go's
    net/http (golang.org/x/net/http/httpproxy) reads it: ``*``, an IP, a CIDR."""
    network = ipaddress.ip_network(target, strict=False)
    for entry in entries:
        if entry == "*":
            return True
        try:
            if network.subnet_of(ipaddress.ip_network(entry, strict=False)):
                return True
        except (ValueError, TypeError):
            continue
    return False


def check_proxy(
    spec: NodeSpec, facts: Mapping[str, Any], node_addresses: list[str],
) -> list[Result]:
    """An HTTPS proxy (HTTPS_PROXY, else https_proxy) must leave the nodes and the pod and
    service networks direct (NO_PROXY, else no_proxy): kubeadm's HTTPProxy and HTTPProxyCIDR
    warnings; the API server would send its calls to pods and services through the proxy.
    Each place that sets one (the SSH session, /etc/environment, /etc/profile.d) is read alone.
    """
    results = []
    for source, variables in (facts.get("proxy") or {}).items():
        proxy = variables.get("HTTPS_PROXY") or variables.get("https_proxy")
        if not proxy:
            continue
        no_proxy = variables.get("NO_PROXY") or variables.get("no_proxy") or ""
        entries = [entry.strip().lower() for entry in no_proxy.split(",") if entry.strip()]
        wanted = [*node_addresses, spec.cni_pod_cidr, spec.cni_service_cidr]
        missing = [target for target in wanted if not _no_proxy_covers(entries, target)]
        where = "the SSH session's environment" if source == "env" else source
        if not missing:
            results.append(Result("proxy", OK, f"HTTPS proxy {proxy} in {where}; NO_PROXY "
                                  "has the nodes, the pod and the service networks"))
            continue
        names = ", ".join(dict.fromkeys(
            "HTTPProxyCIDR" if "/" in target else "HTTPProxy" for target in missing))
        results.append(Result(
            "proxy", WARNING,
            f"HTTPS proxy {proxy} in {where} would carry the connections to "
            f"{' '.join(missing)} ([WARNING {names}])",
            f"add {','.join(missing)} to NO_PROXY and no_proxy in {where}",
        ))
    return results or [Result("proxy", OK, "no HTTPS proxy")]


# kubeadm's certificates last a year; renew them before the last month.
CERTIFICATE_WARNING_DAYS = 30


def check_certificates(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """kubeadm's certificates and CAs, where the node holds the admin kubeconfig: an error once
    one has expired (the control plane stops answering), a warning in its last 30 days."""
    certificates = facts.get("certificates") or {}
    if not certificates:
        return [Result("certs", OK, "no kubeadm certificates read (or no admin kubeconfig)")]
    first = min(certificates, key=lambda name: (certificates[name]["days_left"], name))
    days, expires = certificates[first]["days_left"], certificates[first]["expires"]
    expired = sorted(name for name, cert in certificates.items() if cert["days_left"] < 1)
    if expired:
        return [Result("certs", ERROR, f"expired: {' '.join(expired)}",
                       _renewal_fix(certificates, expired))]
    soon = sorted(name for name, cert in certificates.items()
                  if cert["days_left"] < CERTIFICATE_WARNING_DAYS)
    if soon:
        return [Result("certs", WARNING, f"{' '.join(soon)} expire within "
                       f"{CERTIFICATE_WARNING_DAYS} days ({first}: {days} days)",
                       _renewal_fix(certificates, soon))]
    return [Result("certs", OK, f"{len(certificates)} certificates; the first to expire, "
                   f"{first}, in {days} days ({expires})")]


def _renewal_fix(certificates: Mapping[str, Any], named: list[str]) -> str:
    """How to renew ``named``: kubeprep for certificates, by hand for a CA (kubeadm renews none)."""
    fixes = []
    if any(not certificates[name]["authority"] for name in named):
        fixes.append(f"set kubernetes_certificate_renewal_days = {CERTIFICATE_WARNING_DAYS} "
                     "and run kubeprep (kubeadm certs renew all on this control plane, its "
                     "static pods restarted one at a time)")
    authorities = [name for name in named if certificates[name]["authority"]]
    if authorities:
        fixes.append(f"rotate the CA {' '.join(authorities)} by hand (kubeadm renews no CA: "
                     "kubeadm's manual certificate rotation guide)")
    return "; ".join(fixes)


NODE_CHECKS = (
    check_swap, check_ip_forward, check_bridge, check_overlay, check_persist, check_selinux,
    check_firewall, check_exposure, check_others, check_resources, check_hostname,
    check_cluster_address, check_cgroup, check_kernel, check_binaries, check_ports,
    check_leftovers, check_runtime, check_packages, check_tokens, check_certificates,
)
