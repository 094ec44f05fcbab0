"""Kubernetes on a node: the installed and held kubeadm, kubelet and kubectl
(``KubernetesPackages``), what kubeadm left (``KubeadmNode``), whether the cluster has a
DaemonSet (``DaemonSet``); and the kubelet's service and cgroup driver (``KUBELET_STATE``) and the
cluster's bootstrap tokens (``BOOTSTRAP_TOKENS``), which only the readiness fact reads; and when
kubeadm's certificates expire (``CertificateExpiry``, ``CERTIFICATE_EXPIRY`` in the readiness
fact)."""

from __future__ import annotations

import json

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

from kubeprep.facts import marked_sections, parse_settings_lines
from kubeprep.facts.account import passwd_entry
from kubeprep.kubeadm import PACKAGES
from kubeprep.node_files import ETCD_DATA_DIR, KUBEADM_LEFTOVERS, KUBELET_CONF

ADMIN_CONF = "/etc/kubernetes/admin.conf"
DNF_REPO_FILE = "/etc/yum.repos.d/kubernetes.repo"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
# Whether kubelet.service is enabled and running, the API server its kubeconfig names once
# kubeadm init or join wrote it, and its cgroupDriver once they wrote its config; read with
# parse_kubelet().
KUBELET_STATE = (
    'echo "enabled=$(systemctl is-enabled kubelet 2>/dev/null)";'
    ' echo "active=$(systemctl is-active kubelet 2>/dev/null)";'
    f" [ ! -f {KUBELET_CONF} ] || echo \"server=$(sed -n"
    f" 's/^[[:space:]]*server:[[:space:]]*//p' {KUBELET_CONF})\";"
    f" [ ! -f {KUBELET_CONFIG} ] || echo \"config=$(sed -n"
    f" 's/^cgroupDriver:[[:space:]]*//p' {KUBELET_CONFIG})\""
)


# Where this node holds the admin kubeconfig, the cluster's bootstrap tokens: each one's ID and
# when it expires (RFC 3339, or kubeadm's "<never>"), never its secret; read with
# parse_bootstrap_tokens(). An API server that does not answer in 30 s lists none.
BOOTSTRAP_TOKENS = (
    f"[ ! -f {ADMIN_CONF} ] || ! command -v kubeadm >/dev/null ||"
    f" timeout 30 kubeadm token list --kubeconfig {ADMIN_CONF} 2>/dev/null"
    " | awk 'NR > 1 { split($1, token, \".\"); print token[1], $3 }'"
)


def parse_bootstrap_tokens(lines: list[str]) -> dict[str, str | None]:
    """Token ID -> when it expires (RFC 3339); ``None``: it never does."""
    tokens: dict[str, str | None] = {}
    for line in lines:
        fields = line.split()
        if len(fields) == 2:
            tokens[fields[0]] = None if fields[1] == "<never>" else fields[1]
    return tokens


# Where this node holds the admin kubeconfig, when kubeadm's certificates and CAs expire: its
# JSON (output.kubeadm.k8s.io/v1alpha3); read with parse_certificate_expiry(). kubeadm reads
# the cluster's config from the API server, or falls back to its defaults for the same files.
CERTIFICATE_EXPIRY = (
    f"[ ! -f {ADMIN_CONF} ] || ! command -v kubeadm >/dev/null ||"
    " timeout 30 kubeadm certs check-expiration -o json 2>/dev/null"
)


class CertificateDict(TypedDict):
    expires: str  # RFC 3339
    days_left: int  # whole days, as kubeadm counted them when it read the certificate
    authority: bool  # a CA: `kubeadm certs renew` renews the others, never a CA


def parse_certificate_expiry(lines: list[str]) -> dict[str, CertificateDict]:
    """Certificate or CA name (``apiserver``, ``admin.conf``, ``ca``) -> when it expires; a
    missing or externally managed one is left out; ``{}`` when kubeadm printed no JSON."""
    try:
        info = json.loads("\n".join(lines))
    except ValueError:
        return {}
    if not isinstance(info, dict):
        return {}
    return {
        entry["name"]: {"expires": entry["expirationDate"],
                        "days_left": int(entry["residualTime"]) // 86400,
                        "authority": group == "certificateAuthorities"}
        for group in ("certificates", "certificateAuthorities")
        for entry in info.get(group) or []
        if not entry.get("missing") and not entry.get("externallyManaged")
        and entry.get("expirationDate") and "residualTime" in entry
    }


class CertificateExpiry(FactBase[dict[str, CertificateDict]]):
    """
    Returns when kubeadm's certificates and CAs expire, where the node holds the admin
    kubeconfig (a control plane); ``{}`` elsewhere, or when kubeadm did not answer in 30 s.

    .. code:: python

        {"apiserver": {"expires": "2027-12-02T07:31:07Z", "days_left": 364, "authority": False},
         "ca": {"expires": "2036-11-30T07:31:07Z", "days_left": 3649, "authority": True}}
    """

    @override
    @staticmethod
    def default() -> dict[str, CertificateDict]:
        return {}

    @override
    def command(self) -> str:
        return f"{CERTIFICATE_EXPIRY}; true"

    @override
    def process(self, output) -> dict[str, CertificateDict]:
        return parse_certificate_expiry(list(output))


class KubernetesPackagesDict(TypedDict):
    installed: dict[str, str]
    held: list[str]


class KubernetesPackages(FactBase[KubernetesPackagesDict]):
    """
    Returns the installed versions of kubeadm, kubelet and kubectl, and which of them are held:
    ``apt-mark hold`` (dpkg's selection ``h``) on apt, the repository's ``exclude=`` on dnf.

    .. code:: python

        {
            "installed": {"kubeadm": "1.35.0-1.1", "kubelet": "1.35.0-1.1"},
            "held": ["kubeadm", "kubelet"],
        }
    """

    @override
    @staticmethod
    def default() -> KubernetesPackagesDict:
        return {"installed": {}, "held": []}

    @override
    def command(self) -> str:
        return PACKAGES_COMMAND

    @override
    def process(self, output) -> KubernetesPackagesDict:
        return parse_packages(output)


_NAMES = " ".join(PACKAGES)
# dpkg-query on apt hosts; rpm and the repository's excludes on dnf hosts. Other facts may run it
# and hand its output to parse_packages().
PACKAGES_COMMAND = (
    "if command -v dpkg-query >/dev/null 2>&1; then "
    f"dpkg-query -W -f='${{Package}} ${{Version}} ${{db:Status-Abbrev}}\\n' {_NAMES} "
    "2>/dev/null; "
    f"else rpm -q --qf '%{{NAME}} %{{VERSION}}-%{{RELEASE}} ii\\n' {_NAMES}; "
    f"echo '--- exclude'; sed -n 's/^exclude *= *//p' {DNF_REPO_FILE} 2>/dev/null; fi; "
    "true"
)


def parse_packages(output) -> KubernetesPackagesDict:
    """The lines ``PACKAGES_COMMAND`` prints, parsed (see ``KubernetesPackages``)."""
    installed: dict[str, str] = {}
    held: list[str] = []
    sections = dict(marked_sections(output, "packages", ("exclude",)))
    for line in sections["packages"]:
        parts = line.split()
        # dpkg: "kubeadm 1.35.0-1.1 hi " (selection, state); rpm: "package x is not
        # installed" has no version. Removed packages whose config is left read "rc".
        if len(parts) == 3 and parts[0] in PACKAGES and parts[2][1] == "i":
            installed[parts[0]] = parts[1]
            if parts[2][0] == "h":
                held.append(parts[0])
    if "exclude" in sections:  # dnf: the repository's excludes hold the packages
        excluded = " ".join(sections["exclude"]).split()
        held = [name for name in PACKAGES if name in excluded and name in installed]
    return {"installed": installed, "held": held}


class KubeletDict(TypedDict):
    enabled: str | None  # systemctl is-enabled kubelet
    active: str | None  # systemctl is-active kubelet
    server: str | None  # the API server in /etc/kubernetes/kubelet.conf, e.g. https://10.0.0.11:6443
    config: bool  # /var/lib/kubelet/config.yaml exists (kubeadm init or join wrote it)
    cgroup_driver: str | None  # its cgroupDriver; None: not set there (the kubelet: cgroupfs)


def parse_kubelet(lines: list[str]) -> KubeletDict:
    """The lines ``KUBELET_STATE`` prints, parsed."""
    kubelet = parse_settings_lines(lines)
    return {
        "enabled": kubelet.get("enabled") or None,
        "active": kubelet.get("active") or None,
        "server": kubelet.get("server", "").strip() or None,
        "config": "config" in kubelet,
        "cgroup_driver": kubelet.get("config", "").strip().strip("\"'") or None,
    }


class NodeFileDict(TypedDict):
    mode: str
    owner: str
    sha256: str


class KubeadmNodeDict(TypedDict):
    home: str | None
    group: str | None
    files: dict[str, NodeFileDict]


class KubeadmNode(FactBase[KubeadmNodeDict]):
    """
    Returns what kubeadm left on a node: ``/etc/kubernetes/admin.conf`` (init, or a control plane
    join), ``/etc/kubernetes/kubelet.conf`` (init or join), and the admin user's
    ``~/.kube/config``, each with its mode, owner and SHA-256; the user's home and group.

    + user: the admin user

    .. code:: python

        {
            "home": "/home/kubeadmin",
            "group": "kubeadmin",
            "files": {"/etc/kubernetes/kubelet.conf": {
                "mode": "600", "owner": "root", "sha256": "9f86d0...",
            }},
        }
    """

    @override
    @staticmethod
    def default() -> KubeadmNodeDict:
        return {"home": None, "group": None, "files": {}}

    @override
    def command(self, user: str) -> StringCommand:
        quoted = QuoteString(user)
        return StringCommand(
            passwd_entry(user),
            'echo "home=$home";',
            'echo "group=$(id -gn', quoted, '2>/dev/null)";',
            f'for f in {ADMIN_CONF} {KUBELET_CONF} "$home/.kube/config"; do',
            '[ -f "$f" ] && echo "file=$(stat -c \'%a %U\' "$f") $(sha256sum "$f")";',
            "done; true",
        )

    @override
    def process(self, output) -> KubeadmNodeDict:
        found = self.default()
        for line in output:
            key, _, value = line.partition("=")
            if key in ("home", "group"):
                found[key] = value or None
            elif key == "file":
                mode, owner, sha256, path = value.split(maxsplit=3)
                found["files"][path] = {"mode": mode, "owner": owner, "sha256": sha256}
        return found


# What the API server's readers print after kubectl's own lines when it did not answer.
UNANSWERED = "kubeprep: no answer from the API server"
# How often, and how many seconds apart, they ask a slow API server.
KUBECTL_TRIES = 6
KUBECTL_PAUSE = 10


def kubectl_read(*arguments: str | QuoteString) -> StringCommand:
    """``kubectl ARGUMENTS`` with the admin kubeconfig where it exists (nothing before ``kubeadm
    init``), tried ``KUBECTL_TRIES`` times ``KUBECTL_PAUSE`` s apart, ``UNANSWERED`` after the
    last failed try's lines."""
    return StringCommand(
        "if [ -f", ADMIN_CONF, "]; then try=1; until out=$(kubectl",
        f"--kubeconfig={ADMIN_CONF}", *arguments, "2>&1); do",
        f"[ $try -ge {KUBECTL_TRIES} ] && {{ out=$(printf '%s\\n%s' \"$out\"",
        QuoteString(UNANSWERED), "); break; };",
        f"try=$((try + 1)); sleep {KUBECTL_PAUSE}; done; printf '%s\\n' \"$out\"; fi",
    )


class DaemonSet(FactBase[bool | None]):
    """
    Returns whether the cluster has a DaemonSet, asked with the admin kubeconfig on a control
    plane: ``False`` before ``kubeadm init`` (no admin kubeconfig), ``None`` when kubectl could
    not ask the API server in ``KUBECTL_TRIES`` tries ``KUBECTL_PAUSE`` seconds apart.

    + namespace: its namespace
    + daemonset: its name
    """

    @override
    @staticmethod
    def default() -> bool:
        return False

    @override
    def command(self, namespace: str, daemonset: str) -> StringCommand:
        return kubectl_read("-n", QuoteString(namespace), "get daemonset", QuoteString(daemonset),
                            "-o name --ignore-not-found")

    @override
    def process(self, output) -> bool | None:
        if UNANSWERED in output:
            return None
        return any(line.startswith("daemonset.apps/") for line in output)


# Each node's name and InternalIP address, one line per node.
NODE_ADDRESSES = ("{range .items[*]}{.metadata.name}{\" \"}"
                  "{.status.addresses[?(@.type==\"InternalIP\")].address}{\"\\n\"}{end}")


class ClusterNodes(FactBase[dict[str, str] | None]):
    """
    Returns the cluster's nodes, asked with the admin kubeconfig on a control plane: each one's
    name and InternalIP address; ``{}`` before ``kubeadm init`` (no admin kubeconfig), ``None``
    when the API server did not answer (as ``DaemonSet``).

    .. code:: python

        {"cp1": "192.168.77.11", "w1": "192.168.77.21"}
    """

    @override
    @staticmethod
    def default() -> dict[str, str]:
        return {}

    @override
    def command(self) -> StringCommand:
        return kubectl_read("get nodes -o", QuoteString(f"jsonpath={NODE_ADDRESSES}"))

    @override
    def process(self, output) -> dict[str, str] | None:
        if UNANSWERED in output:
            return None
        return dict(line.split(maxsplit=1) for line in output if len(line.split()) == 2)


# Each node's name, InternalIP address, kubelet version and whether it is cordoned; then the
# ClusterConfiguration kubeadm keeps in the cluster (its kubernetesVersion is the control plane's).
NODE_VERSIONS = ("{range .items[*]}{.metadata.name}{\" \"}"
                 "{.status.addresses[?(@.type==\"InternalIP\")].address}{\" \"}"
                 "{.status.nodeInfo.kubeletVersion}{\" \"}{.spec.unschedulable}{\"\\n\"}{end}")
CLUSTER_CONFIGURATION = "jsonpath={.data.ClusterConfiguration}"
_VERSIONS_SEPARATOR = "kubeprep: kubeadm-config"


class NodeVersionDict(TypedDict):
    address: str
    kubelet: str  # as the kubelet reports it: v1.36.3
    cordoned: bool


class ClusterVersionsDict(TypedDict):
    version: str | None  # kubeadm-config's kubernetesVersion: v1.36.3
    nodes: dict[str, NodeVersionDict]


class ClusterVersions(FactBase[ClusterVersionsDict | None]):
    """
    Returns the cluster's Kubernetes version (``kubernetesVersion`` of kubeadm's
    ClusterConfiguration) and each node's address, kubelet version and whether it is cordoned,
    asked with the admin kubeconfig on a control plane: no version and no node before ``kubeadm
    init``, ``None`` when the API server did not answer (as ``DaemonSet``).

    .. code:: python

        {"version": "v1.36.3",
         "nodes": {"cp1": {"address": "192.168.77.11", "kubelet": "v1.36.3", "cordoned": False}}}
    """

    @override
    @staticmethod
    def default() -> ClusterVersionsDict:
        return {"version": None, "nodes": {}}

    @override
    def command(self) -> StringCommand:
        return StringCommand(
            kubectl_read("get nodes -o", QuoteString(f"jsonpath={NODE_VERSIONS}")), "; echo",
            QuoteString(_VERSIONS_SEPARATOR), ";",
            kubectl_read("-n kube-system get configmap kubeadm-config -o",
                         QuoteString(CLUSTER_CONFIGURATION)),
        )

    @override
    def process(self, output) -> ClusterVersionsDict | None:
        if UNANSWERED in output:
            return None
        lines = list(output)
        split = lines.index(_VERSIONS_SEPARATOR) if _VERSIONS_SEPARATOR in lines else len(lines)
        nodes: dict[str, NodeVersionDict] = {}
        for line in lines[:split]:
            fields = line.split()
            if len(fields) >= 3 and fields[2].startswith("v"):
                nodes[fields[0]] = {"address": fields[1], "kubelet": fields[2],
                                    "cordoned": fields[3:] == ["true"]}
        version = next((line.split(":", 1)[1].strip() for line in lines[split + 1:]
                        if line.startswith("kubernetesVersion:")), None)
        return {"version": version, "nodes": nodes}


# kubeadm's files on a node that has been in a cluster: init's or a control plane join's, and
# every join's (reset removes them all).
KUBEADM_FILES = (*KUBEADM_LEFTOVERS["control_plane"], ADMIN_CONF, *KUBEADM_LEFTOVERS["workers"])
# The network interfaces the CNIs kubeprep knows make on a node, and kube-proxy's IPVS one.
CNI_INTERFACES = ("cni0", "flannel.1", "vxlan.calico", "cilium_host", "cilium_net",
                  "cilium_vxlan", "kube-ipvs0")
CNI_CONFIG_DIR = "/etc/cni/net.d"
# What kube-proxy's and the CNIs' iptables rules and chains are named after.
CLUSTER_RULES = ("KUBE-", "FLANNEL", "CNI-")


class ClusterLeftoversDict(TypedDict):
    kubeadm: list[str]
    cni_config: list[str]
    interfaces: list[str]
    rules: dict[str, int]
    files: list[str]


class ClusterLeftovers(FactBase[ClusterLeftoversDict]):
    """
    Returns what a node keeps of a cluster it was in, which ``kubeadm reset`` leaves or removes:
    kubeadm's files (a non-empty etcd data directory), the CNI's config files and network
    interfaces, the number of kube-proxy's and the CNI's rules per iptables command
    (``iptables``, ``ip6tables``, where installed), and which of ``files`` and the admin user's
    ``~/.kube/config`` exist.

    + user: the admin user
    + files: further paths to look for (kubeprep's own files of the cluster stage)

    .. code:: python

        {
            "kubeadm": ["/etc/kubernetes/kubelet.conf", "/etc/kubernetes/pki/ca.crt"],
            "cni_config": ["/etc/cni/net.d/10-flannel.conflist"],
            "interfaces": ["cni0", "flannel.1"],
            "rules": {"iptables": 71, "ip6tables": 52},
            "files": ["/home/kubeadmin/.kube/config"],
        }
    """

    @override
    @staticmethod
    def default() -> ClusterLeftoversDict:
        return {"kubeadm": [], "cni_config": [], "interfaces": [], "rules": {}, "files": []}

    @override
    def command(self, user: str, files: list[str]) -> StringCommand:
        kubeadm = [path for path in KUBEADM_FILES if path != ETCD_DATA_DIR]
        rules = " ".join(f"-e {name}" for name in CLUSTER_RULES)
        return StringCommand(
            passwd_entry(user),
            f"for f in {' '.join(kubeadm)}; do [ -e \"$f\" ] && echo \"kubeadm=$f\"; done;",
            f'[ -z "$(ls -A {ETCD_DATA_DIR} 2>/dev/null)" ] || echo "kubeadm={ETCD_DATA_DIR}";',
            f'for f in {CNI_CONFIG_DIR}/*; do [ -e "$f" ] && echo "cni=$f"; done;',
            f"for i in {' '.join(CNI_INTERFACES)}; do",
            '[ -e "/sys/class/net/$i" ] && echo "link=$i"; done;',
            "for c in iptables ip6tables; do command -v $c-save >/dev/null &&",
            f'echo "rules=$c $($c-save 2>/dev/null | grep -c {rules})"; done;',
            "for f in", *[QuoteString(path) for path in files], '"$home/.kube/config"; do',
            '[ -e "$f" ] && echo "file=$f"; done; true',
        )

    @override
    def process(self, output) -> ClusterLeftoversDict:
        found = self.default()
        lists = {"kubeadm": "kubeadm", "cni": "cni_config", "link": "interfaces", "file": "files"}
        for line in output:
            key, _, value = line.partition("=")
            if key in lists:
                found[lists[key]].append(value)
            elif key == "rules":
                command, count = value.split()
                found["rules"][command] = int(count)
        return found
