"""The runtime task: containerd's data, its config per major version, its state classified, and
tasks/runtime.py on fresh, converged, hand-edited and upgraded Rocky 8/9, Debian 12 and Ubuntu.

The containerd states are real output of ``kubeprep.facts.containerd.ContainerdState``'s command with
Debian's containerd 1.6.20 (bookworm), 1.7.24 (trixie) and 2.1.9 (sid) reading each case's file
(tests/fact_cases/containerd.ContainerdState; see tests/host_states.py for what is composed).
"""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path

import pytest
from host_states import DEBIAN_12, ROCKY_8, ROCKY_9, converged, fresh, runtime_state
from taskrun import group_data, run_deploy

from kubeprep.checks.model import ERROR, OK, WARNING
from kubeprep.checks.software import classify
from kubeprep.containerd import (
    effective_settings,
    image_registry,
    parse_version,
    render_config,
    render_hosts,
)
from kubeprep.settings import key_problem

CASES = Path(__file__).parent / "fact_cases" / "containerd.ContainerdState"
PAUSE = "registry.k8s.io/pause:3.10"
UBUNTU_2404 = {
    "name": "Ubuntu",
    "major": 24,
    "minor": 4,
    "release_meta": {"ID": "ubuntu", "ID_LIKE": "debian", "VERSION_ID": "24.04",
                     "VERSION_CODENAME": "noble"},
}
PLATFORMS = {
    "rocky8": ("rhel", ROCKY_8),
    "rocky9": ("rhel", ROCKY_9),
    "debian12": ("debian", DEBIAN_12),
    "ubuntu2404": ("debian", UBUNTU_2404),
}
CONFIGURED = "containerd configured for the kubelet, running and enabled"
CONFIG = "/etc/containerd/config.toml"


def case_fact(name: str) -> dict:
    return json.loads((CASES / f"{name}.json").read_text())["fact"]


# ------------------------------------------------------------------------- config rendering

@pytest.mark.parametrize(("case", "version", "bin_dir", "mirrors"), [
    ("debian12_converged_1_6", (1, 6, 20), "/usr/lib/cni", False),
    ("converged_1_7_opt_cni_bin", (1, 7, 24), "/opt/cni/bin", False),
    ("sid_2_1_converged_with_mirror", (2, 1, 9), "/usr/lib/cni", True),
])
def test_rendered_config_is_read_as_intended_by_that_version(case, version, bin_dir, mirrors):
    """The case's file is today's rendering, and the real ``containerd config dump`` of that
    version (recorded in the case) shows every setting in effect."""
    fact = case_fact(case)
    assert parse_version(fact["version"]) == version
    assert fact["config"] == render_config(version, "systemd", PAUSE, bin_dir, mirrors)
    assert fact["effective"] == {
        "config_version": 3 if version[0] == 2 else 2,
        "systemd_cgroup": True,
        "sandbox_image": PAUSE,
        "cni_bin_dirs": [bin_dir],
        "config_path": "/etc/containerd/certs.d" if mirrors else "",
        "cri_disabled": [],
    }


def test_each_major_version_gets_its_own_sections():
    v2 = tomllib.loads(render_config((1, 7, 24), "systemd", PAUSE, "/usr/lib/cni", True))
    v3 = tomllib.loads(render_config((2, 1, 9), "cgroupfs", PAUSE, "/opt/cni/bin", False))
    assert v2["version"] == 2 and set(v2["plugins"]) == {"io.containerd.grpc.v1.cri"}
    assert v3["version"] == 3
    assert set(v3["plugins"]) == {"io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"}
    assert effective_settings(v3)["systemd_cgroup"] is False
    assert "registry" not in v3["plugins"]["io.containerd.cri.v1.images"]
    # 2.0 reads only bin_dir; 2.1 replaced it by bin_dirs.
    v30 = tomllib.loads(render_config((2, 0, 4), "systemd", PAUSE, "/opt/cni/bin", False))
    assert v30["plugins"]["io.containerd.cri.v1.runtime"]["cni"] == {"bin_dir": "/opt/cni/bin"}


def test_packaged_version_2_file_on_2_x_is_migrated_but_not_kubeprep_s():
    """Debian sid still ships a version 2 file: containerd 2.1.9 converts it on every start."""
    fact = case_fact("sid_2_1_upgraded_with_packaged_version_2_file")
    assert tomllib.loads(fact["config"])["version"] == 2
    assert fact["effective"]["config_version"] == 3
    assert fact["effective"]["systemd_cgroup"] is False


def test_hosts_file_tries_each_mirror_then_the_registry():
    hosts = tomllib.loads(render_hosts("docker.io", ["https://a.example:5000", "http://10.0.0.5"]))
    assert hosts["server"] == "https://registry-1.docker.io"
    assert list(hosts["host"]) == ["https://a.example:5000", "http://10.0.0.5"]
    assert all(entry["capabilities"] == ["pull", "resolve"] for entry in hosts["host"].values())
    assert tomllib.loads(render_hosts("quay.io", ["https://m"]))["server"] == "https://quay.io"


@pytest.mark.parametrize(("text", "version"), [
    ("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3", (1, 6, 20)),
    ("containerd github.com/containerd/containerd/v2 2.1.9+unknown", (2, 1, 9)),
    ("containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da", (1, 7, 27)),
    ("2.1.9+ds1-5", (2, 1, 9)),
    ("1.7.27-3.1.el9", (1, 7, 27)),
    (None, None),
    ("containerd: command not found", None),
])
def test_version_from_containerd_or_a_package(text, version):
    assert parse_version(text) == version


# ------------------------------------------------------------------------------ data

@pytest.mark.parametrize(("key", "value", "problem"), [
    ("cgroup_driver", "system", "unknown cgroup driver"),
    ("containerd_sandbox_image", "pause:3.10", "with a registry host"),
    ("containerd_sandbox_image", "k8s/pause:3.10", "with a registry host"),
    ("containerd_registry_mirrors", {"docker.io": ["mirror.example.com:5000"]}, "not a mirror URL"),
    ("containerd_registry_mirrors", {"docker.io": ["https://m.example/ x"]}, "not a mirror URL"),
    ("containerd_registry_mirrors", {"docker.io": "https://m.example"}, "non-empty list"),
    ("containerd_registry_mirrors", {"https://docker.io": ["https://m"]}, "not a registry host"),
    ("containerd_version", "latest", "not a package version"),
    ("containerd_rpm_repo", "download.docker.com/linux", "not an http(s)"),
    ("containerd_cni_bin_dir", "opt/cni/bin", "not an absolute path"),
])
def test_bad_runtime_data_is_named_with_a_fix(key, value, problem):
    data = {**group_data("workers"), key: value}
    found = key_problem(data)
    assert found is not None
    assert found[0].startswith(key) and problem in found[2] and found[3]


def test_shipped_defaults_and_good_values_pass():
    assert key_problem(group_data("workers")) is None
    good = {
        **group_data("workers"),
        "cgroup_driver": "cgroupfs",
        "containerd_sandbox_image": "localhost/pause:3.10",
        "containerd_registry_mirrors": {"docker.io": ["http://10.0.0.5:5000/v2"],
                                        "10.0.0.5:5000": ["https://m.example"]},
        "containerd_version": "1:1.7.24~ds1-6+deb13u1",
    }
    assert key_problem(good) is None


@pytest.mark.parametrize(("data", "message"), [
    ({"cgroup_driver": "cgroupfs2"}, "node: cgroup_driver = 'cgroupfs2': unknown cgroup driver"),
    ({"containerd_sandbox_image": "pause:3.10"}, "node: containerd_sandbox_image = 'pause:3.10'"),
    ({"containerd_registry_mirrors": {"docker.io": ["ftp://m"]}},
     "node: containerd_registry_mirrors['docker.io'] = 'ftp://m': not a mirror URL"),
])
def test_bad_runtime_data_fails_the_host_before_any_operation(data, message):
    run = run_deploy("deploy.py", fresh("rhel"), data=data)
    assert run.failed and run.ops == []
    assert len(run.errors) == 1 and message in run.errors[0] and "Fix: " in run.errors[0]


# --------------------------------------------------------------------------- the task

def host(platform: str, state: str) -> dict:
    """A host of ``platform`` whose containerd is in ``state``: fresh (not installed), converged,
    hand_edited (SystemdCgroup = false) or upgraded (1.7 -> 2.1, kubeprep's version 2 file)."""
    family, release = PLATFORMS[platform]
    facts = copy.deepcopy(fresh(family) if state == "fresh" else converged(family))
    facts["server.LinuxDistribution"] = release
    debian_case = {"hand_edited": "trixie_1_7_hand_edited_systemd_cgroup_false",
                   "upgraded": "sid_2_1_upgraded_with_kubeprep_1_x_file"}
    rhel_case = {"hand_edited": "rhel_1_7_hand_edited_systemd_cgroup_false_opt_cni_bin",
                 "upgraded": "rhel_2_1_upgraded_with_kubeprep_1_x_file_opt_cni_bin"}
    if state in debian_case:
        name = (rhel_case if family == "rhel" else debian_case)[state]
        facts["containerd.ContainerdState"] = runtime_state(family, name)
    return facts


@pytest.mark.parametrize("platform", PLATFORMS)
def test_fresh_host_installs_and_configures(platform):
    family = PLATFORMS[platform][0]
    run = run_deploy("tasks/runtime.py", host(platform, "fresh"))
    if family == "rhel":
        repo = run.commands("Add the containerd.io repository")
        assert repo[1][2] == "/etc/yum.repos.d/docker-ce-stable.repo"
        assert "gpgkey=https://download.docker.com/linux/centos/gpg\n" in repo[1][1]
        assert run.commands("Install containerd") == ["dnf install -y containerd.io"]
    else:
        # with the distribution's CNI plugins, in /usr/lib/cni where the config points
        assert run.commands("Install containerd")[-1].endswith(
            " install containerd containernetworking-plugins")
    commands = run.commands(CONFIGURED)
    # Planned before containerd is installed: 1.x unless data pins a version.
    assert commands[0] == "mkdir -p /etc/containerd"
    assert commands[1][0] == "upload" and commands[1][2] == CONFIG
    effective = effective_settings(tomllib.loads(commands[1][1]))
    assert effective["systemd_cgroup"] is True and effective["config_version"] == 2
    assert effective["cni_bin_dirs"] == [{"rhel": "/opt/cni/bin", "debian": "/usr/lib/cni"}[family]]
    assert commands[-2:] == ["systemctl start containerd.service",
                             "systemctl enable containerd.service"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_converged_host_reports_no_change(platform):
    run = run_deploy("tasks/runtime.py", host(platform, "converged"))
    assert run.ops and run.changes == {}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_hand_edited_systemd_cgroup_is_written_back_and_restarted(platform):
    run = run_deploy("tasks/runtime.py", host(platform, "hand_edited"))
    changes = run.changes
    commands = changes.pop(CONFIGURED)
    assert changes == {}
    assert tomllib.loads(commands[0][1])["plugins"]["io.containerd.grpc.v1.cri"]["containerd"][
        "runtimes"]["runc"]["options"] == {"SystemdCgroup": True}
    assert commands[1:] == [f"chmod 644 {CONFIG}", "systemctl restart containerd.service"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_upgrade_to_2_x_rewrites_the_version_2_file_as_version_3(platform):
    run = run_deploy("tasks/runtime.py", host(platform, "upgraded"))
    changes = run.changes
    commands = changes.pop(CONFIGURED)
    assert changes == {}
    written = tomllib.loads(commands[0][1])
    assert written["version"] == 3
    assert effective_settings(written)["systemd_cgroup"] is True
    assert written["plugins"]["io.containerd.cri.v1.images"]["pinned_images"] == {"sandbox": PAUSE}
    assert commands[-1] == "systemctl restart containerd.service"


def test_pinned_2_x_on_a_fresh_host_plans_the_version_3_file():
    run = run_deploy("tasks/runtime.py", host("debian12", "fresh"),
                     data={"containerd_version": "2.1.9+ds1-5"})
    assert run.commands("Install containerd")[-1].endswith(
        " install containerd=2.1.9+ds1-5 containernetworking-plugins")
    assert tomllib.loads(run.commands(CONFIGURED)[1][1])["version"] == 3


def test_air_gapped_rhel_host_uses_its_mirror_or_no_repository():
    run = run_deploy("tasks/runtime.py", host("rocky9", "fresh"), data={
        "containerd_rpm_repo": "https://repo.internal/docker/$releasever/$basearch/stable",
        "containerd_rpm_gpg_key": None, "containerd_package": "containerd.io",
        "containerd_version": "1.7.27-3.1.el9",
    })
    repo = run.commands("Add the containerd.io repository")[1][1]
    assert "baseurl=https://repo.internal/docker/$releasever/$basearch/stable\n" in repo
    assert "gpgcheck=0\n" in repo
    assert run.commands("Install containerd") == ["dnf install -y containerd.io=1.7.27-3.1.el9"]
    run = run_deploy("tasks/runtime.py", host("rocky9", "fresh"), data={"containerd_rpm_repo": None})
    assert [name for name, _ in run.ops] == ["Install containerd", CONFIGURED]


def test_mirrors_from_data_reach_config_path_and_hosts_files():
    mirrors = {"docker.io": ["https://mirror.example.com:5000"]}
    run = run_deploy("tasks/runtime.py", host("debian12", "converged"),
                     data={"containerd_registry_mirrors": mirrors})
    changes = run.changes
    commands = changes.pop(CONFIGURED)
    assert changes == {}
    assert effective_settings(tomllib.loads(commands[0][1]))["config_path"] == (
        "/etc/containerd/certs.d"
    )
    assert commands[2] == "mkdir -p /etc/containerd/certs.d/docker.io"
    assert commands[3][2] == "/etc/containerd/certs.d/docker.io/hosts.toml"
    assert commands[-1] == "systemctl restart containerd.service"


def test_runtime_task_reads_containerd_once():
    run = run_deploy("tasks/runtime.py", host("rocky8", "converged"))
    configured = dict(zip([name for name, _ in run.ops], run.fact_reads, strict=True))[CONFIGURED]
    assert configured == {"containerd.ContainerdState": 1}


# ------------------------------------------------------------------------ readiness rows

def levels(fact: dict, driver: str = "systemd") -> list[str]:
    return [row.level for row in classify(fact, driver)]


def test_converged_node_is_ready():
    fact = case_fact("debian12_converged_1_6")
    assert levels(fact) == [OK] * 5
    assert classify(fact)[3].detail == f"sandbox image {PAUSE} present"


@pytest.mark.parametrize(("case", "row", "detail"), [
    ("trixie_1_7_hand_edited_systemd_cgroup_false", 2, "SystemdCgroup = false in effect"),
    ("docker_containerd_io_config_cri_disabled", 1, "the CRI plugin is disabled (cri)"),
    ("docker_containerd_io_config_cri_disabled", 4, "CNI plugins in /opt/cni/bin: none"),
    ("debian12_stopped_and_disabled", 0, "containerd 1.6.20~ds1 inactive"),
    ("debian12_stopped_and_disabled", 1, "missing"),
    ("debian12_fresh_1_6_packaged_config", 4, "CNI plugins in /usr/lib/cni: none"),
])
def test_runtime_problem_is_an_error_row(case, row, detail):
    results = classify(case_fact(case))
    assert results[row].level == ERROR and detail in results[row].detail and results[row].fix


def test_sandbox_image_not_pulled_yet_is_a_warning_row():
    """containerd pulls it for the first pod; only an air-gapped node must import it first."""
    row = classify(case_fact("sid_2_1_upgraded_with_packaged_version_2_file"))[3]
    assert row.level == WARNING and "not in the k8s.io namespace: containerd pulls it" in row.detail
    assert row.fix


def test_cgroupfs_node_is_ready_only_without_systemd_cgroup():
    assert levels(case_fact("trixie_1_7_hand_edited_systemd_cgroup_false"), "cgroupfs")[2] == OK
    assert levels(case_fact("debian12_converged_1_6"), "cgroupfs")[2] == ERROR


def test_missing_containerd_is_one_error():
    results = classify(case_fact("not_installed"))
    assert [(row.level, row.detail) for row in results] == [(ERROR, "containerd is not installed")]



@pytest.mark.parametrize(("image", "registry"), [
    ("registry.k8s.io/pause:3.10", "registry.k8s.io"),
    ("192.168.77.250:5000/k8s/kube-proxy", "192.168.77.250:5000"),
    ("localhost/pause", "localhost"),
    ("flannel/flannel:v0.26", "docker.io"),
    ("busybox", "docker.io"),
])
def test_an_images_registry_by_dockers_rule(image, registry):
    assert image_registry(image) == registry
