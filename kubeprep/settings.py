"""Validate a host's data and platform once, before any task adds an operation.

Every problem is reported with the host, the key, the value found and the fix, and stops the run
for that host before anything on it changes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from kubeprep.cni import CNI_PRESETS
from kubeprep.ports import covered, port_error, source_error

ROLES = ("control_plane", "workers")
SELINUX_MODES = ("enforcing", "permissive", "disabled")
SWAP_POLICIES = ("off", "keep")

# Every key kubeprep reads, with the type it must have. Defaults live in group_data/all.py.
KEYS: dict[str, tuple[type, ...]] = {
    "admin_user": (str,),
    "admin_password_hash": (str, type(None)),
    "admin_ssh_keys": (list,),
    "admin_sudo": (bool,),
    "admin_shell": (str,),
    "firewall_ports": (list,),
    "firewall_ssh_port": (str,),
    "firewall_zone": (str, type(None)),
    "firewall_prune": (bool,),
    "firewall_cluster_ports": (list,),
    "firewall_cluster_only": (bool,),
    "firewall_cluster_zone": (str,),
    "firewall_services": (bool,),
    "firewall_disable_others": (bool,),
    "cni": (str,),
    "cni_pod_cidr": (str,),
    "cni_service_cidr": (str,),
    "swap": (str,),
    "kernel_modules": (list,),
    "kernel_modules_file": (str,),
    "kernel_sysctls": (dict,),
    "kernel_sysctl_file": (str,),
    "selinux_mode": (str,),
    "kubernetes_version": (str,),
}
OPTIONAL_KEYS = {"admin_password_hash", "firewall_zone"}
SECRET_KEYS = {"admin_password_hash"}

# Keys that belong to pyinfra itself or to the inventory, never reported as unknown.
_FOREIGN_KEY = re.compile(r"^(_|ssh_|local_|docker|winrm_|chroot_|terraform_|vagrant_)")
INVENTORY_KEYS = {"cluster_address"}

# crypt(3) hashes: yescrypt ($y$), gost-yescrypt ($gy$), sha512 ($6$), sha256 ($5$),
# bcrypt ($2a/b/y$), md5 ($1$, still accepted by shadow), plus "!"/"*" prefixes for locked ones.
_CRYPT_HASH = re.compile(r"^[!*]?\$(y|gy|7|6|5|2[abxy]?|1)\$[./A-Za-z0-9$,=+-]{8,}$")
_USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_SYSCTL_KEY = re.compile(r"^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$")
_MODULE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,17}$")
_SHIPPED_ZONES = {"block", "dmz", "drop", "external", "home", "internal", "nm-shared", "public",
                  "trusted", "work", "libvirt", "docker"}

SUPPORTED_PLATFORMS = "Rocky Linux, AlmaLinux or RHEL 8/9, Debian 12, Ubuntu 22.04/24.04"
_RHEL_IDS = {"rocky", "almalinux", "rhel"}


class DataError(ValueError):
    """A host's data or platform is not something kubeprep can act on."""


@dataclass(frozen=True)
class Platform:
    family: str  # "rhel" or "debian"
    distro: str  # os-release ID: rocky, almalinux, rhel, debian, ubuntu
    version: str  # os-release VERSION_ID


@dataclass(frozen=True)
class Settings:
    host: str
    role: str
    admin_user: str
    admin_password_hash: str | None
    admin_ssh_keys: tuple[str, ...]
    admin_sudo: bool
    admin_shell: str
    firewall_ports: tuple[str, ...]
    firewall_ssh_port: str
    firewall_zone: str | None
    firewall_prune: bool
    firewall_cluster_ports: tuple[str, ...]
    firewall_cluster_only: bool
    firewall_cluster_zone: str
    firewall_services: bool
    firewall_disable_others: bool
    cni: str
    cni_pod_cidr: str
    cni_service_cidr: str
    cluster_address: str | None
    swap: str
    kernel_modules: tuple[str, ...]
    kernel_modules_file: str
    kernel_sysctls: tuple[tuple[str, str], ...]
    kernel_sysctl_file: str
    selinux_mode: str

    @property
    def cni_ports(self) -> tuple[str, ...]:
        return CNI_PRESETS[self.cni].ports

    @property
    def cni_protocols(self) -> tuple[str, ...]:
        return CNI_PRESETS[self.cni].protocols

    @property
    def node_ports(self) -> tuple[str, ...]:
        """Ports only cluster nodes need: the internal control-plane/kubelet ports, the CNI's."""
        return (*self.firewall_cluster_ports, *self.cni_ports)

    @property
    def public_ports(self) -> list[str]:
        """The ports open to every source: the SSH port first, then the role's public ports, and
        the nodes' own ports too unless ``firewall_cluster_only``."""
        node_ports = () if self.firewall_cluster_only else self.node_ports
        return list(dict.fromkeys((self.firewall_ssh_port, *self.firewall_ports, *node_ports)))

    @property
    def open_ports(self) -> list[str]:
        """Every port this node opens to its peers: the SSH port first, without repeats."""
        return list(dict.fromkeys(
            (self.firewall_ssh_port, *self.firewall_ports, *self.node_ports),
        ))

    @property
    def trusted_sources(self) -> list[str]:
        """The pod and service networks, trusted when a CNI is chosen."""
        return [] if self.cni == "none" else [self.cni_pod_cidr, self.cni_service_cidr]


def _fail(host: str, key: str, value: object, problem: str, fix: str) -> DataError:
    return DataError(f"{host}: {key} = {value!r}: {problem}. Fix: {fix}.")


def role_of(host: str, groups: list[str]) -> str:
    roles = sorted({group for group in groups if group in ROLES})
    if len(roles) != 1:
        found = ", ".join(roles) or "neither"
        raise DataError(
            f"{host}: is in {found} of the groups control_plane/workers; a host must be in "
            "exactly one. Fix: list it once, under control_plane or workers, in the inventory.",
        )
    return roles[0]


def unknown_keys(data: Mapping[str, object]) -> list[str]:
    """Data keys kubeprep does not know, each with a close known key where there is one."""
    notes = []
    for key in sorted(data):
        if key in KEYS or key in INVENTORY_KEYS or _FOREIGN_KEY.match(key):
            continue
        close = difflib.get_close_matches(key, list(KEYS), n=1)
        notes.append(f"{key} (did you mean {close[0]}?)" if close else key)
    return notes


def settings_from_data(host: str, groups: list[str], data: Mapping[str, object]) -> Settings:
    """Check every key kubeprep reads and return them as one immutable ``Settings``."""
    role = role_of(host, groups)

    for key, types in KEYS.items():
        if key not in data or (data[key] is None and key not in OPTIONAL_KEYS):
            raise DataError(
                f"{host}: required key {key} is missing. "
                f"Fix: set {key} in group_data/all.py (see README, 'Data keys').",
            )
        if not isinstance(data[key], types):
            wanted = " or ".join("None" if t is type(None) else t.__name__ for t in types)
            shown = "<hidden>" if key in SECRET_KEYS else data[key]
            raise _fail(host, key, shown, f"must be {wanted}", f"give {key} a {wanted} value")

    _check_account(host, data)
    _check_firewall(host, data)
    _check_kernel(host, data)
    for key, allowed in (("selinux_mode", SELINUX_MODES), ("swap", SWAP_POLICIES)):
        if data[key] not in allowed:
            raise _fail(host, key, data[key], "unknown value", f"use one of {', '.join(allowed)}")

    return Settings(
        host=host,
        role=role,
        admin_user=data["admin_user"],
        admin_password_hash=data["admin_password_hash"],
        admin_ssh_keys=tuple(data["admin_ssh_keys"]),
        admin_sudo=data["admin_sudo"],
        admin_shell=data["admin_shell"],
        firewall_ports=tuple(data["firewall_ports"]),
        firewall_ssh_port=data["firewall_ssh_port"],
        firewall_zone=data["firewall_zone"],
        firewall_prune=data["firewall_prune"],
        firewall_cluster_ports=tuple(data["firewall_cluster_ports"]),
        firewall_cluster_only=data["firewall_cluster_only"],
        firewall_cluster_zone=data["firewall_cluster_zone"],
        firewall_services=data["firewall_services"],
        firewall_disable_others=data["firewall_disable_others"],
        cni=data["cni"],
        cni_pod_cidr=data["cni_pod_cidr"],
        cni_service_cidr=data["cni_service_cidr"],
        cluster_address=data.get("cluster_address"),
        swap=data["swap"],
        kernel_modules=tuple(data["kernel_modules"]),
        kernel_modules_file=data["kernel_modules_file"],
        kernel_sysctls=tuple((key, str(value)) for key, value in data["kernel_sysctls"].items()),
        kernel_sysctl_file=data["kernel_sysctl_file"],
        selinux_mode=data["selinux_mode"],
    )


def _check_account(host: str, data: Mapping[str, object]) -> None:
    if not _USER_NAME.match(data["admin_user"]):
        raise _fail(
            host, "admin_user", data["admin_user"], "not a valid user name",
            "use lower-case letters, digits, '_' or '-', starting with a letter",
        )
    password_hash = data["admin_password_hash"]
    if password_hash is not None and not _CRYPT_HASH.match(password_hash):
        raise _fail(
            host, "admin_password_hash", "<hidden>", "not a crypt(3) hash (plain text is refused)",
            "store a hash such as the output of `openssl passwd -6`, or None for key-only login",
        )
    for key in data["admin_ssh_keys"]:
        if not isinstance(key, str) or not re.match(r"^(ssh-|ecdsa-|sk-)\S+ \S+", key):
            raise _fail(
                host, "admin_ssh_keys", key, "not an OpenSSH public key line",
                "paste the contents of a *.pub file, e.g. 'ssh-ed25519 AAAA... me@laptop'",
            )


def _check_firewall(host: str, data: Mapping[str, object]) -> None:
    for key, ports in (("firewall_ssh_port", [data["firewall_ssh_port"]]),
                       ("firewall_ports", data["firewall_ports"]),
                       ("firewall_cluster_ports", data["firewall_cluster_ports"])):
        for port in ports:
            problem = port_error(port)
            if problem:
                raise _fail(host, key, port, problem, "write it like '6443/tcp' or '2379-2380/tcp'")
    zone = data["firewall_zone"]
    if zone is not None and not _ZONE_NAME.match(zone):
        raise _fail(host, "firewall_zone", zone, "not a firewalld zone name",
                    "use an existing zone such as 'public', or None for the default zone")
    cluster_zone = data["firewall_cluster_zone"]
    if not _ZONE_NAME.match(cluster_zone) or cluster_zone in _SHIPPED_ZONES \
            or cluster_zone == (zone or "public"):
        raise _fail(host, "firewall_cluster_zone", cluster_zone,
                    "must be a zone name of its own (up to 17 letters, digits, '_' or '-'), "
                    "not one firewalld ships nor firewall_zone: kubeprep owns its sources",
                    "keep the default 'kubeprep'")
    if data["cni"] not in CNI_PRESETS:
        raise _fail(host, "cni", data["cni"], "unknown CNI",
                    f"use one of {', '.join(CNI_PRESETS)}")
    for key in ("cni_pod_cidr", "cni_service_cidr"):
        problem = source_error(data[key])
        if problem or "/" not in data[key]:
            raise _fail(host, key, data[key], problem or "not a network",
                        "write the network like '10.244.0.0/16'")
    address = data.get("cluster_address")
    if address is not None and (source_error(address) or "/" in str(address)):
        raise _fail(host, "cluster_address", address, "not an IP address",
                    "give the node's address on the cluster network, e.g. '192.168.77.11', "
                    "or remove it to use the address of the default route")


def _check_kernel(host: str, data: Mapping[str, object]) -> None:
    for module in data["kernel_modules"]:
        if not isinstance(module, str) or not _MODULE_NAME.match(module):
            raise _fail(host, "kernel_modules", module, "not a kernel module name",
                        "list module names such as 'br_netfilter'")
    if not data["kernel_sysctls"]:
        raise _fail(host, "kernel_sysctls", {}, "is empty",
                    "list the sysctls to set, e.g. {'net.ipv4.ip_forward': 1}")
    for key, value in data["kernel_sysctls"].items():
        if not isinstance(key, str) or not _SYSCTL_KEY.match(key):
            raise _fail(host, "kernel_sysctls", key, "not a sysctl key",
                        "use dotted keys such as 'net.ipv4.ip_forward'")
        text = str(value)
        if not isinstance(value, int | str) or isinstance(value, bool) or not text.strip() \
                or "\n" in text or "#" in text:
            raise _fail(host, f"kernel_sysctls[{key!r}]", value, "not a sysctl value",
                        "use an integer or a string such as 1")
    for key in ("kernel_modules_file", "kernel_sysctl_file"):
        if not str(data[key]).startswith("/"):
            raise _fail(host, key, data[key], "not an absolute path", "use a path such as /etc/...")


def platform_from_release(host: str, release: Mapping[str, object]) -> Platform:
    """The supported platform described by pyinfra's ``LinuxDistribution`` fact, or a DataError."""
    meta = release.get("release_meta") or {}
    distro = str(meta.get("ID", "")).lower()
    version = str(meta.get("VERSION_ID", ""))
    major = version.split(".")[0]
    if distro in _RHEL_IDS and major in ("8", "9"):
        return Platform("rhel", distro, version)
    if (distro, major) == ("debian", "12") or (distro, version) in (
        ("ubuntu", "22.04"), ("ubuntu", "24.04"),
    ):
        return Platform("debian", distro, version)
    found = f"{release.get('name') or distro or 'unknown'} {version}".strip()
    raise DataError(
        f"{host}: unsupported platform {found!r}. kubeprep supports {SUPPORTED_PLATFORMS}. "
        "Fix: remove this host from the inventory or run it on a supported release.",
    )


def ssh_lockout_error(host: str, sshd_ports: list[int], settings: Settings) -> DataError | None:
    """A DataError when firewalld would block a port sshd listens on (a lockout), else None."""
    closed = [port for port in sshd_ports if not covered(f"{port}/tcp", settings.public_ports)]
    if not closed:
        return None
    listed = ", ".join(f"{port}/tcp" for port in closed)
    return DataError(
        f"{host}: firewall_ssh_port = {settings.firewall_ssh_port!r}: sshd listens on {listed}, "
        "which the firewall would not open, so firewalld would cut SSH. "
        f"Fix: set firewall_ssh_port = '{closed[0]}/tcp' (or add it to firewall_ports).",
    )
