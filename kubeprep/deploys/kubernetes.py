"""kubernetes: the pkgs.k8s.io repository of the data's minor (or a mirror), kubeadm, kubelet
and kubectl at the data's version and held, the kubelet enabled."""

from io import StringIO

from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.operations import apt, files, systemd

from kubeprep.errors import DataError
from kubeprep.facts.kubernetes import KUBELET_CONF, KubeadmNode, KubernetesPackages
from kubeprep.facts.network import CONNECT_SECONDS, TcpAnswers
from kubeprep.facts.packages import PackageSources
from kubeprep.fleet import reads
from kubeprep.fleet.hosts import checked_host, refuse
from kubeprep.fleet.sources import sources_error
from kubeprep.keys import deploy_defaults
from kubeprep.kubeadm import (
    PACKAGES,
    apt_source,
    dnf_repo,
    downgrade_refused,
    matches,
    minor_skipped,
    url_target,
)
from kubeprep.operations import kubernetes as kubernetes_operations

KEYRINGS = "/etc/apt/keyrings"
APT_SOURCE = "/etc/apt/sources.list.d/kubernetes.list"
DNF_REPO = "/etc/yum.repos.d/kubernetes.repo"


@deploy("Kubernetes packages", data_defaults=deploy_defaults())
def kubernetes() -> None:
    """
    kubeadm, kubelet and kubectl at ``kubernetes_version``, held, from ``kubernetes_repo_url``
    (a lower version only with ``kubernetes_allow_downgrade``); the kubelet enabled.

    **Example:**

    .. code:: python

        from kubeprep.deploys.kubernetes import kubernetes

        kubernetes(_sudo=True)
    """
    checked = checked_host()
    if not checked:
        return
    settings, platform = checked
    kube = settings.kubernetes
    debian = platform.family == "debian"
    # What the Debian family needs to fetch the repository's key, from the distribution.
    fetchers = ["ca-certificates", "curl"] if debian else []
    packages, sources, node = reads.read_together(
        (KubernetesPackages, {}), (PackageSources, {"packages": fetchers}),
        (KubeadmNode, {"user": "root"}))
    # Refused before anything changes: a lower version without kubernetes_allow_downgrade.
    installed = packages["installed"]
    refused = downgrade_refused(installed, kube.kubernetes_version,
                                kube.kubernetes_allow_downgrade)
    if refused:
        refuse(DataError(
            f"{host.name}: kubernetes_version = {kube.kubernetes_version!r}: {refused}. "
            "Fix: set kubernetes_version to the installed version or newer, "
            "or kubernetes_allow_downgrade = True to downgrade on purpose.",
        ))
        return
    skipped = minor_skipped(installed, kube.kubernetes_version)
    if skipped:
        refuse(DataError(
            f"{host.name}: kubernetes_version = {kube.kubernetes_version!r}: would skip "
            f"{skipped} (kubeadm {installed.get('kubeadm', '?')}, kubelet "
            f"{installed.get('kubelet', '?')} installed): kubeadm upgrades a cluster one minor "
            f"at a time. Fix: set kubernetes_version = {skipped!r}, run, then the next minor.",
        ))
        return
    # A node of a running cluster: its kubeadm and kubelet move only with kubeadm's upgrade, in
    # the cluster stage; the packages alone would leave the cluster half-upgraded.
    moved = sorted(name for name in ("kubeadm", "kubelet") if name in installed
                   and not matches(installed[name], kube.kubernetes_version))
    upgraded = bool(moved) and KUBELET_CONF in node["files"]
    if upgraded and settings.deploy_until != "cluster":
        found = ", ".join(f"{name} {installed[name]}" for name in moved)
        refuse(DataError(
            f"{host.name}: kubernetes_version = {kube.kubernetes_version!r}: {host.name} is a "
            f"node of a running cluster ({KUBELET_CONF}) with {found}, upgraded only by kubeadm's "
            f"upgrade in the cluster stage (deploy_until = {settings.deploy_until!r} stops "
            "before it): the packages alone would leave the cluster half-upgraded. Fix: set "
            "deploy_until = \"cluster\", or kubernetes_version back to the version it runs.",
        ))
        return
    # Refused before anything changes too: packages to install from a repository that does
    # not answer this host (an air-gapped site without its mirror set).
    current = all(matches(installed.get(name, ""), kube.kubernetes_version) for name in PACKAGES)
    repository = kube.apt_url() if debian else kube.rpm_url()
    if not current and not _answers(repository):
        refuse(DataError(
            f"{host.name}: kubernetes_repo_url = {kube.kubernetes_repo_url!r}: {repository} "
            f"does not answer from {host.name} (no TCP connection to {url_target(repository)} "
            f"in {CONNECT_SECONDS} s), and kubeadm, kubelet and kubectl "
            f"{kube.kubernetes_version} come from it. Fix: set kubernetes_repo_url to a mirror "
            "this host reaches, or deploy_until = \"runtime\" to stop before the packages.",
        ))
        return
    refusal = sources_error(sources, "kubernetes", "runtime")
    if refusal:
        refuse(refusal)
        return
    if debian:
        apt.packages(
            name="Install what the Kubernetes repository needs",
            packages=fetchers, update=True, cache_time=86400,
        )
        files.directory(name=f"{KEYRINGS} exists", path=KEYRINGS, mode="755")
        keyring = f"{KEYRINGS}/kubernetes-v{kube.minor}.asc"
        files.download(
            name=f"Kubernetes {kube.minor} repository key", src=f"{kube.apt_url()}Release.key",
            dest=keyring, mode="644",
        )
        files.put(
            name=f"Kubernetes {kube.minor} repository", src=StringIO(apt_source(kube, keyring)),
            dest=APT_SOURCE, mode="644",
        )
    else:
        # dnf imports the key (gpgkey=) itself; exclude= holds the packages.
        files.put(
            name=f"Kubernetes {kube.minor} repository", src=StringIO(dnf_repo(kube)),
            dest=DNF_REPO, mode="644",
        )
    if upgraded:
        logger.info(f"{host.print_prefix}kubeprep: kubeadm, kubelet and kubectl go to "
                    f"{kube.kubernetes_version} with kubeadm's upgrade, in the cluster stage.")
    else:
        kubernetes_operations.packages(
            name=f"kubeadm, kubelet and kubectl {kube.kubernetes_version}, held",
            version=kube.kubernetes_version,
            apt=debian,
            allow_downgrade=kube.kubernetes_allow_downgrade,
        )
    systemd.service(name="kubelet enabled", service="kubelet", running=None, enabled=True)


def _answers(url: str) -> bool:
    target = url_target(url)
    return host.get_fact(TcpAnswers, targets=[target]).get(target, False)
