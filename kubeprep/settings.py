"""Validate a host's data and platform once, before any task adds an operation.

Each key's own check is in its ``Key`` (kubeprep.keys); the rules that need several keys are here,
each once. Every problem is reported with the host, the key, the value found and the fix, and
stops the run for that host before anything on it changes. What passes is one immutable
``Settings`` per host, which the tasks read (``Settings.runtime``, ``Settings.kubernetes``: the
keys a task's operations and renderers take).
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, make_dataclass

from kubeprep.cni import CNI_PRESETS
from kubeprep.containerd import Runtime
from kubeprep.errors import DataError
from kubeprep.keys import BY_NAME, DECLARED, Key, PerRole
from kubeprep.kubeadm import (
    CNI_MANIFESTS,
    ENDPOINT_FIX,
    POD_NETWORK_FIX,
    Kubernetes,
    endpoint_address,
    pod_network_error,
)
from kubeprep.os_release import is_rhel_family
from kubeprep.ports import covered

ROLES = ("control_plane", "workers")
OUTSIDE = "outside"  # inventory group of hosts that are not nodes: check.py's probe sources

# The keys of group_data/, with the types they may have; the inventory's own keys apart.
KEYS: dict[str, tuple[type, ...]] = {key.name: key.types for key in DECLARED if not key.inventory}
INVENTORY_KEYS = {key.name for key in DECLARED if key.inventory}
# Keys that belong to pyinfra itself, never reported as unknown.
_FOREIGN_KEY = re.compile(r"^(_|ssh_|local_|docker|winrm_|chroot_|terraform_|vagrant_)")

SUPPORTED_PLATFORMS = "Rocky Linux, AlmaLinux or RHEL 8/9, Debian 12, Ubuntu 22.04/24.04"
# The releases kubeprep supports in each family (a host's is kubeprep.os_release's rule): by
# os-release ID, the VERSION_IDs or major versions. The RHEL family's others (CentOS, Fedora,
# Oracle Linux) are not supported.
SUPPORTED_RELEASES = {
    "rhel": {"rocky": ("8", "9"), "almalinux": ("8", "9"), "rhel": ("8", "9")},
    "debian": {"debian": ("12",), "ubuntu": ("22.04", "24.04")},
}


@dataclass(frozen=True)
class Platform:
    family: str  # "rhel" or "debian"
    distro: str  # os-release ID: rocky, almalinux, rhel, debian, ubuntu
    version: str  # os-release VERSION_ID


class _DerivedSettings:
    """What follows from a host's keys; ``Settings`` adds the keys themselves as fields."""

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
    def cluster_zone_ports(self) -> list[str]:
        """Every port the cluster zone opens to the nodes: the SSH port first, the public ports,
        the nodes-only ports, without repeats."""
        return list(dict.fromkeys(
            (self.firewall_ssh_port, *self.firewall_ports, *self.node_ports),
        ))

    @property
    def runtime(self) -> Runtime:
        """The runtime keys, as the runtime task and its operations take them."""
        return RuntimeSettings(**{name: getattr(self, name) for name in Runtime.KEYS})

    @property
    def kubernetes(self) -> Kubernetes:
        """The keys the kubernetes and cluster tasks and kubeadm's config files take."""
        return KubernetesSettings(**{name: getattr(self, name) for name in Kubernetes.KEYS})

    @property
    def trusted_sources(self) -> list[str]:
        """The pod and service networks, trusted when a CNI is chosen."""
        return [] if self.cni == "none" else [self.cni_pod_cidr, self.cni_service_cidr]


def _field_type(key: Key) -> object:
    """A list is kept as a tuple of strings, a dict as a tuple of (key, value) pairs: a str, or
    a tuple again for a list or a dict."""
    if list in key.types:
        return tuple[str, ...]
    if dict in key.types:
        return tuple[tuple[str, object], ...]
    return functools.reduce(operator.or_, key.types)


def _stored(value: object, typed: bool = False) -> object:
    """A list as a tuple, a dict as (key, value) pairs; a dict's scalars as text, but for a key
    whose values keep their types (``Key.typed_values``)."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return tuple((key, _stored(setting, typed) if isinstance(setting, list | dict)
                      else setting if typed else str(setting))
                     for key, setting in value.items())
    return value


# One immutable field per declared key, after the host's name and role.
Settings = make_dataclass(
    "Settings",
    [("host", str), ("role", str), *((key.name, _field_type(key)) for key in DECLARED)],
    bases=(_DerivedSettings,),
    frozen=True,
    namespace={"__module__": __name__, "__doc__": "A host's checked data (kubeprep.keys)."},
)


def key_view(name: str, base: type, module: str = __name__) -> type:
    """A frozen dataclass of ``base``'s ``KEYS``, each field typed as in ``Settings``, after
    ``base``'s own fields (a dataclass ``base``: frozen too), defined in ``module``."""
    return make_dataclass(
        name, [(key, _field_type(BY_NAME[key])) for key in base.KEYS], bases=(base,), frozen=True,
        namespace={"__module__": module, "__doc__": base.__doc__},
    )


RuntimeSettings = key_view("RuntimeSettings", Runtime)
KubernetesSettings = key_view("KubernetesSettings", Kubernetes)


def _problem(key: str, value: object, problem: str, fix: str) -> str:
    return f"{key} = {value!r}: {problem}. Fix: {fix}."


def _fail(host: str, key: str, value: object, problem: str, fix: str) -> DataError:
    return DataError(f"{host}: {_problem(key, value, problem, fix)}")


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
    for key in DECLARED:
        _check_type(host, role, key, data)
    problem = key_problem(data)
    if problem:
        raise _fail(host, *problem)
    settings = Settings(host=host, role=role,
                        **{key.name: _stored(data.get(key.name), key.typed_values)
                           for key in DECLARED})
    _check_cluster_zone(settings)
    _check_port_roles(settings)
    own_address = [settings.cluster_address] if settings.cluster_address else []
    untrusted = trusted_networks_error(settings, own_address)
    if untrusted:
        raise untrusted
    _check_plain_http(settings)
    _check_endpoint(settings)
    too_small = _pod_network_problem(settings, node_count=1)
    if too_small:
        raise too_small
    return settings


def key_problem(data: Mapping[str, object]) -> tuple[str, object, str, str] | None:
    """The first value its own ``Key`` refuses, as (key, value as shown, problem, fix), or None.
    The values must have their keys' types (``settings_from_data`` checks them first)."""
    for key in DECLARED:
        invalid = key.check and key.check(data.get(key.name))
        if invalid:
            shown = "<hidden>" if key.secret else invalid.value
            return invalid.key or key.name, shown, invalid.problem, invalid.fix
    return None


def _check_type(host: str, role: str, key: Key, data: Mapping[str, object]) -> None:
    value = data.get(key.name)
    if (key.name not in data and not key.inventory) or (value is None and not key.optional):
        where = f"{role}.py" if isinstance(key.default, PerRole) else "all.py"
        raise DataError(
            f"{host}: required key {key.name} is missing. "
            f"Fix: set {key.name} in group_data/{where} (see docs/data-keys.md).",
        )
    if isinstance(value, float) and str in key.types:
        # `--data kubernetes_version=1.40` arrives as the number 1.4: the text is gone.
        raise _fail(host, key.name, value, "must be str, not a number (1.40 would read as 1.4)",
                    f"quote it: {key.name} = \"{value}\" in data, or on the command line "
                    f"--data '{key.name}=\"{value}\"' with the digits you meant")
    if not isinstance(value, key.types):
        wanted = " or ".join("None" if t is type(None) else t.__name__ for t in key.types)
        shown = "<hidden>" if key.secret else value
        raise _fail(host, key.name, shown, f"must be {wanted}", f"give {key.name} a {wanted} value")


def _check_cluster_zone(settings: Settings) -> None:
    if settings.firewall_cluster_zone == settings.firewall_zone:
        raise _fail(settings.host, "firewall_cluster_zone", settings.firewall_cluster_zone,
                    "is firewall_zone too: kubeprep owns the cluster zone's sources",
                    "keep the default 'kubeprep'")


def _check_port_roles(settings: Settings) -> None:
    """No port both public and nodes-only: the public zone would open it and close it."""
    public = [("firewall_ssh_port", settings.firewall_ssh_port),
              *(("firewall_ports", port) for port in settings.firewall_ports)]
    cni = f"cni = {settings.cni!r}"
    nodes_only = [*(("firewall_cluster_ports", "in firewall_cluster_ports", port)
                    for port in settings.firewall_cluster_ports),
                  *(("cni", f"as a port of {cni}", port) for port in settings.cni_ports)]
    for key, port in public:
        for other_key, where, other in nodes_only:
            if not _share_a_port(port, other):
                continue
            fix = f"keep it in only one of {key} and {other_key}" if other_key != "cni" else (
                f"remove it from {key} (the {settings.cni} preset opens it to the nodes), "
                "or set cni = 'none'")
            raise _fail(settings.host, key, port,
                        f"also nodes-only, {where} ({other!r}): a port is open either to "
                        "everyone or to the cluster's nodes only", fix)


def plain_http_sources(settings: Settings) -> list[tuple[str, str]]:
    """The ``(key, URL)`` of every ``http://`` source the data gives: package repositories and
    their keys, registry mirrors, the CNI's manifest."""
    found = [(key, getattr(settings, key)) for key in (
        "containerd_rpm_repo", "containerd_rpm_gpg_key", "kubernetes_repo_url", "cni_manifest")]
    found += [(f"containerd_registry_mirrors[{registry!r}]", url)
              for registry, mirrors in settings.containerd_registry_mirrors
              for url in mirrors]
    return [(key, url) for key, url in found if isinstance(url, str)
            and url.lower().startswith("http://")]


def _check_plain_http(settings: Settings) -> None:
    """No ``http://`` source unless ``plain_http_accepted``: over plain HTTP anyone on the path
    can serve other packages, images or manifests (and the key that signs the packages)."""
    plain = plain_http_sources(settings)
    if plain and not settings.plain_http_accepted:
        key, url = plain[0]
        raise _fail(settings.host, key, url,
                    "plain HTTP: anyone on the path to it can serve other packages, images or "
                    "manifests", "give its https:// URL, or set plain_http_accepted = True "
                    "for a mirror on a network you trust")


def _check_endpoint(settings: Settings) -> None:
    """The API server's address outside the pod and service networks."""
    endpoint = settings.kubernetes_control_plane_endpoint
    address = endpoint and endpoint_address(endpoint)
    for key in ("cni_pod_cidr", "cni_service_cidr"):
        network = getattr(settings, key)
        if address and address in ipaddress.ip_network(network, strict=False):
            raise _fail(settings.host, "kubernetes_control_plane_endpoint", endpoint,
                        f"inside {key} {network}, which is routed into the cluster, not to a "
                        "node", ENDPOINT_FIX)


def _pod_network_problem(settings: Settings, node_count: int) -> DataError | None:
    problem = pod_network_error(settings.cni_pod_cidr, node_count)
    return problem and _fail(settings.host, "cni_pod_cidr", settings.cni_pod_cidr, problem,
                             POD_NETWORK_FIX)


def cluster_error(settings: Settings, node_count: int) -> DataError | None:
    """What only the cluster task refuses, else None: a pod network without a /24 for each of
    the inventory's ``node_count`` nodes, a CNI without a single upstream manifest and none
    given (cilium)."""
    too_small = _pod_network_problem(settings, node_count)
    if too_small:
        return too_small
    manifest = CNI_MANIFESTS.get(settings.cni)
    if manifest and manifest.url is None and settings.cni_manifest is None:
        return _fail(settings.host, "cni_manifest", None,
                     f"{settings.cni} has no single upstream manifest",
                     "render one (e.g. `cilium install --dry-run` or `helm template`) and give "
                     "its URL or local path")
    return None


def _share_a_port(port: str, other: str) -> bool:
    """Whether two valid port specs have a port number in common (2379/tcp, 2379-2380/tcp):
    two ranges overlap when the first port of one is inside the other."""
    return covered(_first_port(port), [other]) or covered(_first_port(other), [port])


def _first_port(port: str) -> str:
    numbers, proto = port.split("/")
    return f"{numbers.split('-')[0]}/{proto}"


_TRUST_FIX = {
    "cni_pod_cidr": "choose a network no node is on and nothing else uses, e.g. '10.244.0.0/16', "
                    "and give kubeadm and the CNI the same",
    "cni_service_cidr": "choose a network no node is on and nothing else uses, e.g. "
                        "'10.96.0.0/12', and give kubeadm the same",
}


def trust_error(
    pod_cidr: str, service_cidr: str, node_addresses: Iterable[str],
    interface_addresses: Iterable[str] = (),
) -> str | None:
    """Why firewalld may not trust the pod and service networks, as ``key = value: problem.
    Fix: fix.``; None when it may.

    The trusted zone accepts everything from them: a network holding a node's address (Calico's
    192.168.0.0/16 with nodes in 192.168.x.x), or overlapping the network the nodes are on (the
    host's ``interface_addresses``, such as ``192.168.77.21/24``, that hold a node address), or
    every address would trust machines, not pods. Both must be valid networks
    (``settings_from_data`` checks them first); an address that is not one is left to its own
    node's check.
    """
    values = {"cni_pod_cidr": pod_cidr, "cni_service_cidr": service_cidr}
    networks = {key: ipaddress.ip_network(value) for key, value in values.items()}
    addresses = [address for address in map(_ip_address, node_addresses) if address]
    node_networks = [network for network in map(_interface_network, interface_addresses)
                     if network and any(address in network for address in addresses)]
    for key, network in networks.items():
        if network.prefixlen == 0:
            return _problem(key, values[key], "is every address, so firewalld's trusted zone "
                            "would accept every machine", _TRUST_FIX[key])
        inside = next((address for address in addresses if address in network), None)
        if inside:
            return _problem(key, values[key], f"holds the node address {inside}, so firewalld's "
                            "trusted zone would accept every machine on that network",
                            _TRUST_FIX[key])
        shared = next((nodes for nodes in node_networks if nodes.overlaps(network)), None)
        if shared:
            return _problem(key, values[key], f"overlaps the nodes' network {shared}, so "
                            "firewalld's trusted zone would accept other machines on it",
                            _TRUST_FIX[key])
    if networks["cni_pod_cidr"].overlaps(networks["cni_service_cidr"]):
        return _problem("cni_service_cidr", service_cidr,
                        f"overlaps cni_pod_cidr ({pod_cidr!r}), so pods and services would share "
                        "addresses", "choose networks apart, e.g. pods '10.244.0.0/16' and "
                        "services '10.96.0.0/12'")
    return None


def _ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _interface_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_interface(text).network
    except ValueError:
        return None


def trusted_networks_error(
    settings: Settings, node_addresses: Iterable[str], interface_addresses: Iterable[str] = (),
) -> DataError | None:
    """A DataError when the host's pod or service network may not be trusted, else None
    (``interface_addresses``: the host's, with their prefix lengths, see ``trust_error``)."""
    problem = trust_error(settings.cni_pod_cidr, settings.cni_service_cidr, node_addresses,
                          interface_addresses)
    return DataError(f"{settings.host}: {problem}") if problem else None


def platform_from_release(host: str, release: Mapping[str, object]) -> Platform:
    """The supported platform described by pyinfra's ``LinuxDistribution`` fact, or a DataError."""
    meta = release.get("release_meta") or {}
    distro = str(meta.get("ID", "")).lower()
    version = str(meta.get("VERSION_ID", ""))
    family = "rhel" if is_rhel_family(distro, str(meta.get("ID_LIKE", ""))) else "debian"
    if {version, version.split(".")[0]} & set(SUPPORTED_RELEASES[family].get(distro, ())):
        return Platform(family, distro, version)
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
