"""Every data key kubeprep reads, declared once: its types, default, own check, task and meaning.

The defaults a user reads and edits are in group_data/ (all.py, and the role files for the
per-role keys; the inventory's keys, such as cluster_address, have none); docs/data-keys.md has
a row per key. tests/test_settings.py fails when either disagrees with the declarations below.
The deploys get the same defaults from here (``deploy_defaults``), for projects without those
files. A key's check sees its own value only: the rules that need several keys, or the whole
inventory, are in kubeprep.settings, each once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubeprep.cni import CNI_PRESETS
from kubeprep.containerd import CGROUP_DRIVERS
from kubeprep.kubeadm import (
    ENDPOINT_FIX,
    OLDEST_MINOR,
    STATIC_PODS,
    SWAP_BEHAVIORS,
    endpoint_error,
)
from kubeprep.ports import port_error, source_error

TASKS = ("deploy", "account", "firewall", "swap", "kernel", "selinux", "runtime", "kubernetes",
         "cluster", "check")
# How far deploy.py goes, in order: "ready" is the write-up's aim (nodes ready for kubeadm).
DEPLOY_STAGES = ("ready", "runtime", "kubernetes", "cluster")


@dataclass(frozen=True)
class PerRole:
    """A default set by each role's file (group_data/control_plane.py, workers.py), not all.py."""

    control_plane: object
    workers: object

    def for_role(self, role: str) -> object:
        return getattr(self, role)


@dataclass(frozen=True)
class Invalid:
    """Why a value is refused: the part of it at fault, the problem and the fix."""

    value: object
    problem: str
    fix: str
    key: str | None = None  # a narrower key than the declared one, e.g. kernel_sysctls['x.y']


Check = Callable[[Any], Invalid | None]


@dataclass(frozen=True)
class Key:
    name: str
    types: tuple[type, ...]  # a list is stored as a tuple, a dict as (key, value) pairs
    default: object  # the value in group_data/all.py, or PerRole
    task: str  # the task that acts on it (TASKS; "check" is check.py)
    description: str  # the "meaning" column of docs/data-keys.md
    check: Check | None = None  # the value's own check, after its type's
    secret: bool = False  # never shown in a message
    inventory: bool = False  # set per host in the inventory; may be absent
    typed_values: bool = False  # a dict whose values keep their types (not stored as text)

    @property
    def optional(self) -> bool:
        """Whether ``None`` is a value (``admin_password_hash = None``), not a missing key."""
        return type(None) in self.types


# Every pattern is used with fullmatch: `$` alone also matches before a final newline.

# crypt(3) hashes, salt and hash part both (a salt alone is refused), as libxcrypt writes them,
# with the "!"/"*" prefix of a locked password: sha512 ($6$[rounds=N$]salt$86), sha256 ($5$, 43),
# md5 ($1$, 22, still accepted by shadow), bcrypt ($2b$NN$, 22 salt + 31 hash), yescrypt ($y$),
# gost-yescrypt ($gy$) and scrypt ($7$), each with a 43-character hash.
_B64 = "[./A-Za-z0-9]"
_CRYPT_HASH = re.compile(
    r"[!*]?\$(?:"
    rf"6\$(?:rounds=[0-9]+\$)?{_B64}{{0,16}}\${_B64}{{86}}"
    rf"|5\$(?:rounds=[0-9]+\$)?{_B64}{{0,16}}\${_B64}{{43}}"
    rf"|1\${_B64}{{0,8}}\${_B64}{{22}}"
    rf"|2[abxy]?\$[0-9]{{2}}\${_B64}{{53}}"
    rf"|g?y\${_B64}+\${_B64}+\${_B64}{{43}}"
    rf"|7\${_B64}+\${_B64}{{43}}"
    r")",
)
_SSH_KEY = re.compile(r"(?:ssh-|ecdsa-|sk-)\S+ \S+(?: [^\r\n]*)?")
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_SYSCTL_KEY = re.compile(r"[a-z0-9_]+(?:\.[a-zA-Z0-9_-]+)+")
_SYSCTL_INTEGER = re.compile(r"-?[0-9]+")
_MODULE_NAME = re.compile(r"[A-Za-z0-9_-]+")
_ZONE_NAME = re.compile(r"[A-Za-z0-9_-]{1,17}")
_ABSOLUTE_PATH = re.compile(r"/\S+")
_KUBERNETES_VERSION = re.compile(r"1\.[0-9]{1,3}(?:\.[0-9]{1,3})?")
_REPO_URL_TEMPLATE = re.compile(r"(https?|file)://\S+")
_MANIFEST = re.compile(r"https?://\S+|/\S+")
_SHIPPED_ZONES = {"block", "dmz", "drop", "external", "home", "internal", "nm-shared", "public",
                  "trusted", "work", "libvirt", "docker"}
# Zones whose target decides for all traffic whatever ports they list.
_NOT_A_PORTS_ZONE = {"trusted": "accepts every connection", "drop": "drops every packet",
                     "block": "rejects every connection"}
_PORT_FIX = "write it like '6443/tcp' or '2379-2380/tcp'"


def _one_of(allowed: tuple[str, ...], problem: str = "unknown value", advice: str = "") -> Check:
    def check(value: str) -> Invalid | None:
        if value in allowed:
            return None
        return Invalid(value, problem, f"use one of {', '.join(allowed)}{advice}")
    return check


def _one_of_or_none(allowed: tuple[str, ...]) -> Check:
    check = _one_of(allowed)
    return lambda value: None if value is None else check(value)


def _admin_user(value: str) -> Invalid | None:
    if _USER_NAME.fullmatch(value):
        return None
    return Invalid(value, "not a valid user name",
                   "use lower-case letters, digits, '_' or '-', starting with a letter")


def _password_hash(value: str | None) -> Invalid | None:
    if value is None or _CRYPT_HASH.fullmatch(value):
        return None
    return Invalid(value, "not a crypt(3) hash (plain text is refused, so is a salt alone)",
                   "store a hash such as the output of `openssl passwd -6`, "
                   "or None for key-only login")


def _ssh_keys(value: list) -> Invalid | None:
    for line in value:
        if isinstance(line, str) and ("\n" in line or "\r" in line):
            return Invalid(line, "holds a line break, so it is more than one authorized_keys line",
                           "give each key as its own list item, on one line")
        if not isinstance(line, str) or not _SSH_KEY.fullmatch(line):
            return Invalid(line, "not an OpenSSH public key line", "paste the contents of a "
                           "*.pub file, e.g. 'ssh-ed25519 AAAA... me@laptop'")
    return None


def _absolute_path(example: str, suffix: str = "") -> Check:
    def check(value: str) -> Invalid | None:
        if not _ABSOLUTE_PATH.fullmatch(value):
            return Invalid(value, "not an absolute path", f"use a path such as {example}")
        if not value.endswith(suffix):
            return Invalid(value, f"does not end in {suffix}, so it is never read at boot",
                           f"use a path such as {example}")
        return None
    return check


def _ssh_port(value: str) -> Invalid | None:
    problem = port_error(value)
    if problem:
        return Invalid(value, problem, _PORT_FIX)
    numbers, proto = value.split("/")
    if "-" in numbers or proto != "tcp":
        return Invalid(value, "not one TCP port, and sshd listens on one",
                       "write the TCP port sshd listens on, e.g. '22/tcp'")
    return None


def _ports(value: list) -> Invalid | None:
    for port in value:
        problem = port_error(port)
        if problem:
            return Invalid(port, problem, _PORT_FIX)
    return None


def _zone(value: str | None) -> Invalid | None:
    if value is not None and not _ZONE_NAME.fullmatch(value):
        return Invalid(value, "not a firewalld zone name",
                       "use an existing zone such as 'public', or None for the default zone")
    if value in _NOT_A_PORTS_ZONE:
        return Invalid(value, f"firewalld's {value} zone {_NOT_A_PORTS_ZONE[value]} whatever "
                              "ports it lists",
                       "use 'public' or a zone of your own, or None for the default zone")
    return None


def _cluster_zone(value: str) -> Invalid | None:
    if _ZONE_NAME.fullmatch(value) and value not in _SHIPPED_ZONES:
        return None
    return Invalid(value, "must be a zone name of its own (up to 17 letters, digits, '_' or '-'), "
                          "not one firewalld ships nor firewall_zone: kubeprep owns its sources",
                   "keep the default 'kubeprep'")


def _network(value: str) -> Invalid | None:
    problem = source_error(value)
    if problem or "/" not in value:
        return Invalid(value, problem or "not a network", "write the network like '10.244.0.0/16'")
    return None


def _address(value: str | None) -> Invalid | None:
    if value is None or not (source_error(value) or "/" in value):
        return None
    return Invalid(value, "not an IP address",
                   "give the node's address on the cluster network, e.g. '192.168.77.11', "
                   "or remove it to use the address of the default route")


def _modules(value: list) -> Invalid | None:
    if not value:
        return Invalid(value, "is empty",
                       "list the modules to load, e.g. ['overlay', 'br_netfilter']")
    for module in value:
        if not isinstance(module, str) or not _MODULE_NAME.fullmatch(module):
            return Invalid(module, "not a kernel module name",
                           "list module names such as 'br_netfilter'")
    return None


def _sysctls(value: dict) -> Invalid | None:
    if not value:
        return Invalid(value, "is empty",
                       "list the sysctls to set, e.g. {'net.ipv4.ip_forward': 1}")
    for key, setting in value.items():
        if not isinstance(key, str) or not _SYSCTL_KEY.fullmatch(key):
            return Invalid(key, "not a sysctl key", "use dotted keys such as 'net.ipv4.ip_forward'")
        integer = isinstance(setting, int) and not isinstance(setting, bool)
        if not integer and not (isinstance(setting, str) and _SYSCTL_INTEGER.fullmatch(setting)):
            return Invalid(setting, "not an integer sysctl value",
                           "use an integer or a string such as 1", key=f"kernel_sysctls[{key!r}]")
    return None


# An OCI reference's repository part (a registry host, optionally a port and a path) and tag.
_IMAGE_REPOSITORY = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?"
                               r"(/[a-z0-9]+([._-][a-z0-9]+)*)*")
_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+"
                              r"-----END CERTIFICATE-----")
_PEM_PRIVATE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def _image_repository(value: str | None) -> Invalid | None:
    if value is None or _IMAGE_REPOSITORY.fullmatch(value):
        return None
    return Invalid(value, "not an image repository (a registry host, optionally :port and a path)",
                   "write it like 'registry.example.com:5000/k8s', or None for registry.k8s.io")


def _image_tag(value: str | None) -> Invalid | None:
    if value is None or _IMAGE_TAG.fullmatch(value):
        return None
    return Invalid(value, "not an image tag", "write a tag such as '3.6.16-0', or None for "
                   "kubeadm's default")


# containerd's keys. A package name and a version as apt and dnf write them.
_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]*")
_PACKAGE_VERSION = re.compile(r"([0-9]+:)?[0-9][A-Za-z0-9.+~_-]*")
_REPO_URL = re.compile(r"(https?|file)://[^\s\"']+")
# name[:tag][@digest], lower-case path components (the OCI distribution spec's grammar, simplified).
_IMAGE = re.compile(
    r"(?P<registry>[^/]+)/[a-z0-9]+([._/-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(@sha256:[0-9a-f]{64})?",
)
_DIRECTORY = re.compile(r"/[^\s\"'\\]*")
# A registry host as containerd's certs.d names it: host, host:port, or _default.
_REGISTRY = re.compile(r"_default|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?")
_MIRROR_URL = re.compile(
    r"https?://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[^\s\"'\\]*)?",
)


def _package(value: str | None) -> Invalid | None:
    if value is None or _PACKAGE.fullmatch(value):
        return None
    return Invalid(value, "not a package name",
                   "give the package name, e.g. 'containerd.io', or None for the platform's")


def _package_version(value: str | None) -> Invalid | None:
    if value is None or _PACKAGE_VERSION.fullmatch(value):
        return None
    return Invalid(value, "not a package version", "give the version as the package manager "
                   "lists it, e.g. '1.7.24~ds1-6+deb13u1', or None for the newest")


def _repo_url(value: str | None) -> Invalid | None:
    if value is None or _REPO_URL.fullmatch(value):
        return None
    return Invalid(value, "not an http(s):// or file:// URL",
                   "give the repository's URL (your mirror's when air-gapped), or None")


def _sandbox_image(value: str) -> Invalid | None:
    """An image with its registry host: a domain with a dot or a port, or localhost, as the
    reference grammar has it (a name without one is pulled from docker.io)."""
    match = _IMAGE.fullmatch(value)
    registry = match["registry"] if match else ""
    if "." in registry or ":" in registry or registry == "localhost":
        return None
    return Invalid(value, "not an image name with a registry host (a name without one is pulled "
                   "from docker.io)",
                   "write it with its registry, e.g. 'registry.k8s.io/pause:3.10'")


def _cni_bin_dir(value: str | None) -> Invalid | None:
    if value is None or _DIRECTORY.fullmatch(value):
        return None
    return Invalid(value, "not an absolute path",
                   "give the directory holding the CNI plugins, or None for the platform's")


def _pem_certificates(value: str | None) -> Invalid | None:
    if value is None:
        return None
    first = value.strip().split("\n")[0][:60]
    if _PEM_PRIVATE.search(value):
        return Invalid(first, "holds a private key", "give the CA's certificate alone; its key "
                       "stays with the CA")
    if not _PEM_CERTIFICATE.search(value):
        return Invalid(first, "not PEM certificates",
                       "give the CA's certificate as PEM text, from '-----BEGIN CERTIFICATE-----' "
                       "to '-----END CERTIFICATE-----', e.g. Path('site-ca.pem').read_text()")
    return None


def _registry_mirrors(value: dict) -> Invalid | None:
    for registry, mirrors in value.items():
        if not isinstance(registry, str) or not _REGISTRY.fullmatch(registry):
            return Invalid(registry, "not a registry host", "key each list of mirrors by the "
                           "registry it stands in for, e.g. 'docker.io'")
        key = f"containerd_registry_mirrors[{registry!r}]"
        if not isinstance(mirrors, list) or not mirrors:
            return Invalid(mirrors, "not a non-empty list of mirror URLs",
                           "list the mirrors, e.g. ['https://mirror.example.com:5000']", key=key)
        for url in mirrors:
            if not isinstance(url, str) or not _MIRROR_URL.fullmatch(url):
                return Invalid(url, "not a mirror URL", "write it like "
                               "'https://mirror.example.com:5000' or 'http://10.0.0.5:5000'",
                               key=key)
    return None


# kubeadm's config API v1beta4 `timeouts` (InitConfiguration, JoinConfiguration), Go durations.
KUBEADM_TIMEOUTS = ("controlPlaneComponentHealthCheck", "kubeletHealthCheck", "kubernetesAPICall",
                    "etcdAPICall", "tlsBootstrap", "discovery", "upgradeManifests")
_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:h|m|s|ms))+")


def _timeouts(value: dict) -> Invalid | None:
    for name, duration in value.items():
        key = f"kubernetes_timeouts[{name!r}]"
        if name not in KUBEADM_TIMEOUTS:
            return Invalid(name, "not one of kubeadm's timeouts",
                           f"use one of {', '.join(KUBEADM_TIMEOUTS)}", key=key)
        if not isinstance(duration, str) or not _DURATION.fullmatch(duration):
            return Invalid(duration, "not a duration", "write it like '10m' or '90s'", key=key)
    return None


# A KubeletConfiguration field's name (camelCase), and the ones kubeprep writes from its own keys.
_KUBELET_FIELD = re.compile(r"[a-z][A-Za-z0-9]*")
_KUBELET_FIELDS_OWNED = {"cgroupDriver": "cgroup_driver", "failSwapOn": "swap",
                         "memorySwap": "kubernetes_swap_behavior"}


def _kubelet_config(value: dict) -> Invalid | None:
    for name, setting in value.items():
        key = f"kubernetes_kubelet_config[{name!r}]"
        if not isinstance(name, str) or not _KUBELET_FIELD.fullmatch(name):
            return Invalid(name, "not a KubeletConfiguration field",
                           "use its camelCase name, e.g. 'nodeStatusUpdateFrequency'", key=key)
        if name in _KUBELET_FIELDS_OWNED:
            return Invalid(name, f"kubeprep writes it from {_KUBELET_FIELDS_OWNED[name]}",
                           f"set {_KUBELET_FIELDS_OWNED[name]} instead", key=key)
        if isinstance(setting, float) or not isinstance(setting, (str, int)) or (
                isinstance(setting, str) and ("\n" in setting or not setting.strip())):
            return Invalid(setting, "not a one-line string, a whole number or a boolean",
                           "give a scalar, e.g. '1m' or 120 or True", key=key)
    return None


# ClusterConfiguration's components that take extraArgs, and a flag name without its dashes.
CONTROL_PLANE_COMPONENTS = tuple(STATIC_PODS)
# A static pod's probes and the fields of each that take a number of seconds or of tries.
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
PROBE_FIELDS = ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold")
_FLAG = re.compile(r"[a-z0-9][a-z0-9-]*")


def _per_component(key_name: str, what: str, pattern: re.Pattern, example: str, fix: str):
    """A check of ``{component: {NAME: value}}``: a control-plane component of kubeadm's, each
    NAME matching ``pattern``, each value a one-line string."""

    def check(value: dict) -> Invalid | None:
        for component, entries in value.items():
            key = f"{key_name}[{component!r}]"
            if component not in CONTROL_PLANE_COMPONENTS:
                return Invalid(component, "not a control-plane component of kubeadm's",
                               f"use one of {', '.join(CONTROL_PLANE_COMPONENTS)}", key=key)
            if not isinstance(entries, dict):
                return Invalid(entries, f"not a mapping of {what} to value",
                               f"write it like {example}", key=key)
            for name, setting in entries.items():
                if not isinstance(name, str) or not pattern.fullmatch(name):
                    return Invalid(name, f"not {what}", fix, key=key)
                if not isinstance(setting, str) or "\n" in setting:
                    return Invalid(setting, "not a one-line string", "quote the value, e.g. '60s'",
                                   key=f"{key}[{name!r}]")
        return None

    return check


_control_plane_args = _per_component(
    "kubernetes_control_plane_args", "a flag name", _FLAG,
    "{'leader-elect-lease-duration': '60s'}",
    "write the flag without its dashes, e.g. 'leader-elect-lease-duration'")
_control_plane_env = _per_component(
    "kubernetes_control_plane_env", "an environment variable name",
    re.compile(r"[A-Za-z_][A-Za-z0-9_]*"), "{'GOGC': '200'}",
    "use letters, digits and underscores, e.g. 'GOGC'")


def _named_mapping(name: object, entries: object, allowed: tuple[str, ...], what: str,
                   example: str, key: str) -> Invalid | None:
    """``name`` one of ``allowed`` (``what`` it must be), ``entries`` a mapping like ``example``."""
    if name not in allowed:
        return Invalid(name, f"not {what}", f"use one of {', '.join(allowed)}", key=key)
    if not isinstance(entries, dict):
        return Invalid(entries, "not a mapping", f"write it like {example}", key=key)
    return None


def _control_plane_probes(value: dict) -> Invalid | None:
    for component, probes in value.items():
        key = f"kubernetes_control_plane_probes[{component!r}]"
        problem = _named_mapping(component, probes, CONTROL_PLANE_COMPONENTS,
                                 "a control-plane component of kubeadm's",
                                 "{'livenessProbe': {'failureThreshold': 30}}", key)
        if problem:
            return problem
        for probe, fields in probes.items():
            probe_key = f"{key}[{probe!r}]"
            problem = _named_mapping(probe, fields, PROBES, "a probe of a static pod",
                                     "{'failureThreshold': 30}", probe_key) \
                or _probe_fields(fields, probe_key)
            if problem:
                return problem
    return None


def _probe_fields(fields: dict, key: str) -> Invalid | None:
    for name, number in fields.items():
        if name not in PROBE_FIELDS:
            return Invalid(name, "not a field kubeprep sets on a probe",
                           f"use one of {', '.join(PROBE_FIELDS)}", key=key)
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            return Invalid(number, "not a whole number of 1 or more",
                           "give seconds or tries as a number, e.g. 30", key=f"{key}[{name!r}]")
    return None


def _node_names(value: list) -> Invalid | None:
    for name in value:
        if not isinstance(name, str) or not name or name.split() != [name]:
            return Invalid(name, "not a host name of the inventory",
                           "list the nodes by their names in inventory.py, e.g. ['w2']")
    return None


def _renewal_days(value: int) -> Invalid | None:
    if isinstance(value, bool) or value < 0:
        return Invalid(value, "not a number of days (0 or more)",
                       "give days, e.g. 30; 0 never renews")
    return None


def _kubernetes_version(value: str) -> Invalid | None:
    if not _KUBERNETES_VERSION.fullmatch(value):
        return Invalid(value, "not a Kubernetes version",
                       "write the minor, '1.35', or pin the patch, '1.35.2'")
    if int(value.split(".")[1]) < OLDEST_MINOR:
        return Invalid(value, f"kubeprep writes kubeadm's config API v1beta4, which needs "
                       f"1.{OLDEST_MINOR} or newer", f"use 1.{OLDEST_MINOR} or newer")
    return None


def _kubernetes_repo_url(value: str) -> Invalid | None:
    if _REPO_URL_TEMPLATE.fullmatch(value) and "{minor}" in value:
        return None
    return Invalid(value, "not a repository URL with {minor} in it",
                   "keep 'https://pkgs.k8s.io/core:/stable:/v{minor}' or give a mirror laid out "
                   "the same way")


def _config_file(value: str) -> Invalid | None:
    if value.startswith("/"):
        return None
    return Invalid(value, "not an absolute path",
                   "use a path such as /etc/kubernetes/kubeadm-config.yaml")


def _endpoint(value: str | None) -> Invalid | None:
    problem = None if value is None else endpoint_error(value)
    return Invalid(value, problem, ENDPOINT_FIX) if problem else None


def _cni_manifest(value: str | None) -> Invalid | None:
    if value is None or _MANIFEST.fullmatch(value):
        return None
    return Invalid(value, "neither an http(s) URL nor an absolute local path",
                   "give the manifest's URL, or its path on the machine that runs pyinfra")


DECLARED: tuple[Key, ...] = (
    Key("deploy_until", (str,), "cluster", "deploy",
        "how far `deploy.py` goes: `ready` (account … selinux), `runtime` (+ containerd), "
        "`kubernetes` (+ packages), `cluster` (+ init, join, CNI)",
        _one_of(DEPLOY_STAGES)),
    # account
    Key("admin_user", (str,), "kubeadmin", "account", "the admin account to create",
        _admin_user),
    Key("admin_password_hash", (str, type(None)), None, "account",
        "crypt(3) hash (`openssl passwd -6`); `None` = locked password, key login only",
        _password_hash, secret=True),
    Key("admin_ssh_keys", (list,), [], "account",
        "OpenSSH public key lines for the admin's `authorized_keys`", _ssh_keys),
    Key("admin_sudo", (bool,), False, "account",
        "add the admin to `wheel` (RHEL) or `sudo` (Debian/Ubuntu)"),
    Key("admin_shell", (str,), "/bin/bash", "account", "the admin's login shell (a full path)",
        _absolute_path("/bin/bash")),
    # firewall
    Key("firewall_ssh_port", (str,), "22/tcp", "firewall",
        "sshd's TCP port, opened first on every host, before firewalld can start", _ssh_port),
    Key("firewall_ports", (list,),
        PerRole(control_plane=["6443/tcp"], workers=["30000-32767/tcp"]), "firewall",
        "ports open to everyone: `N/proto` or `N-M/proto`, proto `tcp`/`udp`/`sctp`, "
        "1 ≤ N ≤ M ≤ 65535", _ports),
    Key("firewall_cluster_ports", (list,),
        PerRole(control_plane=["2379-2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp"],
                workers=["10250/tcp"]),
        "firewall", "ports open to the cluster's nodes only, same syntax; neither these nor the "
        "CNI's ports may be public too (`firewall_ports`, `firewall_ssh_port`)", _ports),
    Key("firewall_zone", (str, type(None)), None, "firewall",
        "the public zone; `None` = the default zone; not `trusted`, `drop` or `block`", _zone),
    Key("firewall_prune", (bool,), False, "firewall",
        "also close ports in the public zone that are not listed (never the SSH port, which is "
        "always listed); the cluster zone is always kept exact"),
    Key("firewall_cluster_only", (bool,), True, "firewall",
        "`True`: `firewall_cluster_ports` and the CNI's ports in a zone whose sources are the "
        "nodes; `False`: everything public (the write-up)"),
    Key("firewall_cluster_zone", (str,), "kubeprep", "firewall",
        "that zone's name; kubeprep owns its ports and sources (not a zone firewalld ships)",
        _cluster_zone),
    Key("firewall_services", (bool,), True, "firewall",
        "use firewalld's `kube-control-plane-secure` / `kube-worker` where they open only "
        "listed ports"),
    Key("firewall_disable_others", (bool,), False, "firewall",
        "`False`: a host where ufw, `nftables.service` or `iptables.service` (with rules of its "
        "own) would still drop what firewalld opens is refused; `True`: they are stopped and "
        "disabled first"),
    # CNI
    Key("cni", (str,), "none", "firewall",
        "`flannel`, `calico`, `cilium` or `none`: the CNI's ports and protocols between nodes, "
        "pod and service networks trusted (see [docs/firewall.md](docs/firewall.md))",
        _one_of(tuple(CNI_PRESETS), "unknown CNI")),
    Key("cni_pod_cidr", (str,), "10.244.0.0/16", "firewall",
        "the pod network (`kubeadm init --pod-network-cidr`), trusted when `cni` is set: it may "
        "hold no node's address (Calico's own default often does) nor overlap the network the "
        "nodes are on (the node's interface address that holds its `cluster_address`, e.g. "
        "`192.168.77.21/24`), checked on each node before the firewall task changes anything",
        _network),
    Key("cni_service_cidr", (str,), "10.96.0.0/12", "firewall",
        "the service network (kubeadm's default), trusted when `cni` is set: it may hold no "
        "node's address, nor overlap the nodes' network or the pod network", _network),
    Key("cluster_address", (str, type(None)), None, "firewall",
        "the node's address on the cluster network: a source of every node's cluster zone, and "
        "the address the readiness check probes; default: the source address of the node's "
        "default route", _address, inventory=True),
    Key("probe_prefix", (str, type(None)), None, "check",
        "for a host of the `outside` group: the command its probes run through, e.g. "
        "`ip netns exec kubeprep-lab`", inventory=True),
    # swap
    Key("swap", (str,), "off", "swap",
        "`\"off\"`: swap off now and at boot; `\"keep\"` (kubelet NodeSwap): undo what kubeprep "
        "did to swap, and leave swap alone on a host it never touched "
        "(see [docs/swap.md](docs/swap.md))",
        _one_of(("off", "keep"))),
    # kernel
    Key("kernel_modules", (list,), ["overlay", "br_netfilter"], "kernel",
        "modules loaded now and at boot (at least one)", _modules),
    Key("kernel_modules_file", (str,), "/etc/modules-load.d/k8s.conf", "kernel",
        "where they are persisted (a `.conf` file)",
        _absolute_path("/etc/modules-load.d/k8s.conf", ".conf")),
    Key("kernel_sysctls", (dict,), {"net.bridge.bridge-nf-call-iptables": 1,
                                    "net.bridge.bridge-nf-call-ip6tables": 1,
                                    "net.ipv4.ip_forward": 1}, "kernel",
        "sysctl keys and their integer values", _sysctls),
    Key("kernel_sysctl_file", (str,), "/etc/sysctl.d/k8s.conf", "kernel",
        "the sysctl.d file kubeprep owns (rewritten whole when it differs; a `.conf` file)",
        _absolute_path("/etc/sysctl.d/k8s.conf", ".conf")),
    # selinux
    Key("selinux_mode", (str,), "permissive", "selinux",
        "`enforcing`, `permissive` or `disabled`",
        _one_of(("enforcing", "permissive", "disabled"))),
    # runtime
    Key("cgroup_driver", (str,), "systemd", "runtime",
        "`systemd` or `cgroupfs`: containerd's `SystemdCgroup` now, the kubelet's "
        "`cgroupDriver` later (they must match)",
        _one_of(CGROUP_DRIVERS, "unknown cgroup driver", " (systemd on systemd hosts)")),
    Key("containerd_package", (str, type(None)), None, "runtime",
        "`None`: `containerd` (Debian/Ubuntu), `containerd.io` (RHEL family)", _package),
    Key("containerd_version", (str, type(None)), None, "runtime",
        "the version pin, as apt/dnf list it; `None`: the newest", _package_version),
    Key("containerd_rpm_repo", (str, type(None)),
        "https://download.docker.com/linux/centos/$releasever/$basearch/stable", "runtime",
        "RHEL family: the repository of `containerd.io` (Docker's, or your mirror)", _repo_url),
    Key("containerd_rpm_gpg_key", (str, type(None)), "https://download.docker.com/linux/centos/gpg",
        "runtime", "RHEL family: that repository's signing key; `None`: no gpgcheck", _repo_url),
    Key("containerd_sandbox_image", (str,), "registry.k8s.io/pause:3.10", "runtime",
        "the pause image, with its registry host", _sandbox_image),
    Key("containerd_cni_bin_dir", (str, type(None)), None, "runtime",
        "`None`: `/usr/lib/cni` (Debian/Ubuntu), `/opt/cni/bin` (RHEL family)", _cni_bin_dir),
    Key("plain_http_accepted", (bool,), False, "runtime",
        "`True`: accept `http://` repositories, registry mirrors and manifests (anyone on the "
        "path could serve others); each host's run says which it takes"),
    Key("containerd_registry_mirrors", (dict,), {}, "runtime",
        "registry → list of mirror URLs, tried in order (`certs.d/<registry>/hosts.toml`)",
        _registry_mirrors),
    Key("containerd_registry_ca", (str, type(None)), None, "runtime",
        "PEM of the CA that signs the `https://` mirrors' certificates, written to "
        "`certs.d/kubeprep-ca.crt` and named in their hosts files; `None`: the system's CAs",
        _pem_certificates),
    # kubernetes and the cluster
    Key("kubernetes_version", (str,), "1.35", "kubernetes",
        "`1.N` (the minor's newest patch, then held) or `1.N.P` (pinned), 1.31 or newer; also "
        "decides the readiness check's cgroup v1 and kernel levels", _kubernetes_version),
    Key("kubernetes_repo_url", (str,), "https://pkgs.k8s.io/core:/stable:/v{minor}", "kubernetes",
        "the minor's package repository, or a mirror laid out the same way",
        _kubernetes_repo_url),
    Key("kubernetes_allow_downgrade", (bool,), False, "kubernetes",
        "`True`: a lower `kubernetes_version` downgrades the packages"),
    Key("kubernetes_control_plane_endpoint", (str, type(None)), None, "cluster",
        "`host:port` every node reaches; `None`: the first control plane's address, port 6443",
        _endpoint),
    Key("kubernetes_swap_behavior", (str,), "LimitedSwap", "cluster",
        "with `swap = \"keep\"`: the kubelet's `memorySwap.swapBehavior`",
        _one_of(SWAP_BEHAVIORS)),
    Key("kubernetes_config_file", (str,), "/etc/kubernetes/kubeadm-config.yaml", "cluster",
        "kubeadm's config file on each node", _config_file),
    Key("cni_manifest", (str, type(None)), None, "cluster",
        "the CNI's manifest: a URL or a local path; `None`: the preset's upstream one",
        _cni_manifest),
    Key("kubernetes_image_repository", (str, type(None)), None, "cluster",
        "kubeadm's `imageRepository` (its images from there instead of `registry.k8s.io`); "
        "`None`: kubeadm's, e.g. with `containerd_registry_mirrors`", _image_repository),
    Key("kubernetes_etcd_image_tag", (str, type(None)), None, "cluster",
        "kubeadm's `etcd.local.imageTag`, e.g. a mirror's etcd build; `None`: kubeadm's default",
        _image_tag),
    Key("kubernetes_dns_image_tag", (str, type(None)), None, "cluster",
        "kubeadm's `dns.imageTag` (CoreDNS); `None`: kubeadm's default", _image_tag),
    Key("kubernetes_encryption_algorithm", (str, type(None)), None, "cluster",
        "kubeadm's `encryptionAlgorithm` for the cluster's keys (`ECDSA-P256` makes TLS "
        "handshakes far cheaper on slow machines); `None`: kubeadm's (RSA-2048)",
        _one_of_or_none(("RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384"))),
    Key("kubernetes_control_plane_args", (dict,), {}, "cluster",
        "extra flags per control-plane component (`apiServer`, `controllerManager`, "
        "`scheduler`, `etcd`), kubeadm's `extraArgs`, e.g. longer leader-election leases on "
        "slow machines", _control_plane_args),
    Key("kubernetes_control_plane_env", (dict,), {}, "cluster",
        "environment variables per control-plane component, kubeadm's `extraEnvs`, e.g. "
        "`{\"apiServer\": {\"GOGC\": \"200\"}}` for less garbage collection on slow machines",
        _control_plane_env),
    Key("kubernetes_kubelet_config", (dict,), {}, "cluster",
        "more KubeletConfiguration fields, set at init for every node, e.g. "
        "`{\"nodeStatusUpdateFrequency\": \"1m\"}`", _kubelet_config, typed_values=True),
    Key("kubernetes_control_plane_probes", (dict,), {}, "cluster",
        "the control-plane static pods' probes, per component, probe and field, given to kubeadm "
        "as patches at init and join, e.g. `{\"apiServer\": {\"livenessProbe\": "
        "{\"failureThreshold\": 30}}}` on slow machines; `{}`: kubeadm's",
        _control_plane_probes, typed_values=True),
    Key("kubernetes_certificate_renewal_days", (int,), 0, "cluster",
        "renew a control plane's kubeadm certificates (`kubeadm certs renew all`, its static "
        "pods restarted one at a time) once one has fewer days left; `0`: never; above their "
        "lifetime (365): in this run, as a one-time `--data`", _renewal_days),
    Key("kubernetes_timeouts", (dict,), {}, "cluster",
        "kubeadm's `timeouts` for init and join, e.g. `{\"controlPlaneComponentHealthCheck\": "
        "\"10m\"}` on slow machines; `{}`: kubeadm's", _timeouts),
    Key("kubernetes_removed_nodes", (list,), [], "cluster",
        "inventory names of nodes to take out of the cluster: drained and deleted on the first "
        "control plane, then `kubeadm reset -f` and what reset leaves (CNI files and "
        "interfaces, kube-proxy's rules, the admin's kubeconfig); out of the list, the next run "
        "joins them again", _node_names),
    Key("kubernetes_remove_last_control_plane", (bool,), False, "cluster",
        "`True`: `kubernetes_removed_nodes` may hold every control plane (their reset ends the "
        "cluster and its etcd data)"),
    Key("kubernetes_etcd_snapshot_dir", (str,), "/var/lib/kubeprep/etcd-snapshots", "cluster",
        "where the first control plane keeps the etcd snapshot taken before each `kubeadm "
        "upgrade apply` (a changed `kubernetes_version` on a running cluster)",
        _absolute_path("/var/lib/kubeprep/etcd-snapshots")),
)

BY_NAME: dict[str, Key] = {key.name: key for key in DECLARED}


def deploy_defaults() -> dict[str, object]:
    """Every declared default but the inventory keys', as a kubeprep ``@deploy``'s
    ``data_defaults``: a project without kubeprep's group_data/ gets the same values. Each deploy
    checks every key, so each needs them all. A ``PerRole`` stays whole: the host's role takes its
    part when the host is checked (``kubeprep.fleet.hosts``)."""
    return {key.name: key.default for key in DECLARED if not key.inventory}
