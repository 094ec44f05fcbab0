"""One read-only fact with everything the readiness check (check.py) needs from a node, in one
command: each concern's part of it and its parser come from that concern's fact module, and
firewalld's readers are put together here into the check's view of its zones; the parts no other
fact reads (the OS, the files that persist modules and sysctls, the host's resources and names,
the tools, kubeadm's leftovers, the proxy) are read here."""

from __future__ import annotations

from collections.abc import Sequence

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

from kubeprep.containerd import CNI_BIN_DIRS
from kubeprep.facts import marked_sections, parse_settings_lines
from kubeprep.facts.containerd import (
    CRI_PLUGIN,
    ContainerdState,
    ContainerdStateDict,
    CriDict,
    parse_cri,
    parse_state,
    state_command,
)
from kubeprep.facts.firewalld import (
    IF_FIREWALLD_RUNS,
    InterfaceZoneDict,
    ZoneConfigDict,
    choose_zone,
    interface_zones_command,
    parse_interface_zones,
    parse_runtime,
    parse_service_definitions,
    parse_zone_file,
    service_definitions_command,
    zone_file_command,
    zone_runtime_command,
)
from kubeprep.facts.kernel import ModuleStateDict, module_states_command, parse_module_states
from kubeprep.facts.kubernetes import (
    BOOTSTRAP_TOKENS,
    CERTIFICATE_EXPIRY,
    KUBELET_STATE,
    PACKAGES_COMMAND,
    CertificateDict,
    KubeletDict,
    KubernetesPackages,
    KubernetesPackagesDict,
    parse_bootstrap_tokens,
    parse_certificate_expiry,
    parse_kubelet,
    parse_packages,
)
from kubeprep.facts.network import (
    DEFAULT_ROUTE,
    IP_ADDRESSES,
    LISTENING_TCP,
    NET_INTERFACES,
    InterfaceDict,
    parse_default_route_address,
    parse_ip_addresses,
    parse_listening_ports,
    parse_net_interfaces,
)
from kubeprep.facts.other_firewalls import (
    OTHER_FIREWALLS,
    OtherFirewalls,
    OtherFirewallsDict,
    parse_other_firewalls,
)
from kubeprep.facts.selinux import SELINUX_COMMAND, SelinuxMode, SelinuxModeDict, parse_selinux
from kubeprep.facts.swap import ACTIVE_SWAPS, ActiveSwapDict, parse_active_swaps
from kubeprep.facts.sysctl import parse_sysctl_lines
from kubeprep.node_files import ETCD_DATA_DIR, KUBEADM_LEFTOVERS
from kubeprep.os_release import rhel_family_case

_MARK = "--- kubeprep:"  # each section's mark: ``--- kubeprep:NAME``
# Where systemd-modules-load and systemd-sysctl read their files, highest precedence first.
_CONF_DIRS = ("/etc", "/run", "/usr/lib")
_SETTING_LINE = "'^[[:space:]]*[^#;[:space:]]'"  # not blank, not a comment
# The files of KUBEADM_LEFTOVERS, either role's; the etcd data directory counts when not empty.
_LEFTOVER_FILES = tuple(
    path for paths in KUBEADM_LEFTOVERS.values() for path in paths if path != ETCD_DATA_DIR
)
# Where a proxy for kubeadm comes from: the session's environment (pam_env reads
# /etc/environment), and the files login shells read.
_PROXY_VARIABLE = "'^[[:space:]]*(export[[:space:]]+)?(https?|no)_proxy='"
# The platform's CNI plugins directory, where data names none: the RHEL family's
# (kubeprep.os_release), else Debian's and Ubuntu's; on the platforms kubeprep supports, the one
# tasks/runtime.py configures.
_PLATFORM_CNI_BIN_DIR = (
    'cni_bin_dir=$( . /etc/os-release 2>/dev/null; case " $ID $ID_LIKE " in'
    f' {rhel_family_case()}) echo {CNI_BIN_DIRS["rhel"]};;'
    f' *) echo {CNI_BIN_DIRS["debian"]};; esac);'
)


class FirewallDict(TypedDict):
    installed: bool
    active: bool
    zone: str | None
    runtime: ZoneConfigDict | None
    permanent: ZoneConfigDict | None
    permanent_problem: str | None  # why the zone file could not be read
    cluster_zone: str | None
    cluster_runtime: ZoneConfigDict | None
    cluster_permanent: ZoneConfigDict | None
    cluster_permanent_problem: str | None
    service_ports: dict[str, list[str]]
    default_zone: str | None
    interface_zones: dict[str, InterfaceZoneDict]


class NodeReadinessDict(TypedDict):
    os: dict[str, str]
    swaps: list[ActiveSwapDict]
    sysctls: dict[str, str]
    modules: dict[str, ModuleStateDict]
    modules_persisted: dict[str, str]
    sysctls_persisted: dict[str, dict[str, str]]
    selinux: SelinuxModeDict
    firewalld: FirewallDict
    cpus: int | None
    memory_mb: int | None
    hostname: str | None
    hostname_addresses: list[str]
    product_uuid: str | None
    interfaces: list[InterfaceDict]
    cgroup_fs: str | None
    kernel: str | None
    binaries: dict[str, str | None]
    listening: list[int]
    default_address: str | None
    python: str | None
    ip_addresses: list[str]
    leftovers: list[str]
    proxy: dict[str, dict[str, str]]
    other_firewalls: OtherFirewallsDict
    containerd: ContainerdStateDict
    cri: CriDict
    packages: KubernetesPackagesDict
    kubelet: KubeletDict
    bootstrap_tokens: dict[str, str | None]
    certificates: dict[str, CertificateDict]


def _mark(name: str) -> str:
    return f"echo '{_MARK}{name}';"


def _read_firewalld(
    zone: str | None, cluster_zone: str | None, services: Sequence[str],
) -> list[StringCommand | str]:
    """Where firewall-cmd is installed: whether firewalld runs, the zone and the cluster zone
    the check asks for, the zones bound to an interface, the definitions of ``services``."""
    cluster = [
        StringCommand("cluster_zone=", QuoteString(cluster_zone), _separator=""),
        '; echo "cluster_zone=$cluster_zone";',
    ] if cluster_zone else []
    return [
        "if command -v firewall-cmd >/dev/null 2>&1; then",
        _mark("firewalld"),
        'echo "active=$(systemctl is-active firewalld 2>/dev/null)";',
        choose_zone(zone), *cluster,
        *_read_zone("zone", "firewall"),
        *(_read_zone("cluster_zone", "cluster") if cluster_zone else []),
        *interface_zones_command(_mark),
        _mark("firewall_services"), *service_definitions_command(services), "fi;",
    ]


def _read_zone(variable: str, prefix: str) -> list[str]:
    """The zone named by the shell variable ``variable``: its file, then its runtime config while
    firewalld runs; both print nothing for a zone that does not exist."""
    return [
        _mark(f"{prefix}_permanent"), zone_file_command(variable),
        _mark(f"{prefix}_runtime"), IF_FIREWALLD_RUNS, zone_runtime_command(variable), "fi;",
    ]


class NodeReadiness(FactBase[NodeReadinessDict]):
    """
    Returns, in one round trip and without changing anything, what kubeadm and the kubelet need
    from a node: swap, sysctls (live and persisted), kernel modules (loaded, built in, loadable,
    persisted), SELinux, firewalld (one or two zones, runtime and permanent, and the ports of the
    service definitions asked for; the default zone and every zone bound to an interface, now
    or in its file, with both configs), CPUs, memory, hostname, product_uuid, MAC addresses,
    cgroup version, kernel, binaries, listening TCP ports, the python to run a probe listener
    with, the node's IP addresses, what an earlier kubeadm run left (``KUBEADM_LEFTOVERS``,
    the etcd data directory when not empty), the proxy variables of the SSH session,
    /etc/environment and /etc/profile.d, the other firewalls (ufw, nftables/iptables services
    and their rule files), containerd (``ContainerdState``'s reading; the CRI plugin's status in
    ``ctr plugins ls``), the Kubernetes packages, the kubelet's service and ``cgroupDriver``,
    and, where the node holds the admin kubeconfig, the cluster's bootstrap tokens (ID and
    expiry, never the secret) and when kubeadm's certificates expire.

    Each concern's part of the command and its parser are that concern's own (in
    ``kubeprep.facts``: ``swap``, ``selinux``, ``kernel``, ``network``, ``firewalld``, ``sysctl``,
    ``other_firewalls``, ``containerd``, ``kubernetes``), so this fact reads them as the
    per-concern facts do.

    A zone's runtime config is ``None`` while firewalld is stopped; both configs are ``None`` for
    a zone that does not exist; a zone file that is not valid XML reads as no permanent config,
    with the reason in ``permanent_problem`` (``cluster_permanent_problem``).

    + modules: kernel modules to look up
    + sysctls: sysctl keys to read
    + binaries: commands to look up on ``PATH``
    + zone: the firewalld zone; the default zone when omitted
    + cluster_zone: a second zone to read (the nodes-only zone); none when omitted
    + cni_bin_dir: the CNI plugins directory to list; the platform's when omitted (the RHEL
      family's ``/opt/cni/bin``, by ``kubeprep.os_release``'s rule, else ``/usr/lib/cni``)
    + services: the firewalld services whose definitions to read, with those they include
      (``service_ports``); none when omitted

    .. code:: python

        {
            "os": {"id": "rocky", "version": "8.10", "like": "rhel centos fedora"},
            "swaps": [{"name": "/dev/dm-1", "type": "partition"}],
            "sysctls": {"net.ipv4.ip_forward": "0"},
            "modules": {"overlay": {"loaded": False, "builtin": False, "available": True}},
            "modules_persisted": {"overlay": "/etc/modules-load.d/k8s.conf"},
            "sysctls_persisted": {
                "net.ipv4.ip_forward": {"value": "1", "file": "/etc/sysctl.d/k8s.conf"},
            },
            "selinux": {"current": "enforcing", "config": "enforcing",
                        "relabel_pending": False, "boot_args": None},
            "firewalld": {"installed": True, "active": True, "zone": "public",
                          "runtime": {"ports": ["22/tcp"], ...}, "permanent": {...},
                          "permanent_problem": None,
                          "cluster_zone": "kubeprep", "cluster_runtime": {...},
                          "cluster_permanent": {...}, "cluster_permanent_problem": None,
                          "service_ports": {"kube-worker": ["10250/tcp", "30000-32767/tcp"]},
                          "default_zone": "public",
                          "interface_zones": {"public": {"interfaces": ["enp0s3"],
                                                         "permanent_interfaces": [],
                                                         "runtime": {...}, "permanent": {...}}}},
            "cpus": 2,
            "memory_mb": 1774,
            "hostname": "localhost.localdomain",
            "hostname_addresses": ["::1"],
            "product_uuid": "4c4c4544-0042-3510-8051-b4c04f4d3132",
            "interfaces": [{"name": "enp0s3", "address": "08:00:27:5e:1a:01", "device": True}],
            "cgroup_fs": "tmpfs",
            "kernel": "4.18.0-553.el8_10.x86_64",
            "binaries": {"ip": "/usr/sbin/ip", "socat": None},
            "listening": [22],
            "default_address": "10.0.2.15",
            "python": "/usr/libexec/platform-python",
            "ip_addresses": ["127.0.0.1", "::1", "10.0.2.15", "fe80::a00:27ff:fe5e:1a01"],
            "leftovers": ["/etc/kubernetes/kubelet.conf"],
            "proxy": {"/etc/environment": {"https_proxy": "http://proxy.corp.example:3128"}},
            "other_firewalls": {"units": {"nftables.service": {"active": False,
                                                               "enabled": False}},
                                "ufw": {"installed": False, "enabled": False, "active": False},
                                "files": {"/etc/sysconfig/nftables.conf": "# ..."}},
            "containerd": {"version": "1.7.24~ds1", "active": "active", ...},
            "cri": {"status": "ok", "error": None},
            "packages": {"installed": {"kubeadm": "1.35.2-150500.1.1", ...}, "held": [...]},
            "kubelet": {"enabled": "enabled", "active": "active",
                        "server": "https://10.0.0.11:6443", "config": True,
                        "cgroup_driver": "systemd"},
            "bootstrap_tokens": {"jksc4g": "2026-12-03T01:43:46Z", "abcdef": None},
            "certificates": {"apiserver": {"expires": "2027-12-02T08:04:45Z",
                                           "days_left": 364, "authority": False}, ...},
        }
    """

    @override
    @staticmethod
    def default() -> NodeReadinessDict:
        return {
            "os": {},
            "swaps": [],
            "sysctls": {},
            "modules": {},
            "modules_persisted": {},
            "sysctls_persisted": {},
            "selinux": SelinuxMode.default(),
            "firewalld": {
                "installed": False, "active": False, "zone": None,
                "runtime": None, "permanent": None, "permanent_problem": None,
                "cluster_zone": None, "cluster_runtime": None, "cluster_permanent": None,
                "cluster_permanent_problem": None,
                "service_ports": {},
                "default_zone": None,
                "interface_zones": {},
            },
            "cpus": None,
            "memory_mb": None,
            "hostname": None,
            "hostname_addresses": [],
            "product_uuid": None,
            "interfaces": [],
            "cgroup_fs": None,
            "kernel": None,
            "binaries": {},
            "listening": [],
            "default_address": None,
            "python": None,
            "ip_addresses": [],
            "leftovers": [],
            "proxy": {},
            "other_firewalls": OtherFirewalls.default(),
            "containerd": ContainerdState.default(),
            "cri": {"status": None, "error": None},
            "packages": KubernetesPackages.default(),
            "kubelet": {"enabled": None, "active": None, "server": None, "config": False,
                        "cgroup_driver": None},
            "bootstrap_tokens": {},
            "certificates": {},
        }

    @override
    def command(
        self,
        modules: list[str],
        sysctls: list[str],
        binaries: list[str],
        zone: str | None = None,
        cluster_zone: str | None = None,
        cni_bin_dir: str | None = None,
        services: Sequence[str] = (),
    ) -> StringCommand:
        conf = " ".join(f"{root}/{{kind}}.d/*.conf" for root in _CONF_DIRS)
        cni = (
            [StringCommand("cni_bin_dir=", QuoteString(cni_bin_dir), _separator=""), ";"]
            if cni_bin_dir else [_PLATFORM_CNI_BIN_DIR]
        )
        return StringCommand(
            _mark("os"),
            '( . /etc/os-release 2>/dev/null; echo "$ID"; echo "$VERSION_ID"; echo "$ID_LIKE" );',
            _mark("swaps"), f"{ACTIVE_SWAPS};",
            _mark("sysctls"), "sysctl", *(QuoteString(key) for key in sysctls), "2>/dev/null;",
            _mark("modules"), module_states_command(modules),
            _mark("modules_files"),
            f"grep -sHE {_SETTING_LINE} {conf.format(kind='modules-load')};",
            _mark("sysctl_files"),
            f"grep -sHE {_SETTING_LINE} {conf.format(kind='sysctl')} /etc/sysctl.conf;",
            _mark("selinux"), f"{SELINUX_COMMAND};",
            *_read_firewalld(zone, cluster_zone, services),
            _mark("cpus"), "nproc 2>/dev/null;",
            _mark("memory"), "grep '^MemTotal:' /proc/meminfo;",
            _mark("hostname"), "uname -n;",
            _mark("hostname_addresses"), 'getent hosts "$(uname -n)";',
            _mark("product_uuid"), "cat /sys/class/dmi/id/product_uuid 2>/dev/null;",
            _mark("interfaces"), f"{NET_INTERFACES};",
            _mark("cgroup"), "stat -fc %T /sys/fs/cgroup 2>/dev/null;",
            _mark("kernel"), "uname -r;",
            _mark("binaries"), "for b in", *(QuoteString(name) for name in binaries), "; do",
            'echo "$b $(command -v "$b")"; done;',
            _mark("listening"), f"{LISTENING_TCP};",
            _mark("route"), f"{DEFAULT_ROUTE};",
            _mark("python"),
            "for p in python3 /usr/libexec/platform-python; do command -v $p && break; done;",
            _mark("ip_addresses"), f"{IP_ADDRESSES};",
            _mark("leftovers"), f"for f in {' '.join(_LEFTOVER_FILES)};",
            'do [ -e "$f" ] && echo "$f"; done;',
            f'[ -n "$(ls -A {ETCD_DATA_DIR} 2>/dev/null)" ] && echo {ETCD_DATA_DIR};',
            _mark("proxy"), "env | grep -iE '^(https?|no)_proxy=' | sed 's/^/env:/';",
            f"grep -sHiE {_PROXY_VARIABLE} /etc/environment /etc/profile.d/*.sh;",
            _mark("other_firewalls"), f"{OTHER_FIREWALLS};",
            _mark("containerd"), *cni, state_command('"$cni_bin_dir"'), ";",
            _mark("cri"), f"{CRI_PLUGIN};",
            _mark("packages"), f"{PACKAGES_COMMAND};",
            _mark("kubelet"), f"{KUBELET_STATE};",
            _mark("bootstrap_tokens"), f"{BOOTSTRAP_TOKENS};",
            _mark("certificates"), f"{CERTIFICATE_EXPIRY};",
            "exit 0",
        )

    @override
    def process(self, output) -> NodeReadinessDict:
        sections = dict(marked_sections(output, "", mark=_MARK))

        def part(name: str) -> list[str]:
            return sections.get(name, [])

        default = self.default()
        return {
            "os": _os_release(part("os")),
            "swaps": parse_active_swaps(part("swaps")),
            "sysctls": parse_sysctl_lines(part("sysctls")),
            "modules": parse_module_states(part("modules")),
            "modules_persisted": _persisted_modules(part("modules_files")),
            "sysctls_persisted": _persisted_sysctls(part("sysctl_files")),
            "selinux": parse_selinux(part("selinux")),
            "firewalld": _firewall(sections) if "firewalld" in sections else default["firewalld"],
            "cpus": _count(_first(part("cpus"))),
            "memory_mb": _memory_mb(_first(part("memory"))),
            "hostname": _first(part("hostname")),
            "hostname_addresses": [line.split()[0] for line in part("hostname_addresses")
                                   if line.strip()],
            "product_uuid": _first(part("product_uuid")),
            "interfaces": parse_net_interfaces(part("interfaces")),
            "cgroup_fs": _first(part("cgroup")),
            "kernel": _first(part("kernel")),
            "binaries": _binaries(part("binaries")),
            "listening": parse_listening_ports(part("listening")),
            "default_address": parse_default_route_address(part("route")),
            "python": _first(part("python")),
            "ip_addresses": parse_ip_addresses(part("ip_addresses")),
            "leftovers": [line.strip() for line in part("leftovers") if line.strip()],
            "proxy": _proxy_settings(part("proxy")),
            "other_firewalls": parse_other_firewalls(part("other_firewalls")),
            "containerd": (parse_state(sections["containerd"]) if "containerd" in sections
                           else default["containerd"]),
            "cri": parse_cri(part("cri")),
            "packages": parse_packages(part("packages")),
            "kubelet": parse_kubelet(part("kubelet")),
            "bootstrap_tokens": parse_bootstrap_tokens(part("bootstrap_tokens")),
            "certificates": parse_certificate_expiry(part("certificates")),
        }


def _first(lines: list[str]) -> str | None:
    """A section's first line that is not blank, stripped."""
    return next((line.strip() for line in lines if line.strip()), None)


def _count(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _memory_mb(meminfo: str | None) -> int | None:
    """``MemTotal:  1816828 kB`` in MiB."""
    fields = (meminfo or "").split()
    return int(fields[1]) // 1024 if len(fields) >= 2 and fields[1].isdigit() else None


def _os_release(lines: list[str]) -> dict[str, str]:
    """os-release's ID, VERSION_ID and ID_LIKE, one a line (empty when missing)."""
    values = [line.strip() for line in lines] + ["", "", ""]
    return {"id": values[0], "version": values[1], "like": values[2]}


def _binaries(lines: list[str]) -> dict[str, str | None]:
    """``NAME PATH`` lines (``NAME`` alone: not on ``PATH``) as name -> path."""
    found: dict[str, str | None] = {}
    for line in lines:
        name, _, path = line.strip().partition(" ")
        if name:
            found[name] = path.strip() or None
    return found


def _firewall(sections: dict[str, list[str]]) -> FirewallDict:
    """firewalld's sections: the zone (and the cluster zone) the check asks for, the service
    definitions asked for, the default zone and the zones bound to an interface."""
    head = parse_settings_lines(sections["firewalld"])
    active = head.get("active") == "active"
    zone, cluster_zone = head.get("zone") or None, head.get("cluster_zone") or None
    read = {
        name: (sections.get(f"{prefix}_permanent", []), sections.get(f"{prefix}_runtime", []))
        for name, prefix in ((zone, "firewall"), (cluster_zone, "cluster")) if name
    }
    permanent, permanent_problem = parse_zone_file(sections.get("firewall_permanent", []))
    cluster_permanent, cluster_problem = parse_zone_file(sections.get("cluster_permanent", []))
    return {
        "installed": True,
        "active": active,
        "zone": zone,
        "runtime": parse_runtime(active, sections.get("firewall_runtime", [])),
        "permanent": permanent,
        "permanent_problem": permanent_problem,
        "cluster_zone": cluster_zone,
        "cluster_runtime": parse_runtime(active, sections.get("cluster_runtime", [])),
        "cluster_permanent": cluster_permanent,
        "cluster_permanent_problem": cluster_problem,
        "service_ports": parse_service_definitions(sections.get("firewall_services", [])),
        "default_zone": _first(sections.get("firewall_default", [])),
        "interface_zones": parse_interface_zones(sections, active, read),
    }


def _persisted_modules(lines: list[str]) -> dict[str, str]:
    """The modules-load.d files' modules, each with the file that loads it at boot."""
    found: dict[str, str] = {}
    for path, text in _effective_lines(lines):
        name = text.split("#")[0].strip()
        if name:
            found[name] = path
    return found


def _persisted_sysctls(lines: list[str]) -> dict[str, dict[str, str]]:
    """The sysctl.d files' settings, each with its value at boot and the file that sets it."""
    found: dict[str, dict[str, str]] = {}
    for path, text in _effective_lines(lines):
        for key, value in parse_sysctl_lines([text]).items():
            found[key] = {"value": value, "file": path}
    return found




def _effective_lines(lines: list[str]) -> list[tuple[str, str]]:
    """``grep -H`` lines of *.d files as (path, line), in the order systemd applies them.

    A file in /etc hides the file of the same name in /run and /usr/lib; files are read in the
    order of their names; /etc/sysctl.conf is read last (as ``sysctl --system`` does).
    """
    by_file: dict[str, list[str]] = {}
    for line in lines:
        path, sep, text = line.partition(":")
        if sep:
            by_file.setdefault(path, []).append(text)
    chosen: dict[str, str] = {}
    for root in _CONF_DIRS:
        for path in by_file:
            name = path.rsplit("/", 1)[-1]
            if path.startswith(f"{root}/") and path != "/etc/sysctl.conf":
                chosen.setdefault(name, path)
    ordered = [chosen[name] for name in sorted(chosen)]
    if "/etc/sysctl.conf" in by_file:
        ordered.append("/etc/sysctl.conf")
    result = []
    for path in ordered:
        for text in by_file[path]:
            stripped = text.strip()
            if stripped and not stripped.startswith(("#", ";")):
                result.append((path, stripped))
    return result


def _proxy_settings(lines: list[str]) -> dict[str, dict[str, str]]:
    """``SOURCE:NAME=VALUE`` lines (``env:`` for the session, else the file) as
    source -> {NAME: value}: ``export`` and quotes dropped, names as written."""
    found: dict[str, dict[str, str]] = {}
    for line in lines:
        source, sep, assignment = line.partition(":")
        name, equals, value = assignment.strip().removeprefix("export").strip().partition("=")
        if sep and equals:
            found.setdefault(source, {})[name] = value.strip().strip("\"'")
    return found
