"""One read-only fact with everything the readiness check (check.py) needs from a node."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

from facts.containerd import ContainerdStateDict, parse_state, state_command
from facts.firewalld import (
    SERVICE_DEFINITIONS,
    ZoneConfigDict,
    choose_zone,
    parse_runtime,
    parse_service_definitions,
    parse_settings_lines,
    parse_zone_file,
    zone_file_command,
)
from facts.kernel import ModuleStateDict, module_states_command, parse_module_states
from facts.kubernetes import PACKAGES_COMMAND, KubernetesPackagesDict, parse_packages
from facts.network import DEFAULT_ROUTE, parse_default_route_address
from facts.other_firewalls import OTHER_FIREWALLS, OtherFirewallsDict, parse_other_firewalls
from facts.selinux import SELINUX_COMMAND, SelinuxModeDict, parse_selinux
from facts.swap import ACTIVE_SWAPS, ActiveSwapDict, parse_active_swaps
from facts.sysctl import parse_sysctl_lines
from kubeprep.busctl import parse_reply
from kubeprep.containerd import CNI_BIN_DIRS, SOCKET

_SECTION = re.compile(r"^--- kubeprep:([a-z_]+)$")
# Where systemd-modules-load and systemd-sysctl read their files, highest precedence first.
_CONF_DIRS = ("/etc", "/run", "/usr/lib")
_SETTING_LINE = "'^[[:space:]]*[^#;[:space:]]'"  # not blank, not a comment
_ZONE_MARK = re.compile(r"^--- zone (?P<zone>[A-Za-z0-9_-]+)$")
_FIREWALLD_ZONE_API = (
    "busctl call org.fedoraproject.FirewallD1 /org/fedoraproject/FirewallD1"
    " org.fedoraproject.FirewallD1.zone"
)
# What kubeadm refuses on a node from an earlier attempt (cmd/kubeadm/app/preflight/checks.go):
# init's FileAvailable checks of the static Pod manifests, join's of the kubelet's kubeconfigs
# and the CA certificate; DirAvailable--var-lib-etcd is the non-empty etcd data directory.
LEFTOVER_FILES = (
    "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/kubernetes/manifests/kube-controller-manager.yaml",
    "/etc/kubernetes/manifests/kube-scheduler.yaml",
    "/etc/kubernetes/manifests/etcd.yaml",
    "/etc/kubernetes/kubelet.conf",
    "/etc/kubernetes/bootstrap-kubelet.conf",
    "/etc/kubernetes/pki/ca.crt",
)
ETCD_DATA_DIR = "/var/lib/etcd"
# Where a proxy for kubeadm comes from: the session's environment (pam_env reads
# /etc/environment), and the files login shells read.
_PROXY_VARIABLE = "'^[[:space:]]*(export[[:space:]]+)?(https?|no)_proxy='"
# The platform's CNI plugins directory, as tasks/runtime.py picks it: the RHEL family's (os-release
# names rhel in ID or ID_LIKE: RHEL, Rocky, AlmaLinux), else Debian's and Ubuntu's.
_PLATFORM_CNI_BIN_DIR = (
    'cni_bin_dir=$( . /etc/os-release 2>/dev/null; case " $ID $ID_LIKE " in'
    f' *" rhel "*) echo {CNI_BIN_DIRS["rhel"]};; *) echo {CNI_BIN_DIRS["debian"]};; esac);'
)
# Whether the CRI answers on its socket: containerd's plugin list (over that socket) has the CRI
# gRPC plugin, with its status; else ctr's error (nothing listening).
_CRI_PLUGIN = (
    f"if [ -S {SOCKET} ] && command -v ctr >/dev/null 2>&1; then"
    " timeout 10 ctr plugins ls 2>&1 | awk '$2 == \"cri\" || /^ctr: /'; fi;"
)
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"


class InterfaceDict(TypedDict):
    name: str
    address: str
    device: bool  # backed by a device (a NIC), not a bridge, veth or tunnel


class InterfaceZoneDict(TypedDict):
    interfaces: list[str]  # bound now (firewalld's active zones); empty while it is stopped
    permanent_interfaces: list[str]  # bound in the zone file
    runtime: ZoneConfigDict | None
    permanent: ZoneConfigDict | None


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


class CriDict(TypedDict):
    status: str | None  # the CRI plugin's: ok, skip, error; None: not listed or not asked
    error: str | None  # ctr's, when the socket does not answer


class KubeletDict(TypedDict):
    enabled: str | None  # systemctl is-enabled kubelet
    config: bool  # /var/lib/kubelet/config.yaml exists (kubeadm init or join wrote it)
    cgroup_driver: str | None  # its cgroupDriver; None: not set there (the kubelet: cgroupfs)


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


def _section(name: str) -> str:
    return f"echo '--- kubeprep:{name}';"


def _read_zone(variable: str, prefix: str) -> list[str]:
    """The zone named by the shell variable ``variable``: its file, then its runtime config while
    firewalld runs; both print nothing for a zone that does not exist."""
    return [
        _section(f"{prefix}_permanent"),
        zone_file_command(variable),
        _section(f"{prefix}_runtime"),
        'if [ "$(systemctl is-active firewalld 2>/dev/null)" = active ];',
        f'then firewall-cmd --zone="${variable}" --list-all 2>/dev/null; fi;',
    ]


def _read_interface_zones() -> list[str]:
    """The default zone's name, the zones bound to an interface now (firewalld's active zones,
    over D-Bus, else ``firewall-cmd --get-active-zones``) and in their files, then each of these
    zones not read already: its file and its runtime config (``--- zone NAME``)."""
    return [
        _section("firewall_default"),
        'default=$(sed -n "s/^DefaultZone=//p" /etc/firewalld/firewalld.conf 2>/dev/null);',
        'default="${default:-public}"; echo "$default";',
        _section("firewall_bindings"), 'names="$default";',
        'if [ "$(systemctl is-active firewalld 2>/dev/null)" = active ]; then',
        f'if reply=$({_FIREWALLD_ZONE_API} getActiveZones 2>/dev/null); then',
        'echo "--- dbus"; echo "$reply";',
        """names="$names $(echo "$reply" | grep -o '"[^"]*"' | tr -d '"')";""",
        'else reply=$(firewall-cmd --get-active-zones 2>/dev/null); echo "$reply";',
        """names="$names $(echo "$reply" | awk '/^[^[:space:]]/ {print $1}')"; fi; fi;""",
        "for f in $(grep -sl '<interface ' /etc/firewalld/zones/*.xml);",
        'do f="${f##*/}"; names="$names ${f%.xml}"; done;',
        _section("firewall_zones"),
        "for z in $(echo $names | tr ' ' '\\n' | grep -E '^[A-Za-z0-9_-]+$' | sort -u); do",
        '[ "$z" = "$zone" ] || [ "$z" = "${cluster_zone:-}" ] && continue;',
        '[ -e "/etc/firewalld/zones/$z.xml" ] || [ -e "/usr/lib/firewalld/zones/$z.xml" ]',
        '|| continue; echo "--- zone $z"; echo "--- permanent";', zone_file_command("z"),
        'echo "--- runtime";',
        'if [ "$(systemctl is-active firewalld 2>/dev/null)" = active ]; then',
        f'if reply=$({_FIREWALLD_ZONE_API} getZoneSettings2 s "$z" 2>/dev/null);',
        'then echo "--- dbus"; echo "$reply";',
        'else firewall-cmd --zone="$z" --list-all 2>/dev/null; fi; fi; done;',
    ]


class NodeReadiness(FactBase[NodeReadinessDict]):
    """
    Returns, in one round trip and without changing anything, what kubeadm and the kubelet need
    from a node: swap, sysctls (live and persisted), kernel modules (loaded, built in, loadable,
    persisted), SELinux, firewalld (one or two zones, runtime and permanent, and the ports of the
    Kubernetes service definitions; the default zone and every zone bound to an interface, now
    or in its file, with both configs), CPUs, memory, hostname, product_uuid, MAC addresses,
    cgroup version, kernel, binaries, listening TCP ports, the python to run a probe listener
    with, the node's IP addresses, what an earlier kubeadm run left (``LEFTOVER_FILES``, a
    non-empty /var/lib/etcd), the proxy variables of the SSH session, /etc/environment and
    /etc/profile.d, the other firewalls (ufw, nftables/iptables services and their rule files),
    containerd (``ContainerdState``'s reading; the CRI plugin's status in ``ctr plugins ls``),
    the Kubernetes packages, and the kubelet's service and ``cgroupDriver``.

    Each concern's part of the command and its parser are that concern's own (``facts.swap``,
    ``facts.selinux``, ``facts.kernel``, ``facts.network``, ``facts.firewalld``,
    ``facts.sysctl``, ``facts.other_firewalls``, ``facts.containerd``, ``facts.kubernetes``), so
    this fact reads them as the per-concern facts do.

    A zone's runtime config is ``None`` while firewalld is stopped; both configs are ``None`` for
    a zone that does not exist; a zone file that is not valid XML reads as no permanent config,
    with the reason in ``permanent_problem`` (``cluster_permanent_problem``).

    + modules: kernel modules to look up
    + sysctls: sysctl keys to read
    + binaries: commands to look up on ``PATH``
    + zone: the firewalld zone; the default zone when omitted
    + cluster_zone: a second zone to read (the nodes-only zone); none when omitted
    + cni_bin_dir: the CNI plugins directory to list; the platform's when omitted (the RHEL
      family's ``/opt/cni/bin``, else ``/usr/lib/cni``, as tasks/runtime.py picks it)

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
            "kubelet": {"enabled": "enabled", "config": True, "cgroup_driver": "systemd"},
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
            "selinux": {
                "current": None, "config": None, "relabel_pending": False, "boot_args": None,
            },
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
            "other_firewalls": {"units": {}, "files": {},
                                "ufw": {"installed": False, "enabled": False, "active": False}},
            "containerd": {
                "version": None, "active": None, "enabled": None, "started": None,
                "config": None, "config_mtime": None, "effective": None, "socket": False,
                "images": [], "cni_bin_dir": "", "cni_plugins": [], "hosts": {},
            },
            "cri": {"status": None, "error": None},
            "packages": {"installed": {}, "held": []},
            "kubelet": {"enabled": None, "config": False, "cgroup_driver": None},
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
    ) -> StringCommand:
        cluster = [
            StringCommand("cluster_zone=", QuoteString(cluster_zone), _separator=""),
            '; echo "cluster_zone=$cluster_zone";',
        ] if cluster_zone else []
        conf = " ".join(f"{root}/{{kind}}.d/*.conf" for root in _CONF_DIRS)
        cni = (
            [StringCommand("cni_bin_dir=", QuoteString(cni_bin_dir), _separator=""), ";"]
            if cni_bin_dir else [_PLATFORM_CNI_BIN_DIR]
        )
        return StringCommand(
            _section("os"),
            '( . /etc/os-release 2>/dev/null; echo "$ID"; echo "$VERSION_ID"; echo "$ID_LIKE" );',
            _section("swaps"), f"{ACTIVE_SWAPS};",
            _section("sysctls"), "sysctl", *(QuoteString(key) for key in sysctls), "2>/dev/null;",
            _section("modules"), module_states_command(modules),
            _section("modules_files"),
            f"grep -sHE {_SETTING_LINE} {conf.format(kind='modules-load')};",
            _section("sysctl_files"),
            f"grep -sHE {_SETTING_LINE} {conf.format(kind='sysctl')} /etc/sysctl.conf;",
            _section("selinux"), f"{SELINUX_COMMAND};",
            "if command -v firewall-cmd >/dev/null 2>&1; then",
            _section("firewalld"),
            'echo "active=$(systemctl is-active firewalld 2>/dev/null)";',
            choose_zone(zone), *cluster,
            *_read_zone("zone", "firewall"),
            *(_read_zone("cluster_zone", "cluster") if cluster_zone else []),
            *_read_interface_zones(),
            _section("firewall_services"), f"{SERVICE_DEFINITIONS}; fi;",
            _section("cpus"), "nproc 2>/dev/null;",
            _section("memory"), "grep '^MemTotal:' /proc/meminfo;",
            _section("hostname"), "uname -n;",
            _section("hostname_addresses"), 'getent hosts "$(uname -n)";',
            _section("product_uuid"), "cat /sys/class/dmi/id/product_uuid 2>/dev/null;",
            _section("interfaces"),
            'for i in /sys/class/net/*; do [ "${i##*/}" = lo ] && continue;',
            'd=no; [ -e "$i/device" ] && d=yes;',
            'echo "${i##*/} $(cat "$i/address" 2>/dev/null) $d"; done;',
            _section("cgroup"), "stat -fc %T /sys/fs/cgroup 2>/dev/null;",
            _section("kernel"), "uname -r;",
            _section("binaries"), "for b in", *(QuoteString(name) for name in binaries), "; do",
            'echo "$b $(command -v "$b")"; done;',
            _section("listening"),
            "awk '$4 == \"0A\" {print $2}' /proc/net/tcp /proc/net/tcp6 2>/dev/null;",
            _section("route"), f"{DEFAULT_ROUTE};",
            _section("python"),
            "for p in python3 /usr/libexec/platform-python; do command -v $p && break; done;",
            _section("ip_addresses"), "ip -o addr show 2>/dev/null | awk '{print $2, $4}';",
            _section("leftovers"), f"for f in {' '.join(LEFTOVER_FILES)};",
            'do [ -e "$f" ] && echo "$f"; done;',
            f'[ -n "$(ls -A {ETCD_DATA_DIR} 2>/dev/null)" ] && echo {ETCD_DATA_DIR};',
            _section("proxy"), "env | grep -iE '^(https?|no)_proxy=' | sed 's/^/env:/';",
            f"grep -sHiE {_PROXY_VARIABLE} /etc/environment /etc/profile.d/*.sh;",
            _section("other_firewalls"), f"{OTHER_FIREWALLS};",
            _section("containerd"), *cni, state_command('"$cni_bin_dir"'), ";",
            _section("cri"), _CRI_PLUGIN,
            _section("packages"), f"{PACKAGES_COMMAND};",
            _section("kubelet"), 'echo "enabled=$(systemctl is-enabled kubelet 2>/dev/null)";',
            f"[ ! -f {KUBELET_CONFIG} ] || echo \"config=$(sed -n"
            f" 's/^cgroupDriver:[[:space:]]*//p' {KUBELET_CONFIG})\";",
            "exit 0",
        )

    @override
    def process(self, output) -> NodeReadinessDict:
        fact = self.default()
        sections: dict[str, list[str]] = {}
        current = None
        for line in output:
            match = _SECTION.match(line)
            if match:
                current = match.group(1)
                sections[current] = []
            elif current is not None:
                sections[current].append(line)

        def first(name: str) -> str | None:
            lines = [line.strip() for line in sections.get(name, []) if line.strip()]
            return lines[0] if lines else None

        os_lines = [line.strip() for line in sections.get("os", [])] + ["", "", ""]
        fact["os"] = {"id": os_lines[0], "version": os_lines[1], "like": os_lines[2]}
        fact["swaps"] = parse_active_swaps(sections.get("swaps", []))
        fact["sysctls"] = parse_sysctl_lines(sections.get("sysctls", []))
        fact["modules"] = parse_module_states(sections.get("modules", []))
        for path, text in _effective_lines(sections.get("modules_files", [])):
            name = text.split("#")[0].strip()
            if name:
                fact["modules_persisted"][name] = path
        for path, text in _effective_lines(sections.get("sysctl_files", [])):
            for key, value in parse_sysctl_lines([text]).items():
                fact["sysctls_persisted"][key] = {"value": value, "file": path}
        fact["selinux"] = parse_selinux(sections.get("selinux", []))
        if "firewalld" in sections:
            head = parse_settings_lines(sections["firewalld"])
            firewall = fact["firewalld"]
            firewall["installed"] = True
            firewall["active"] = head.get("active") == "active"
            firewall["zone"] = head.get("zone") or None
            firewall["permanent"], firewall["permanent_problem"] = parse_zone_file(
                sections.get("firewall_permanent", []),
            )
            firewall["runtime"] = parse_runtime(
                firewall["active"], sections.get("firewall_runtime", []),
            )
            firewall["cluster_zone"] = head.get("cluster_zone") or None
            firewall["cluster_permanent"], firewall["cluster_permanent_problem"] = (
                parse_zone_file(sections.get("cluster_permanent", []))
            )
            firewall["cluster_runtime"] = parse_runtime(
                firewall["active"], sections.get("cluster_runtime", []),
            )
            firewall["service_ports"] = parse_service_definitions(
                sections.get("firewall_services", []),
            )
            firewall["default_zone"] = first("firewall_default")
            firewall["interface_zones"] = _interface_zones(firewall, sections)
        cpus = first("cpus")
        fact["cpus"] = int(cpus) if cpus and cpus.isdigit() else None
        memory = first("memory")
        if memory and len(memory.split()) >= 2 and memory.split()[1].isdigit():
            fact["memory_mb"] = int(memory.split()[1]) // 1024
        fact["hostname"] = first("hostname")
        fact["hostname_addresses"] = [
            line.split()[0] for line in sections.get("hostname_addresses", []) if line.strip()
        ]
        fact["product_uuid"] = first("product_uuid")
        for line in sections.get("interfaces", []):
            fields = line.split()
            if len(fields) == 3:
                fact["interfaces"].append(
                    {"name": fields[0], "address": fields[1].lower(), "device": fields[2] == "yes"},
                )
        fact["cgroup_fs"] = first("cgroup")
        fact["kernel"] = first("kernel")
        for line in sections.get("binaries", []):
            name, _, path = line.strip().partition(" ")
            if name:
                fact["binaries"][name] = path.strip() or None
        ports = set()
        for line in sections.get("listening", []):
            _, _, port = line.strip().rpartition(":")
            try:
                ports.add(int(port, 16))
            except ValueError:
                continue
        fact["listening"] = sorted(ports)
        fact["default_address"] = parse_default_route_address(sections.get("route", []))
        fact["python"] = first("python")
        fact["ip_addresses"] = [
            fields[1].split("/")[0] for fields in map(str.split, sections.get("ip_addresses", []))
            if len(fields) == 2
        ]
        fact["leftovers"] = [line.strip() for line in sections.get("leftovers", []) if line.strip()]
        fact["proxy"] = _proxy_settings(sections.get("proxy", []))
        fact["other_firewalls"] = parse_other_firewalls(sections.get("other_firewalls", []))
        if "containerd" in sections:
            fact["containerd"] = parse_state(sections["containerd"])
        fact["cri"] = _cri(sections.get("cri", []))
        fact["packages"] = parse_packages(sections.get("packages", []))
        kubelet = parse_settings_lines(sections.get("kubelet", []))
        fact["kubelet"] = {
            "enabled": kubelet.get("enabled") or None,
            "config": "config" in kubelet,
            "cgroup_driver": kubelet.get("config", "").strip().strip("\"'") or None,
        }
        return fact


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


def _zone_file_interfaces(lines: list[str]) -> list[str]:
    """The interfaces a zone file binds to its zone (``<interface name="eth0"/>``)."""
    try:
        root = ElementTree.fromstring("\n".join(lines).strip())
    except ElementTree.ParseError:
        return []
    return [element.get("name", "") for element in root.iter("interface") if element.get("name")]


def _active_zones(lines: list[str]) -> dict[str, list[str]]:
    """zone -> interfaces bound now: firewalld's ``getActiveZones`` reply after a ``--- dbus``
    line, else ``firewall-cmd --get-active-zones`` (a zone name, then indented
    ``interfaces:`` and ``sources:`` lines)."""
    if lines[:1] == ["--- dbus"]:
        (zones,) = parse_reply(" ".join(lines[1:]))
        return {zone: list(bound.get("interfaces", [])) for zone, bound in zones.items()}
    found: dict[str, list[str]] = {}
    zone = None
    for line in lines:
        if line.strip() and not line[0].isspace():
            zone = line.split()[0]
            found[zone] = []
        elif zone and line.strip().startswith("interfaces:"):
            found[zone] = line.split(":", 1)[1].split()
    return found


def _interface_zones(
    firewall: FirewallDict, sections: dict[str, list[str]],
) -> dict[str, InterfaceZoneDict]:
    """Every zone bound to an interface (now or in its file), and the default zone, with both
    configs; the zones read for the check already come from their own sections."""
    files: dict[str, list[str]] = {}
    runtimes: dict[str, list[str]] = {}
    current: list[str] = []
    for line in sections.get("firewall_zones", []):
        mark = _ZONE_MARK.match(line)
        if mark:
            zone = mark["zone"]
            files[zone], runtimes[zone] = [], []
            current = []
        elif line in ("--- permanent", "--- runtime") and files:
            current = files[zone] if line == "--- permanent" else runtimes[zone]
        else:
            current.append(line)
    for zone, prefix in ((firewall["zone"], "firewall"), (firewall["cluster_zone"], "cluster")):
        if zone:
            files[zone] = sections.get(f"{prefix}_permanent", [])
            runtimes[zone] = sections.get(f"{prefix}_runtime", [])
    bound_now = _active_zones(sections.get("firewall_bindings", []))
    result = {}
    for zone in files:
        interfaces = bound_now.get(zone, [])
        permanent_interfaces = _zone_file_interfaces(files[zone])
        if not (interfaces or permanent_interfaces or zone == firewall["default_zone"]):
            continue
        result[zone] = {
            "interfaces": interfaces,
            "permanent_interfaces": permanent_interfaces,
            "runtime": parse_runtime(firewall["active"], runtimes[zone]),
            "permanent": parse_zone_file(files[zone])[0],
        }
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


def _cri(lines: list[str]) -> CriDict:
    """The CRI plugin's status in ``ctr plugins ls`` (``io.containerd.grpc.v1 cri linux/amd64
    ok``), or ctr's error when the socket does not answer."""
    found: CriDict = {"status": None, "error": None}
    for line in lines:
        fields = line.split()
        if line.startswith("ctr: "):
            found["error"] = line.removeprefix("ctr: ").strip()
        elif len(fields) >= 3 and fields[1] == "cri":
            found["status"] = fields[-1]
    return found
