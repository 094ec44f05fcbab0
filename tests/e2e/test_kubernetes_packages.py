"""The kubernetes task on a lab VM with real apt and the lab's REAL Kubernetes: the repository,
pin, hold, upgrade and downgrade refusal against the lab's local repository laid out and signed like
pkgs.k8s.io, the image mirror through containerd, then the readiness check's package rows.

The repository and the registry are the lab's (lab/k8s-build/, lab/k8s-repo/build.sh): kubeadm,
kubelet, kubectl, cri-tools and kubernetes-cni packaged from binaries built from the
k8s.io/kubernetes module for the lab's two versions, and the images `kubeadm config images list`
names, served on the lab network by `lab/lab up` (192.168.77.250:8099 and :5000). w1 reaches them
only through the lab inventory's data keys (lab/inventory.py, KUBERNETES).

Only w1 runs the task (--limit w1: CI time). Starts from the converged lab test_readiness.py
leaves (deploy_until = runtime) and leaves w1 as it found it: packages, sources and keyrings
removed.
"""

from __future__ import annotations

import json
import os
import runpy
import time
from pathlib import Path

import pytest
from checkrun import run_check
from test_node_prep import changes_by_host, data_args, deploy, sh

from kubeprep.kubeadm import init_config
from kubeprep.settings import settings_from_data

pytestmark = pytest.mark.lab

LAB = Path(__file__).resolve().parents[2] / "lab"
INVENTORY = runpy.run_path(str(LAB / "inventory.py"))
OLD, NEW = INVENTORY["_KUBERNETES_VERSIONS"]  # the lab's default and the next minor
SERVER, PORT = "192.168.77.250", 8099
BASE_URL = f"http://{SERVER}:{PORT}"
MIRROR = f"http://{SERVER}:5000"
PACKAGES = ("kubeadm", "kubectl", "kubelet")
SOURCE = "/etc/apt/sources.list.d/kubernetes.list"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
CRICTL = "crictl --runtime-endpoint unix:///run/containerd/containerd.sock"
# What the file adds and removes on w1 (not apt's own auxfiles folder, made by any apt-get update).
APT_STATE = ("ls -d /etc/apt/sources.list.d/* /etc/apt/keyrings /etc/apt/keyrings/* "
             "/var/lib/kubelet 2>/dev/null; apt-mark showhold; ls /var/lib/apt/lists | grep -vx auxfiles; true")
INSTALLED = "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' | awk '$2 ~ /^.i/ {print $1}'"


def minor(version: str) -> str:
    return version.rsplit(".", 1)[0]


def companion(version: str, name: str) -> str:
    return INVENTORY["_COMPANIONS"][(minor(version), name)]


CACHE = Path(os.environ.get("KUBEPREP_LAB_CACHE", Path.home() / ".cache/kubeprep-lab")) / "k8s"


def repo_dir(version: str) -> Path:
    return CACHE / f"repo/core:/stable:/v{minor(version)}/deb"


def agnhost(version: str) -> str:
    """The lab's test image for ``version``: agnhost of that module, under e2e's name and tag."""
    tag = (CACHE / f"go/mod/k8s.io/kubernetes@v{version}/test/images/agnhost/VERSION").read_text()
    return f"registry.k8s.io/e2e-test-images/agnhost:{tag.strip()}"


@pytest.fixture(scope="module")
def repo(lab):
    """w1's state before the file; at the end w1 is put back (see ``restore``)."""
    # python3: curl comes with the task's first step
    fetch = (f"python3 -c \"import urllib.request; urllib.request.urlopen("
             f"'{BASE_URL}/core:/stable:/v{minor(OLD)}/deb/InRelease')\"")
    assert lab.run("w1", fetch).rc == 0, "w1 does not reach the lab's Kubernetes repository"
    before = {"installed": set(sh(lab, "w1", INSTALLED).split()), "apt": sh(lab, "w1", APT_STATE)}
    yield {"before": before}
    if lab.run("w1", f"test -e {SOURCE}").rc == 0:
        restore(lab, before)


def restore(lab, before: dict) -> None:
    """w1 as the other lab files expect it: the packages this file installed purged (holds
    released first), the sources entry, keyrings and the keyrings folder the task made removed,
    apt's lists read again."""
    added = set(sh(lab, "w1", INSTALLED).split()) - before["installed"]
    purge = " ".join(sorted(added))
    keep_keyrings = "/etc/apt/keyrings" in before["apt"]
    sh(lab, "w1",
       "apt-mark unhold kubeadm kubelet kubectl >/dev/null 2>&1; "
       f"{{ [ -z '{purge}' ] || DEBIAN_FRONTEND=noninteractive apt-get purge -y {purge}; }} && "
       f"rm -rf {SOURCE} /etc/apt/keyrings/kubernetes-v*.asc /var/lib/kubelet "
       f"{'' if keep_keyrings else '&& rmdir /etc/apt/keyrings'} && apt-get update -q")


def kube_data(version: str) -> list[str]:
    """w1 only, up to the kubernetes task, ``version`` as a string (the lab's repository and
    mirror come from lab/inventory.py)."""
    return ["--limit", "w1", "--data", "deploy_until=kubernetes",
            "--data", f"kubernetes_version={json.dumps(version)}"]


def versions(lab, node: str = "w1") -> dict[str, str]:
    out = sh(lab, node, "dpkg-query -W -f='${Package} ${Version}\\n' kubeadm kubelet kubectl "
                        "cri-tools kubernetes-cni 2>/dev/null; true")
    return dict(line.split() for line in out.splitlines() if len(line.split()) == 2)


def held(lab) -> list[str]:
    return sorted(sh(lab, "w1", "apt-mark showhold").split())


def check_installed_from_repo(lab, version: str) -> None:
    """The sources entry and keyring as pkgs.k8s.io's instructions lay them out, the signed
    repository read by apt, the packages at ``version`` (their dependencies at theirs), the three
    held, the binaries the real ones of ``version``, kubelet enabled with kubeadm's drop-in."""
    keyring = f"/etc/apt/keyrings/kubernetes-v{minor(version)}.asc"
    assert sh(lab, "w1", f"cat {SOURCE}") == \
        f"deb [signed-by={keyring}] {BASE_URL}/core:/stable:/v{minor(version)}/deb/ /\n"
    assert sh(lab, "w1", f"cat {keyring}") == (repo_dir(version) / "Release.key").read_text()
    # apt keeps a repository's InRelease only once its signature checked out with that key.
    lists = sh(lab, "w1", "ls /var/lib/apt/lists").split()
    assert f"{SERVER}:{PORT}_core:_stable:_v{minor(version)}_deb_InRelease" in lists, lists
    assert versions(lab) == {**dict.fromkeys(PACKAGES, f"{version}-1.1"),
                             "cri-tools": f"{companion(version, 'crictl')}-1.1",
                             "kubernetes-cni": f"{companion(version, 'cni-plugins')}-1.1"}
    assert held(lab) == list(PACKAGES)
    assert sh(lab, "w1", "kubeadm version -o short").strip() == f"v{version}"
    assert sh(lab, "w1", "kubelet --version").strip() == f"Kubernetes v{version}"
    client = sh(lab, "w1", "kubectl version --client")
    assert f"Client Version: v{version}" in client, client
    assert f"crictl version v{companion(version, 'crictl')}" in sh(lab, "w1", "crictl --version")
    unit = sh(lab, "w1", "systemctl cat kubelet")
    assert "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf" in unit, unit
    assert "--config=/var/lib/kubelet/config.yaml" in unit, unit
    assert sh(lab, "w1", "systemctl is-enabled kubelet").strip() == "enabled"


def test_a_repository_that_does_not_answer_is_refused_before_any_change(lab, repo):
    before = sh(lab, "w1", APT_STATE)
    closed = f"http://{SERVER}:9/core:/stable:/v{{minor}}"  # the lab server, nothing on port 9
    result = lab.pyinfra("--json", *data_args(lab), *kube_data(OLD),
                         "--data", f"kubernetes_repo_url={closed}", "deploy.py")
    output = result.stdout + result.stderr
    assert result.rc != 0, output[-4000:]
    assert (f"w1: kubernetes_repo_url = '{closed}': http://{SERVER}:9/core:/stable:/"
            f"v{minor(OLD)}/deb/ does not answer from w1 (no TCP connection to {SERVER}:9 in "
            "5 s)") in output, output[-4000:]
    assert 'deploy_until = "runtime"' in output
    assert sh(lab, "w1", APT_STATE) == before


def test_a_distribution_source_that_does_not_answer_is_refused_before_any_change(lab):
    """A network source next to the lab's local one, on a closed port of the lab server, and a
    containerd package w1 lacks: the runtime task refuses w1 before anything changes."""
    source = "/etc/apt/sources.list.d/kubeprep-test-closed.list"
    sh(lab, "w1", f"echo 'deb http://{SERVER}:9/debian bookworm main' > {source}")
    try:
        before = sh(lab, "w1", APT_STATE)
        result = lab.pyinfra("--json", *data_args(lab), "--limit", "w1",
                             "--data", "containerd_package=kubeprep-test-absent",
                             "tasks/runtime.py")
        after = sh(lab, "w1", APT_STATE)
    finally:
        sh(lab, "w1", f"rm -f {source}")
    output = " ".join((result.stdout + result.stderr).split())
    assert result.rc != 0, output[-4000:]
    assert (f"w1: the package source http://{SERVER}:9/debian does not answer from w1 (no TCP "
            f"connection to {SERVER}:9 in 5 s), and the runtime task installs "
            "kubeprep-test-absent") in output, output[-4000:]
    assert after == before


def test_an_image_registry_that_does_not_answer_is_refused_before_any_change(lab):
    """The lab is offline: registry.k8s.io does not answer, nor a mirror on a closed port."""
    state = "ls -A /etc/kubernetes /etc/containerd 2>/dev/null; true"
    before = sh(lab, "cp1", state)
    mirrors = {"registry.k8s.io": [f"http://{SERVER}:9"]}
    result = lab.pyinfra("--json", *data_args(lab), "--limit", "cp1",
                         "--data", "deploy_until=cluster",
                         "--data", f"containerd_registry_mirrors={json.dumps(mirrors)}",
                         "tasks/cluster.py")
    output = " ".join((result.stdout + result.stderr).split())
    assert result.rc != 0, output[-4000:]
    assert ("cp1: the image registry registry.k8s.io does not answer from cp1 (no TCP "
            f"connection to {SERVER}:9, registry.k8s.io:443 in 5 s), and kubeadm init pulls "
            "the control plane's images and kube-proxy and the pause image every pod starts "
            "from from it.") in output, output[-4000:]
    assert sh(lab, "cp1", state) == before


@pytest.fixture(scope="module")
def first_run(lab, repo):
    started = time.monotonic()
    results = deploy(lab, *kube_data(OLD))
    print(f"first kubernetes run on w1: {time.monotonic() - started:.0f} s")
    return results


def test_pinned_install_of_the_built_kubernetes_held(lab, repo, first_run):
    assert first_run["failed_hosts"] == [] and first_run["totals"]["error"] == 0
    changed = changes_by_host(first_run)
    assert set(changed) == {"w1"}
    assert f"kubeadm, kubelet and kubectl {OLD}, held" in changed["w1"]
    check_installed_from_repo(lab, OLD)


def test_rerun_changes_nothing(lab, repo, first_run):
    results = deploy(lab, *kube_data(OLD))
    assert results["failed_hosts"] == []
    assert changes_by_host(results) == {}


def test_an_image_is_pulled_through_the_mirror(lab, repo, first_run):
    """w1 is offline: registry.k8s.io answers it only through the lab's mirror, named by
    containerd_registry_mirrors (certs.d/registry.k8s.io/hosts.toml); the mirror logs the pull."""
    pause = INVENTORY["KUBERNETES"]["containerd_sandbox_image"]
    repository, tag = pause.removeprefix("registry.k8s.io/").split(":")
    sh(lab, "w1", f"{CRICTL} rmi {pause} >/dev/null 2>&1; true")
    log = LAB / ".state" / "serve-registry.log"  # lab/lib/serve.sh: the access log
    seen = log.stat().st_size
    assert "Image is up to date for sha256:" in sh(lab, "w1", f"{CRICTL} pull {pause}")
    # containerd resolves the tag (HEAD), then fetches by digest; ns= names the registry it
    # stands in for.
    asked = f"HEAD /v2/{repository}/manifests/{tag}?ns=registry.k8s.io "
    with log.open() as lines:
        lines.seek(seen)
        pulls = [line for line in lines if asked in line]
    assert any(line.startswith("192.168.77.21 ") for line in pulls), pulls


def images_kubeadm_lists(lab, version: str) -> set[str]:
    """`kubeadm config images list` of w1's kubeadm with the kubeadm config kubeprep renders from
    the lab's data for ``version`` (the etcd and CoreDNS tags of that minor's builds)."""
    data = {**runpy.run_path(str(LAB.parent / "group_data" / "all.py")),
            **runpy.run_path(str(LAB.parent / "group_data" / "workers.py")), **INVENTORY["KUBERNETES"],
            "kubernetes_version": version,
            # the tags of the builds served for that minor (lab/k8s-build/versions)
            "kubernetes_etcd_image_tag": f"{companion(version, 'etcd')}-0",
            "kubernetes_dns_image_tag": f"v{companion(version, 'coredns')}"}
    kube = settings_from_data("w1", ["workers"], data).kubernetes
    config = init_config(kube, "192.168.77.21", "192.168.77.11:6443")
    sh(lab, "w1", f"cat > /tmp/kubeadm-images.yaml <<'EOF'\n{config}EOF")
    return set(sh(lab, "w1", "kubeadm config images list --config /tmp/kubeadm-images.yaml "
                             "&& rm /tmp/kubeadm-images.yaml").split())


def served(lab) -> set[str]:
    """Every name:tag the mirror serves, under the registry it stands in for."""
    names = set()
    catalog = json.loads(sh(lab, "w1", f"curl -fsS {MIRROR}/v2/_catalog"))["repositories"]
    for repository in catalog:
        tags = json.loads(sh(lab, "w1", f"curl -fsS {MIRROR}/v2/{repository}/tags/list"))["tags"]
        registry = "ghcr.io" if repository.startswith("flannel-io/") else "registry.k8s.io"
        names |= {f"{registry}/{repository}:{tag}" for tag in tags}
    return names


@pytest.fixture(scope="module")
def listed_old(lab, repo, first_run) -> set[str]:
    return images_kubeadm_lists(lab, OLD)


def test_the_mirror_serves_every_image_kubeadm_lists(lab, repo, listed_old):
    assert f"registry.k8s.io/kube-apiserver:v{OLD}" in listed_old
    missing = listed_old - served(lab)
    assert not missing, missing


@pytest.fixture(scope="module")
def upgrade(lab, repo, first_run, listed_old):
    sh(lab, "w1", "cp /var/log/dpkg.log /tmp/dpkg.log.before")
    started = time.monotonic()
    results = deploy(lab, *kube_data(minor(NEW)))  # the minor alone: its newest patch
    print(f"upgrade run on w1: {time.monotonic() - started:.0f} s")
    log = sh(lab, "w1", "diff /tmp/dpkg.log.before /var/log/dpkg.log | grep ' upgrade '; true")
    return {"results": results, "dpkg_log": log}


def test_next_minor_moves_repository_and_upgrades_held_packages_kubeadm_first(
        lab, repo, upgrade):
    results = upgrade["results"]
    assert results["failed_hosts"] == [] and results["totals"]["error"] == 0
    changed = changes_by_host(results)["w1"]
    assert {f"Kubernetes {minor(NEW)} repository key", f"Kubernetes {minor(NEW)} repository",
            f"kubeadm, kubelet and kubectl {minor(NEW)}, held"} <= changed, changed
    check_installed_from_repo(lab, NEW)
    upgraded = [line.split()[4].split(":")[0] for line in upgrade["dpkg_log"].splitlines()]
    assert sorted(upgraded) == list(PACKAGES) and upgraded[0] == "kubeadm", upgrade["dpkg_log"]


def test_the_mirrors_catalogue_is_what_both_kubeadms_list_flannel_and_agnhost(lab, repo, listed_old,
                                                                       upgrade):
    listed = listed_old | images_kubeadm_lists(lab, NEW)
    cni_and_tests = {image for version in (OLD, NEW) for image in (
        f"ghcr.io/flannel-io/flannel:v{companion(version, 'flanneld')}", agnhost(version))}
    assert served(lab) == listed | cni_and_tests


def test_lower_version_refused_before_any_change(lab, repo, upgrade):
    state = "cat /etc/apt/sources.list.d/*.list; ls /etc/apt/keyrings; apt-mark showhold; " \
            "md5sum /var/lib/dpkg/status"
    before = sh(lab, "w1", state)
    result = lab.pyinfra("--json", *data_args(lab), *kube_data(OLD), "deploy.py")
    output = result.stdout + result.stderr
    assert result.rc != 0, output[-4000:]
    assert f"kubernetes_version = '{OLD}': would downgrade kubeadm {NEW} -> {OLD}" in output, \
        output[-4000:]
    assert "kubernetes_allow_downgrade = True" in output
    assert sh(lab, "w1", state) == before
    assert {name: versions(lab)[name] for name in PACKAGES} == dict.fromkeys(PACKAGES, f"{NEW}-1.1")


def statuses_and_rows(data: dict) -> dict[str, list[tuple[str, str]]]:
    """Node -> the (level, detail) of its package rows."""
    return {node: [(row["level"], row["detail"]) for row in found["checks"]
                   if row["check"] == "packages"]
            for node, found in data["nodes"].items()}


WRITE_KUBELET_CONFIG = (
    "mkdir -p /var/lib/kubelet && printf '%s\\n' 'apiVersion: kubelet.config.k8s.io/v1beta1' "
    "'kind: KubeletConfiguration' 'cgroupDriver: {driver}' > " + KUBELET_CONFIG
)


def test_readiness_rows_held_packages_one_node_installed(lab, repo, upgrade, tmp_path,
                                                          monkeypatch):
    """w1 upgraded with a kubelet config that says systemd (as kubeadm writes it), cp1 and w2
    without packages: no fleet version row (one kubelet only), w1's packages ok, the others not
    installed yet."""
    sh(lab, "w1", WRITE_KUBELET_CONFIG.format(driver="systemd"))
    result, data = run_check(lab, tmp_path, monkeypatch,
                             "--data", f"kubernetes_version={json.dumps(NEW)}")
    rows = statuses_and_rows(data)
    versions_text = ", ".join(f"{name} {NEW}" for name in PACKAGES)  # dpkg-query's order
    assert rows["w1"] == [("ok", f"{versions_text}, held; kubelet.service enabled; kubelet and "
                                 "containerd: systemd cgroups")], result.stdout
    for node in ("cp1", "w2"):
        assert rows[node] == [("warning", "kubeadm and kubelet not installed yet")], rows[node]


def test_readiness_rows_fleet_versions_and_kubelet_cgroup_driver(lab, repo, upgrade, tmp_path,
                                                                 monkeypatch):
    """The older minor's kubelet package on w2 (dpkg -i without its dependencies, unheld) and a
    kubelet config with cgroupfs on w1 (containerd runs systemd): versions disagree across the
    fleet, the drivers on w1 do not match."""
    deb = f"kubelet_{OLD}-1.1_amd64.deb"
    sh(lab, "w2", f"python3 -c \"import urllib.request; urllib.request.urlretrieve("
                  f"'{BASE_URL}/core:/stable:/v{minor(OLD)}/deb/{deb}', '/tmp/{deb}')\" && "
                  f"dpkg --force-depends -i /tmp/{deb} && rm /tmp/{deb}")
    try:
        sh(lab, "w1", WRITE_KUBELET_CONFIG.format(driver="cgroupfs"))
        result, data = run_check(lab, tmp_path, monkeypatch,
                                 "--data", f"kubernetes_version={json.dumps(NEW)}")
    finally:
        sh(lab, "w2", "dpkg --purge kubelet")
    print(result.stdout)
    assert result.rc != 0
    rows = statuses_and_rows(data)
    assert ("error", f"kubelet {NEW} here, other versions on w2 {OLD}") in rows["w1"], rows["w1"]
    assert ("error", f"kubelet {OLD} here, other versions on w1 {NEW}") in rows["w2"], rows["w2"]
    assert ("error", "the kubelet's cgroupDriver is cgroupfs (/var/lib/kubelet/config.yaml), "
                     "containerd's systemd: the static Pods crash-loop") in rows["w1"], rows["w1"]
    assert ("error", "not installed: kubeadm kubectl") in rows["w2"], rows["w2"]
    assert ("warning", "not held: kubelet (a system upgrade would move them past the cluster)") \
        in rows["w2"], rows["w2"]
    assert rows["cp1"] == [("warning", "kubeadm and kubelet not installed yet")]


def test_w1_left_as_the_other_lab_files_expect(lab, repo):
    restore(lab, repo["before"])
    assert set(sh(lab, "w1", INSTALLED).split()) == repo["before"]["installed"]
    assert sh(lab, "w1", APT_STATE) == repo["before"]["apt"]

