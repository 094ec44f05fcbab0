"""Facts of fresh and converged hosts, for the task tests.

kubeprep's own facts are given as raw command output (run through the fact's ``process()``).
Rocky 8 output comes from the original write-up (shared/seed): its ``firewall-cmd --list-all``
and ``/etc/fstab``; ``/proc/swaps`` is in the format of Rocky 8's 4.18 kernel. Debian 12 output was
read on the lab's Debian 12 VMs. The systemd part of ``swap.SwapState`` (``systemctl is-enabled``,
``systemctl show``) is composed in the formats systemd documents and prints; the zram config is
Fedora's zram-generator-defaults file.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
from datetime import datetime
from pathlib import Path

from taskrun import ByArguments

ROCKY_8 = {
    "name": "Rocky Linux",
    "major": 8,
    "minor": 10,
    "release_meta": {"ID": "rocky", "ID_LIKE": "rhel centos fedora", "VERSION_ID": "8.10"},
}
DEBIAN_12 = {
    "name": "Debian",
    "major": 12,
    "minor": None,
    "release_meta": {"ID": "debian", "VERSION_ID": "12", "VERSION_CODENAME": "bookworm"},
}

ROCKY_FSTAB = """
#
# /etc/fstab
# Created by anaconda on Mon Oct 14 02:07:12 2024
#
# Accessible filesystems, by reference, are maintained under '/dev/disk/'.
# See man pages fstab(5), findfs(8), mount(8) and/or blkid(8) for more info.
#
# After editing this file, run 'systemctl daemon-reload' to update systemd
# units generated from this file.
#
/dev/mapper/rl-root     /                       xfs     defaults        0 0
UUID=bdd69149-c218-46ff-a880-5e4aabc970d6 /boot                   xfs     defaults        0 0
/dev/mapper/rl-swap     none                    swap    defaults        0 0
"""
ROCKY_PROC_SWAPS = (
    "Filename\t\t\t\tType\t\tSize\tUsed\tPriority\n"
    "/dev/dm-1                               partition\t2097148\t0\t-2"
)
NO_SWAPS_418 = "Filename\t\t\t\tType\t\tSize\tUsed\tPriority"

DEBIAN_FSTAB = """# /etc/fstab: static file system information.
#
# Use 'blkid' to print the universally unique identifier for a
# device; this may be used with UUID= as a more robust way to name devices
# that works even if disks are added and removed. See fstab(5).
#
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
/dev/vda\t/\text4\terrors=remount-ro\t0\t1
/swapfile none swap sw 0 0
"""
DEBIAN_PROC_SWAPS = (
    "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
    "/swapfile                               file\t\t262140\t\t0\t\t-2"
)
NO_SWAPS_61 = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority"

RHEL_PUBLIC_XML = """<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <description>For use in public areas. You do not trust the other computers on networks to not harm your computer. Only selected incoming connections are accepted.</description>
  <service name="ssh"/>
  <service name="dhcpv6-client"/>
  <service name="cockpit"/>
</zone>"""


def list_all(ports: str) -> str:
    """``firewall-cmd --list-all`` as Rocky 8 prints it (the write-up), with ``ports``."""
    return f"""public (active)
  target: default
  icmp-block-inversion: no
  interfaces: enp0s3
  sources:
  services: cockpit dhcpv6-client ssh
  ports: {ports}
  protocols:
  forward: no
  masquerade: no
  forward-ports:
  source-ports:
  icmp-blocks:
  rich rules:"""


def public_xml(ports: list[str]) -> str:
    """The public zone file as firewalld writes it after ``--permanent --add-port``."""
    lines = RHEL_PUBLIC_XML.split("\n")
    port_lines = [
        f'  <port port="{port.split("/")[0]}" protocol="{port.split("/")[1]}"/>' for port in ports
    ]
    return "\n".join(lines[:-1] + port_lines + lines[-1:])


def cluster_zone_xml(ports: list[str], sources: list[str]) -> str:
    """A zone made with ``--new-zone``, then given ports and sources (firewalld's own layout)."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<zone>"]
    lines += [f'  <port port="{port.split("/")[0]}" protocol="{port.split("/")[1]}"/>'
              for port in ports]
    lines += [f'  <source address="{source}"/>' for source in sources]
    return "\n".join([*lines, "  <forward/>", "</zone>"])


def firewalld_output(active: bool, permanent: str, runtime: str = "", zone: str = "public") -> dict:
    head = "active=active\nenabled=enabled" if active else "active=inactive\nenabled=disabled"
    text = f"{head}\nzone={zone}\n--- permanent\n{permanent}\n--- runtime"
    return {"output": f"{text}\n{runtime}" if active else text}


def rhel_zones(public: list[str], cluster: list[str], sources: list[str]) -> ByArguments:
    """Rocky 8's zones after a run (firewalld 0.9: no Kubernetes service definitions)."""
    cluster_list_all = list_all(" ".join(cluster)).replace("public (active)", "kubeprep (active)")
    cluster_list_all = cluster_list_all.replace("interfaces: enp0s3", "interfaces:").replace(
        "sources:", f"sources: {' '.join(sources)}").replace(
        "services: cockpit dhcpv6-client ssh", "services:")
    return ByArguments({
        "zone=None": firewalld_output(True, public_xml(public), list_all(" ".join(public))),
        "zone=kubeprep": firewalld_output(
            True, cluster_zone_xml(cluster, sources), cluster_list_all, zone="kubeprep",
        ),
    })


def debian_zones(role: str) -> ByArguments:
    """Debian 12's zones after a run, read on the lab's cp1 or w1 (firewalld 1.3)."""
    node = "control_plane" if role == "control_plane" else "worker"
    return ByArguments({
        "zone=None": fact_case_output(f"firewalld.FirewalldZone/debian12_{node}_public_zone_split"),
        "zone=kubeprep": fact_case_output(f"firewalld.FirewalldZone/debian12_{node}_cluster_zone"),
    })


def _printed(text: str) -> str:
    """A file as swap.SwapState prints it: ``sed 's/^/|/'``, then the newline of ``echo``."""
    *lines, last = text.split("\n")
    return "".join(f"|{line}\n" for line in lines) + (f"|{last}" if last else "") + "\n"


def swap_output(
    proc_swaps: str,
    fstab: str | None,
    swap_target: str = "static",
    units: str = "",
    unit_backups: str = "",
    zram: dict[str, str] | None = None,
) -> dict:
    """The raw output of ``swap.SwapState``: ``units`` is ``systemctl show`` output."""
    text = f"{proc_swaps}\n--- fstab\n"
    if fstab is not None:
        text += _printed(fstab)
    text += f"--- swap.target\n{swap_target}\n--- units\n{units}--- unit backups\n{unit_backups}"
    for path, content in (zram or {}).items():
        text += f"--- zram {path}\n{_printed(content)}"
    return {"output": text.removesuffix("\n")}


def show(unit: str, load: str, active: str, fragment: str, file_state: str) -> str:
    """One unit as ``systemctl show -p Id,LoadState,ActiveState,FragmentPath,UnitFileState``
    prints it (properties in systemd's order, a blank line after each unit)."""
    return (f"Id={unit}\nLoadState={load}\nActiveState={active}\nFragmentPath={fragment}\n"
            f"UnitFileState={file_state}\n\n")


# The units systemd-fstab-generator makes of the fresh hosts' swap entries.
FSTAB_SWAP_UNIT_ROCKY = show(
    "dev-mapper-rl\\x2dswap.swap", "loaded", "active",
    "/run/systemd/generator/dev-mapper-rl\\x2dswap.swap", "generated",
)
FSTAB_SWAP_UNIT_DEBIAN = show(
    "swapfile.swap", "loaded", "active", "/run/systemd/generator/swapfile.swap", "generated",
)
# Fedora's zram-generator-defaults file (/usr/lib/systemd/zram-generator.conf), as CentOS Stream 9
# ships it; a Rocky 9 host with zram-generator installed has the same.
FEDORA_ZRAM_CONF = (
    "# This config file enables a /dev/zram0 device with the default settings:\n"
    "# — size — same as available RAM or 8GB, whichever is less\n"
    "# — compression — most likely lzo-rle\n"
    "#\n"
    "# To disable, uninstall zram-generator-defaults or create empty\n"
    "# /etc/systemd/zram-generator.conf file.\n"
    "[zram0]\n"
    "zram-size = min(ram, 8192)\n"
)
ROCKY_9 = {
    "name": "Rocky Linux",
    "major": 9,
    "minor": 5,
    "release_meta": {"ID": "rocky", "ID_LIKE": "rhel centos fedora", "VERSION_ID": "9.5"},
}


# What kubeprep opens, by role: (public zone, cluster zone).
ROLE_PORTS = {
    "control_plane": (
        ["22/tcp", "6443/tcp"],
        ["22/tcp", "6443/tcp", "2379-2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp"],
    ),
    "workers": (["22/tcp", "30000-32767/tcp"], ["22/tcp", "30000-32767/tcp", "10250/tcp"]),
}
LAB_SOURCES = ["192.168.77.11", "192.168.77.21", "192.168.77.22"]
# Read on the lab's w1 (kubeprep.facts.network.DefaultRouteAddress).
DEBIAN_ROUTE = "1.1.1.1 via 192.168.77.1 dev eth1 src 192.168.77.21 uid 0 \\    cache "
# Read on the lab's w1 (kubeprep.facts.network.InterfaceAddresses).
DEBIAN_INTERFACES = "127.0.0.1/8\n::1/128\n10.0.2.15/24\n192.168.77.21/24\nfe80::5054:ff:fe4b:7715/64"
FACT_CASES = Path(__file__).parent / "fact_cases"
# Rocky 8's boot entries (kernel and rescue) as `grubby --info=ALL | grep ^args=` prints them,
# for anaconda's LVM layout of the write-up's fstab (rl-root, rl-swap).
ROCKY8_BOOT_ARGS = (
    'args="ro crashkernel=auto resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap '
    'rhgb quiet"'
)


def selinux_output(getenforce: str, config: str, rhel: bool = True, relabel: bool = False,
                   boot_args: str = ROCKY8_BOOT_ARGS) -> dict:
    """The raw output of ``selinux.SelinuxMode``; Debian's hosts have no SELinux and no grubby."""
    if not rhel:
        return {"output": "--- config\n--- relabel"}
    mark = "\n/.autorelabel" if relabel else ""
    return {"output": f"{getenforce}\n--- config\nSELINUX={config}\n--- relabel{mark}\n"
                      f"--- grubby\n{boot_args}\n{boot_args}"}


def fact_case_output(name: str) -> dict:
    """The raw output of a fact case read on a lab VM, e.g. ``firewalld.FirewalldZone/x``."""
    return {"output": "\n".join(json.loads((FACT_CASES / f"{name}.json").read_text())["output"])}


class Answering(ByArguments):
    """``network.TcpAnswers``: every ``host:port`` asked opens a connection, but ``closed``."""

    def __init__(self, closed: tuple[str, ...] = ()):
        super().__init__()
        self.closed = closed

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str):
        targets = ast.literal_eval(key.removeprefix("targets="))
        return {target: target not in self.closed for target in targets}


# The package sources of a fresh host by family: real ones (Debian 12's debian.sources) and Rocky
# Linux 8's stock repository files (the packages.PackageSources cases).
SOURCES_CASES = {"debian": "debian12_deb822_firewalld_missing",
                 "rhel": "rocky8_stock_repos_firewalld_missing"}


class Installed(ByArguments):
    """``packages.PackageSources``: the packages asked for that are not in ``installed``, and
    when one is missing, the family's package sources (``SOURCES_CASES``)."""

    def __init__(self, family: str, installed: tuple[str, ...] = ()):
        super().__init__()
        self.installed = installed
        case = FACT_CASES / "packages.PackageSources" / f"{SOURCES_CASES[family]}.json"
        self.sources = json.loads(case.read_text())["fact"]["sources"]

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str):
        missing = [name for name in ast.literal_eval(key.removeprefix("packages="))
                   if name not in self.installed]
        return {"missing": missing, "sources": self.sources if missing else []}


SYSCTL_FILE = (
    "net.bridge.bridge-nf-call-iptables = 1\n"
    "net.bridge.bridge-nf-call-ip6tables = 1\n"
    "net.ipv4.ip_forward = 1"
)
ADMIN = {
    "kubeadmin": {
        "home": "/home/kubeadmin",
        "shell": "/bin/bash",
        "group": "kubeadmin",
        "groups": [],
        "uid": 1000,
        "gid": 1000,
        "lastlog": None,
        "password": "!!",
        "comment": None,
    },
}
HOME_DIR = {"mode": 700, "user": "kubeadmin", "group": "kubeadmin"}


def fresh(family: str) -> dict:
    """A host straight from the installer: swap on, firewalld absent, SELinux enforcing (RHEL)."""
    rhel = family == "rhel"
    return {
        "server.LinuxDistribution": ROCKY_8 if rhel else DEBIAN_12,
        # account
        "server.Users": {},
        "server.Groups": ["root", "wheel" if rhel else "sudo"],
        "server.Os": "Linux",
        "server.TmpDir": "/tmp",
        "server.Date": datetime.now(),
        "server.Which": "/usr/sbin/useradd",
        "files.Directory": None,
        # firewall
        "rpm.RpmPackages": {},
        "rpm.RpmPackageProvides": None,
        "deb.DebPackages": {},
        "apt.AptSources": [],
        "files.File": None,
        "firewalld.FirewalldZone": {"output": ""},
        "sshd.SshdPorts": {"output": "22"},
        # Debian 12's nftables.service: installed, disabled, the empty default config.
        "other_firewalls.OtherFirewalls": fact_case_output(
            "other_firewalls.OtherFirewalls/debian12_fresh_nftables_default_disabled",
        ),
        "network.DefaultRouteAddress": {"output": DEBIAN_ROUTE},
        "network.InterfaceAddresses": {"output": DEBIAN_INTERFACES},
        "network.TcpAnswers": Answering(),
        # the distribution's packages: none of kubeprep's installed (curl on Debian's images)
        "packages.PackageSources": Installed(family, () if rhel else ("ca-certificates", "curl")),
        "systemd.SystemdStatus": {},
        "systemd.SystemdEnabled": {},
        # swap
        "swap.SwapState": swap_output(
            ROCKY_PROC_SWAPS if rhel else DEBIAN_PROC_SWAPS, ROCKY_FSTAB if rhel else DEBIAN_FSTAB,
            units=FSTAB_SWAP_UNIT_ROCKY if rhel else FSTAB_SWAP_UNIT_DEBIAN,
        ),
        # kernel
        # Read on the lab's Debian 12 VMs (module lines) and in the format of stat and sha1sum.
        "kernel.KernelModulesSetup": {"output": "available overlay\navailable br_netfilter"},
        "server.KernelModules": {},
        "sysctl.SysctlFile": {"output": "\n--- live\nnet.ipv4.ip_forward = 0"},
        # selinux
        "selinux.SelinuxMode": selinux_output("Enforcing", "enforcing", rhel),
        # runtime
        "containerd.ContainerdState": runtime_state(family, "not_installed"),
    }


MODULES_FILE_SHA1 = hashlib.sha1(b"overlay\nbr_netfilter\n").hexdigest()


def converged(family: str, role: str = "control_plane") -> dict:
    """The same host after a kubeprep run, as a node of the lab's three."""
    rhel = family == "rhel"
    public, cluster = ROLE_PORTS[role]
    facts = copy.deepcopy(fresh(family))
    module = {"size": 1, "instances": 1, "state": "Live"}
    facts.update({
        "server.Users": ADMIN,
        "files.Directory": HOME_DIR,
        "rpm.RpmPackages": {"firewalld": ["0.9.11"]},
        "deb.DebPackages": {"firewalld": ["1.3.3-1~deb12u1"]},
        # kernel.py's files and apt's update stamp, updated today
        "files.File": {
            "mode": 644, "user": "root", "group": "root", "size": 20, "mtime": datetime.now(),
        },
        "files.Sha1File": MODULES_FILE_SHA1,
        "firewalld.FirewalldZone": (
            rhel_zones(public, cluster, LAB_SOURCES) if rhel else debian_zones(role)
        ),
        "systemd.SystemdStatus": {"firewalld.service": True},
        "systemd.SystemdEnabled": {"firewalld.service": True},
        "swap.SwapState": swap_output(
            NO_SWAPS_418 if rhel else NO_SWAPS_61,
            (ROCKY_FSTAB if rhel else DEBIAN_FSTAB).replace(
                "/dev/mapper/rl-swap" if rhel else "/swapfile",
                "#kubeprep# " + ("/dev/mapper/rl-swap" if rhel else "/swapfile"),
            ),
            swap_target="masked",
        ),
        "server.KernelModules": {"overlay": module, "br_netfilter": module},
        "kernel.KernelModulesSetup": {"output": "\n".join([
            "loaded overlay", "available overlay", "loaded br_netfilter", "available br_netfilter",
            "file 644 root root",
            f"{MODULES_FILE_SHA1}  /etc/modules-load.d/k8s.conf",
        ])},
        "sysctl.SysctlFile": {"output": f"{SYSCTL_FILE}\n\n--- live\n{SYSCTL_FILE}"},
        "selinux.SelinuxMode": selinux_output("Permissive", "permissive", rhel),
    })
    facts["rpm.RpmPackages"]["containerd.io"] = [RHEL_CONTAINERD_IO]
    if rhel:
        facts["files.Sha1File"] = ByArguments({
            "path=/etc/modules-load.d/k8s.conf": facts["files.Sha1File"],
            f"path={DOCKER_REPO_FILE}": hashlib.sha1(DOCKER_REPO.encode()).hexdigest(),
        })
    facts["deb.DebPackages"]["containerd"] = [DEBIAN_CONTAINERD]
    facts["deb.DebPackages"]["containernetworking-plugins"] = [DEBIAN_CNI_PLUGINS]
    facts["containerd.ContainerdState"] = runtime_state(family, "converged")
    facts["packages.PackageSources"] = Installed(family, (
        "firewalld", "containerd.io") if rhel else (
        "firewalld", "containerd", "containernetworking-plugins", "ca-certificates", "curl"))
    return facts


# ------------------------------------------------------------------------------------ runtime
DEBIAN_CNI_PLUGINS = "1.1.1+ds1-3+b5"  # Debian 12's, as dpkg lists it on the lab's VMs
# containerd.ContainerdState on Debian (CNI plugins in /usr/lib/cni) and the RHEL family
# (/opt/cni/bin). Real output of the fact's command with Debian's containerd binaries (1.6.20 from
# bookworm, 1.7.24 from trixie, 2.1.9 from sid) reading each case's config file; only systemctl's
# and ctr's answers are composed (no daemon ran). The RHEL states use Debian's 1.7.24 binary:
# Docker's containerd.io was not reachable, its version line would read
# "containerd containerd.io 1.7.x <commit>".
DEBIAN_CONTAINERD = "1.6.20~ds1-1+deb12u3"
RHEL_CONTAINERD_IO = "1.7.27-3.1.el8"
# The repository file dnf.repo writes from group_data/all.py's containerd_rpm_* keys.
DOCKER_REPO_FILE = "/etc/yum.repos.d/docker-ce-stable.repo"
DOCKER_REPO = """[docker-ce-stable]
name=Docker CE Stable - $basearch (containerd.io, for kubeprep)
baseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable
enabled=1
gpgcheck=1
gpgkey=https://download.docker.com/linux/centos/gpg
"""
RUNTIME_CASES = {
    ("debian", "not_installed"): "not_installed",
    ("rhel", "not_installed"): "not_installed_opt_cni_bin",
    ("debian", "converged"): "debian12_converged_1_6",
    ("rhel", "converged"): "converged_1_7_opt_cni_bin",
}
CNI_BIN_DIRS = {"debian": "/usr/lib/cni", "rhel": "/opt/cni/bin"}


def runtime_state(family: str, case: str) -> ByArguments:
    """containerd.ContainerdState for the platform's CNI bin dir, from a fact case: ``case`` is a
    state of RUNTIME_CASES or a case file's name."""
    name = RUNTIME_CASES.get((family, case), case)
    return ByArguments({
        f"cni_bin_dir={CNI_BIN_DIRS[family]}": fact_case_output(f"containerd.ContainerdState/{name}"),
    })
