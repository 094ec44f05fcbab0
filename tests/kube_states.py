"""Facts of hosts for the kubernetes and cluster task tests, from the fact cases.

Package output: tests/fact_cases/kubernetes.KubernetesPackages (dpkg-query read against packages
built by lab/k8s-repo/build.sh; rpm lines in rpm's query format). kubeadm's files:
tests/fact_cases/kubernetes.KubeadmNode (the fact's command run on a Debian 12 host), plus the
same command for user root, read the same way.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

from host_states import DEBIAN_12, ROCKY_8, ROCKY_9, Answering, Installed
from taskrun import ByArguments

from kubeprep.kubeadm import apt_source, dnf_repo
from kubeprep.settings import settings_from_data

CASES = Path(__file__).parent / "fact_cases"
UBUNTU_24 = {
    "name": "Ubuntu",
    "major": 24,
    "minor": 4,
    "release_meta": {"ID": "ubuntu", "VERSION_ID": "24.04", "VERSION_CODENAME": "noble"},
}
PLATFORMS = {"rocky8": ROCKY_8, "rocky9": ROCKY_9, "debian12": DEBIAN_12, "ubuntu2404": UBUNTU_24}
DIRECTORY = {"mode": 755, "user": "root", "group": "root"}
FILE = {"mode": 644, "user": "root", "group": "root", "size": 100, "mtime": datetime.now()}
# The same command as kubernetes.KubeadmNode's cases, for user root: /root has no .kube.
ROOT_HOME = "home=/root\ngroup=root"


def case_output(fact: str, case: str) -> dict:
    """A fact case's raw output, for the fact's own process()."""
    return {"output": "\n".join(json.loads((CASES / fact / f"{case}.json").read_text())["output"])}


def expiry_output(**days_left: int) -> list[str]:
    """``kubeadm certs check-expiration -o json`` from the lab's cp1 (kubernetes.CertificateExpiry
    case lab_cp1_after_init), with the named certificates' residual time set to so many days."""
    lines = json.loads((CASES / "kubernetes.CertificateExpiry" / "lab_cp1_after_init.json")
                       .read_text())["output"]
    info = json.loads("\n".join(lines))
    for entry in info["certificates"] + info["certificateAuthorities"]:
        if entry["name"] in days_left:
            entry["residualTime"] = days_left[entry["name"]] * 86400 + 3600
    return json.dumps(info, indent=4).split("\n")


def kubeadm_files(case: str) -> str:
    """The KubeadmNode case's lines that describe /etc/kubernetes (user independent)."""
    lines = case_output("kubernetes.KubeadmNode", case)["output"].split("\n")
    return "\n".join(line for line in lines if line.startswith("file=") and "/etc/" in line)


def kubeadm_node(case: str, admin: str = "kubeadmin") -> ByArguments:
    """kubernetes.KubeadmNode for root and the admin user, in the state of a fact case."""
    own = "\n".join(line for line in (ROOT_HOME, kubeadm_files(case)) if line)
    return ByArguments({
        "user=root": {"output": own},
        f"user={admin}": case_output("kubernetes.KubeadmNode", case),
    })


def packages_facts(platform: str, packages_case: str, repo_version: str | None,
                   data: dict | None = None) -> dict:
    """A host for tasks/kubernetes.py: packages as in ``packages_case``; the repository files
    of ``repo_version``'s minor written by kubeprep (None: no repository configured yet)."""
    from taskrun import group_data

    rhel = platform.startswith("rocky")
    facts = {
        "server.LinuxDistribution": PLATFORMS[platform],
        "kubernetes.KubernetesPackages": case_output(
            "kubernetes.KubernetesPackages", packages_case,
        ),
        "deb.DebPackages": {"ca-certificates": ["20230311"], "curl": ["7.88.1-10+deb12u8"]},
        "apt.AptSources": [],
        "rpm.RpmPackages": {},
        "server.Date": datetime.now(),
        "server.TmpDir": "/tmp",
        "server.Which": "/usr/bin/curl",
        "files.Directory": OthersMissing({f"path={path}": DIRECTORY for path in (
            "/etc/apt/keyrings", "/etc/apt/sources.list.d", "/etc/yum.repos.d",
        )}),
        "systemd.SystemdStatus": {"kubelet.service": False},
        "systemd.SystemdEnabled": {"kubelet.service": repo_version is not None},
        "network.TcpAnswers": Answering(),
        "packages.PackageSources": Installed("rhel" if rhel else "debian",
                                             ("ca-certificates", "curl")),
        "kubernetes.KubeadmNode": kubeadm_node("fresh"),
    }
    files, sha1 = {"path=/var/lib/apt/periodic/update-success-stamp": FILE}, {}
    if repo_version:
        kube = settings_from_data("node", ["control_plane"], {
            **group_data("control_plane"), **(data or {}), "kubernetes_version": repo_version,
        }).kubernetes
        if rhel:
            content, path = dnf_repo(kube), "/etc/yum.repos.d/kubernetes.repo"
        else:
            keyring = f"/etc/apt/keyrings/kubernetes-v{kube.minor}.asc"
            content, path = apt_source(kube, keyring), "/etc/apt/sources.list.d/kubernetes.list"
            files[f"path={keyring}"] = FILE
        files[f"path={path}"] = FILE
        sha1[f"path={path}"] = hashlib.sha1(content.encode()).hexdigest()
    facts["files.File"] = OthersMissing(files)
    facts["files.Sha1File"] = OthersMissing(sha1)
    return facts


class OthersMissing(ByArguments):
    """A file fact: these paths exist, every other path does not."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str):
        return dict.get(self, key)
