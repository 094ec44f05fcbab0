"""The Kubernetes packages: data checks, versions, the repository, and tasks/kubernetes.py on
fresh, converged, half-upgraded and version-changed Rocky 8/9, Debian 12 and Ubuntu 24.04 hosts."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from host_states import Installed
from kube_states import Answering, kubeadm_node, packages_facts
from taskrun import group_data, run_deploy

from kubeprep.errors import DataError
from kubeprep.kubeadm import downgrades, matches, upstream, version_glob
from kubeprep.settings import cluster_error, key_problem, settings_from_data

DEB_PLATFORMS = ["debian12", "ubuntu2404"]
RPM_PLATFORMS = ["rocky8", "rocky9"]
REPO_OPS = {
    "deb": [
        "Install what the Kubernetes repository needs",
        "/etc/apt/keyrings exists",
        "Kubernetes 1.36 repository key",
        "Kubernetes 1.36 repository",
    ],
}


def data(**over) -> dict:
    return {**group_data("control_plane"), "cluster_address": "192.168.77.11", **over}


def refused(**over) -> str:
    """The message settings_from_data refuses ``data(**over)`` with."""
    with pytest.raises(DataError) as error:
        settings_from_data("cp1", ["control_plane"], data(**over))
    return str(error.value)


# --- data


@pytest.mark.parametrize("version", ["1.35", "1.35.2", "1.31", "1.40.11"])
def test_versions_accepted(version):
    assert key_problem(data(kubernetes_version=version)) is None


@pytest.mark.parametrize("version", ["v1.35", "1.35.x", "1", "2.0", "1.35.2-1.1", "", "1.30"])
def test_versions_refused(version):
    key, value, _, fix = key_problem(data(kubernetes_version=version))
    assert (key, value) == ("kubernetes_version", version)
    assert "1.3" in fix


def test_settings_refuse_a_bad_version_naming_host_key_value_and_fix():
    with pytest.raises(DataError) as error:
        settings_from_data("cp1", ["control_plane"], data(kubernetes_version="1.35.x"))
    assert str(error.value) == (
        "cp1: kubernetes_version = '1.35.x': not a Kubernetes version. Fix: write the minor, "
        "'1.35', or pin the patch, '1.35.2'."
    )


@pytest.mark.parametrize(("endpoint", "problem"), [
    ("127.0.0.1:6443", "loopback"),
    ("localhost:6443", "DNS name"),
    ("10.244.0.10:6443", "inside cni_pod_cidr"),
    ("10.96.0.1:6443", "inside cni_service_cidr"),
    ("192.168.77.10", "host:port"),
    ("192.168.77.10:70000", "host:port"),
])
def test_unreachable_endpoints_refused(endpoint, problem):
    text = refused(kubernetes_control_plane_endpoint=endpoint)
    assert text.startswith(f"cp1: kubernetes_control_plane_endpoint = {endpoint!r}: ")
    assert problem in text


@pytest.mark.parametrize("endpoint", ["192.168.77.10:6443", "k8s-api.example.com:443"])
def test_reachable_endpoints_accepted(endpoint):
    settings_from_data("cp1", ["control_plane"], data(kubernetes_control_plane_endpoint=endpoint))


@pytest.mark.parametrize(("pods", "over", "problem"), [
    ("10.244.0.0/25", {}, "holds 0 node networks"),
    ("fd00:10:244::/56", {}, "IPv4"),
])
def test_pod_networks_the_cni_cannot_use_refused(pods, over, problem):
    text = refused(cni_pod_cidr=pods, **over)
    assert text.startswith(f"cp1: cni_pod_cidr = {pods!r}: ")
    assert problem in text


@pytest.mark.parametrize(("pods", "key", "problem"), [
    ("10.96.0.0/16", "cni_service_cidr", "overlaps cni_pod_cidr"),
    ("192.168.0.0/16", "cni_pod_cidr", "holds the node address 192.168.77.11"),
])
def test_pod_networks_overlapping_services_or_the_node_refused_once(pods, key, problem):
    """By the trusted networks' rule (kubeprep.settings.trust_error), the only one."""
    text = refused(cni_pod_cidr=pods)
    assert text.startswith(f"cp1: {key} = ") and problem in text


def cluster_problem(node_count: int, **over) -> str | None:
    problem = cluster_error(settings_from_data("cp1", ["control_plane"], data(**over)),
                            node_count)
    return problem and str(problem)


def test_pod_network_too_small_for_the_fleet():
    assert cluster_problem(2, cni_pod_cidr="10.244.0.0/23") is None
    text = cluster_problem(3, cni_pod_cidr="10.244.0.0/23")
    assert text == ("cp1: cni_pod_cidr = '10.244.0.0/23': holds 2 node networks of /24 (one per "
                    "node), fewer than the 3 nodes. Fix: use a private IPv4 network of /16 "
                    "(kubeadm's and flannel's 10.244.0.0/16) that overlaps neither the service "
                    "network nor the nodes' addresses.")


@pytest.mark.parametrize(("key", "value"), [
    ("cgroup_driver", "systemd-cgroup"),
    ("kubernetes_swap_behavior", "UnlimitedSwap"),
    ("kubernetes_repo_url", "https://pkgs.k8s.io/core:/stable:/v1.35"),
    ("kubernetes_config_file", "kubeadm.yaml"),
    ("cni_manifest", "kube-flannel.yml"),
])
def test_other_bad_values_refused(key, value):
    assert key_problem(data(**{key: value}))[:2] == (key, value)


# --- versions


def test_package_versions():
    assert upstream("1.36.4-1.1") == (1, 36, 4)
    assert upstream("1.35.2-150500.1.1") == (1, 35, 2)
    assert upstream("1:528.0.0-0") == (528, 0, 0)  # Google Cloud SDK's kubectl
    assert matches("1.36.4-1.1", "1.36") and matches("1.36.4-1.1", "1.36.4")
    assert not matches("1.36.4-1.1", "1.36.5") and not matches("1.36.4-1.1", "1.37")
    assert version_glob("1.36") == "1.36.*" and version_glob("1.36.4") == "1.36.4-*"
    installed = {"kubeadm": "1.36.4-1.1", "kubectl": "1:528.0.0-0"}
    assert downgrades(installed, "1.36") == ["kubectl 528.0.0 -> 1.36"]
    assert downgrades(installed, "1.36.3") == ["kubeadm 1.36.4 -> 1.36.3", "kubectl 528.0.0 -> 1.36.3"]
    assert downgrades(installed, "1.37") == ["kubectl 528.0.0 -> 1.37"]


# --- tasks/kubernetes.py


@pytest.mark.parametrize("platform", DEB_PLATFORMS)
def test_fresh_apt_host(platform):
    run = run_deploy(
        "tasks/kubernetes.py", packages_facts(platform, "debian_none_installed", None),
        data={"kubernetes_version": "1.36.4"},
    )
    assert [name for name, _ in run.ops] == [
        *REPO_OPS["deb"], "kubeadm, kubelet and kubectl 1.36.4, held", "kubelet enabled",
    ]
    assert list(run.changes) == [  # ca-certificates and curl are there, as is /etc/apt/keyrings
        *REPO_OPS["deb"][2:], "kubeadm, kubelet and kubectl 1.36.4, held", "kubelet enabled",
    ]
    assert run.commands("Kubernetes 1.36 repository key")[0].startswith(
        "curl -sSLf https://pkgs.k8s.io/core:/stable:/v1.36/deb/Release.key -o ",
    )
    assert run.commands("Kubernetes 1.36 repository")[-2:] == [
        ["upload", "deb [signed-by=/etc/apt/keyrings/kubernetes-v1.36.asc] "
                   "https://pkgs.k8s.io/core:/stable:/v1.36/deb/ /\n",
         "/etc/apt/sources.list.d/kubernetes.list"],
        "chmod 644 /etc/apt/sources.list.d/kubernetes.list",
    ]
    assert run.commands("kubeadm, kubelet and kubectl 1.36.4, held") == [
        "apt-get update",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages "
        "'kubeadm=1.36.4-*'",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages "
        "'kubelet=1.36.4-*' 'kubectl=1.36.4-*'",
        "apt-mark hold kubeadm kubelet kubectl",
    ]
    assert run.commands("kubelet enabled") == ["systemctl enable kubelet.service"]


@pytest.mark.parametrize("platform", RPM_PLATFORMS)
def test_fresh_dnf_host(platform):
    run = run_deploy(
        "tasks/kubernetes.py", packages_facts(platform, "rocky_none_installed", None),
        data={"kubernetes_version": "1.35.2"},
    )
    assert [name for name, _ in run.ops] == [
        "Kubernetes 1.35 repository", "kubeadm, kubelet and kubectl 1.35.2, held",
        "kubelet enabled",
    ]
    assert run.commands("Kubernetes 1.35 repository")[0] == ["upload", (
        "[kubernetes]\nname=Kubernetes\nbaseurl=https://pkgs.k8s.io/core:/stable:/v1.35/rpm/\n"
        "enabled=1\ngpgcheck=1\n"
        "gpgkey=https://pkgs.k8s.io/core:/stable:/v1.35/rpm/repodata/repomd.xml.key\n"
        "exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni\n"
    ), "/etc/yum.repos.d/kubernetes.repo"]
    assert run.commands("kubeadm, kubelet and kubectl 1.35.2, held") == [
        "dnf install -y --disableexcludes=kubernetes 'kubeadm-1.35.2-*'",
        "dnf install -y --disableexcludes=kubernetes 'kubelet-1.35.2-*' 'kubectl-1.35.2-*'",
    ]


@pytest.mark.parametrize(("platform", "case", "version"), [
    ("debian12", "debian_held_1_36_4", "1.36.4"),
    ("ubuntu2404", "debian_held_1_36_4", "1.36"),
    ("rocky8", "rocky_installed_and_excluded", "1.35.2"),
    ("rocky9", "rocky_installed_and_excluded", "1.35"),
])
def test_converged_host_gets_no_command(platform, case, version):
    run = run_deploy(
        "tasks/kubernetes.py", packages_facts(platform, case, version),
        data={"kubernetes_version": version},
    )
    assert run.ops and not run.failed
    assert run.changes == {}


def test_version_change_moves_the_repository_and_upgrades_kubeadm_first():
    """1.36.4 held, data now 1.37.1: the 1.37 repository, kubeadm, then kubelet and kubectl."""
    facts = packages_facts("debian12", "debian_held_1_36_4", "1.36.4")
    run = run_deploy("tasks/kubernetes.py", facts, data={"kubernetes_version": "1.37.1"})
    assert list(run.changes) == [
        "Kubernetes 1.37 repository key", "Kubernetes 1.37 repository",
        "kubeadm, kubelet and kubectl 1.37.1, held",
    ]
    assert run.commands("Kubernetes 1.37 repository")[0] == [
        "upload", "deb [signed-by=/etc/apt/keyrings/kubernetes-v1.37.asc] "
                  "https://pkgs.k8s.io/core:/stable:/v1.37/deb/ /\n",
        "/etc/apt/sources.list.d/kubernetes.list",
    ]
    assert run.commands("kubeadm, kubelet and kubectl 1.37.1, held") == [
        "apt-get update",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages "
        "'kubeadm=1.37.1-*'",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages "
        "'kubelet=1.37.1-*' 'kubectl=1.37.1-*'",
        "apt-mark hold kubeadm kubelet kubectl",
        "systemctl daemon-reload",
        "systemctl restart kubelet",
    ]


def test_run_cut_after_kubeadm_upgrade_finishes_the_rest():
    """kubeadm is 1.37.1 and unheld, kubelet and kubectl still 1.36.4 held."""
    facts = packages_facts("debian12", "debian_kubeadm_upgraded_first_and_unheld", "1.37.1")
    run = run_deploy("tasks/kubernetes.py", facts, data={"kubernetes_version": "1.37.1"})
    assert run.changes == {"kubeadm, kubelet and kubectl 1.37.1, held": [
        "apt-get update",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages "
        "'kubelet=1.37.1-*' 'kubectl=1.37.1-*'",
        "apt-mark hold kubeadm kubelet kubectl",
        "systemctl daemon-reload",
        "systemctl restart kubelet",
    ]}


def test_rocky_version_change_writes_the_new_repository_and_upgrades():
    facts = packages_facts("rocky9", "rocky_installed_and_excluded", "1.35.2")
    run = run_deploy("tasks/kubernetes.py", facts, data={"kubernetes_version": "1.36.4"})
    assert list(run.changes) == [
        "Kubernetes 1.36 repository", "kubeadm, kubelet and kubectl 1.36.4, held",
    ]
    assert "baseurl=https://pkgs.k8s.io/core:/stable:/v1.36/rpm/\n" in (
        run.commands("Kubernetes 1.36 repository")[0][1]
    )
    assert run.commands("kubeadm, kubelet and kubectl 1.36.4, held") == [
        "dnf install -y --disableexcludes=kubernetes 'kubeadm-1.36.4-*'",
        "dnf install -y --disableexcludes=kubernetes 'kubelet-1.36.4-*' 'kubectl-1.36.4-*'",
        "systemctl daemon-reload",
        "systemctl restart kubelet",
    ]


def test_downgrade_refused_before_any_change():
    facts = packages_facts("debian12", "debian_held_1_36_4", "1.36.4")
    run = run_deploy("tasks/kubernetes.py", facts, data={"kubernetes_version": "1.35"})
    assert run.failed and run.ops == []
    assert run.errors == [
        "[node] kubeprep: node: kubernetes_version = '1.35': would downgrade kubeadm 1.36.4 -> 1.35, "
        "kubectl 1.36.4 -> 1.35, kubelet 1.36.4 -> 1.35. Fix: set kubernetes_version to the "
        "installed version or newer, or kubernetes_allow_downgrade = True to downgrade on "
        "purpose.",
    ]


def test_downgrade_when_allowed():
    facts = packages_facts("debian12", "debian_held_1_36_4", "1.36.4")
    run = run_deploy("tasks/kubernetes.py", facts, data={
        "kubernetes_version": "1.36.3", "kubernetes_allow_downgrade": True,
    })
    assert run.commands("kubeadm, kubelet and kubectl 1.36.3, held")[1] == (
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages "
        "--allow-downgrades 'kubeadm=1.36.3-*'"
    )


def test_held_packages_that_lost_their_hold_are_held_again():
    run = run_deploy(
        "tasks/kubernetes.py", packages_facts("debian12", "debian_installed_not_held", "1.36.4"),
        data={"kubernetes_version": "1.36.4"},
    )
    assert run.changes == {
        "kubeadm, kubelet and kubectl 1.36.4, held": ["apt-mark hold kubeadm kubelet kubectl"],
    }


def test_mirror_from_data():
    mirror = "http://10.0.0.5:8099/core:/stable:/v{minor}"
    with patch("kubeprep.fleet.hosts.logger.warning") as warning:
        run = run_deploy(
            "tasks/kubernetes.py", packages_facts("debian12", "debian_none_installed", None),
            data={"kubernetes_version": "1.37.1", "kubernetes_repo_url": mirror,
                  "plain_http_accepted": True},
        )
    assert [call.args[0] for call in warning.call_args_list] == [
        f"[node] kubeprep: plain HTTP accepted (plain_http_accepted = True) for "
        f"kubernetes_repo_url {mirror}"]
    assert "http://10.0.0.5:8099/core:/stable:/v1.37/deb/Release.key" in (
        run.commands("Kubernetes 1.37 repository key")[0]
    )
    assert run.commands("Kubernetes 1.37 repository")[0][1] == (
        "deb [signed-by=/etc/apt/keyrings/kubernetes-v1.37.asc] "
        "http://10.0.0.5:8099/core:/stable:/v1.37/deb/ /\n"
    )


@pytest.mark.parametrize("platform", ["debian12", "rocky9"])
def test_each_operation_reads_each_fact_once(platform):
    case = "debian_held_1_36_4" if platform == "debian12" else "rocky_installed_and_excluded"
    run = run_deploy("tasks/kubernetes.py", packages_facts(platform, case, None),
                     data={"kubernetes_version": "1.37.1"})
    for (name, _), reads in zip(run.ops, run.fact_reads, strict=True):
        # pyinfra's files.put reads files.Directory twice itself, as in test_tasks.
        twice = {fact: n for fact, n in reads.items() if n > 1 and not fact.startswith("files.")}
        assert not twice, f"{name} reads {twice}"


@pytest.mark.parametrize(("platform", "case", "target"), [
    ("debian12", "debian_none_installed", "pkgs.k8s.io:443"),
    ("rocky9", "rocky_none_installed", "pkgs.k8s.io:443"),
])
def test_a_repository_that_does_not_answer_is_refused_before_any_change(platform, case, target):
    facts = packages_facts(platform, case, None)
    facts["network.TcpAnswers"] = Answering(closed=(target,))
    run = run_deploy("tasks/kubernetes.py", facts, data={"kubernetes_version": "1.36.4"})
    assert run.failed and run.ops == []
    kind = "deb" if platform == "debian12" else "rpm"
    assert run.errors == [
        f"[node] kubeprep: node: kubernetes_repo_url = 'https://pkgs.k8s.io/core:/stable:/v{{minor}}'"
        f": https://pkgs.k8s.io/core:/stable:/v1.36/{kind}/ does not answer from node (no TCP "
        f"connection to {target} in 5 s), and kubeadm, kubelet and kubectl 1.36.4 come from it. "
        "Fix: set kubernetes_repo_url to a mirror this host reaches, or deploy_until = "
        '"runtime" to stop before the packages.']


def test_a_host_at_the_version_needs_no_repository_to_answer():
    facts = packages_facts("debian12", "debian_held_1_36_4", "1.36.4")
    facts["network.TcpAnswers"] = Answering(closed=("pkgs.k8s.io:443",))
    run = run_deploy("tasks/kubernetes.py", facts, data={"kubernetes_version": "1.36.4"})
    assert not run.failed and run.changes == {}


def test_a_skipped_minor_is_refused_before_any_change():
    run = run_deploy("tasks/kubernetes.py", packages_facts("debian12", "debian_held_1_36_4", "1.36.4"),
                     data={"kubernetes_version": "1.38.1"})
    assert run.failed and run.ops == []
    assert run.errors == [
        "[node] kubeprep: node: kubernetes_version = '1.38.1': would skip 1.37 (kubeadm "
        "1.36.4-1.1, kubelet 1.36.4-1.1 installed): kubeadm upgrades a cluster one minor at a "
        "time. Fix: set kubernetes_version = '1.37', run, then the next minor."]
    assert not run_deploy(
        "tasks/kubernetes.py", packages_facts("debian12", "debian_held_1_36_4", "1.36.4"),
        data={"kubernetes_version": "1.37"}).failed


def test_curl_from_a_distribution_source_that_does_not_answer_is_refused_before_any_change():
    facts = packages_facts("debian12", "debian_none_installed", None)
    facts["packages.PackageSources"] = Installed("debian", ("ca-certificates",))
    facts["network.TcpAnswers"] = Answering(closed=("deb.debian.org:80",))
    run = run_deploy("tasks/kubernetes.py", facts, data={"kubernetes_version": "1.36.4"})
    assert run.failed and run.ops == []
    (error,) = run.errors
    assert "the package source http://deb.debian.org/debian does not answer from node" in error
    assert error.endswith('or install curl by hand, or deploy_until = "runtime" to stop before '
                          "it.")


@pytest.mark.parametrize("version", ["1.37", "1.36.5"])
def test_a_node_of_a_running_cluster_leaves_its_packages_to_kubeadms_upgrade(version):
    facts = packages_facts("debian12", "debian_held_1_36_4", "1.36.4")
    facts["kubernetes.KubeadmNode"] = kubeadm_node("worker_joined")
    run = run_deploy("tasks/kubernetes.py", facts, data={"kubernetes_version": version})
    assert not run.failed
    # the new minor's repository is written; the packages wait for the cluster stage
    assert not [name for name, _ in run.ops if name.startswith("kubeadm, kubelet and kubectl")]
    # a run that stops before the cluster stage is refused: nothing would upgrade the cluster
    run = run_deploy("tasks/kubernetes.py", facts,
                     data={"kubernetes_version": version, "deploy_until": "kubernetes"})
    assert run.failed and run.ops == []
    (error,) = run.errors
    assert error.startswith(
        f"[node] kubeprep: node: kubernetes_version = '{version}': node is a node of a running "
        "cluster (/etc/kubernetes/kubelet.conf) with kubeadm 1.36.4-1.1, kubelet 1.36.4-1.1, "
        "upgraded only by kubeadm's upgrade in the cluster stage (deploy_until = 'kubernetes' "
        "stops before it)"), error
    assert error.endswith('Fix: set deploy_until = "cluster", or kubernetes_version back to the '
                          "version it runs."), error
    # at its version, or not in a cluster: the packages go as before
    facts["kubernetes.KubeadmNode"] = kubeadm_node("fresh")
    run = run_deploy("tasks/kubernetes.py", facts, data={"kubernetes_version": version})
    assert f"kubeadm, kubelet and kubectl {version}, held" in [name for name, _ in run.ops]
