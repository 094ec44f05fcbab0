"""The Kubernetes packages and the kubeadm cluster, in plain Python: the rules on the endpoint and
the pod network, the repository, package versions, kubeadm's config files and what its commands
print.

Sources: kubeadm's install and upgrade guides (pkgs.k8s.io, holds, ``--disableexcludes``),
the kubeadm configuration API v1beta4 reference, ``kubeadm token create --print-join-command``
and ``kubeadm init phase upload-certs --upload-certs`` output (docs/cluster.md).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

PACKAGES = ("kubeadm", "kubelet", "kubectl")  # kubeadm first: the upgrade guide's order
DNF_EXCLUDES = "kubelet kubeadm kubectl cri-tools kubernetes-cni"
SWAP_BEHAVIORS = ("LimitedSwap", "NoSwap")
API_PORT = 6443
# Where kubeadm pulls the control plane's images without an imageRepository.
DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io"
# Where the probes' patches are written for kubeadm (its ``patches.directory``).
PATCHES_DIR = "/etc/kubernetes/kubeprep-patches"
# kubeadm's UpgradeConfiguration for a cluster's upgrade, on the nodes taking part.
UPGRADE_CONFIG = "/etc/kubernetes/kubeprep-upgrade.yaml"
# ClusterConfiguration's component names, and the static pods (and containers) they are, in
# the order they stand on each other: etcd, the API server on it, the others on the API server.
STATIC_PODS = {"etcd": "etcd", "apiServer": "kube-apiserver",
               "controllerManager": "kube-controller-manager", "scheduler": "kube-scheduler"}
# kube-controller-manager gives every node a /24 of the pod network (--node-cidr-mask-size).
NODE_POD_PREFIX = 24


_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
                        r"(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
_JOIN = re.compile(r"kubeadm join (\S+) --token (\S+)\s+--discovery-token-ca-cert-hash (\S+)")
_CERTIFICATE_KEY = re.compile(r"^[0-9a-f]{64}$")
# kubeadm's config API v1beta4 exists from Kubernetes 1.31 on.
OLDEST_MINOR = 31
ENDPOINT_FIX = ("give an address or DNS name every node reaches, with a port, e.g. "
                "'10.0.0.10:6443', or None for the first control plane's cluster_address")
POD_NETWORK_FIX = ("use a private IPv4 network of /16 (kubeadm's and flannel's 10.244.0.0/16) "
                   "that overlaps neither the service network nor the nodes' addresses")


@dataclass(frozen=True)
class CniManifest:
    url: str | None  # None: the user gives cni_manifest
    daemonset: tuple[str, str]  # namespace, name: present once the CNI is applied
    default_network: str | None  # the pod network written in the manifest, replaced by ours


# flannel's and calico's install pages apply these manifests; cilium is installed with its own
# CLI or Helm chart, so a manifest rendered from it (cni_manifest) is needed.
CNI_MANIFESTS: dict[str, CniManifest] = {
    "flannel": CniManifest(
        "https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml",
        ("kube-flannel", "kube-flannel-ds"), "10.244.0.0/16",
    ),
    "calico": CniManifest(
        "https://raw.githubusercontent.com/projectcalico/calico/v3.29.3/manifests/calico.yaml",
        ("kube-system", "calico-node"), None,  # calico takes kubeadm's podSubnet
    ),
    "cilium": CniManifest(None, ("kube-system", "cilium"), None),
}


class Kubernetes:
    """The keys the Kubernetes packages and kubeadm's config files are made from, one field per
    key (``KEYS``, as ``kubeprep.settings.Settings`` stores them; ``Settings.kubernetes`` makes
    one), and what follows from them."""

    KEYS = (
        "kubernetes_version", "kubernetes_repo_url", "kubernetes_allow_downgrade",
        "kubernetes_control_plane_endpoint", "kubernetes_swap_behavior", "kubernetes_config_file",
        "kubernetes_image_repository", "kubernetes_etcd_image_tag", "kubernetes_dns_image_tag",
        "kubernetes_encryption_algorithm", "kubernetes_control_plane_args",
        "kubernetes_control_plane_env", "kubernetes_kubelet_config", "kubernetes_timeouts",
        "kubernetes_control_plane_probes", "kubernetes_certificate_renewal_days",
        "kubernetes_etcd_snapshot_dir",
        "swap", "cgroup_driver", "cni", "cni_manifest", "cni_pod_cidr", "cni_service_cidr",
    )

    @property
    def minor(self) -> str:
        return ".".join(self.kubernetes_version.split(".")[:2])

    @property
    def repo_url(self) -> str:
        """The minor's repository, without /deb/ or /rpm/."""
        return self.kubernetes_repo_url.format(minor=self.minor).rstrip("/")

    def apt_url(self) -> str:
        return f"{self.repo_url}/deb/"

    def rpm_url(self) -> str:
        return f"{self.repo_url}/rpm/"


def url_target(url: str) -> str:
    """The ``host:port`` an http(s) URL connects to (its scheme's port when none is given)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    name = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{name}:{port}"


def endpoint_error(endpoint: str) -> str | None:
    """Why no node could reach the API server at ``endpoint`` ("host:port"), or None."""
    host_part, _, port = endpoint.rpartition(":")
    if not host_part or not port.isdigit() or not 0 < int(port) < 65536:
        return "not host:port"
    address = endpoint_address(endpoint)
    if address is None:
        if not _HOST_NAME.match(host_part) or host_part.lower() == "localhost":
            return "not an IP address or DNS name other nodes can resolve"
        return None
    if address.is_loopback or address.is_unspecified or address.is_link_local \
            or address.is_multicast:
        return "a loopback, unspecified, link-local or multicast address, which other nodes " \
               "cannot reach"
    return None


def endpoint_address(endpoint: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address of a "host:port" endpoint, None for a DNS name."""
    try:
        return ipaddress.ip_address(endpoint.rpartition(":")[0].strip("[]"))
    except ValueError:
        return None


def pod_network_error(pod_cidr: str, node_count: int) -> str | None:
    """Why the CNI and the controller-manager cannot hand ``node_count`` nodes pod addresses from
    the pod network (a /24 each), or None."""
    pods = ipaddress.ip_network(pod_cidr, strict=False)
    if pods.version != 4:
        return "kubeprep sets up single-stack IPv4 clusters"
    room = 2 ** (NODE_POD_PREFIX - pods.prefixlen) if pods.prefixlen <= NODE_POD_PREFIX else 0
    if room < node_count:
        return (f"holds {room} node networks of /{NODE_POD_PREFIX} (one per node), fewer than "
                f"the {node_count} nodes")
    return None


# --- packages


def version_glob(version: str) -> str:
    """The package version pattern for ``version``: '1.35.2-*' pins a patch, '1.35.*' a minor."""
    return f"{version}-*" if version.count(".") == 2 else f"{version}.*"


def upstream(package_version: str) -> tuple[int, ...]:
    """'1.35.2-1.1' (deb) or '1.35.2-150500.1.1' (rpm) as (1, 35, 2); another vendor's
    '1:528.0.0-0' (an epoch) as (528, 0, 0)."""
    version = package_version.split(":")[-1].split("-")[0]
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def matches(package_version: str, version: str) -> bool:
    """Whether an installed package version is the data's ``1.N`` or ``1.N.P``."""
    wanted = tuple(int(part) for part in version.split("."))
    return upstream(package_version)[:len(wanted)] == wanted


def downgrades(installed: Mapping[str, str], version: str) -> list[str]:
    """The packages installing ``version`` would downgrade, as 'kubeadm 1.35.2 -> 1.34'."""
    wanted = tuple(int(part) for part in version.split("."))
    return [
        f"{name} {'.'.join(map(str, upstream(found)))} -> {version}"
        for name, found in installed.items()
        if upstream(found)[:len(wanted)] > wanted
    ]


def downgrade_refused(
    installed: Mapping[str, str], version: str, allow_downgrade: bool,
) -> str | None:
    """Why installing ``version`` over the ``installed`` packages is refused: it would downgrade
    some and ``allow_downgrade`` is off; None when it is not."""
    lower = downgrades(installed, version)
    return f"would downgrade {', '.join(lower)}" if lower and not allow_downgrade else None


def minor_skipped(installed: Mapping[str, str], version: str) -> str | None:
    """The minor an upgrade from the installed kubeadm or kubelet to ``version`` would skip
    (kubeadm upgrades a cluster one minor at a time), as '1.37'; None when it skips none."""
    wanted = int(version.split(".")[1])
    minors = [upstream(installed[name])[1] for name in ("kubeadm", "kubelet")
              if name in installed and len(upstream(installed[name])) > 1
              and upstream(installed[name])[0] == 1]
    return f"1.{min(minors) + 1}" if minors and wanted > min(minors) + 1 else None


def apt_source(kube: Kubernetes, keyring: str) -> str:
    """The sources.list.d entry of the install guide, for the data's minor."""
    return f"deb [signed-by={keyring}] {kube.apt_url()} /\n"


def dnf_repo(kube: Kubernetes) -> str:
    """The yum.repos.d file of the install guide, for the data's minor."""
    return (
        "[kubernetes]\n"
        "name=Kubernetes\n"
        f"baseurl={kube.rpm_url()}\n"
        "enabled=1\n"
        "gpgcheck=1\n"
        f"gpgkey={kube.rpm_url()}repodata/repomd.xml.key\n"
        f"exclude={DNF_EXCLUDES}\n"
    )


# --- kubeadm's config file


@dataclass(frozen=True)
class JoinCredentials:
    """What ``kubeadm token create --print-join-command`` prints, and a certificate key."""

    endpoint: str
    token: str
    ca_cert_hash: str
    certificate_key: str | None = None


def _q(value: object) -> str:
    """A YAML scalar: JSON strings are YAML strings."""
    return json.dumps(value)


def control_plane_endpoint(kube: Kubernetes, first_address: str) -> str:
    return kube.kubernetes_control_plane_endpoint or f"{first_address}:{API_PORT}"


def _timeouts(timeouts: tuple[tuple[str, str], ...]) -> list[str]:
    return ["timeouts:", *(f"  {name}: {_q(duration)}" for name, duration in timeouts)] \
        if timeouts else []


def _patches(patched: bool) -> list[str]:
    return ["patches:", f"  directory: {_q(PATCHES_DIR)}"] if patched else []


def probe_patches(probes: tuple) -> dict[str, str]:
    """Each static pod's file in ``PATCHES_DIR`` with its probes' fields, a strategic merge patch
    named as kubeadm reads it (``kube-apiserver+strategic.json``), from
    ``kubernetes_control_plane_probes`` as stored: ``((component, ((probe, ((field, n),)),)),)``."""
    return {
        f"{STATIC_PODS[component]}+strategic.json": json.dumps({"spec": {"containers": [{
            "name": STATIC_PODS[component],
            **{probe: dict(fields) for probe, fields in entries},
        }]}}, sort_keys=True) + "\n"
        for component, entries in probes
    }


def _node_registration(address: str) -> list[str]:
    return [
        "nodeRegistration:",
        "  kubeletExtraArgs:",
        "    - name: node-ip",
        f"      value: {_q(address)}",
    ]


def init_config(kube: Kubernetes, address: str, endpoint: str) -> str:
    """InitConfiguration, ClusterConfiguration and KubeletConfiguration for the first control
    plane (kubeadm config API v1beta4, kubelet.config.k8s.io/v1beta1)."""
    cluster = [
        "apiVersion: kubeadm.k8s.io/v1beta4",
        "kind: ClusterConfiguration",
        f"controlPlaneEndpoint: {_q(endpoint)}",
        "networking:",
        f"  podSubnet: {_q(kube.cni_pod_cidr)}",
        f"  serviceSubnet: {_q(kube.cni_service_cidr)}",
    ]
    # A pinned patch is the control plane's version; with a minor alone, kubeadm's own (the
    # package's) is, without a lookup on dl.k8s.io.
    if kube.kubernetes_version.count(".") == 2:
        cluster.insert(2, f"kubernetesVersion: {_q('v' + kube.kubernetes_version)}")
    if kube.kubernetes_image_repository:
        cluster.append(f"imageRepository: {_q(kube.kubernetes_image_repository)}")
    if kube.kubernetes_encryption_algorithm:
        cluster.append(f"encryptionAlgorithm: {kube.kubernetes_encryption_algorithm}")
    etcd_tag = kube.kubernetes_etcd_image_tag
    etcd = [f"    imageTag: {_q(etcd_tag)}"] if etcd_tag else []
    components: dict[str, list[str]] = {}
    for field, entries in (("extraArgs", kube.kubernetes_control_plane_args),
                           ("extraEnvs", kube.kubernetes_control_plane_env)):
        for component, pairs in entries:
            components.setdefault(component, []).extend([f"{field}:", *(
                line for name, value in pairs
                for line in (f"  - name: {_q(name)}", f"    value: {_q(value)}"))])
    for component, lines in components.items():
        if component == "etcd":
            etcd += [f"    {line}" for line in lines]
        else:
            cluster += [f"{component}:", *(f"  {line}" for line in lines)]
    if etcd:
        cluster += ["etcd:", "  local:", *etcd]
    if kube.kubernetes_dns_image_tag:
        cluster += ["dns:", f"  imageTag: {_q(kube.kubernetes_dns_image_tag)}"]
    kubelet = [
        "apiVersion: kubelet.config.k8s.io/v1beta1",
        "kind: KubeletConfiguration",
        f"cgroupDriver: {kube.cgroup_driver}",
    ]
    if kube.swap == "keep":
        kubelet += ["failSwapOn: false", "memorySwap:",
                    f"  swapBehavior: {kube.kubernetes_swap_behavior}"]
    kubelet += [f"{name}: {_q(value)}" for name, value in kube.kubernetes_kubelet_config]
    init = [
        "apiVersion: kubeadm.k8s.io/v1beta4",
        "kind: InitConfiguration",
        "localAPIEndpoint:",
        f"  advertiseAddress: {_q(address)}",
        f"  bindPort: {API_PORT}",
        *_node_registration(address),
        *_timeouts(kube.kubernetes_timeouts),
        *_patches(bool(kube.kubernetes_control_plane_probes)),
    ]
    return "\n---\n".join("\n".join(part) for part in (init, cluster, kubelet)) + "\n"


def join_config(address: str, credentials: JoinCredentials, control_plane: bool,
                timeouts: tuple[tuple[str, str], ...] = (), patched: bool = False) -> str:
    """JoinConfiguration (v1beta4) for a worker, or a further control plane with its
    certificate key (and, ``patched``, the probes' patches in ``PATCHES_DIR``), with kubeadm's
    ``timeouts``. The kubelet's configuration comes from the cluster (kubelet-config)."""
    lines = [
        "apiVersion: kubeadm.k8s.io/v1beta4",
        "kind: JoinConfiguration",
        "discovery:",
        "  bootstrapToken:",
        f"    apiServerEndpoint: {_q(credentials.endpoint)}",
        f"    token: {_q(credentials.token)}",
        "    caCertHashes:",
        f"      - {_q(credentials.ca_cert_hash)}",
        *_node_registration(address),
        *_timeouts(timeouts),
    ]
    if control_plane:
        lines += [
            "controlPlane:",
            "  localAPIEndpoint:",
            f"    advertiseAddress: {_q(address)}",
            f"    bindPort: {API_PORT}",
            f"  certificateKey: {_q(credentials.certificate_key)}",
            *_patches(patched),
        ]
    return "\n".join(lines) + "\n"


def upgrade_config(timeouts: tuple[tuple[str, str], ...], patched: bool) -> str:
    """UpgradeConfiguration (v1beta4) for ``kubeadm upgrade apply`` and ``kubeadm upgrade
    node``: kubeadm's ``timeouts``, and, ``patched``, the probes' patches in ``PATCHES_DIR``
    again (kubeadm keeps none from the init or the join)."""
    patches = [f"  {line}" for line in _patches(patched)]
    lines = [
        "apiVersion: kubeadm.k8s.io/v1beta4",
        "kind: UpgradeConfiguration",
        *(["apply:", *patches, "node:", *patches] if patched else []),
        *_timeouts(timeouts),
    ]
    return "\n".join(lines) + "\n"


def parse_join_command(output: str) -> JoinCredentials | None:
    """The endpoint, token and CA hash in ``kubeadm token create --print-join-command`` output."""
    match = _JOIN.search(" ".join(output.replace("\\\n", " ").split()))
    return JoinCredentials(*match.groups()) if match else None


def parse_certificate_key(output: str) -> str | None:
    """The key ``kubeadm init phase upload-certs --upload-certs`` prints on its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines and _CERTIFICATE_KEY.match(lines[-1]) else None
