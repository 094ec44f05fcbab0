"""The readiness check: every check on Rocky 8 and Debian 12 output, the fleet checks, the probes,
the report (table and JSON) and check.py itself on a fake fleet.

Node output is what ``kubeprep.facts.readiness.NodeReadiness`` prints, run through its own ``process()``.
Rocky 8: ``firewall-cmd --list-all`` is the seed's (shared/seed), ``/proc/swaps`` the 4.18 format
of tests/host_states.py, ``stat -fc %T /sys/fs/cgroup`` prints ``tmpfs`` (cgroup v1). Debian 12:
the lab's formats (``cgroup2fs``, 6.1 kernel, /proc/swaps of 6.1). A converged node has the split
zones tasks/firewall.py leaves: on Debian 12 the zone files, runtime configs and service
definitions read on the lab's cp1 and w1 (tests/fact_cases/firewalld.FirewalldZone), the runtime
config printed as firewalld 1.3's ``firewall-cmd --list-all``; on Rocky 8 (firewalld 0.9, no
Kubernetes service definitions) plain ports, as tests/host_states.py has them.
"""

from __future__ import annotations

import ast
import json
import runpy
import shlex
import subprocess
from dataclasses import MISSING, fields
from pathlib import Path
from unittest.mock import patch

import pytest
from host_states import (
    DEBIAN_PROC_SWAPS,
    NO_SWAPS_61,
    NO_SWAPS_418,
    ROCKY_PROC_SWAPS,
    cluster_zone_xml,
    debian_zones,
    list_all,
    public_xml,
    rhel_zones,
)
from kube_states import expiry_output

from kubeprep import report
from kubeprep.checks import fleet as fleet_checks
from kubeprep.checks import model, probes
from kubeprep.checks import node as node_checks
from kubeprep.checks.firewall import check_exposure, check_firewall
from kubeprep.checks.fleet import evaluate, required_paths
from kubeprep.checks.model import (
    ERROR,
    OK,
    WARNING,
    Node,
    NodeSpec,
    PathResult,
)
from kubeprep.checks.model import (
    Path as NetPath,
)
from kubeprep.checks.probes import (
    classify_probe,
    listener_command,
    parse_listener,
    parse_probes,
    probe_command,
)
from kubeprep.facts.firewalld import FirewalldZone
from kubeprep.facts.readiness import NodeReadiness

ROOT = Path(__file__).resolve().parent.parent
# Settings.cluster_zone_ports (the cluster zone's) and Settings.public_ports, per role.
CP_PORTS = ("22/tcp", "6443/tcp", "2379-2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp")
WORKER_PORTS = ("22/tcp", "30000-32767/tcp", "10250/tcp")
CP_PUBLIC = ("22/tcp", "6443/tcp")
CP_NODES_ONLY = ("2379-2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp")  # firewall_cluster_ports
WORKER_NODES_ONLY = ("10250/tcp",)
WORKER_PUBLIC = ("22/tcp", "30000-32767/tcp")
LAB_SOURCES = ("192.168.77.11", "192.168.77.21", "192.168.77.22")  # the lab's cluster addresses
# firewalld's getActiveZones reply (busctl): the lab binds no interface, only the cluster zone's
# sources; a VirtualBox VM's NIC is in the public zone.
LAB_BINDINGS = ('a{sa{sas}} 1 "kubeprep" 1 "sources" 3 "192.168.77.11" "192.168.77.21" '
                '"192.168.77.22"')
ENP0S3_IN_PUBLIC = 'a{sa{sas}} 1 "public" 1 "interfaces" 1 "enp0s3"'
SYSCTL_FILE = [
    "/etc/sysctl.d/k8s.conf:net.bridge.bridge-nf-call-iptables = 1",
    "/etc/sysctl.d/k8s.conf:net.bridge.bridge-nf-call-ip6tables = 1",
    "/etc/sysctl.d/k8s.conf:net.ipv4.ip_forward = 1",
]
LIVE_SYSCTLS = [
    "net.ipv4.ip_forward = 1",
    "net.bridge.bridge-nf-call-iptables = 1",
    "net.bridge.bridge-nf-call-ip6tables = 1",
]
RHEL_BINARIES = {
    "ip": "/usr/sbin/ip", "iptables": "/usr/sbin/iptables", "mount": "/usr/bin/mount",
    "nsenter": "/usr/bin/nsenter", "ebtables": "", "ethtool": "/usr/sbin/ethtool", "socat": "",
    "tc": "/usr/sbin/tc", "touch": "/usr/bin/touch", "conntrack": "",
}
DEBIAN_BINARIES = {
    "ip": "/usr/sbin/ip", "iptables": "/usr/sbin/iptables", "mount": "/usr/bin/mount",
    "nsenter": "/usr/bin/nsenter", "ebtables": "", "ethtool": "", "socat": "",
    "tc": "/usr/sbin/tc", "touch": "/usr/bin/touch", "conntrack": "",
}


def list_all_13(zone: str, config: dict, forward: bool = False) -> list[str]:
    """``firewall-cmd --zone=ZONE --list-all`` as firewalld 1.3 prints ``config``."""
    active = " (active)" if config["sources"] else ""  # the lab binds no interface to a zone
    return [
        f"{zone}{active}", "  target: default", "  icmp-block-inversion: no", "  interfaces: ",
        f"  sources: {' '.join(config['sources'])}",
        f"  services: {' '.join(sorted(config['services']))}",
        f"  ports: {' '.join(config['ports'])}",
        f"  protocols: {' '.join(sorted(config['protocols']))}",
        f"  forward: {'yes' if forward else 'no'}", "  masquerade: no", "  forward-ports: ",
        "  source-ports: ", "  icmp-blocks: ", "  rich rules: ",
    ]


def zone_sections(output: str) -> tuple[list[str], list[str], list[str]]:
    """A ``FirewalldZone`` output as the NodeReadiness sections of that zone: its file, its
    ``firewall-cmd --list-all`` and the service definitions."""
    lines = output.split("\n")
    runtime_at = lines.index("--- runtime")
    services_at = next(
        (i for i, line in enumerate(lines) if line.startswith("--- service ")), runtime_at,
    )
    permanent = lines[lines.index("--- permanent") + 1:services_at]
    runtime = lines[runtime_at + 1:]
    if runtime[:1] == ["--- dbus"]:  # read over D-Bus on the lab
        fact = FirewalldZone().process(lines)
        runtime = list_all_13(fact["zone"], fact["runtime"], '"forward" b true' in runtime[1])
    return permanent, runtime, lines[services_at:runtime_at]


def firewall_sections(family: str, converged: bool, role: str) -> dict[str, list[str]]:
    """NodeReadiness's firewalld sections: a fresh node has the SSH port open in its public zone
    (Rocky 8) or no firewalld (Debian 12); a converged node has the split zones."""
    if converged:
        zones = debian_zones(role) if family != "rhel" else rhel_zones(
            list(CP_PUBLIC if role == "control_plane" else WORKER_PUBLIC),
            list(CP_PORTS if role == "control_plane" else WORKER_PORTS), list(LAB_SOURCES),
        )
        public = zone_sections(zones["zone=None"]["output"])
        cluster = zone_sections(zones["zone=kubeprep"]["output"])
    elif family == "rhel":
        public = (public_xml(["22/tcp"]).split("\n"), list_all("22/tcp").split("\n"), [])
        cluster = ([], [], [])
    else:
        return {}
    bound = any(line.strip().startswith("interfaces: enp0s3") for line in public[1])
    return {
        "firewalld": ["active=active", "zone=public", "cluster_zone=kubeprep"],
        "firewall_permanent": public[0], "firewall_runtime": public[1],
        "cluster_permanent": cluster[0], "cluster_runtime": cluster[1],
        "firewall_default": ["public"],
        "firewall_bindings": ["--- dbus", ENP0S3_IN_PUBLIC if bound else LAB_BINDINGS],
        "firewall_zones": [],
        "firewall_services": public[2],
    }


def case_output(fact: str, name: str) -> list[str]:
    """The output of a fact case (tests/fact_cases/<fact>/<name>.json)."""
    return json.loads((ROOT / "tests" / "fact_cases" / fact / f"{name}.json").read_text())["output"]


# Rocky 8: nftables.service installed with firewalld, disabled; its config the package's, every
# line a comment. ufw and iptables-services are not installed (systemctl show: no UnitFileState).
ROCKY_OTHER_FIREWALLS = [
    "Id=ufw.service", "ActiveState=inactive", "UnitFileState=", "",
    "Id=nftables.service", "ActiveState=inactive", "UnitFileState=disabled", "",
    "Id=iptables.service", "ActiveState=inactive", "UnitFileState=", "",
    "Id=ip6tables.service", "ActiveState=inactive", "UnitFileState=", "--- ufw",
    "--- file /etc/sysconfig/nftables.conf",
    "|# Uncomment the include statement here to load the default config sample",
    "|# in /etc/nftables for nftables service.", "|", '|#include "/etc/nftables/main.nft"', "|",
    "|# To customize, either edit the samples in /etc/nftables, append further",
    "|# commands to the end of this file or overwrite it after first service",
    "|# start by calling: 'nft list ruleset >/etc/sysconfig/nftables.conf'.",
]
# ctr plugins ls | awk '$2 == "cri"' of containerd 1.6.20 (Debian 12) serving its socket.
CRI_OK = "io.containerd.grpc.v1           cri                      linux/amd64    ok        "


def runtime_sections(family: str, converged: bool) -> dict[str, list[str]]:
    """The runtime's sections: no containerd on a fresh node; after the deploy containerd runs
    with kubeprep's config (1.7 from Docker's containerd.io on Rocky, Debian's 1.6), the CRI
    answers; the Kubernetes packages come later (tasks/kubernetes.py), the kubelet is absent."""
    rhel = family == "rhel"
    case = ("converged_1_7_opt_cni_bin" if rhel else "debian12_converged_1_6") if converged \
        else ("not_installed_opt_cni_bin" if rhel else "not_installed")
    return {
        "other_firewalls": ROCKY_OTHER_FIREWALLS if rhel else case_output(
            "other_firewalls.OtherFirewalls", "debian12_fresh_nftables_default_disabled"),
        "containerd": case_output("containerd.ContainerdState", case),
        "cri": [CRI_OK] if converged else [],
        "packages": case_output("kubernetes.KubernetesPackages",
                                "rocky_none_installed" if rhel else "debian_none_installed"),
        "kubelet": ["enabled="],
    }


def node_output(family: str, converged: bool, role: str = "control_plane", **over) -> str:
    """What NodeReadiness prints on a fresh or converged Rocky 8 / Debian 12 node."""
    rhel = family == "rhel"
    s = {
        "os": ["rocky", "8.10", "rhel centos fedora"] if rhel else ["debian", "12", ""],
        "swaps": (NO_SWAPS_418 if rhel else NO_SWAPS_61) if converged
        else (ROCKY_PROC_SWAPS if rhel else DEBIAN_PROC_SWAPS),
        "sysctls": LIVE_SYSCTLS if converged else ["net.ipv4.ip_forward = 0"],
        "modules": ["loaded overlay", "available overlay", "loaded br_netfilter",
                    "available br_netfilter"] if converged
        else ["available overlay", "available br_netfilter"],
        "modules_files": ["/etc/modules-load.d/k8s.conf:overlay",
                          "/etc/modules-load.d/k8s.conf:br_netfilter"] if converged else [],
        "sysctl_files": (
            ["/usr/lib/sysctl.d/50-default.conf:net.ipv4.conf.all.rp_filter = 1"] if rhel
            else ["/usr/lib/sysctl.d/50-pid-max.conf:kernel.pid_max = 4194304"]
        ) + (SYSCTL_FILE if converged else []),
        "selinux": (["Permissive"] if converged else ["Enforcing"]) if rhel else [],
        "selinux_config": (["SELINUX=permissive"] if converged else ["SELINUX=enforcing"])
        if rhel else [],
        **firewall_sections(family, converged, role),
        "cpus": ["2"],
        "memory": ["MemTotal:        1816828 kB"] if rhel else ["MemTotal:        2014288 kB"],
        "hostname": ["cp1" if role == "control_plane" else "w1"],
        "hostname_addresses": ["192.168.77.11   cp1" if role == "control_plane"
                               else "192.168.77.21   w1"],
        "product_uuid": ["4c4c4544-0042-3510-8051-b4c04f4d3132" if role == "control_plane"
                         else "9f1b6c2e-3b1e-4d52-a3c9-0c2d1e5f7a10"],
        "interfaces": ["enp0s3 08:00:27:5e:1a:01 yes" if role == "control_plane"
                       else "enp0s3 08:00:27:5e:1a:02 yes"],
        "cgroup": ["tmpfs" if rhel else "cgroup2fs"],
        "kernel": ["4.18.0-553.el8_10.x86_64" if rhel else "6.1.0-28-amd64"],
        "binaries": [f"{name} {path}".strip() + (" " if not path else "")
                     for name, path in (RHEL_BINARIES if rhel else DEBIAN_BINARIES).items()],
        "listening": ["00000000:0016", "00000000000000000000000000000000:0016"],
        "route": ["1.1.1.1 via 10.0.2.2 dev enp0s3 src 10.0.2.15 uid 0 \\    cache "],
        "python": ["/usr/libexec/platform-python" if rhel else "/usr/bin/python3"],
        "ip_addresses": ["lo 127.0.0.1/8", "lo ::1/128", "enp0s3 10.0.2.15/24",
                         "enp0s3 fe80::a00:27ff:fe5e:1a01/64"],
        "leftovers": [],
        "proxy": [],
        **runtime_sections(family, converged),
    }
    s.update(over)
    # SELinux is one section, as kubeprep.facts.selinux.SELINUX_COMMAND prints it.
    s["selinux"] = [*s["selinux"], "--- config", *s.pop("selinux_config"), "--- relabel",
                    *s.pop("selinux_relabel", [])]
    if "selinux_grubby" in s:
        s["selinux"] += ["--- grubby", *s.pop("selinux_grubby")]
    lines = []
    for name, value in s.items():
        lines.append(f"--- kubeprep:{name}")
        lines.extend(value.split("\n") if isinstance(value, str) else value)
    return "\n".join(lines)


def facts_of(family: str, converged: bool, role: str = "control_plane", **over) -> dict:
    return NodeReadiness().process(node_output(family, converged, role, **over).split("\n"))


def spec(role: str = "control_plane", **over) -> NodeSpec:
    """The spec of a lab node with group_data's defaults (split zones, no CNI)."""
    control_plane = role == "control_plane"
    return NodeSpec(role=role, **{
        "swap": "off", "selinux_mode": "permissive",
        "kernel_modules": ("overlay", "br_netfilter"),
        "kernel_sysctls": (("net.bridge.bridge-nf-call-iptables", "1"),
                           ("net.bridge.bridge-nf-call-ip6tables", "1"),
                           ("net.ipv4.ip_forward", "1")),
        "public_ports": CP_PUBLIC if control_plane else WORKER_PUBLIC, "cluster_zone": "kubeprep",
        "cluster_ports": CP_PORTS if control_plane else WORKER_PORTS,
        "cluster_sources": LAB_SOURCES, "protocols": (),
        "nodes_only_ports": CP_NODES_ONLY if control_plane else WORKER_NODES_ONLY,
        "api_endpoint": "192.168.77.11:6443", "cluster_address": None, "cni_pod_cidr": "10.244.0.0/16",
        "cni_service_cidr": "10.96.0.0/12",
        "kubernetes_version": "1.35", "cgroup_driver": "systemd",
        "firewall_disable_others": False, **over,
    })


def lab_node(name: str, role: str, facts: dict | None, address: str | None = None) -> Node:
    return Node(name, role, spec(role), facts, cluster_address=address)


WRITE_UP = {"public_ports": CP_PORTS, "cluster_zone": None, "cluster_ports": (),
            "cluster_sources": ()}  # firewall_cluster_only = False: every port public


def levels(results) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for result in results:
        found.setdefault(result.check, []).append(result.level)
    return {check: model.worst(values) for check, values in found.items()}


def run_checks(family, converged, role="control_plane", spec_over=None, **over) -> dict:
    node_spec = spec(role, **(spec_over or {}))
    facts = facts_of(family, converged, role, **over)
    results = []
    for check in node_checks.NODE_CHECKS:
        results.extend(check(node_spec, facts))
    return levels(results)


FAMILIES = ["rhel", "debian"]


# ------------------------------------------------------------------------------ node checks


def test_fresh_rocky_control_plane():
    assert run_checks("rhel", False) == {
        "swap": ERROR, "forward": ERROR, "bridge": ERROR, "overlay": OK, "persist": ERROR,
        "selinux": ERROR, "firewall": ERROR, "cpu/mem": OK, "hostname": OK, "cgroup": ERROR,
        "kernel": WARNING, "tools": WARNING, "ports": OK, "address": OK, "leftover": OK,
        "others": OK, "runtime": ERROR, "packages": WARNING, "tokens": OK,
        "certs": OK,
    }


def test_fresh_debian_worker():
    assert run_checks("debian", False, role="workers") == {
        "swap": ERROR, "forward": ERROR, "bridge": ERROR, "overlay": OK, "persist": ERROR,
        "selinux": OK, "firewall": WARNING, "cpu/mem": OK, "hostname": OK, "cgroup": OK,
        "kernel": OK, "tools": WARNING, "ports": OK, "address": OK, "leftover": OK,
        "others": OK, "runtime": ERROR, "packages": WARNING, "tokens": OK,
        "certs": OK,
    }


def test_converged_debian_is_clean_but_for_optional_tools_and_the_packages_to_come():
    found = run_checks("debian", True)
    assert (found.pop("tools"), found.pop("packages")) == (WARNING, WARNING)
    assert set(found.values()) == {OK}


def test_converged_rocky_8_still_has_cgroup_v1_and_an_old_kernel():
    found = run_checks("rhel", True)
    assert (found.pop("cgroup"), found.pop("kernel"), found.pop("tools"),
            found.pop("packages")) == (ERROR, WARNING, WARNING, WARNING)
    assert set(found.values()) == {OK}


@pytest.mark.parametrize(("version", "cgroup", "kernel"), [
    ("1.35", ERROR, WARNING), ("1.36", ERROR, WARNING), ("1.34", WARNING, WARNING),
    ("1.33", WARNING, ERROR), ("1.32", WARNING, ERROR), ("1.31", WARNING, OK),
])
def test_cgroup_v1_and_kernel_4_18_by_kubernetes_version(version, cgroup, kernel):
    found = run_checks("rhel", True, spec_over={"kubernetes_version": version})
    assert (found["cgroup"], found["kernel"]) == (cgroup, kernel)


@pytest.mark.parametrize(("release", "version", "level"), [
    ("4.18.0-553.el8_10.x86_64", "1.35", WARNING),  # EL8
    ("5.14.0-503.14.1.el9_5.x86_64", "1.35", WARNING),  # EL9: not a kernel.org LTS
    ("4.19.0-27-amd64", "1.35", WARNING),  # Debian 10: 4.x is gone from the list
    ("5.4.0-216-generic", "1.35", OK),  # Ubuntu 20.04
    ("5.10.0-33-amd64", "1.35", OK),  # Debian 11
    ("5.15.0-130-generic", "1.35", OK),  # Ubuntu 22.04
    ("6.1.0-28-amd64", "1.35", OK),  # Debian 12
    ("6.8.0-51-generic", "1.34", OK),  # Ubuntu 24.04
    ("5.14.0-503.14.1.el9_5.x86_64", "1.33", OK),  # 1.33's list took any 5.x
    ("4.19.0-27-amd64", "1.32", OK),
    ("4.18.0-553.el8_10.x86_64", "1.33", ERROR),
])
def test_kernel_against_kubeadm_system_verification(release, version, level):
    (result,) = node_checks.check_kernel(spec(kubernetes_version=version),
                                         facts_of("rhel", True, kernel=[release]))
    assert result.level == level
    if level != OK:
        assert "SystemVerification" in result.detail and "SystemVerification" in result.fix


def test_cgroup_fix_is_the_kernel_argument():
    (result,) = node_checks.check_cgroup(spec(), facts_of("rhel", True))
    assert "systemd.unified_cgroup_hierarchy=1" in result.fix and "grubby" in result.fix


@pytest.mark.parametrize("family", FAMILIES)
def test_swap_kept_by_data(family):
    found = run_checks(family, True, spec_over={"swap": "keep"},
                       swaps=ROCKY_PROC_SWAPS if family == "rhel" else DEBIAN_PROC_SWAPS)
    # NodeSwap needs cgroup v2: Rocky 8 (v1) gets a warning, Debian 12 passes.
    assert found["swap"] == (WARNING if family == "rhel" else OK)


@pytest.mark.parametrize("family", FAMILIES)
def test_swap_detail_names_the_device(family):
    (result,) = node_checks.check_swap(spec(), facts_of(family, False))
    assert ("/dev/dm-1 (partition)" if family == "rhel" else "/swapfile (file)") in result.detail
    assert "tasks/swap.py" in result.fix


@pytest.mark.parametrize("family", FAMILIES)
def test_live_but_not_persisted(family):
    found = run_checks(family, True, modules_files=[],
                       sysctl_files=["/etc/sysctl.d/k8s.conf:net.ipv4.ip_forward = 0"])
    assert (found["forward"], found["bridge"], found["persist"]) == (OK, OK, ERROR)
    (result,) = node_checks.check_persist(spec(), facts_of(family, True, modules_files=[]))
    assert "overlay, br_netfilter" in result.detail


def test_persisted_value_overridden_by_a_later_file():
    files = [*SYSCTL_FILE, "/etc/sysctl.d/zz-local.conf:net.ipv4.ip_forward = 0"]  # after k8s.conf
    (result,) = node_checks.check_persist(spec(), facts_of("debian", True, sysctl_files=files))
    assert result.level == ERROR and "net.ipv4.ip_forward = 0 in /etc/sysctl.d/zz-local.conf" \
        in result.detail


def test_etc_file_hides_the_vendor_file_of_the_same_name():
    files = ["/usr/lib/sysctl.d/k8s.conf:net.ipv4.ip_forward = 0", *SYSCTL_FILE]
    (result,) = node_checks.check_persist(spec(), facts_of("debian", True, sysctl_files=files))
    assert result.level == OK


@pytest.mark.parametrize("family", FAMILIES)
def test_br_netfilter_not_loaded(family):
    found = run_checks(family, True, modules=["loaded overlay"],
                       sysctls=["net.ipv4.ip_forward = 1"])
    assert found["bridge"] == ERROR
    keys = {"kernel_sysctls": (("net.ipv4.ip_forward", "1"),)}
    found = run_checks(family, True, spec_over=keys, modules=["loaded overlay"],
                       sysctls=["net.ipv4.ip_forward = 1"])
    assert found["bridge"] == WARNING  # not asked for by the data: kubeadm does not check it


def test_overlay_built_in_or_missing():
    assert run_checks("debian", True, modules=["builtin overlay", "loaded br_netfilter"])[
        "overlay"] == OK
    assert run_checks("debian", True, modules=["loaded br_netfilter"])["overlay"] == ERROR


@pytest.mark.parametrize(("current", "config", "wanted", "level"), [
    ("Enforcing", "SELINUX=enforcing", "permissive", ERROR),
    ("Permissive", "SELINUX=enforcing", "permissive", ERROR),  # enforcing again after a reboot
    ("Permissive", "SELINUX=permissive", "permissive", OK),
    ("Disabled", "SELINUX=permissive", "permissive", OK),  # off in the kernel (lab workers)
    ("Disabled", "SELINUX=enforcing", "permissive", ERROR),
    ("Permissive", "SELINUX=permissive", "disabled", WARNING),
    ("Permissive", "SELINUX=permissive", "enforcing", WARNING),
    ("Enforcing", "SELINUX=enforcing", "enforcing", OK),
])
def test_selinux_against_data(current, config, wanted, level):
    found = run_checks("rhel", True, spec_over={"selinux_mode": wanted}, selinux=[current],
                       selinux_config=[config])
    assert found["selinux"] == level


def cluster_runtime(services: list[str], ports: list[str], sources=LAB_SOURCES,
                    protocols=()) -> list[str]:
    return list_all_13("kubeprep", {"ports": ports, "services": services,
                                    "sources": list(sources), "protocols": list(protocols)})


def lab_cluster_zone_file(role: str = "control_plane") -> list[str]:
    return zone_sections(debian_zones(role)["zone=kubeprep"]["output"])[0]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("role", ["control_plane", "workers"])
def test_converged_split_zones_pass(family, role):
    facts = facts_of(family, True, role)
    (result,) = check_firewall(spec(role), facts)
    public, every = (CP_PUBLIC, CP_PORTS) if role == "control_plane" else (WORKER_PUBLIC,
                                                                            WORKER_PORTS)
    assert (result.level, result.detail) == (
        OK, f"firewalld active, zone public: {' '.join(public)} open; "
        f"zone kubeprep: {' '.join(every)} open to 3 nodes",
    )


@pytest.mark.parametrize(("role", "services", "ports"), [
    ("control_plane", ["kube-control-plane-secure"], ["22/tcp", "10250/tcp"]),
    ("workers", ["kube-worker"], ["22/tcp"]),
])
def test_ports_of_the_zone_services_count_as_open(role, services, ports):
    """The lab's cluster zones: most ports are opened by firewalld's Kubernetes services."""
    firewall = facts_of("debian", True, role)["firewalld"]
    for config in ("cluster_runtime", "cluster_permanent"):
        assert (firewall[config]["services"], firewall[config]["ports"]) == (services, ports)
    assert firewall["service_ports"]["kube-worker"] == ["10250/tcp", "30000-32767/tcp"]
    (result,) = check_firewall(spec(role), {"firewalld": {**firewall, "service_ports": {}}})
    assert result.level == ERROR  # without the definitions, the same zone lacks those ports


def test_port_missing_from_the_cluster_zone_at_runtime_only():
    runtime = cluster_runtime(["kube-control-plane-secure"], ["22/tcp"])
    (result,) = check_firewall(spec(), facts_of("debian", True, cluster_runtime=runtime))
    assert (result.level, result.detail, result.fix) == (
        ERROR, "not open (runtime, zone kubeprep): 10250/tcp",
        "pyinfra inventory.py tasks/firewall.py",
    )


def test_service_removed_from_the_cluster_zone_at_runtime():
    """firewall-cmd --zone=kubeprep --remove-service=kube-worker on a lab worker."""
    facts = facts_of("debian", True, "workers", cluster_runtime=cluster_runtime([], ["22/tcp"]))
    (result,) = check_firewall(spec("workers"), facts)
    assert result.detail == "not open (runtime, zone kubeprep): 30000-32767/tcp 10250/tcp"


@pytest.mark.parametrize("family", FAMILIES)
def test_public_port_missing_at_runtime_only(family):
    runtime = list_all("22/tcp").split("\n")
    (result,) = check_firewall(spec(), facts_of(family, True, firewall_runtime=runtime))
    assert result.level == ERROR and result.detail == "not open (runtime, zone public): 6443/tcp"


def test_cluster_port_missing_from_permanent_only():
    permanent = cluster_zone_xml(["22/tcp", "6443/tcp", "10250/tcp"], list(LAB_SOURCES))
    (result,) = check_firewall(spec(), facts_of(
        "rhel", True, cluster_permanent=permanent.split("\n")))
    assert result.detail == "not open (permanent, zone kubeprep): 2379-2380/tcp 10257/tcp 10259/tcp"


def test_firewall_port_inside_an_open_range_counts():
    runtime = list_all("22/tcp 1-65535/tcp").split("\n")
    permanent = public_xml(["22/tcp", "1-65535/tcp"]).split("\n")
    (result,) = check_firewall(spec(), facts_of(
        "rhel", True, firewall_runtime=runtime, firewall_permanent=permanent))
    assert result.level == OK


def test_missing_source():
    permanent = [line for line in lab_cluster_zone_file() if "192.168.77.22" not in line]
    (result,) = check_firewall(spec(), facts_of("debian", True,
                                                       cluster_permanent=permanent))
    assert (result.level, result.detail) == (
        ERROR, "missing sources (permanent, zone kubeprep): 192.168.77.22")


def test_sources_are_not_checked_when_a_node_address_is_unknown():
    permanent = [line for line in lab_cluster_zone_file() if "192.168.77.22" not in line]
    (result,) = check_firewall(spec(cluster_sources=None), facts_of(
        "debian", True, cluster_permanent=permanent))
    assert result.level == OK and "nodes" not in result.detail


def test_extra_source_is_a_warning():
    runtime = cluster_runtime(["kube-worker"], ["22/tcp"], sources=(*LAB_SOURCES, "10.0.2.99"))
    results = check_firewall(spec("workers"), facts_of("debian", True, "workers",
                                                              cluster_runtime=runtime))
    assert [(r.level, r.detail) for r in results] == [(
        WARNING, "extra sources (runtime, zone kubeprep): 10.0.2.99 "
        "(not nodes: they reach the nodes-only ports)",
    )]


@pytest.mark.parametrize("family", FAMILIES)
def test_missing_cluster_zone(family):
    facts = facts_of(family, True, cluster_permanent=[], cluster_runtime=[])
    assert facts["firewalld"]["cluster_zone"] == "kubeprep"
    (result,) = check_firewall(spec(), facts)
    assert (result.level, result.detail) == (ERROR, "zone kubeprep does not exist")


def test_broken_cluster_zone_file_is_reported_not_raised():
    """The cluster zone file cut short (an interrupted write): the fact reads it as no permanent
    config with the parser's reason, and the check names the file to repair."""
    broken = lab_cluster_zone_file("workers")[:-1]  # without </zone>
    facts = facts_of("debian", True, "workers", cluster_permanent=broken)
    results = check_firewall(spec("workers"), facts)
    assert [(r.level, r.detail) for r in results] == [(
        ERROR, "zone kubeprep: the zone file is not valid XML (no element found: line 7, column 35)",
    )]
    assert results[0].fix.startswith("repair or remove /etc/firewalld/zones/kubeprep.xml")


def test_fresh_node_lacks_public_ports_and_the_cluster_zone():
    (result,) = check_firewall(spec(), facts_of("rhel", False))
    assert result.detail == (
        "not open (runtime, zone public): 6443/tcp; not open (permanent, zone public): 6443/tcp; "
        "zone kubeprep does not exist"
    )


def test_cluster_zone_created_but_not_loaded():
    """Made with --permanent --new-zone and no reload: firewalld does not have it yet."""
    (result,) = check_firewall(spec(), facts_of("rhel", True, cluster_runtime=[]))
    assert result.detail == "runtime config of zone kubeprep missing or unreadable"


def write_up_public(family: str) -> dict[str, list[str]]:
    """The public zone with every port (firewall_cluster_only = False). On Debian 12, as
    kubeprep.operations.firewalld.ports with the role services leaves it: kube-control-plane-secure, then the
    ports it does not open."""
    if family == "rhel":
        return {"firewall_permanent": public_xml(list(CP_PORTS)).split("\n"),
                "firewall_runtime": list_all(" ".join(CP_PORTS)).split("\n")}
    lab_file = zone_sections(debian_zones("control_plane")["zone=None"]["output"])[0]
    ports = ["22/tcp", "10250/tcp"]
    body = [line for line in lab_file if "<port " not in line and "<forward/>" not in line]
    return {
        "firewall_permanent": body[:-1] + [
            '  <service name="kube-control-plane-secure"/>',
            *(f'  <port port="{port.split("/")[0]}" protocol="tcp"/>' for port in ports),
            "  <forward/>", body[-1],
        ],
        "firewall_runtime": list_all_13("public", {
            "ports": ports, "services": ["ssh", "dhcpv6-client", "kube-control-plane-secure"],
            "sources": [], "protocols": [],
        }, forward=True),
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_write_up_mode_wants_every_port_in_the_public_zone(family):
    over = {**write_up_public(family), "firewalld": ["active=active", "zone=public"],
            "cluster_permanent": [], "cluster_runtime": []}  # not asked for: no cluster zone
    facts = facts_of(family, True, **over)
    assert facts["firewalld"]["cluster_zone"] is None
    (result,) = check_firewall(spec(**WRITE_UP), facts)
    assert (result.level, result.detail) == (
        OK, f"firewalld active, zone public: {' '.join(CP_PORTS)} open")
    # a node converged with split zones is not what the write-up wants
    (result,) = check_firewall(spec(**WRITE_UP), facts_of(family, True))
    missing = "2379-2380/tcp 10250/tcp 10257/tcp 10259/tcp"
    assert result.detail == (f"not open (runtime, zone public): {missing}; "
                             f"not open (permanent, zone public): {missing}")


# The write-up's hand-made control plane (shared/seed): each etcd port listed on its own.
SEED_CP_PORTS = ["22/tcp", "6443/tcp", "2379/tcp", "2380/tcp", "10250/tcp", "10259/tcp",
                 "10257/tcp"]


def seed_public_zone() -> dict[str, list[str]]:
    return {"firewall_permanent": public_xml(SEED_CP_PORTS).split("\n"),
            "firewall_runtime": list_all(" ".join(SEED_CP_PORTS)).split("\n"),
            "firewall_bindings": ["--- dbus", ENP0S3_IN_PUBLIC]}


@pytest.mark.parametrize("family", FAMILIES)
def test_converged_nodes_expose_no_nodes_only_port(family):
    for role in ("control_plane", "workers"):
        facts = facts_of(family, True, role)
        assert "public" in facts["firewalld"]["interface_zones"]
        assert check_exposure(spec(role), facts) == []


def test_hand_made_public_zone_exposes_the_nodes_only_ports_listed_apart():
    """The write-up's setup under kubeprep's data (a cluster zone): 2379/tcp and 2380/tcp listed
    apart are found as 2379-2380/tcp, in the runtime and the permanent config."""
    facts = facts_of("rhel", True, **seed_public_zone())
    (result,) = check_exposure(spec(), facts)
    exposed = "2379-2380/tcp 10250/tcp 10257/tcp 10259/tcp"
    assert result.level == ERROR
    assert result.detail == (
        "zone public (bound to enp0s3; the default zone: every interface no other zone claims) "
        f"opens nodes-only ports to every source: {exposed} (runtime); {exposed} (permanent)")
    removes = ("--zone=public --remove-port=2379/tcp --remove-port=2380/tcp "
               "--remove-port=10250/tcp --remove-port=10259/tcp --remove-port=10257/tcp")
    assert result.fix.startswith(f"firewall-cmd {removes} && firewall-cmd --permanent {removes}")
    # the same ports opened on purpose (firewall_cluster_only = False): the data's choice
    (result,) = check_exposure(spec(**WRITE_UP), facts)
    assert result.level == WARNING and "firewall_cluster_only = True" in result.fix


def test_service_that_opens_a_nodes_only_port_counts():
    """Debian 12's kube-control-plane-secure opens 2379-2380 and 10250 besides 6443."""
    facts = facts_of("debian", True, **write_up_public("debian"),
                     firewall_bindings=["--- dbus", ENP0S3_IN_PUBLIC])
    (result,) = check_exposure(spec(), facts)
    assert result.level == ERROR
    assert "2379-2380/tcp 10250/tcp 10257/tcp 10259/tcp (runtime)" in result.detail
    assert "--remove-service=kube-control-plane-secure" in result.fix
    assert "--remove-port=10250/tcp" in result.fix


def interface_zone(zone: str, interface: str, ports: list[str], bound_now: bool) -> list[str]:
    """A ``--- zone`` block as NodeReadiness prints it: the zone file (RHEL's internal zone
    after ``--permanent --add-interface --add-port``) and its runtime config over D-Bus."""
    port_lines = [f'  <port port="{p.split("/")[0]}" protocol="{p.split("/")[1]}"/>'
                  for p in ports]
    reply = ('a{sv} 7 "target" s "default" "masquerade" b false "sources" as 0 '
             '"icmp_block_inversion" b false "forward" b false "services" as 2 "ssh" '
             f'"dhcpv6-client" "ports" a(ss) {len(ports)} '
             + " ".join(f'"{p.split("/")[0]}" "{p.split("/")[1]}"' for p in ports))
    return [f"--- zone {zone}", "--- permanent", '<?xml version="1.0" encoding="utf-8"?>',
            "<zone>", f"  <short>{zone.title()}</short>",
            f'  <interface name="{interface}"/>' if not bound_now else "",
            '  <service name="ssh"/>', '  <service name="dhcpv6-client"/>', *port_lines,
            "</zone>", "--- runtime", "--- dbus", reply]


def zone_settings_reply(config: dict) -> str:
    """firewalld's getZoneSettings2 reply (busctl) for a zone's runtime config."""
    def strings(values):
        return " ".join([str(len(values)), *(f'"{value}"' for value in values)])
    ports = " ".join(f'"{port.split("/")[0]}" "{port.split("/")[1]}"' for port in config["ports"])
    return (f'a{{sv}} 4 "services" as {strings(config["services"])} "ports" a(ss) '
            f'{len(config["ports"])} {ports} "sources" as {strings(config["sources"])} '
            f'"protocols" as {strings(config["protocols"])}')


def test_the_checked_zones_read_their_runtime_over_dbus_as_from_firewall_cmd():
    """NodeReadiness asks firewalld over D-Bus first for the zone and the cluster zone, as
    FirewalldZone does: the reply reads as firewall-cmd --list-all's output of the same zone."""
    listed = facts_of("debian", True, "workers")["firewalld"]
    assert listed["runtime"]["ports"] and listed["cluster_runtime"]["sources"]
    over_dbus = facts_of(
        "debian", True, "workers",
        firewall_runtime=["--- dbus", zone_settings_reply(listed["runtime"])],
        cluster_runtime=["--- dbus", zone_settings_reply(listed["cluster_runtime"])],
    )["firewalld"]
    assert over_dbus == listed


def test_nodes_only_port_in_another_zone_bound_to_an_interface():
    """eth1 bound to zone internal (in its file), which opens 10250: not the default zone, not
    read for the firewall check, and still open to every source on eth1."""
    bindings = ('a{sa{sas}} 2 "internal" 1 "interfaces" 1 "eth1" '
                '"kubeprep" 1 "sources" 3 "192.168.77.11" "192.168.77.21" "192.168.77.22"')
    facts = facts_of("debian", True, "workers", firewall_bindings=["--- dbus", bindings],
                     firewall_zones=interface_zone("internal", "eth1", ["10250/tcp"], False))
    zones = facts["firewalld"]["interface_zones"]
    assert set(zones) == {"public", "internal"}
    assert (zones["internal"]["interfaces"], zones["internal"]["permanent_interfaces"]) == (
        ["eth1"], ["eth1"])
    (result,) = check_exposure(spec("workers"), facts)
    assert result.detail == ("zone internal (bound to eth1) opens nodes-only ports to every "
                             "source: 10250/tcp (runtime); 10250/tcp (permanent)")
    assert result.fix == ("firewall-cmd --zone=internal --remove-port=10250/tcp && "
                          "firewall-cmd --permanent --zone=internal --remove-port=10250/tcp")


def test_cluster_zone_bound_to_an_interface_is_open_to_every_source():
    bindings = 'a{sa{sas}} 1 "kubeprep" 2 "interfaces" 1 "eth1" "sources" 3 "192.168.77.11" ' \
        '"192.168.77.21" "192.168.77.22"'
    facts = facts_of("debian", True, "workers", firewall_bindings=["--- dbus", bindings])
    (result,) = check_exposure(spec("workers"), facts)
    assert result.level == ERROR and result.detail.startswith("zone kubeprep (bound to eth1)")
    assert result.fix.startswith("firewall-cmd --zone=kubeprep --remove-interface=eth1")


def test_stopped_firewalld_exposure_comes_from_the_zone_files():
    over = {**seed_public_zone(), "firewalld": ["active=inactive", "zone=public",
                                                "cluster_zone=kubeprep"],
            "firewall_bindings": []}
    facts = facts_of("rhel", True, **over)
    (result,) = check_exposure(spec(), facts)
    assert result.detail.endswith("(permanent)") and "(runtime)" not in result.detail
    assert result.fix.startswith("firewall-offline-cmd --zone=public --remove-port=2379/tcp")


def test_public_ports_are_not_nodes_only():
    """10250 listed in firewall_ports as well is public by the data's choice."""
    facts = facts_of("rhel", True, **seed_public_zone())
    assert check_exposure(spec(nodes_only_ports=()), facts) == []


def test_cni_protocols_are_wanted_in_the_cluster_zone():
    calico = spec(protocols=("4",))
    (result,) = check_firewall(calico, facts_of("rhel", True))
    assert result.detail == ("protocols not accepted (runtime, zone kubeprep): 4; "
                             "protocols not accepted (permanent, zone kubeprep): 4")
    permanent = cluster_zone_xml(list(CP_PORTS), list(LAB_SOURCES)).replace(
        "  <forward/>", '  <protocol value="4"/>\n  <forward/>')
    runtime = cluster_runtime([], list(CP_PORTS), protocols=["4"])
    (result,) = check_firewall(calico, facts_of(
        "rhel", True, cluster_permanent=permanent.split("\n"), cluster_runtime=runtime))
    assert result.level == OK and result.detail.endswith("open to 3 nodes, protocols 4 accepted")


def test_cni_protocols_are_wanted_in_the_public_zone_in_write_up_mode():
    cilium = spec(protocols=("icmp",), **WRITE_UP)
    (result,) = check_firewall(cilium, facts_of("rhel", True, **write_up_public("rhel")))
    assert result.detail == ("protocols not accepted (runtime, zone public): icmp; "
                             "protocols not accepted (permanent, zone public): icmp")


def test_firewalld_installed_but_stopped():
    (result,) = check_firewall(spec(), facts_of("rhel", True, firewalld=["active=inactive",
                                                                                 "zone=public"]))
    assert result.level == WARNING and "not running" in result.detail


@pytest.mark.parametrize(("role", "cpus", "memory_kb", "level"), [
    ("control_plane", "1", "4000000", ERROR),
    ("control_plane", "2", "1500000", ERROR),
    ("control_plane", "2", "1816828", OK),  # 1774 MB: a 2 GB Rocky VM
    ("workers", "1", "1500000", WARNING),
    ("workers", "1", "4000000", OK),
])
def test_cpu_and_memory(role, cpus, memory_kb, level):
    found = run_checks("rhel", True, role=role, cpus=[cpus],
                       memory=[f"MemTotal:        {memory_kb} kB"])
    assert found["cpu/mem"] == level


@pytest.mark.parametrize(("hostname", "addresses", "level"), [
    ("cp1", ["192.168.77.11   cp1"], OK),
    ("CP1.Lab", ["192.168.77.11   CP1.Lab"], OK),  # kubeadm lower-cases it
    ("cp_1", ["192.168.77.11   cp_1"], ERROR),
    ("cp1", [], WARNING),  # not resolvable: kubeadm warns
    ("localhost.localdomain", ["::1             localhost localhost.localdomain"], WARNING),
    # 64 characters, a valid DNS name: the kubelet cannot label its Node with it
    ("node-7f3c9a1e.k8s.internal.eu-central-1.compute.example.com.lan1",
     ["10.0.0.7        node-7f3c9a1e.k8s.internal.eu-central-1.compute.example.com.lan1"], ERROR),
    ("node-7f3c9a1e.k8s.internal.eu-central-1.compute.example.com.lan",  # 63
     ["10.0.0.7        node-7f3c9a1e.k8s.internal.eu-central-1.compute.example.com.lan"], OK),
])
def test_hostname(hostname, addresses, level):
    found = run_checks("rhel", True, hostname=[hostname], hostname_addresses=addresses)
    assert found["hostname"] == level


@pytest.mark.parametrize("family", FAMILIES)
def test_missing_binaries(family):
    binaries = [f"{name} " for name in node_checks.BINARIES]
    results = node_checks.check_binaries(spec(), facts_of(family, True, binaries=binaries))
    assert [r.level for r in results] == [ERROR, WARNING]
    assert results[0].detail == "not on PATH: ip iptables mount nsenter"
    if family == "rhel":
        assert results[1].fix.startswith("dnf install -y /usr/sbin/ebtables")
    else:
        assert results[1].fix == "apt-get install -y ebtables ethtool socat iproute2 coreutils " \
            "conntrack"


@pytest.mark.parametrize(("role", "port_hex", "level"), [
    ("control_plane", "192B", ERROR),  # 6443
    ("control_plane", "0950", OK),  # 2384: not kubeadm's
    ("workers", "280A", ERROR),  # 10250
    ("workers", "192B", OK),  # a worker does not need 6443
])
def test_ports_in_use(role, port_hex, level):
    found = run_checks("debian", True, role=role,
                       listening=["00000000:0016", f"00000000000000000000000000000000:{port_hex}"])
    assert found["ports"] == level


@pytest.mark.parametrize(("role", "found", "levels_found"), [
    ("control_plane", [], [OK]),
    ("control_plane", ["/etc/kubernetes/manifests/kube-apiserver.yaml", "/var/lib/etcd"],
     [ERROR]),
    ("workers", ["/etc/kubernetes/kubelet.conf", "/etc/kubernetes/bootstrap-kubelet.conf",
                 "/etc/kubernetes/pki/ca.crt"], [ERROR]),
    # a former control plane about to join as a worker: kubeadm join does not look
    ("workers", ["/etc/kubernetes/manifests/etcd.yaml"], [WARNING]),
    ("control_plane", ["/etc/kubernetes/kubelet.conf", "/etc/kubernetes/manifests/etcd.yaml"],
     [ERROR, WARNING]),
])
def test_leftovers_of_an_earlier_kubeadm_run(role, found, levels_found):
    results = node_checks.check_leftovers(spec(role), facts_of("debian", True, role,
                                                               leftovers=found))
    assert [r.level for r in results] == levels_found


def test_leftovers_name_kubeadm_checks():
    (result,) = node_checks.check_leftovers(spec("workers"), facts_of(
        "debian", True, "workers",
        leftovers=["/etc/kubernetes/kubelet.conf", "/etc/kubernetes/pki/ca.crt"]))
    assert result.detail == (
        "left from an earlier kubeadm run: /etc/kubernetes/kubelet.conf "
        "([ERROR FileAvailable--etc-kubernetes-kubelet.conf]); /etc/kubernetes/pki/ca.crt "
        "([ERROR FileAvailable--etc-kubernetes-pki-ca.crt])")
    assert result.fix.startswith("kubeadm reset -f")
    (result,) = node_checks.check_leftovers(spec(), facts_of(
        "debian", True, leftovers=["/var/lib/etcd"]))
    assert "[ERROR DirAvailable--var-lib-etcd]" in result.detail


JOINED_WORKER = ["/etc/kubernetes/kubelet.conf", "/etc/kubernetes/pki/ca.crt"]


@pytest.mark.parametrize(("kubelet", "levels"), [
    # joined to this inventory's control plane, its kubelet running: the cluster's own
    (["enabled=enabled", "active=active", "server=https://192.168.77.11:6443",
      "config=systemd"], {"ports": OK, "leftover": OK}),
    # the kubelet stopped: what is left is a half-done or abandoned join
    (["enabled=enabled", "active=failed", "server=https://192.168.77.11:6443",
      "config=systemd"], {"ports": ERROR, "leftover": ERROR}),
    # joined to another cluster's API server: kubeprep would never join it to this one
    (["enabled=enabled", "active=active", "server=https://10.0.2.20:6443", "config=systemd"],
     {"ports": ERROR, "leftover": ERROR}),
])
def test_a_node_in_the_cluster_holds_its_ports_and_files_without_errors(kubelet, levels):
    facts = facts_of("debian", True, "workers", leftovers=JOINED_WORKER, kubelet=kubelet,
                     listening=["00000000:0016", "00000000:280A"])  # 10250, the kubelet's
    found = {check: node_checks.check_ports(spec("workers"), facts)[0].level if check == "ports"
             else node_checks.check_leftovers(spec("workers"), facts)[0].level
             for check in levels}
    assert found == levels


@pytest.mark.parametrize(("listed", "level", "named"), [
    ([], OK, ""),
    (["jksc4g 2026-12-03T01:43:46Z", "9a08jv 2026-12-02T02:43:46Z"], OK, ""),
    (["jksc4g 2026-12-03T01:43:46Z", "abcdef <never>"], WARNING, "abcdef"),
])
def test_bootstrap_tokens_that_never_expire_are_reported_by_id(listed, level, named):
    facts = facts_of("debian", True, bootstrap_tokens=listed)
    (result,) = node_checks.check_tokens(spec(), facts)
    assert result.level == level
    if named:
        assert named in result.detail and result.fix == (
            f"kubeadm token delete {named} (kubeprep makes a 1 h token per run)")


RENEW = "set kubernetes_certificate_renewal_days = 30 and run kubeprep"
ROTATE = "rotate the CA front-proxy-ca by hand"


@pytest.mark.parametrize(("days_left", "level", "named", "fixes"), [
    ({}, OK, "14 certificates; the first to expire, admin.conf, in 364 days "
             "(2027-12-02T08:04:45Z)", ()),
    ({"apiserver": 29, "front-proxy-ca": 12}, WARNING,
     "apiserver front-proxy-ca expire within 30 days (front-proxy-ca: 12 days)", (RENEW, ROTATE)),
    ({"front-proxy-ca": 12}, WARNING, "front-proxy-ca expire within 30 days", (ROTATE,)),
    ({"etcd-server": 0, "apiserver": 3}, ERROR, "expired: etcd-server", (RENEW,)),
])
def test_certificates_near_their_expiry_are_reported_by_name(days_left, level, named, fixes):
    facts = facts_of("rhel", True, certificates=expiry_output(**days_left))
    (result,) = node_checks.check_certificates(spec(), facts)
    assert (result.level, named in result.detail) == (level, True), result.detail
    assert [fix for fix in (RENEW, ROTATE) if fix in (result.fix or "")] == list(fixes), \
        result.fix


def test_no_certificates_where_kubeadm_printed_none_or_no_json():
    for output in ([], ["Error: failed to load admin kubeconfig"]):
        (result,) = node_checks.check_certificates(spec(), facts_of(
            "rhel", True, certificates=output))
        assert result.level == OK and "no kubeadm certificates" in result.detail


@pytest.mark.parametrize(("address", "level"), [
    (None, OK), ("192.168.77.11", OK), ("192.168.77.21", ERROR), ("10.0.2.15", OK),
])
def test_cluster_address_is_an_address_of_the_node(address, level):
    facts = facts_of("debian", True, ip_addresses=lab_addresses(11))
    (result,) = node_checks.check_cluster_address(spec(cluster_address=address), facts)
    assert result.level == level
    if level == ERROR:
        assert result.detail == ("cluster_address 192.168.77.21 is not an address of this node "
                                 "(it has 10.0.2.15 fec0::5054:ff:fe00:1 192.168.77.11)")


LAB_NO_PROXY = "localhost,127.0.0.1,192.168.77.0/24,10.244.0.0/16,10.96.0.0/12"


@pytest.mark.parametrize(("proxy", "level", "missing"), [
    ([], OK, None),
    ([f"env:NO_PROXY={LAB_NO_PROXY}"], OK, None),  # no proxy at all
    (["env:https_proxy=http://proxy.corp.example:3128", f"env:no_proxy={LAB_NO_PROXY}"],
     OK, None),
    (["env:https_proxy=http://proxy.corp.example:3128", "env:no_proxy=*"], OK, None),
    # a proxy for http only: kubeadm's checks (https) do not use it
    (["env:http_proxy=http://proxy.corp.example:3128"], OK, None),
    (['/etc/environment:https_proxy="http://proxy.corp.example:3128"',
      '/etc/environment:no_proxy="localhost,127.0.0.1,.corp.example"'], WARNING,
     "192.168.77.11 192.168.77.21 10.244.0.0/16 10.96.0.0/12 ([WARNING HTTPProxy, HTTPProxyCIDR])"),
    # the nodes listed one by one, the pod network too narrow
    (["/etc/profile.d/proxy.sh:export HTTPS_PROXY=http://proxy.corp.example:3128",
      "/etc/profile.d/proxy.sh:export NO_PROXY=192.168.77.11,192.168.77.21,10.244.0.0/24,"
      "10.96.0.0/12"], WARNING, "10.244.0.0/16 ([WARNING HTTPProxyCIDR])"),
])
def test_https_proxy_must_leave_the_nodes_and_cluster_networks_direct(proxy, level, missing):
    nodes = fleet()
    nodes[0].facts = facts_of("debian", True, proxy=proxy)
    (result,) = [r for r in fleet_checks.fleet_checks(nodes)["cp1"] if r.check == "proxy"]
    assert result.level == level
    if missing:
        assert result.detail.endswith(f"would carry the connections to {missing}")
        assert "NO_PROXY and no_proxy" in result.fix


# ------------------------------------------------------------------------------ new rows


def node_results(family, converged, role="control_plane", spec_over=None, **over) -> list:
    node_spec = spec(role, **(spec_over or {}))
    facts = facts_of(family, converged, role, **over)
    return [result for check in node_checks.NODE_CHECKS for result in check(node_spec, facts)]


def column(results, name: str) -> list:
    return [result for result in results if result.check == name]


def debian_nftables_enabled_with_rules() -> list[str]:
    """Debian 12's OtherFirewalls output with nftables.service enabled and a rule of its own."""
    lines = case_output("other_firewalls.OtherFirewalls", "debian12_fresh_nftables_default_disabled")
    lines[lines.index("UnitFileState=disabled")] = "UnitFileState=enabled"
    lines.insert(lines.index("|\t\ttype filter hook input priority filter;") + 1,
                 "|\t\ttcp dport 10250 drop")
    return lines


# systemctl show and ufw on an Ubuntu 24.04 node with ufw enabled (ENABLED=yes, its service on).
UFW_ACTIVE = [
    "Id=ufw.service", "ActiveState=active", "UnitFileState=enabled", "",
    "Id=nftables.service", "ActiveState=inactive", "UnitFileState=disabled", "",
    "Id=iptables.service", "ActiveState=inactive", "UnitFileState=", "",
    "Id=ip6tables.service", "ActiveState=inactive", "UnitFileState=", "--- ufw",
    "installed", "ENABLED=yes", "Status: active",
]


@pytest.mark.parametrize(("lines", "detail", "stop"), [
    (debian_nftables_enabled_with_rules(),
     "nftables.service is enabled with rules of its own (1 in /etc/nftables.conf)",
     "systemctl disable --now nftables.service"),
    (UFW_ACTIVE, "ufw is active", "ufw disable"),
])
@pytest.mark.parametrize("disable_others", [False, True])
def test_other_firewalls_are_an_error_with_both_fixes(lines, detail, stop, disable_others):
    (result,) = column(node_results("debian", True, spec_over={
        "firewall_disable_others": disable_others}, other_firewalls=lines), "others")
    assert (result.level, result.detail) == (
        ERROR, f"{detail}: it drops what firewalld opens")
    assert result.fix.endswith(f", or by hand: {stop}")
    assert ("set firewall_disable_others = True and run pyinfra inventory.py tasks/firewall.py"
            in result.fix) is not disable_others


@pytest.mark.parametrize("family", FAMILIES)
def test_packaged_nftables_config_is_no_other_firewall(family):
    (result,) = column(node_results(family, False), "others")
    assert result.level == OK


def test_relabel_pending_is_a_reboot_warning():
    results = column(node_results("rhel", True, selinux=["Disabled"],
                                  selinux_config=["SELINUX=permissive"],
                                  selinux_relabel=["/.autorelabel"]), "selinux")
    assert [result.level for result in results] == [OK, WARNING]
    assert results[1].detail.startswith("reboot pending (relabel): /.autorelabel is there")
    assert results[1].fix.startswith("reboot the node before kubeadm")


def test_relabel_file_on_debian_with_selinux_off_in_the_kernel_is_no_reboot_warning():
    """Debian's kernel starts SELinux only with security=selinux: a /.autorelabel (left by
    selinux-activate, as on the lab's workers) waits there, no boot relabels anything."""
    results = column(node_results("debian", True, selinux=["Disabled"],
                                  selinux_config=["SELINUX=permissive"],
                                  selinux_relabel=["/.autorelabel"]), "selinux")
    assert [result.level for result in results] == [OK]


ROCKY9_ARGS = ('args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rl-swap '
               'rd.lvm.lv=rl/root rd.lvm.lv=rl/swap rhgb quiet')


@pytest.mark.parametrize(("version", "grubby", "level"), [
    ("9.4", [f'{ROCKY9_ARGS}"'] * 2, WARNING),  # the config alone
    ("9.4", [f'{ROCKY9_ARGS} selinux=0"'] * 2, OK),
    ("9.4", [f'{ROCKY9_ARGS} selinux=0"', f'{ROCKY9_ARGS}"'], WARNING),  # one entry lacks it
    ("9.4", [f'{ROCKY9_ARGS} selinux=0 selinux=1"'] * 2, WARNING),  # the last one counts
    ("9.4", None, WARNING),  # no grubby
    ("8.10", [f'{ROCKY9_ARGS}"'] * 2, OK),  # RHEL 8's config still disables it
])
def test_disabled_on_rhel_9_needs_the_kernel_argument(version, grubby, level):
    over = {"selinux_grubby": grubby} if grubby is not None else {}
    results = column(node_results(
        "rhel", True, spec_over={"selinux_mode": "disabled"},
        os=["rocky", version, "rhel centos fedora"], selinux=["Permissive"],
        selinux_config=["SELINUX=disabled"], **over), "selinux")
    assert model.worst(result.level for result in results) == level
    if level == WARNING:
        assert f"on rocky {version} SELINUX=disabled in /etc/selinux/config does not disable " \
            "SELinux" in results[-1].detail
        assert "selinux=0" in results[-1].fix


@pytest.mark.parametrize("family", FAMILIES)
def test_no_containerd_is_kubeadms_cri_error(family):
    (result,) = column(node_results(family, False), "runtime")
    assert result.level == ERROR
    assert result.detail == ("containerd is not installed ([ERROR CRI]: kubeadm finds no "
                             "container runtime on its socket)")


@pytest.mark.parametrize("family", FAMILIES)
def test_converged_runtime_answers(family):
    results = column(node_results(family, True), "runtime")
    assert {result.level for result in results} == {OK}
    assert results[-1].detail == "the CRI answers on its socket (cri plugin ok)"


def containerd_lines(family: str, **replace: list[str]) -> list[str]:
    """The converged node's ContainerdState output with sections (``images`` ...) replaced."""
    lines = runtime_sections(family, True)["containerd"]
    for name, new in replace.items():
        start = lines.index(f"--- {name}")
        end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("--- "))
        lines = [*lines[:start + 1], *new, *lines[end:]]
    return lines


def test_sandbox_image_not_pulled_yet_is_a_warning():
    results = column(node_results("debian", True, containerd=containerd_lines(
        "debian", images=[])), "runtime")
    (pause,) = [result for result in results if result.level != OK]
    assert pause.level == WARNING
    assert pause.detail.startswith("sandbox image registry.k8s.io/pause:3.10 not in the k8s.io "
                                   "namespace: containerd pulls it for the first pod")


# ctr plugins ls against a socket file nobody listens on (containerd 1.6.20, Debian 12).
CTR_REFUSED = ('ctr: failed to dial "/run/containerd/containerd.sock": connection error: desc = '
               '"transport: error while dialing: dial unix /run/containerd/containerd.sock: '
               'connect: connection refused"')


def test_socket_that_does_not_answer_is_a_cri_error():
    results = column(node_results("debian", True, cri=[CTR_REFUSED]), "runtime")
    (bad,) = [result for result in results if result.level != OK]
    assert bad.level == ERROR
    assert bad.detail.startswith("containerd does not answer: failed to dial ")
    assert bad.detail.endswith('connect: connection refused" ([ERROR CRI])')


def test_containerd_driver_against_the_data():
    results = column(node_results("rhel", True, spec_over={"cgroup_driver": "cgroupfs"}),
                     "runtime")
    (bad,) = [result for result in results if result.level != OK]
    assert (bad.level, bad.detail) == (
        ERROR, "SystemdCgroup = true in effect (cgroup_driver = cgroupfs)")


def packages_case(name: str) -> list[str]:
    return case_output("kubernetes.KubernetesPackages", name)


DEBIAN_1_35 = ["kubeadm 1.35.2-1.1 hi ", "kubectl 1.35.2-1.1 hi ", "kubelet 1.35.2-1.1 hi "]


@pytest.mark.parametrize(("family", "packages", "kubelet", "levels", "detail"), [
    ("rhel", packages_case("rocky_none_installed"), ["enabled="], [WARNING],
     "kubeadm and kubelet not installed yet"),
    ("debian", packages_case("debian_google_cloud_sdk_kubectl"), ["enabled="], [WARNING],
     "kubeadm and kubelet not installed yet (only kubectl 1:528.0.0-0)"),
    ("rhel", packages_case("rocky_installed_and_excluded"), ["enabled=enabled"], [OK],
     "kubeadm 1.35.2, kubelet 1.35.2, kubectl 1.35.2, held; kubelet.service enabled; the kubelet "
     "will use cgroup_driver = systemd (no /var/lib/kubelet/config.yaml yet)"),
    ("debian", DEBIAN_1_35, ["enabled=enabled", "config=systemd"], [OK],
     "kubeadm 1.35.2, kubectl 1.35.2, kubelet 1.35.2, held; kubelet.service enabled; kubelet "
     "and containerd: systemd cgroups"),
    ("debian", DEBIAN_1_35, ["enabled=disabled"], [WARNING],
     "kubelet.service is disabled ([WARNING Service-Kubelet]: kubelet service is not enabled)"),
    ("debian", DEBIAN_1_35, ["enabled=enabled", "config=cgroupfs"], [ERROR],
     "the kubelet's cgroupDriver is cgroupfs (/var/lib/kubelet/config.yaml), containerd's "
     "systemd: the static Pods crash-loop"),
    ("debian", DEBIAN_1_35, ["enabled=enabled", "config="], [ERROR],  # the kubelet's default
     "the kubelet's cgroupDriver is cgroupfs (/var/lib/kubelet/config.yaml), containerd's "
     "systemd: the static Pods crash-loop"),
    ("debian", packages_case("debian_installed_not_held"), ["enabled=enabled"],
     [WARNING, WARNING],
     "kubeadm 1.36.4, kubectl 1.36.4, kubelet 1.36.4 installed; the data says "
     "kubernetes_version = 1.35"),
    ("debian", packages_case("debian_kubeadm_upgraded_first_and_unheld"), ["enabled=enabled"],
     [ERROR, WARNING, WARNING],
     "not at one version: kubeadm 1.37.1, kubectl 1.36.4, kubelet 1.36.4"),
    ("debian", ["kubeadm 1.35.2-1.1 hi ", "kubectl 1.35.2-1.1 hi ", "kubelet 1.36.0-1.1 hi "],
     ["enabled=enabled"], [ERROR, WARNING],
     "not at one version: kubeadm 1.35.2, kubectl 1.35.2, kubelet 1.36.0 ([ERROR "
     "KubeletVersion]: the kubelet is newer than kubeadm)"),
    ("debian", ["kubeadm 1.35.2-1.1 hi ", "kubelet 1.35.2-1.1 hi "], ["enabled=enabled"],
     [WARNING], "not installed: kubectl"),
    ("rhel", ["kubeadm 1.35.2-150500.1.1 ii", "package kubelet is not installed",
              "kubectl 1.35.2-150500.1.1 ii", "--- exclude",
              "kubelet kubeadm kubectl cri-tools kubernetes-cni"], ["enabled="], [ERROR],
     "not installed: kubelet"),
])
def test_packages(family, packages, kubelet, levels, detail):
    results = column(node_results(family, True, packages=packages, kubelet=kubelet), "packages")
    assert [result.level for result in results] == levels
    assert results[0].detail == detail


def test_packages_not_held():
    results = column(node_results("debian", True, kubelet=["enabled=enabled"], packages=[
        line.replace(" hi ", " ii ") for line in DEBIAN_1_35]), "packages")
    assert [(result.level, result.detail) for result in results] == [(
        WARNING,
        "not held: kubeadm kubectl kubelet (a system upgrade would move them past the cluster)")]


@pytest.mark.parametrize(("w1_kubelet", "level"), [
    ("1.35.2-1.1", None), ("1.35.1-1.1", WARNING), ("1.34.4-1.1", ERROR),
])
def test_kubelet_versions_agree_across_the_fleet(w1_kubelet, level):
    nodes = fleet()
    for node, version in zip(nodes, ["1.35.2-1.1", w1_kubelet], strict=True):
        node.facts["packages"] = {"installed": {"kubelet": version}, "held": ["kubelet"]}
    found = fleet_checks.fleet_checks(nodes)
    versions = {name: [r for r in results if r.check == "packages"]
                for name, results in found.items()}
    if level is None:
        assert versions == {"cp1": [], "w1": []}
        return
    assert [r.level for r in versions["cp1"]] == [r.level for r in versions["w1"]] == [level]
    assert versions["cp1"][0].detail == (
        f"kubelet 1.35.2 here, other versions on w1 {w1_kubelet.split('-')[0]}")


# os-release's ID and ID_LIKE lines of each supported platform.
OS_RELEASES = {
    "rocky 8": ('ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.10"\n', "/opt/cni/bin"),
    "almalinux 9": ('ID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.5"\n',
                    "/opt/cni/bin"),
    "rhel 9": ('ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n', "/opt/cni/bin"),
    "debian 12": ('ID=debian\nVERSION_ID="12"\n', "/usr/lib/cni"),
    "ubuntu 24.04": ('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n', "/usr/lib/cni"),
}


@pytest.mark.parametrize("platform", OS_RELEASES)
def test_cni_bin_dir_is_the_platforms_as_tasks_runtime_picks_it(tmp_path, platform):
    from kubeprep.containerd import CNI_BIN_DIRS
    from kubeprep.facts import readiness

    text, directory = OS_RELEASES[platform]
    (tmp_path / "os-release").write_text(text)
    script = readiness._PLATFORM_CNI_BIN_DIR.replace("/etc/os-release",
                                                     str(tmp_path / "os-release"))
    found = subprocess.run(["sh", "-c", f'{script} echo "$cni_bin_dir"'], capture_output=True,
                           text=True, check=True).stdout.strip()
    family = "rhel" if platform.split()[0] in ("rocky", "almalinux", "rhel") else "debian"
    assert found == directory == CNI_BIN_DIRS[family]


def test_data_cni_bin_dir_is_read_instead():
    command = NodeReadiness().command(modules=[], sysctls=[], binaries=[],
                                      cni_bin_dir="/opt/cni/bin").get_raw_value()
    assert "cni_bin_dir=/opt/cni/bin ; if command -v containerd" in command
    assert "os-release 2>/dev/null; case" not in command


# ------------------------------------------------------------------------------ the fleet


def fleet(*extra: tuple[str, str, dict]) -> list[Node]:
    nodes = [
        lab_node("cp1", "control_plane", facts_of("debian", True), "192.168.77.11"),
        lab_node("w1", "workers", facts_of("debian", True, "workers"), "192.168.77.21"),
    ]
    for name, role, over in extra:
        nodes.append(lab_node(name, role, facts_of("debian", True, role, **over)))
    return nodes


def test_unique_fleet_passes():
    results = fleet_checks.fleet_checks(fleet(("w2", "workers", {
        "hostname": ["w2"], "product_uuid": ["aaaa"], "interfaces": ["eth1 52:54:00:00:00:03 yes"],
    })))
    assert {levels(r)["uuid"] for r in results.values()} == {OK}
    assert {levels(r)["mac"] for r in results.values()} == {OK}


def test_cloned_vm_flagged_on_both_nodes():
    """w2 is a clone of w1: same hostname, product_uuid and MAC; both are flagged, cp1 is not."""
    results = fleet_checks.fleet_checks(fleet(("w2", "workers", {})))
    assert levels(results["cp1"]) == {"uuid": OK, "mac": OK, "proxy": OK}
    for name, other in (("w1", "w2"), ("w2", "w1")):
        assert levels(results[name]) == {"hostname": ERROR, "uuid": ERROR, "mac": ERROR,
                                         "proxy": OK}
        details = " ".join(r.detail for r in results[name])
        assert f"also the hostname of {other}" in details and f"also on {other}" in details


def test_hostname_duplicate_ignores_case():
    results = fleet_checks.fleet_checks(fleet(("w2", "workers", {
        "hostname": ["W1"], "product_uuid": ["aaaa"], "interfaces": ["eth1 52:54:00:00:00:03 yes"],
    })))
    assert levels(results["w2"])["hostname"] == ERROR


def test_mac_of_virtual_interfaces_is_not_compared():
    over = {"hostname": ["w2"], "product_uuid": ["aaaa"], "interfaces": [
        "eth0 52:54:00:00:00:03 yes", "enp0s3 08:00:27:5e:1a:02 no"]}  # same MAC on a bridge
    assert levels(fleet_checks.fleet_checks(fleet(("w2", "workers", over)))["w2"])["mac"] == OK


def test_unreadable_product_uuid_is_a_warning():
    results = fleet_checks.fleet_checks(fleet(("w2", "workers", {"product_uuid": []})))
    assert levels(results["w2"])["uuid"] == WARNING


def test_required_paths():
    nodes = fleet(("w2", "workers", {"route": []}))  # no address at all: left out
    nodes.append(lab_node("cp2", "control_plane", facts_of("debian", True), "192.168.77.12"))
    found = {(p.source, p.target, p.port) for p in required_paths(nodes)}
    assert found == {
        ("w1", "cp1", 6443), ("w1", "cp2", 6443),
        ("cp1", "w1", 10250), ("cp2", "w1", 10250),
        ("cp1", "cp2", 10250), ("cp2", "cp1", 10250),
        ("cp1", "cp2", 2379), ("cp1", "cp2", 2380), ("cp2", "cp1", 2379), ("cp2", "cp1", 2380),
    }


def test_outside_paths_want_nodes_only_ports_closed_and_public_ports_open():
    paths = fleet_checks.outside_paths(["bastion"], fleet())
    found = {(p.target, p.port, p.why, p.expected) for p in paths}
    assert found == {
        ("cp1", 2379, "nodes only", "closed"), ("cp1", 2380, "nodes only", "closed"),
        ("cp1", 10250, "nodes only", "closed"), ("cp1", 10257, "nodes only", "closed"),
        ("cp1", 10259, "nodes only", "closed"), ("cp1", 22, "public", "open"),
        ("cp1", 6443, "public", "open"),
        ("w1", 10250, "nodes only", "closed"), ("w1", 22, "public", "open"),
        ("w1", 30000, "public", "open"),  # a NodePort range is probed at its start
    }
    assert {p.source for p in paths} == {"bastion"}
    # UDP (a CNI's VXLAN) cannot be probed over TCP
    nodes = fleet()
    nodes[1].spec = spec("workers", nodes_only_ports=("10250/tcp", "8472/udp"))
    assert {p.port for p in fleet_checks.outside_paths(["bastion"], nodes)
            if p.target == "w1" and p.expected == "closed"} == {10250}


@pytest.mark.parametrize(("expected", "result", "level"), [
    ("open", "open", OK), ("open", "filtered", ERROR), ("open", "refused", ERROR),
    ("closed", "filtered", OK), ("closed", "refused", OK), ("closed", "open", ERROR),
    ("closed", "not checked", WARNING),
])
def test_path_level_against_what_is_expected(expected, result, level):
    path = NetPath("bastion", "cp1", "192.168.77.11", 2379, "nodes only", expected=expected)
    assert PathResult(path, result, "").level == level


def test_nodes_only_port_reached_from_outside_is_an_error_on_that_node():
    nodes = fleet()
    paths = [
        PathResult(NetPath("w1", "cp1", "192.168.77.11", 6443, "API server"), "open", "connected"),
        PathResult(NetPath("bastion", "cp1", "192.168.77.11", 2379, "nodes only", "closed"),
                   "open", "connected"),
        PathResult(NetPath("bastion", "w1", "192.168.77.21", 10250, "nodes only", "closed"),
                   "filtered", "rejected (ICMP host-prohibited: a firewall reject rule)"),
    ]
    built = evaluate(nodes, paths, "1.35")
    cp1 = [r for r in built.nodes[0].results if r.check == "reach"]
    assert [(r.level, r.detail) for r in cp1] == [(
        ERROR, "bastion -> cp1:2379 (nodes only) open (reachable from a non-node address): "
        "connected")]
    assert cp1[0].fix.startswith("close 2379/tcp on cp1 to everyone but the nodes")
    (w1,) = [r for r in built.nodes[1].results if r.check == "reach"]
    assert (w1.level, w1.detail) == (OK, "1 nodes-only from outside, all closed")


def test_probe_through_a_prefix():
    command = probes.probe_command([("192.168.77.11", 2379)])
    assert probes.prefixed("ip netns exec kubeprep-lab", command) == (
        f"ip netns exec kubeprep-lab sh -c {shlex.quote(command)}")
    assert probes.prefixed("", command) == command
    with pytest.raises(ValueError):
        probes.prefixed("ip netns exec 'unclosed", command)


def test_address_falls_back_to_the_default_route_source():
    node = lab_node("w9", "workers", facts_of("debian", True, "workers"))
    assert node.address == "10.0.2.15"


# ------------------------------------------------------------------------------ the probes


@pytest.mark.parametrize(("rc", "message", "result"), [
    (0, "", "open"),
    (1, "bash: connect: Connection refused bash: line 1: /dev/tcp/192.168.77.11/6443: "
        "Connection refused", "refused"),
    (1, "bash: connect: No route to host bash: line 1: /dev/tcp/192.168.77.21/10250: "
        "No route to host", "filtered"),
    (124, "", "filtered"),
    (127, "timeout: failed to run command 'bash': No such file or directory", "not checked"),
])
def test_classify_probe(rc, message, result):
    assert classify_probe(rc, message)[0] == result


def test_probe_command_and_its_output():
    command = probe_command([("192.168.77.11", 6443), ("192.168.77.21", 10250)])
    assert command.startswith("for t in 192.168.77.11/6443 192.168.77.21/10250; do ")
    assert "timeout 5 bash -c \"exec 3<>/dev/tcp/$t\"" in command
    found = parse_probes([
        "probe 192.168.77.11 6443 0",
        "probe 192.168.77.21 10250 1 bash: connect: No route to host",
    ])
    assert found == {("192.168.77.11", 6443): (0, ""),
                     ("192.168.77.21", 10250): (1, "bash: connect: No route to host")}
    with pytest.raises(ValueError):
        probe_command([("192.168.77.11; reboot", 6443)])


def test_listener_command_is_bounded_and_writes_nothing():
    command = listener_command("/usr/libexec/platform-python", [6443, 10250], 45)
    assert command.startswith("timeout 45 /usr/libexec/platform-python -c ")
    assert "</dev/null >/dev/null 2>&1 &" in command
    assert "for h in 192B 280A;" in command
    assert ">" not in command.replace(">/dev/null", "").replace("2>&1", "")
    assert parse_listener(["pid 4242", "bound 192B", "bound 280A"]) == (4242, {6443, 10250})
    assert probes.stop_command(4242) == "kill 4242 2>/dev/null; true"


def test_listener_script_runs_on_python_3_6_syntax():
    ast.parse(probes._LISTENER, feature_version=(3, 6))


# ------------------------------------------------------------------------------ the report


def sample_report() -> model.Report:
    nodes = fleet(("w2", "workers", {}))  # w2 cloned from w1
    nodes[0].facts["swaps"] = [{"name": "/swapfile", "type": "file"}]
    paths = [
        PathResult(NetPath("w1", "cp1", "192.168.77.11", 6443, "API server"), "open", "connected"),
        PathResult(NetPath("w2", "cp1", "192.168.77.11", 6443, "API server"), "open", "connected"),
        PathResult(NetPath("cp1", "w1", "192.168.77.21", 10250, "kubelet API"), "open",
                   "connected"),
        PathResult(NetPath("cp1", "w2", "10.0.2.15", 10250, "kubelet API"), "filtered",
                   "rejected (ICMP host-prohibited: a firewall reject rule)"),
    ]
    return evaluate(nodes, paths, "1.35")


def test_text_report():
    text = report.render_text(sample_report())
    lines = text.split("\n")
    assert lines[0] == ("kubeprep readiness check (kubernetes 1.35): NOT READY, 3 nodes, "
                        "8 errors, 6 warnings")
    assert lines[2].split() == ["node", "role", *model.COLUMNS]
    assert lines[3].split() == ["cp1", "cp", "✗", *["✓"] * 14, "!", *["✓"] * 4, "!", "✓", "✓", "✓"]
    assert lines[5].split() == ["w2", "worker", "✓", "✓", "✓", "✓", "✓", "✓", "✓", "✓", "✓",
                                "✗", "✓", "✗", "✗", "✓", "✓", "!", "✓", "✓", "✓", "✓", "!",
                                "✓", "✓", "✗"]
    assert "  ✗ cp1 -> w2:10250  filtered     kubelet API: rejected (ICMP host-prohibited: " \
        "a firewall reject rule)" in lines
    assert "  ✗ cp1 swap: swap is on: /swapfile (file); the kubelet refuses to start with swap" \
        in lines
    # errors before warnings, each with its fix
    failures = lines[lines.index("Errors and warnings:") + 1:]
    marks = [line.split()[0] for line in failures if line.startswith("  ") and
             not line.startswith("      ")]
    assert marks == sorted(marks, key=lambda mark: mark != "✗")
    assert "      fix: hostnamectl set-hostname with a unique name on each node" in failures


def test_json_report():
    data = report.render_json(sample_report())
    assert json.loads(json.dumps(data)) == data
    assert (data["ready"], data["errors"], data["warnings"]) == (False, 8, 6)
    assert data["nodes"]["w2"]["status"]["reach"] == ERROR
    assert data["nodes"]["w2"]["address"] == "10.0.2.15"
    assert data["paths"][3] == {
        "source": "cp1", "target": "w2", "address": "10.0.2.15", "port": 10250,
        "why": "kubelet API", "expected": "open", "result": "filtered",
        "detail": "rejected (ICMP host-prohibited: a firewall reject rule)",
    }
    swap = data["nodes"]["cp1"]["checks"][0]
    assert (swap["check"], swap["level"]) == ("swap", ERROR) and "tasks/swap.py" in swap["fix"]


def test_node_not_read_shows_its_problem_only():
    node = Node("w3", "workers", None, None, model.Result("ssh", ERROR, "could not connect"))
    built = evaluate([*fleet(), node], [], "1.35")
    assert [r.check for r in built.nodes[2].results] == ["ssh"]
    assert report.render_text(built).split("\n")[5].split() == ["w3", "worker", *["·"] * len(model.COLUMNS)]


# ------------------------------------------------------------------------------ check.py


class FakeData(dict):
    """A host's data: ``dict()`` (kubeprep.fleet.readiness.gather) and ``get()``
    (kubeprep.fleet.hosts.cluster_addresses)."""

    def dict(self) -> dict:
        return dict(self)


class FakeHost:
    """What gather, finish and reachability (kubeprep.fleet.readiness) use of a pyinfra Host."""

    def __init__(self, name: str, groups: list[str], data: dict, output: str):
        self.name, self.groups, self.data, self.output = name, groups, FakeData(data), output
        self.commands: list[str] = []
        self.logged: list[str] = []
        self.fact_arguments: dict = {}

    def get_fact(self, fact_cls, **arguments):
        self.fact_arguments = arguments
        return fact_cls().process(self.output.split("\n"))

    def log_styled(self, message, **_):
        self.logged.append(message)


class FakeInventory(list):
    """What the readiness check uses of pyinfra's Inventory: hosts by name and by group."""

    def get_host(self, name: str) -> FakeHost:
        return next(node for node in self if node.name == name)

    def get_group(self, name: str, default=None) -> list[FakeHost]:
        return [node for node in self if name in node.groups] or default


def lab_addresses(last: int) -> list[str]:
    """``ip -o addr show | awk '{print $2, $4}'`` on a lab VM: user-mode eth0, the lab's eth1."""
    return ["lo 127.0.0.1/8", "lo ::1/128", "eth0 10.0.2.15/24", "eth0 fec0::5054:ff:fe00:1/64",
            f"eth1 192.168.77.{last}/24", "eth1 fe80::5054:ff:fe00:2/64"]


def _group_data(group: str) -> dict:
    data = {}
    for name in ("all", group):
        module = runpy.run_path(str(ROOT / "group_data" / f"{name}.py"))
        data.update({k: v for k, v in module.items() if not k.startswith("__")})
    return data


def test_check_py_on_a_fake_fleet(tmp_path, monkeypatch, capsys):
    """check.py's two halves: gather() per host, then finish() once for the fleet, with the
    listener/probe commands answered as a real fleet would (w2's 10250 rejected)."""
    from kubeprep.fleet import readiness as fleet_module

    hosts = {
        "cp1": FakeHost("cp1", ["control_plane"], {**_group_data("control_plane"),
                        "cluster_address": "192.168.77.11"},
                        node_output("debian", True, ip_addresses=lab_addresses(11))),
        "w1": FakeHost("w1", ["workers"], {**_group_data("workers"),
                       "cluster_address": "192.168.77.21"},
                       node_output("debian", True, "workers", ip_addresses=lab_addresses(21))),
        "w2": FakeHost("w2", ["workers"], {**_group_data("workers"),
                       "cluster_address": "192.168.77.22"}, node_output(
                           "debian", True, "workers", hostname=["w2"], product_uuid=["bbbb"],
                           interfaces=["eth1 52:54:00:00:00:03 yes"],
                           ip_addresses=lab_addresses(22))),
    }

    class FakeState:
        inventory = list(hosts.values())

        @staticmethod
        def is_host_in_limit(_):
            return True

    FakeState.inventory = FakeInventory(hosts.values())
    state = FakeState()

    def fake_run(_state, target, command):
        target.commands.append(command)
        if command.startswith("timeout "):
            ports = [int(p) for p in command.split("</dev/null")[0].split()[-2:] if p.isdigit()]
            return ["pid 4242", *(f"bound {p:04X}" for p in ports)]
        if command.startswith("for t in"):
            pairs = command.split(";")[0].split()[3:]
            return [f"probe {p.replace('/', ' ')} 0" if not p.endswith("22/10250") else
                    f"probe {p.replace('/', ' ')} 1 bash: connect: No route to host"
                    for p in pairs]
        return []

    class FakeHostProxy:
        def __init__(self, current):
            self.current = current

        def __getattr__(self, name):
            return getattr(self.current, name)

    report_file = tmp_path / "report.json"
    monkeypatch.setenv(fleet_module.JSON_ENV, str(report_file))
    with patch.object(fleet_module, "_run", fake_run), \
            patch.object(fleet_module.ctx_state, "get", lambda: state):
        for current in hosts.values():
            with patch.object(fleet_module, "host", current):
                fleet_module.gather()
        verdicts = {name: fleet_module.finish(state, h) for name, h in hosts.items()}

    assert verdicts == {"cp1": True, "w1": True, "w2": False}
    assert hosts["w2"].logged == ["kubeprep: not ready, 1 errors: reach"]
    assert {name: (h.fact_arguments["zone"], h.fact_arguments["cluster_zone"],
                   h.fact_arguments["cni_bin_dir"])
            for name, h in hosts.items()} == dict.fromkeys(hosts, (None, "kubeprep", None))
    w2 = next(node for node in fleet_module._fleet(state).report.nodes if node.name == "w2")
    assert (w2.spec.public_ports, w2.spec.cluster_ports, w2.spec.cluster_sources) == (
        WORKER_PUBLIC, WORKER_PORTS, LAB_SOURCES)
    # listeners: cp1 6443, w1 and w2 10250; each stopped again
    assert [c.split()[0] for c in hosts["cp1"].commands if not c.startswith("for")] == [
        "timeout", "kill"]
    assert hosts["w2"].commands[-1] == "kill 4242 2>/dev/null; true"
    out = capsys.readouterr().out
    assert "  ✗ cp1 -> w2:10250  filtered" in out
    data = json.loads(report_file.read_text())
    assert data["ready"] is False
    assert [(p["source"], p["target"], p["port"], p["result"]) for p in data["paths"]] == [
        ("cp1", "w1", 10250, "open"), ("cp1", "w2", 10250, "filtered"),
        ("w1", "cp1", 6443, "open"), ("w2", "cp1", 6443, "open"),
    ]


def test_check_py_probes_from_an_outside_host(monkeypatch, capsys):
    """A host of the outside group (the lab host in the lab's network namespace) is no node: no
    fact, no row; it probes every node through its probe_prefix; w1's 10250 answering it fails
    w1 only."""
    from kubeprep.fleet import readiness as fleet_module

    monkeypatch.delenv(fleet_module.JSON_ENV, raising=False)
    hosts = {
        "cp1": FakeHost("cp1", ["control_plane"], {**_group_data("control_plane"),
                        "cluster_address": "192.168.77.11"},
                        node_output("debian", True, ip_addresses=lab_addresses(11))),
        "w1": FakeHost("w1", ["workers"], {**_group_data("workers"),
                       "cluster_address": "192.168.77.21"},
                       node_output("debian", True, "workers", ip_addresses=lab_addresses(21))),
        "@local": FakeHost("@local", ["outside"],
                           {"probe_prefix": "ip netns exec kubeprep-lab"}, ""),
    }

    class FakeState:
        inventory = FakeInventory(hosts.values())

        @staticmethod
        def is_host_in_limit(_):
            return True

    state = FakeState()

    def fake_run(_state, target, command):
        target.commands.append(command)
        if command.startswith("timeout "):
            ports = [int(p) for p in command.split("</dev/null")[0].split()[-8:] if p.isdigit()]
            return ["pid 4242", *(f"bound {p:04X}" for p in ports)]
        inner = shlex.split(command)[-1] if command.startswith("ip netns") else command
        if inner.startswith("for t in"):
            pairs = inner.split(";")[0].split()[3:]
            reached = {"192.168.77.21/10250", "192.168.77.11/6443", "192.168.77.11/22",
                       "192.168.77.21/22", "192.168.77.21/30000"}
            return [f"probe {p.replace('/', ' ')} 0" if p in reached or target.name != "@local"
                    else f"probe {p.replace('/', ' ')} 1 bash: connect: No route to host"
                    for p in pairs]
        return []

    with patch.object(fleet_module, "_run", fake_run), \
            patch.object(fleet_module.ctx_state, "get", lambda: state):
        for current in hosts.values():
            with patch.object(fleet_module, "host", current):
                fleet_module.gather()
        verdicts = {name: fleet_module.finish(state, h) for name, h in hosts.items()}

    assert verdicts == {"cp1": True, "w1": False, "@local": True}
    assert hosts["@local"].fact_arguments == {}  # no fact read
    report_nodes = fleet_module._fleet(state).report.nodes
    assert [node.name for node in report_nodes] == ["cp1", "w1"]
    (probe,) = hosts["@local"].commands
    assert probe.startswith("ip netns exec kubeprep-lab sh -c 'for t in 192.168.77.11/2379 ")
    out = capsys.readouterr().out
    assert "  ✗ @local -> w1:10250   open         nodes only: connected" in out
    assert "  ✓ @local -> cp1:2379   filtered     nodes only: rejected" in out
    assert "(reachable from a non-node address)" in out


def test_outside_host_with_a_broken_probe_prefix_is_not_checked():
    from kubeprep.fleet import readiness as fleet_module

    outsider = fleet_module._outsider("bastion", "ip netns exec 'unclosed")
    assert outsider.problem.startswith("bastion: probe_prefix = \"ip netns exec 'unclosed\": ")
    assert "Fix: " in outsider.problem
    assert fleet_module._outsider("bastion", ["ip"]).problem.startswith(
        "bastion: probe_prefix = ['ip']: not a string")


def test_node_spec_has_no_defaults_of_its_own():
    """Every field comes from the host's Settings (kubeprep.fleet.readiness.gather), never a copy
    here."""
    assert all(f.default is MISSING and f.default_factory is MISSING for f in fields(NodeSpec))


def test_node_spec_declares_each_key_once_in_the_settings():
    """NodeSpec's data keys are fields typed as Settings stores them (key_view); the fields it
    declares itself are what follows from the data and the inventory, none of them a key."""
    from kubeprep.keys import BY_NAME
    from kubeprep.settings import Settings

    stored = {f.name: f.type for f in fields(Settings)}
    keys = [f for f in fields(NodeSpec) if f.name in NodeSpec.KEYS]
    assert [f.name for f in keys] == list(NodeSpec.KEYS)
    assert {f.name: f.type for f in keys} == {name: stored[name] for name in NodeSpec.KEYS}
    derived = [f.name for f in fields(NodeSpec) if f.name not in NodeSpec.KEYS]
    assert derived[0] == "role" and not set(derived) & set(BY_NAME)


def test_gather_gives_the_spec_each_key_as_the_settings_hold_it():
    """kubeprep.fleet.readiness.gather copies every key of NodeSpec.KEYS from the host's Settings, those
    that differ from group_data's too."""
    from kubeprep.fleet import readiness as fleet_module
    from kubeprep.settings import settings_from_data

    data = {**_group_data("workers"), "cluster_address": "192.168.77.21", "swap": "keep",
            "firewall_disable_others": True, "cni_pod_cidr": "10.200.0.0/16",
            "cni_service_cidr": "10.100.0.0/16", "kubernetes_version": "1.34.1"}
    worker = FakeHost("w1", ["workers"], data, node_output("debian", True, "workers"))
    state = type("FakeState", (), {"inventory": FakeInventory([worker])})()
    with patch.object(fleet_module.ctx_state, "get", lambda: state), \
            patch.object(fleet_module, "host", worker), \
            patch.object(fleet_module, "cluster_addresses", lambda: ["192.168.77.21"]):
        fleet_module.gather()
    spec = fleet_module._fleet(state).nodes["w1"].spec
    settings = settings_from_data("w1", ["workers"], data)
    assert {name: getattr(spec, name) for name in NodeSpec.KEYS} == {
        name: getattr(settings, name) for name in NodeSpec.KEYS}
    assert (spec.role, spec.firewall_disable_others, spec.cni_pod_cidr, spec.swap) == (
        "workers", True, "10.200.0.0/16", "keep")


def test_pure_helpers_import_neither_pyinfra_nor_facts():
    pyinfra_parts = ("deploys", "facts", "fleet", "operations")  # kubeprep's pyinfra code
    pure = [module_file for module_file in (ROOT / "kubeprep").rglob("*.py")
            if module_file.relative_to(ROOT / "kubeprep").parts[0] not in pyinfra_parts]
    assert {ROOT / "kubeprep" / "keys.py", ROOT / "kubeprep" / "checks" / "node.py"} <= set(pure)
    forbidden = {("kubeprep", part) for part in pyinfra_parts}
    for module_file in pure:
        tree = ast.parse(module_file.read_text())
        imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names]
        imported += [node.module or "" for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)]
        assert not [name for name in imported if name.split(".")[0] == "pyinfra"
                    or tuple(name.split(".")[:2]) in forbidden], module_file
