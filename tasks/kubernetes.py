"""kubernetes: the pkgs.k8s.io repository of the data's minor (or a mirror), kubeadm, kubelet
and kubectl at the data's version and held, the kubelet enabled."""

from io import StringIO

from pyinfra import host
from pyinfra.operations import apt, files, systemd

from kubeprep.errors import DataError
from kubeprep.facts.kubernetes import KubernetesPackages
from kubeprep.fleet.hosts import checked_host, refuse
from kubeprep.kubeadm import apt_source, dnf_repo, downgrade_refused
from kubeprep.operations import kubernetes

KEYRINGS = "/etc/apt/keyrings"
APT_SOURCE = "/etc/apt/sources.list.d/kubernetes.list"
DNF_REPO = "/etc/yum.repos.d/kubernetes.repo"

checked = checked_host()
kube = checked and checked[0].kubernetes
# Refused before anything changes: a lower version without kubernetes_allow_downgrade.
refused = kube and downgrade_refused(host.get_fact(KubernetesPackages)["installed"],
                                     kube.kubernetes_version, kube.kubernetes_allow_downgrade)
if refused:
    refuse(DataError(
        f"{host.name}: kubernetes_version = {kube.kubernetes_version!r}: {refused}. "
        "Fix: set kubernetes_version to the installed version or newer, "
        "or kubernetes_allow_downgrade = True to downgrade on purpose.",
    ))
elif checked:
    _, platform = checked
    debian = platform.family == "debian"
    if debian:
        apt.packages(
            name="Install what the Kubernetes repository needs",
            packages=["ca-certificates", "curl"], update=True, cache_time=86400,
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
    kubernetes.packages(
        name=f"kubeadm, kubelet and kubectl {kube.kubernetes_version}, held",
        version=kube.kubernetes_version,
        apt=debian,
        allow_downgrade=kube.kubernetes_allow_downgrade,
    )
    systemd.service(name="kubelet enabled", service="kubelet", running=None, enabled=True)
