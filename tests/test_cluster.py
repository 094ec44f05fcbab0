"""tasks/cluster.py on a whole fake fleet (cp1, w1, w2; cp2 for a second control plane): the
config files and commands each node gets at prepare time (what --dry plans), then pyinfra's own
``run_ops`` with a recording connector, to prove the join credentials made on cp1 reach the
joining nodes in the same run, in pyinfra's order of operations.

kubeadm output, as kubeadm prints it (sources in docs/cluster.md):
- ``kubeadm token create --print-join-command`` and ``kubeadm init phase upload-certs
  --upload-certs``: recorded on the lab's cp1 (kubeadm 1.36.3, air-gapped: the klog lines it
  writes when dl.k8s.io does not answer); upload-certs also from kubeadm 1.35 in a public
  Ansible role's README, where dl.k8s.io answered.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import patch

import gevent
import pytest
import yaml
from kube_states import (
    DIRECTORY,
    PLATFORMS,
    Answering,
    OthersMissing,
    case_output,
    expiry_output,
    kubeadm_node,
)
from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.operations import run_ops
from pyinfra.api.state import StateStage
from pyinfra.connectors.util import CommandOutput, OutputLine
from pyinfra.context import ctx_host, ctx_state
from pyinfra_cli.util import load_deploy_file
from pyinfra_testing.operations import parse_commands
from taskrun import ByArguments, fact_key, group_data

from kubeprep.facts.kubernetes import ClusterVersions
from kubeprep.kubeadm import (
    UPGRADE_CONFIG,
    JoinCredentials,
    init_config,
    join_config,
    parse_certificate_key,
    parse_join_command,
    probe_patches,
)
from kubeprep.operations import kubeadm as kubeadm_ops
from kubeprep.operations import upgrade as upgrade_ops
from kubeprep.settings import DataError, settings_from_data

# Recorded on the lab's cp1 (kubeadm 1.36.3, air-gapped) on 2026-12-04; the token deleted there
# right after. The join line ends in a space.
TOKEN_OUTPUT = (
    "kubeadm join 192.168.77.11:6443 --token z7f9lb.tp5zg3v01zrqvcfq "
    "--discovery-token-ca-cert-hash "
    "sha256:241cb5f119fba3722e0bb2cbe2c4734ca7e0207b3c169ce5c4aabc95d7a9f752 \n"
)
# The same run: kubeadm asks dl.k8s.io for a version first, and says so on stderr (2>&1).
UPLOAD_CERTS_OUTPUT = (
    "W1204 21:55:19.915423    3301 version.go:108] could not fetch a Kubernetes version from the "
    'internet: unable to get URL "https://dl.k8s.io/release/stable-1.txt": Get '
    '"https://dl.k8s.io/release/stable-1.txt": dial tcp: lookup dl.k8s.io on 192.168.77.250:53: '
    "read udp 192.168.77.11:33615->192.168.77.250:53: read: connection refused\n"
    "W1204 21:55:19.936056    3301 version.go:109] falling back to the local client version: "
    "v1.36.3\n"
    '[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" '
    "Namespace\n"
    "[upload-certs] Using certificate key:\n"
    "e43cde65ce935fd60bcc1af1523a4b414922bc13cfc8802159cf27f5df4935a3\n"
)
# kubeadm 1.35 where dl.k8s.io answers, as a public Ansible role's README records it.
UPLOAD_CERTS_ONLINE = (
    "I0828 16:50:07.313959   11042 version.go:260] remote version is much newer: v1.37.0; "
    "falling back to: stable-1.35\n"
    '[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" '
    "Namespace\n"
    "[upload-certs] Using certificate key:\n"
    "1a44b14b3856a07a96e65b9b60a61cd921dbda575d0c322958167b6461faaace"
)
ADDRESSES = {"cp1": "192.168.77.11", "cp2": "192.168.77.12", "w1": "192.168.77.21",
             "w2": "192.168.77.22"}
ROOT = Path(__file__).resolve().parent.parent


def cluster_versions(version: str, case: str = "lab_three_nodes", **kubelets: str) -> dict:
    """The ClusterVersions case ``case`` with the cluster at ``version`` and every kubelet at it
    but those named (``w1="v1.36.3"``)."""
    found = ClusterVersions().process(case_output("kubernetes.ClusterVersions", case)["output"]
                                      .split("\n"))
    return {"version": version, "nodes": {
        name: {**node, "kubelet": kubelets.get(name, version)}
        for name, node in found["nodes"].items()}}


def node_facts(state: str, cni_applied: bool = False, kube_proxy: bool = True) -> dict:
    """A node whose kubeadm files are those of the KubeadmNode case ``state``; where it has an
    admin kubeconfig, a cluster with kube-proxy's DaemonSet (or not) and flannel's (or not)."""
    return {
        "server.LinuxDistribution": {
            "name": "Debian", "major": 12, "minor": None,
            "release_meta": {"ID": "debian", "VERSION_ID": "12"},
        },
        "kubernetes.KubeadmNode": kubeadm_node(state),
        "kubernetes.DaemonSet": ByArguments({
            "daemonset=kube-flannel-ds,namespace=kube-flannel": case_output(
                "kubernetes.DaemonSet", "flannel_applied" if cni_applied else
                "not_applied_or_no_cluster"),
            "daemonset=kube-proxy,namespace=kube-system": case_output(
                "kubernetes.DaemonSet", "lab_kube_proxy_made" if kube_proxy else
                "not_applied_or_no_cluster"),
        }),
        "kubernetes.ClusterVersions": cluster_versions("v1.35.2"),
        "files.File": None,
        "files.Directory": OthersMissing({"path=/etc/kubernetes": DIRECTORY}),
        "files.Sha1File": None,
        "server.TmpDir": "/tmp",
        "network.TcpAnswers": Answering(),
    }


class Fleet:
    """cp1 (and cp2) and workers, prepared with tasks/cluster.py like the CLI does."""

    def __init__(self, facts: dict[str, dict], data: dict | None = None,
                 active: list[str] | None = None):
        groups: dict[str, list] = {"control_plane": [], "workers": []}
        for name in facts:
            group = "control_plane" if name.startswith("cp") else "workers"
            groups[group].append((name, {
                **group_data(group), "cluster_address": ADDRESSES[name], "cni": "flannel",
                **(data or {}),
            }))
        self.inventory = Inventory(
            (list(facts), {}), **{group: (members, {}) for group, members in groups.items()},
        )
        self.state = State(self.inventory, Config())
        self.state.cwd = str(ROOT)
        self.state.set_stage(StateStage.Prepare)
        for name in active or list(facts):
            self.state.activate_host(self.inventory.get_host(name))
        self.facts = facts
        self.errors: list[str] = []

    def fake_get_fact(self, host: Host, fact_cls, *args, **kwargs):
        value = self.facts[host.name][fact_key(fact_cls)]
        if isinstance(value, ByArguments):
            value = value[",".join(f"{k}={v}" for k, v in sorted(kwargs.items()))]
        if isinstance(value, dict) and set(value) == {"output"}:
            return fact_cls().process(value["output"].split("\n"))
        return value

    def patches(self):
        fleet = self
        return (
            patch.object(Host, "get_fact", lambda host, cls, *a, **k: fleet.fake_get_fact(
                host, cls, *a, **k)),
            patch("pyinfra.is_cli", True),
            patch("kubeprep.fleet.hosts.logger.error", self.errors.append),
            patch("kubeprep.operations.kubeadm.logger.error", self.errors.append),
        )

    def prepare(self) -> Fleet:
        one, two, three, four = self.patches()
        with one, two, three, four, ctx_state.use(self.state):
            try:
                load_deploy_file(self.state, str(ROOT / "tasks/cluster.py"))
            except PyinfraError as error:  # failing the last host ends pyinfra's prepare
                if "No hosts remaining" not in str(error):
                    raise
        return self

    def op_name(self, op_hash: str) -> str:
        """An operation's name, without the deploy's ("Kubernetes cluster | kubeadm init")."""
        return next(iter(self.state.get_op_meta(op_hash).names)).split(" | ")[-1]

    def plan(self, name: str) -> list[tuple[str, list[Any]]]:
        """(operation, commands) for one host in pyinfra's order, as prepared (--dry)."""
        host = self.inventory.get_host(name)
        one, two, three, four = self.patches()
        ops = []
        with one, two, three, four, ctx_state.use(self.state):
            for op_hash in self.state.get_op_order():
                if op_hash not in self.state.ops[host]:
                    continue
                op_name = self.op_name(op_hash)
                with ctx_host.use(host):
                    commands = parse_commands(list(
                        self.state.get_op_data_for_host(host, op_hash).command_generator(),
                    ))
                ops.append((op_name, commands))
        return ops

    def run(self, answer: Callable[[str, str], tuple[bool, str]]) -> list[tuple[str, Any]]:
        """Execute with pyinfra's run_ops; ``answer(host, command)`` gives each command's
        status and output. Returns every (host, command or uploaded text) in execution order."""
        log: list[tuple[str, Any]] = []

        def run_shell_command(host, command, **arguments):
            text = command.get_raw_value()
            log.append((host.name, (text, arguments["_stdin"]) if arguments.get("_stdin") else text))
            ok, output = answer(host.name, text)
            return ok, CommandOutput([OutputLine("stdout", line) for line in output.split("\n")])

        def put_file(host, source, remote_filename, *_, **__):
            log.append((host.name, ("upload", remote_filename, source.getvalue())))
            return True

        one, two, three, four = self.patches()
        with one, two, three, four, \
                patch.object(Host, "run_shell_command", run_shell_command), \
                patch.object(Host, "put_file", put_file):
            try:
                run_ops(self.state)
            except PyinfraError as error:  # every host failed
                if "No hosts remaining" not in str(error):
                    raise
        return log


def kubeadm_answers(join_fails: tuple[str, ...] = ()) -> Callable[[str, str], tuple[bool, str]]:
    def answer(host: str, command: str) -> tuple[bool, str]:
        if command.startswith("kubeadm token create"):
            return True, TOKEN_OUTPUT
        if command.startswith("kubeadm init phase upload-certs"):
            return True, UPLOAD_CERTS_OUTPUT
        if command.startswith("kubeadm join") and host in join_fails:
            return False, "error execution phase preflight: couldn't validate the identity of " \
                          "the API Server: Get \"https://192.168.77.11:6443/...\": dial tcp " \
                          "192.168.77.11:6443: connect: no route to host"
        return True, ""
    return answer


def fresh_fleet(platform: str = "debian12", **data) -> Fleet:
    facts = {name: node_facts("fresh") for name in ("cp1", "w1", "w2")}
    for node in facts.values():
        node["server.LinuxDistribution"] = PLATFORMS[platform]
    return Fleet(facts, data).prepare()


# --- pure: parsing and config files


def test_parse_join_command_one_line_and_as_init_prints_it():
    assert parse_join_command(TOKEN_OUTPUT) == JoinCredentials(
        "192.168.77.11:6443", "z7f9lb.tp5zg3v01zrqvcfq",
        "sha256:241cb5f119fba3722e0bb2cbe2c4734ca7e0207b3c169ce5c4aabc95d7a9f752",
    )
    expected = JoinCredentials(
        "192.168.77.11:6443", "jksc4g.zkvk38oruf9suy2v",
        "sha256:9f960c17cea57c7be0411f1996ee0b63ecd322e0a67fb217328953a6823b18ca",
    )
    init_tail = (  # kubeadm init's closing lines: a backslash, a tab
        "Then you can join any number of worker nodes by running the following on each as root:"
        "\n\nkubeadm join 192.168.77.11:6443 --token jksc4g.zkvk38oruf9suy2v \\\n"
        "\t--discovery-token-ca-cert-hash "
        "sha256:9f960c17cea57c7be0411f1996ee0b63ecd322e0a67fb217328953a6823b18ca \n"
    )
    assert parse_join_command(init_tail) == expected
    assert parse_join_command("failed to load admin kubeconfig: open /etc/kubernetes/admin.conf:"
                              " no such file or directory") is None


def test_parse_certificate_key():
    assert parse_certificate_key(UPLOAD_CERTS_OUTPUT) == (
        "e43cde65ce935fd60bcc1af1523a4b414922bc13cfc8802159cf27f5df4935a3"
    )
    assert parse_certificate_key(UPLOAD_CERTS_ONLINE) == (
        "1a44b14b3856a07a96e65b9b60a61cd921dbda575d0c322958167b6461faaace"
    )
    assert parse_certificate_key("[upload-certs] Using certificate key:\n") is None


def kube(**over):
    return settings_from_data("cp1", ["control_plane"], {**group_data("control_plane"), **over}
                              ).kubernetes


def test_init_config_from_data():
    assert init_config(kube(kubernetes_version="1.36.4", cni_pod_cidr="10.200.0.0/16"),
                       "192.168.77.11", "192.168.77.11:6443") == """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: "192.168.77.11"
  bindPort: 6443
nodeRegistration:
  kubeletExtraArgs:
    - name: node-ip
      value: "192.168.77.11"
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: "v1.36.4"
controlPlaneEndpoint: "192.168.77.11:6443"
networking:
  podSubnet: "10.200.0.0/16"
  serviceSubnet: "10.96.0.0/12"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
"""


def test_init_config_names_an_air_gapped_sites_images():
    text = init_config(kube(kubernetes_version="1.36.3", kubernetes_etcd_image_tag="3.6.16-0",
                            kubernetes_dns_image_tag="v1.14.3",
                            kubernetes_image_repository="mirror.example.com:5000/k8s"),
                       "192.168.77.11", "192.168.77.11:6443")
    cluster = text.split("---\n")[1]
    assert cluster.endswith(
        'imageRepository: "mirror.example.com:5000/k8s"\n'
        'etcd:\n  local:\n    imageTag: "3.6.16-0"\n'
        'dns:\n  imageTag: "v1.14.3"\n',
    ), cluster
    assert "imageTag" not in init_config(kube(), "192.168.77.11", "192.168.77.11:6443")


def test_control_plane_args_as_kubeadms_extra_args():
    text = init_config(kube(kubernetes_etcd_image_tag="3.6.16-0", kubernetes_control_plane_args={
        "controllerManager": {"leader-elect-lease-duration": "60s"},
        "etcd": {"heartbeat-interval": "500"},
    }), "192.168.77.11", "192.168.77.11:6443")
    cluster = yaml.safe_load(text.split("---\n")[1])
    assert cluster["controllerManager"] == {
        "extraArgs": [{"name": "leader-elect-lease-duration", "value": "60s"}]}
    assert "encryptionAlgorithm" not in cluster
    assert yaml.safe_load(init_config(kube(kubernetes_encryption_algorithm="ECDSA-P256"),
                                      "192.168.77.11", "192.168.77.11:6443").split("---\n")[1]
                          )["encryptionAlgorithm"] == "ECDSA-P256"
    assert cluster["etcd"] == {"local": {
        "imageTag": "3.6.16-0", "extraArgs": [{"name": "heartbeat-interval", "value": "500"}]}}


def test_control_plane_env_as_kubeadms_extra_envs_next_to_the_args():
    text = init_config(kube(kubernetes_etcd_image_tag="3.6.16-0", kubernetes_control_plane_args={
        "apiServer": {"enable-priority-and-fairness": "false"},
    }, kubernetes_control_plane_env={
        "apiServer": {"GOGC": "200"}, "etcd": {"GOGC": "400", "GOMEMLIMIT": "300MiB"},
    }), "192.168.77.11", "192.168.77.11:6443")
    cluster = yaml.safe_load(text.split("---\n")[1])
    assert cluster["apiServer"] == {
        "extraArgs": [{"name": "enable-priority-and-fairness", "value": "false"}],
        "extraEnvs": [{"name": "GOGC", "value": "200"}]}
    assert cluster["etcd"] == {"local": {"imageTag": "3.6.16-0", "extraEnvs": [
        {"name": "GOGC", "value": "400"}, {"name": "GOMEMLIMIT", "value": "300MiB"}]}}


def test_kubelet_config_fields_from_data_in_the_clusters_kubelet_configuration():
    fields = {"nodeStatusUpdateFrequency": "1m", "nodeLeaseDurationSeconds": 120,
              "serializeImagePulls": False}
    init = init_config(kube(kubernetes_kubelet_config=fields), "192.168.77.11",
                       "192.168.77.11:6443")
    assert init.split("---\n")[-1].endswith(
        'nodeStatusUpdateFrequency: "1m"\nnodeLeaseDurationSeconds: 120\n'
        'serializeImagePulls: false\n')


@pytest.mark.parametrize(("fields", "problem"), [
    ({"cgroupDriver": "cgroupfs"}, "kubeprep writes it from cgroup_driver"),
    ({"node-status-update-frequency": "1m"}, "not a KubeletConfiguration field"),
    ({"evictionHard": {"memory.available": "100Mi"}}, "not a one-line string"),
    ({"nodeStatusUpdateFrequency": "1m\nfailSwapOn: false"}, "not a one-line string"),
])
def test_kubelet_config_fields_refused(fields, problem):
    with pytest.raises(DataError) as error:
        kube(kubernetes_kubelet_config=fields)
    assert problem in str(error.value) and "kubernetes_kubelet_config[" in str(error.value)


def test_timeouts_for_slow_machines_in_init_and_join_configuration():
    timeouts = {"controlPlaneComponentHealthCheck": "10m", "tlsBootstrap": "8m30s"}
    init = init_config(kube(kubernetes_timeouts=timeouts), "192.168.77.11", "192.168.77.11:6443")
    assert init.split("---\n")[0].endswith(
        'timeouts:\n  controlPlaneComponentHealthCheck: "10m"\n  tlsBootstrap: "8m30s"\n')
    credentials = JoinCredentials("192.168.77.11:6443", "abcdef.0123456789abcdef",
                                  "sha256:" + "0" * 64)
    join = join_config("192.168.77.21", credentials, False, tuple(timeouts.items()))
    assert join.endswith(
        'timeouts:\n  controlPlaneComponentHealthCheck: "10m"\n  tlsBootstrap: "8m30s"\n')
    assert "timeouts" not in join_config("192.168.77.21", credentials, False)


PROBES = {"apiServer": {"livenessProbe": {"failureThreshold": 30, "timeoutSeconds": 30},
                        "startupProbe": {"failureThreshold": 90}},
          "etcd": {"livenessProbe": {"periodSeconds": 20}}}


def test_probes_as_kubeadm_patches_named_after_the_static_pods():
    patches = probe_patches(kube(kubernetes_control_plane_probes=PROBES)
                            .kubernetes_control_plane_probes)
    assert {name: yaml.safe_load(text) for name, text in patches.items()} == {
        "kube-apiserver+strategic.json": {"spec": {"containers": [{
            "name": "kube-apiserver",
            "livenessProbe": {"failureThreshold": 30, "timeoutSeconds": 30},
            "startupProbe": {"failureThreshold": 90}}]}},
        "etcd+strategic.json": {"spec": {"containers": [{
            "name": "etcd", "livenessProbe": {"periodSeconds": 20}}]}},
    }
    init = yaml.safe_load(init_config(kube(kubernetes_control_plane_probes=PROBES),
                                      "192.168.77.11", "192.168.77.11:6443").split("---\n")[0])
    assert init["patches"] == {"directory": "/etc/kubernetes/kubeprep-patches"}
    assert "patches" not in init_config(kube(), "192.168.77.11", "192.168.77.11:6443")
    credentials = JoinCredentials("192.168.77.11:6443", "abcdef.0123456789abcdef",
                                  "sha256:" + "0" * 64, "1" * 64)
    join = yaml.safe_load(join_config("192.168.77.12", credentials, True, patched=True))
    assert join["patches"] == {"directory": "/etc/kubernetes/kubeprep-patches"}
    assert "certificateKey" in join["controlPlane"]


@pytest.mark.parametrize(("probes", "problem", "key"), [
    ({"kube-apiserver": {}}, "not a control-plane component", "['kube-apiserver']"),
    ({"apiServer": {"livenessprobe": {}}}, "not a probe of a static pod", "['livenessprobe']"),
    ({"apiServer": {"livenessProbe": {"command": 1}}}, "not a field kubeprep sets",
     "['livenessProbe']"),
    ({"apiServer": {"livenessProbe": {"failureThreshold": "30"}}}, "not a whole number",
     "['failureThreshold']"),
    ({"apiServer": {"livenessProbe": {"timeoutSeconds": 0}}}, "not a whole number",
     "['timeoutSeconds']"),
    ({"etcd": {"startupProbe": 90}}, "not a mapping", "['startupProbe']"),
])
def test_probes_refused(probes, problem, key):
    with pytest.raises(DataError) as error:
        kube(kubernetes_control_plane_probes=probes)
    assert problem in str(error.value)
    assert "kubernetes_control_plane_probes[" in str(error.value) and key in str(error.value)


def test_init_config_swap_keep_and_cgroupfs_and_a_minor_alone():
    text = init_config(kube(swap="keep", cgroup_driver="cgroupfs", kubernetes_version="1.36"),
                       "10.0.0.11", "k8s.example.com:6443")
    assert text.endswith(
        "cgroupDriver: cgroupfs\nfailSwapOn: false\nmemorySwap:\n  swapBehavior: LimitedSwap\n",
    )
    assert "kubernetesVersion" not in text  # kubeadm's own version, the installed package's
    assert 'controlPlaneEndpoint: "k8s.example.com:6443"' in text
    assert "ignore-preflight-errors" not in text


def test_join_config_for_a_control_plane_carries_the_certificate_key():
    credentials = JoinCredentials("192.168.77.11:6443", "abcdef.0123456789abcdef",
                                  "sha256:" + "0" * 64, "1" * 64)
    text = join_config("192.168.77.12", credentials, control_plane=True)
    assert text.endswith(
        "controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: \"192.168.77.12\"\n"
        f"    bindPort: 6443\n  certificateKey: \"{'1' * 64}\"\n",
    )
    assert "controlPlane" not in join_config("192.168.77.21", credentials, control_plane=False)


# --- the plan each node gets (--dry)


def test_fresh_fleet_plan():
    fleet = fresh_fleet()
    cp1 = fleet.plan("cp1")
    assert [name for name, _ in cp1] == [
        "kubeadm config file", "kubeadm init", "kubectl for kubeadmin", "CNI flannel",
        "Nodes removed from the cluster", "Fresh join credentials",
    ]
    assert cp1[4][1] == []  # none listed
    upload = cp1[0][1][0]
    assert upload[0] == "upload" and upload[2] == "/etc/kubernetes/kubeadm-config.yaml"
    assert upload[1] == init_config(kube(cni="flannel"), "192.168.77.11", "192.168.77.11:6443")
    cut_init, init = cp1[1][1]
    assert cut_init.startswith("if [ -e /var/lib/etcd/member ]; then echo 'kubeprep: cp1 holds ")
    assert init == ("kubeadm init --config /etc/kubernetes/kubeadm-config.yaml "
                    "--skip-token-print --skip-certificate-key-print")
    assert cp1[2][1] == [
        "install -d -m 700 --owner=kubeadmin --group=kubeadmin /home/kubeadmin/.kube",
        "install -m 600 --owner=kubeadmin --group=kubeadmin /etc/kubernetes/admin.conf "
        "/home/kubeadmin/.kube/config",
    ]
    assert cp1[3][1] == [
        "curl -fsSL -o /etc/kubernetes/kubeprep-cni.yaml "
        "https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml",
        "kubectl --kubeconfig=/etc/kubernetes/admin.conf apply -f "
        "/etc/kubernetes/kubeprep-cni.yaml",
    ]
    w1 = fleet.plan("w1")
    assert w1[1] == ("Fresh join credentials", [])  # made on cp1
    assert [name for name, _ in w1] == [
        "Nodes removed from the cluster", "Fresh join credentials", "kubeadm join"]
    after_a_cut, folder, write, join, remove = w1[2][1]
    assert after_a_cut == (
        "if [ -e /etc/kubernetes/bootstrap-kubelet.conf ] || [ -e /etc/kubernetes/pki/ca.crt ]; "
        "then echo 'kubeprep: w1 holds what an earlier kubeadm join left "
        "(/etc/kubernetes/bootstrap-kubelet.conf, /etc/kubernetes/pki/ca.crt): kubeadm reset -f, "
        "then the join' >&2; kubeadm reset -f; fi")
    assert folder == "install -d -m 755 /etc/kubernetes"
    assert write == ["_write_secret", ["/etc/kubernetes/kubeadm-config.yaml", join_config(
        "192.168.77.21", JoinCredentials(
            "<endpoint>", "<token from the first control plane>",
            "<CA hash from the first control plane>",
            "<certificate key from the first control plane>"), False)], {}]
    assert join == (
        "kubeadm join --config /etc/kubernetes/kubeadm-config.yaml || { rm -f "
        "/etc/kubernetes/kubeadm-config.yaml ; echo 'kubeprep: w1 did not join the cluster "
        "(kubeadm'\"'\"'s message above). Fix: on w1 run '\"'\"'kubeadm reset -f'\"'\"', "
        "correct the cause, run kubeprep again' >&2; exit 1; }"
    )
    assert remove == "rm -f /etc/kubernetes/kubeadm-config.yaml"


def test_token_is_made_before_any_join_in_pyinfras_order():
    """pyinfra orders operations by each host's chain, then by line: a worker's first
    operation would run in the first step. The token operation on every host chains them."""
    fleet = fresh_fleet()
    order = [fleet.op_name(op) for op in fleet.state.get_op_order()]
    assert order == [
        "kubeadm config file", "kubeadm init", "kubectl for kubeadmin", "CNI flannel",
        "Nodes removed from the cluster", "Fresh join credentials", "kubeadm join",
    ]


def test_converged_fleet_changes_nothing():
    fleet = Fleet({
        "cp1": node_facts("cp_converged", cni_applied=True),
        "w1": node_facts("worker_joined"), "w2": node_facts("worker_joined"),
    })
    fleet.facts["cp1"]["files.Sha1File"] = hashlib.sha1(init_config(
        kube(cni="flannel"), "192.168.77.11", "192.168.77.11:6443").encode()).hexdigest()
    fleet.facts["cp1"]["files.File"] = {"mode": 600, "user": "root", "group": "root"}
    fleet.prepare()
    for name in ("cp1", "w1", "w2"):
        plan = fleet.plan(name)
        assert plan, name
        assert [op for op, commands in plan if commands] == [], name
    # No token is made when every node has joined.
    assert dict(fleet.plan("cp1"))["Fresh join credentials"] == []


def test_half_joined_fleet_makes_a_token_and_joins_only_w2():
    fleet = Fleet({
        "cp1": node_facts("cp_converged", cni_applied=True),
        "w1": node_facts("worker_joined"), "w2": node_facts("fresh"),
    }).prepare()
    assert [op for op, commands in fleet.plan("cp1") if commands][-1] == "Fresh join credentials"
    assert fleet.plan("w1") == [("Nodes removed from the cluster", []),
                                ("Fresh join credentials", []), ("kubeadm join", [])]
    assert [op for op, commands in fleet.plan("w2") if commands] == ["kubeadm join"]


def test_cni_is_not_applied_again_when_the_api_server_does_not_answer():
    fleet = Fleet({
        "cp1": node_facts("cp_converged"), "w1": node_facts("worker_joined"),
        "w2": node_facts("worker_joined"),
    })
    fleet.facts["cp1"]["kubernetes.DaemonSet"] = case_output(
        "kubernetes.DaemonSet", "api_server_did_not_answer")
    fleet.prepare()
    # a control plane that has started: its API server's manifest is there
    log = fleet.run(lambda host, command: (False, "") if command.startswith("[ ! -e")
                    else kubeadm_answers()(host, command))
    assert not any("apply" in str(command) for _, command in log), log
    assert "cp1" in {host.name for host in fleet.state.failed_hosts}
    # The init asks first (whether it finished) and stops cp1 there.
    assert any("kubeprep: the API server did not answer `kubectl -n kube-system get daemonset "
               "kube-proxy` on cp1 in 6 tries 10 s apart, so whether kubeadm init finished is "
               "not known" in " ".join(error.split()) for error in fleet.errors), fleet.errors


def test_an_init_that_stopped_after_admin_conf_runs_its_last_phases_again():
    # The lab's cp1 after an init whose addon/coredns phase timed out: admin.conf written, the
    # API server up, no kube-proxy DaemonSet.
    fleet = Fleet({"cp1": node_facts("cp_converged", kube_proxy=False)}).prepare()
    config = "/etc/kubernetes/kubeadm-config.yaml"
    assert dict(fleet.plan("cp1"))["kubeadm init"] == [
        f"kubeadm init phase {phase} --config {config}" for phase in (
            "upload-config all", "mark-control-plane", "bootstrap-token --skip-token-print",
            "kubelet-finalize all", "addon all")
    ]
    assert dict(fleet.plan("cp1"))["CNI flannel"]


def cut_init_fleet(tmp_path: Path, left: list[str], api_answers: bool = False) -> Fleet:
    """cp1 as an init cut short left it: ``left`` (paths under ``tmp_path``, which stands for
    /); the API server not answering."""
    for path in left:
        (tmp_path / path.lstrip("/")).mkdir(parents=True, exist_ok=True)
    state = "cp_converged" if "/etc/kubernetes/admin.conf" in left else "fresh"
    fleet = Fleet({"cp1": node_facts(state, cni_applied=True)})
    if not api_answers:  # kube-proxy's asked first, and not answered; the CNI's after the init
        fleet.facts["cp1"]["kubernetes.DaemonSet"][
            "daemonset=kube-proxy,namespace=kube-system"] = case_output(
            "kubernetes.DaemonSet", "api_server_did_not_answer")
    return fleet.prepare()


def in_tmp(tmp_path: Path, command: str) -> str:
    return command.replace(" /etc/", f" {tmp_path}/etc/").replace(" /var/", f" {tmp_path}/var/")


def sh(tmp_path: Path) -> Callable[[str, str], tuple[bool, str]]:
    """Runs the kubeadm-less shell tests of a command for real, against ``tmp_path``."""
    def answer(host: str, command: str) -> tuple[bool, str]:
        if command.startswith(("[ ! -e", "if [ -e")):
            done = subprocess.run(["sh", "-c", in_tmp(tmp_path, command).replace(
                "kubeadm reset -f; fi", "echo RESET; fi")], capture_output=True, text=True)
            return done.returncode == 0, done.stdout + done.stderr
        return kubeadm_answers()(host, command)
    return answer


def test_an_init_cut_after_admin_conf_before_the_control_plane_is_reset_and_run_again(tmp_path):
    fleet = cut_init_fleet(tmp_path, ["/etc/kubernetes/admin.conf"])
    log = fleet.run(sh(tmp_path))
    commands = [command for host, command in log if host == "cp1" and isinstance(command, str)]
    assert ("kubeadm reset -f && kubeadm init --config /etc/kubernetes/kubeadm-config.yaml "
            "--skip-token-print --skip-certificate-key-print") in commands
    assert "cp1" not in {host.name for host in fleet.state.failed_hosts}


def test_an_init_whose_control_plane_ran_is_never_reset_when_its_api_server_is_silent(tmp_path):
    fleet = cut_init_fleet(tmp_path, ["/etc/kubernetes/admin.conf", "/var/lib/etcd/member"])
    log = fleet.run(sh(tmp_path))
    assert not [command for _, command in log if "reset" in str(command)]
    assert "cp1" in {host.name for host in fleet.state.failed_hosts}
    assert any("the API server did not answer `kubectl -n kube-system get daemonset kube-proxy`"
               in error for error in fleet.errors), fleet.errors


@pytest.mark.parametrize(("left", "reset", "stopped"), [
    (["/etc/kubernetes/manifests/kube-apiserver.yaml"], True, False),
    (["/etc/kubernetes/manifests/etcd.yaml", "/var/lib/etcd/member"], False, True),
    ([], False, False),
])
def test_what_a_cut_init_left_without_admin_conf(tmp_path, left, reset, stopped):
    fleet = cut_init_fleet(tmp_path, left, api_answers=True)
    (guard, _), = [(commands[0], commands) for op, commands in fleet.plan("cp1")
                   if op == "kubeadm init"]
    done = sh(tmp_path)("cp1", guard)
    assert ("RESET" in done[1]) is reset, done
    assert (not done[0]) is stopped, done
    if stopped:
        assert "holds etcd's data (/var/lib/etcd/member) but no " in done[1]
        assert "it may be the control plane of a live cluster, which kubeprep never resets" \
            in done[1]


def test_stale_admin_kubeconfig_is_copied_again():
    fleet = Fleet({"cp1": node_facts("cp_stale_copy", cni_applied=True)}).prepare()
    assert dict(fleet.plan("cp1"))["kubectl for kubeadmin"][-1] == (
        "install -m 600 --owner=kubeadmin --group=kubeadmin /etc/kubernetes/admin.conf "
        "/home/kubeadmin/.kube/config"
    )


# --- run time: pyinfra's run_ops with a recording connector


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_run_joins_workers_with_the_token_made_on_cp1_in_the_same_run(platform):
    fleet = fresh_fleet(platform)
    log = fleet.run(kubeadm_answers())
    token_at = log.index(("cp1", "kubeadm token create --print-join-command --ttl 1h 2>&1"))
    written = "rm -f /etc/kubernetes/kubeadm-config.yaml && umask 077 && cat > " \
              "/etc/kubernetes/kubeadm-config.yaml"
    for worker, address in (("w1", "192.168.77.21"), ("w2", "192.168.77.22")):
        config = next(entry for entry in log if entry[0] == worker and entry[1][0] == written)
        assert log.index(config) > token_at
        assert config[1][1] == join_config(address, parse_join_command(TOKEN_OUTPUT), False)
        joined_at = log.index((worker, next(text for host, text in log if host == worker
                                            and str(text).startswith("kubeadm join"))))
        assert log[joined_at + 1] == (worker, "rm -f /etc/kubernetes/kubeadm-config.yaml")
        assert "kubeadm init phase upload-certs" not in str(log)  # no control plane joins
    assert not fleet.state.failed_hosts


def test_a_second_control_plane_joins_with_a_fresh_certificate_key():
    fleet = Fleet({name: node_facts("fresh") for name in ("cp1", "cp2", "w1")}).prepare()
    assert [op for op, _ in fleet.plan("cp1")][1] == "kubeadm init"
    assert fleet.plan("cp1")[1][1][-1] == (
        "kubeadm init --config /etc/kubernetes/kubeadm-config.yaml --upload-certs "
        "--skip-token-print --skip-certificate-key-print")
    log = fleet.run(kubeadm_answers())
    cp2_config = next(entry for entry in log if entry[0] == "cp2" and "cat >" in entry[1][0])
    assert 'certificateKey: "e43cde65ce935fd60bcc1af1523a4b414922bc13cfc8802159cf27f5df4935a3"' \
        in cp2_config[1][1]
    assert ("cp2", "install -m 600 --owner=kubeadmin --group=kubeadmin "
                   "/etc/kubernetes/admin.conf /home/kubeadmin/.kube/config") in log


def test_control_planes_get_the_probes_patches_before_init_and_join_workers_none():
    fleet = Fleet({name: node_facts("fresh") for name in ("cp1", "cp2", "w1")},
                  {"kubernetes_control_plane_probes": PROBES}).prepare()
    patches = probe_patches(kube(kubernetes_control_plane_probes=PROBES)
                            .kubernetes_control_plane_probes)
    for name in ("cp1", "cp2"):
        plan = dict(fleet.plan(name))
        names = [op for op, _ in fleet.plan(name)]
        assert names.index("kubeadm patches folder") < names.index(
            "kubeadm init" if name == "cp1" else "kubeadm join")
        upload = next(command for command in plan["kubeadm patch: kube-apiserver's probes"]
                      if command[0] == "upload")
        assert list(upload[:3]) == ["upload", patches["kube-apiserver+strategic.json"],
                                    "/etc/kubernetes/kubeprep-patches/kube-apiserver+strategic.json"]
        assert "kubeadm patch: etcd's probes" in plan
        assert "no kubeadm patch for kube-scheduler" in plan
    assert not any("patch" in op for op, _ in fleet.plan("w1"))
    log = fleet.run(kubeadm_answers())
    cp2_config = next(entry for entry in log if entry[0] == "cp2" and "cat >" in entry[1][0])
    w1_config = next(entry for entry in log if entry[0] == "w1" and "cat >" in entry[1][0])
    assert "patches:" in cp2_config[1][1] and "patches:" not in w1_config[1][1]


def cut_join_check(fleet: Fleet, node: str, tmp_path: Path, leftover: str | None):
    """The node's first join command, run by sh with the paths it tests moved under ``tmp_path`` (holding
    ``leftover``) and kubeadm a stand-in that records its arguments in tmp_path/kubeadm."""
    (command,) = [commands[0] for op, commands in fleet.plan(node) if op == "kubeadm join"]
    root = tmp_path / "root"
    if leftover:
        (root / leftover.lstrip("/")).parent.mkdir(parents=True)
        (root / leftover.lstrip("/")).write_text("left by a cut join\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "kubeadm").write_text(f"#!/bin/sh\necho \"$*\" >> {tmp_path}/kubeadm\n")
    (bin_dir / "kubeadm").chmod(0o755)
    return subprocess.run(["sh", "-c", command.replace("[ -e /etc/", f"[ -e {root}/etc/")],
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, capture_output=True,
                          text=True)


@pytest.mark.parametrize(("leftover", "reset"), [
    ("/etc/kubernetes/bootstrap-kubelet.conf", True), ("/etc/kubernetes/pki/ca.crt", True),
    (None, False),
])
def test_what_a_cut_join_left_on_a_worker_is_reset_before_the_join(tmp_path, leftover, reset):
    result = cut_join_check(fresh_fleet(), "w1", tmp_path, leftover)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "kubeadm").exists() == reset
    if reset:
        assert (tmp_path / "kubeadm").read_text() == "reset -f\n"
        assert "kubeprep: w1 holds what an earlier kubeadm join left" in result.stderr


def test_what_a_cut_join_left_on_a_control_plane_stops_it_with_the_fix(tmp_path):
    fleet = Fleet({name: node_facts("fresh") for name in ("cp1", "cp2", "w1")}).prepare()
    result = cut_join_check(fleet, "cp2", tmp_path, "/etc/kubernetes/pki/ca.crt")
    assert result.returncode == 1 and not (tmp_path / "kubeadm").exists()
    assert " ".join(result.stderr.split()) == (
        "kubeprep: cp2 holds what an earlier kubeadm join left "
        "(/etc/kubernetes/bootstrap-kubelet.conf, /etc/kubernetes/pki/ca.crt) and is a control "
        "plane, whose etcd member may already be in the cluster. Fix: on cp1, list etcd's "
        "members (etcdctl member list, with the certificates in /etc/kubernetes/pki/etcd) and "
        "remove cp2's if it is listed; then on cp2 run 'kubeadm reset -f' and run kubeprep again")
    assert cut_join_check(fleet, "cp2", tmp_path / "clean", None).returncode == 0


def test_a_node_that_fails_to_join_stops_and_the_others_go_on():
    fleet = fresh_fleet()
    fleet.run(kubeadm_answers(join_fails=("w2",)))
    assert {host.name for host in fleet.state.failed_hosts} == {"w2"}


def test_no_token_fails_every_joining_node_with_the_reason():
    fleet = fresh_fleet()

    def answer(host, command):
        if command.startswith("kubeadm token create"):
            return False, "failed to create or update bootstrap token: connection refused"
        return True, ""

    fleet.run(answer)
    assert {host.name for host in fleet.state.failed_hosts} == {"cp1", "w1", "w2"}
    assert any("no join credentials: kubeadm said: failed to create or update bootstrap token"
               in error for error in fleet.errors)


def test_limit_to_a_fresh_worker_is_refused_before_any_change():
    fleet = Fleet({name: node_facts("fresh") for name in ("cp1", "w1", "w2")},
                  active=["w1"])
    fleet.prepare()
    assert fleet.plan("w1") == []
    assert [" ".join(error.split()) for error in fleet.errors] == [
        "[w1] kubeprep: w1: cannot join: the first control plane cp1 is not in this run, so no "
        "join token can be made. Fix: run without --limit, or include cp1.",
    ]


@pytest.mark.parametrize(("data", "error"), [
    ({"cni_pod_cidr": "10.244.0.0/24"},
     "cni_pod_cidr = '10.244.0.0/24': holds 1 node networks of /24 (one per node), fewer than "
     "the 3 nodes"),
    ({"cni": "cilium"}, "cni_manifest = None: cilium has no single upstream manifest"),
])
def test_bad_cluster_data_refused_on_every_node(data, error):
    fleet = Fleet({name: node_facts("fresh") for name in ("cp1", "w1", "w2")}, data).prepare()
    assert all(fleet.plan(name) == [] for name in ("cp1", "w1", "w2"))
    assert len(fleet.errors) == 3 and all(error in text for text in fleet.errors)


def test_cni_none_applies_nothing():
    fleet = fresh_fleet(cni="none")
    assert "CNI flannel" not in [op for op, _ in fleet.plan("cp1")]


def test_run_on_a_half_joined_fleet_joins_only_the_missing_worker():
    fleet = Fleet({
        "cp1": node_facts("cp_init_done", cni_applied=True),
        "w1": node_facts("worker_joined"), "w2": node_facts("fresh"),
    }).prepare()
    log = fleet.run(kubeadm_answers())
    # what a cut join left, folder, config, join, config removed
    assert [host for host, _ in log if host != "cp1"] == ["w2"] * 5
    assert ("cp1", "kubeadm token create --print-join-command --ttl 1h 2>&1") in log
    assert log[-2][1].startswith("kubeadm join --config /etc/kubernetes/kubeadm-config.yaml")
    assert not fleet.state.failed_hosts


def test_admin_kubeconfig_planned_before_the_admin_user_exists():
    """--dry on a fresh host: the account task creates the user later in the same run."""
    facts = node_facts("fresh")
    facts["kubernetes.KubeadmNode"]["user=kubeadmin"] = case_output(
        "kubernetes.KubeadmNode", "user_not_created_yet",
    )
    fleet = Fleet({"cp1": facts}).prepare()
    assert dict(fleet.plan("cp1"))["kubectl for kubeadmin"] == [
        "install -d -m 700 --owner=kubeadmin --group=kubeadmin /home/kubeadmin/.kube",
        "install -m 600 --owner=kubeadmin --group=kubeadmin /etc/kubernetes/admin.conf "
        "/home/kubeadmin/.kube/config",
    ]


# --- certificate renewal


def renewal_fleet(names: tuple[str, ...] = ("cp1", "w1"), days: int = 30,
                  **days_left: int) -> Fleet:
    """A converged cluster whose control planes' certificates have ``days_left`` (else 364)."""
    facts = {name: node_facts("cp_converged" if name.startswith("cp") else "worker_joined",
                              cni_applied=True) for name in names}
    for name in names:
        facts[name]["kubernetes.CertificateExpiry"] = {
            "output": "\n".join(expiry_output(**days_left))}
    return Fleet(facts, {"kubernetes_certificate_renewal_days": days}).prepare()


RENEWAL = "Renew kubeadm's certificates"
CRICTL = "crictl --runtime-endpoint unix:///run/containerd/containerd.sock"


def test_certificates_with_days_to_spare_are_not_renewed_nor_asked_for_on_workers():
    fleet = renewal_fleet()
    assert dict(fleet.plan("cp1"))[RENEWAL] == []
    assert RENEWAL not in dict(fleet.plan("w1"))
    # a CA close to its end is check.py's to report: kubeadm renews no CA
    assert dict(renewal_fleet(**{"ca": 3, "front-proxy-ca": 3}).plan("cp1"))[RENEWAL] == []


def test_a_certificate_due_is_renewed_then_each_static_pod_restarted_in_order():
    commands = dict(renewal_fleet(apiserver=29).plan("cp1"))[RENEWAL]
    assert commands[0] == "kubeadm certs renew all"
    restarted = [next(pod for pod in ("etcd", "kube-apiserver", "kube-controller-manager",
                                      "kube-scheduler") if f"'^{pod}$'" in command)
                 for command in commands[1:5]]
    assert restarted == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    assert "get --raw=/readyz" in commands[2] and "readyz" not in commands[1]
    assert commands[5:] == [
        "[ ! -f /home/kubeadmin/.kube/config ] || install -m 600 --owner=kubeadmin "
        "--group=kubeadmin /etc/kubernetes/admin.conf /home/kubeadmin/.kube/config",
    ]


def test_control_planes_renew_one_after_the_other():
    fleet = renewal_fleet(("cp1", "cp2", "w1"), apiserver=10)
    (op_hash,) = [op_hash for op_hash in fleet.state.get_op_order()
                  if fleet.op_name(op_hash) == RENEWAL]
    # pyinfra's _serial: host by host, never two API servers restarting at once
    assert fleet.state.get_op_meta(op_hash).global_arguments["_serial"] is True
    log = fleet.run(kubeadm_answers())
    renewed = [host for host, command in log if command == "kubeadm certs renew all"]
    assert sorted(renewed) == ["cp1", "cp2"] and not fleet.state.failed_hosts


@pytest.mark.parametrize("days", [-1, True])
def test_renewal_days_refused(days):
    with pytest.raises(DataError) as error:
        kube(kubernetes_certificate_renewal_days=days)
    assert "kubernetes_certificate_renewal_days" in str(error.value)


def fake_node(tmp_path: Path, containers: list[str], api_answers: bool = True) -> dict:
    """A PATH where crictl lists ``containers`` one per call (the last one from then on) and
    records what it stops, and kubectl answers or not."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (tmp_path / "listed").write_text("\n".join(containers) + "\n")
    (bin_dir / "crictl").write_text(f"""#!/bin/sh
echo "$*" >> {calls}
case "$*" in
  *" stop "*) exit 0 ;;
esac
first=$(head -n 1 {tmp_path}/listed)
[ "$(wc -l < {tmp_path}/listed)" -gt 1 ] && sed -i 1d {tmp_path}/listed
echo "$first"
""")
    (bin_dir / "kubectl").write_text(f"#!/bin/sh\nexit {0 if api_answers else 1}\n")
    for tool in ("crictl", "kubectl"):
        (bin_dir / tool).chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "calls": str(calls)}


def restart_command(pod: str, seconds: int = 600) -> str:
    """The restart command as the operation makes it for cp1 (sleeps dropped by the caller)."""
    host = Inventory((["cp1"], {})).get_host("cp1")
    with patch.object(kubeadm_ops, "RESTART_SECONDS", seconds), ctx_host.use(host):
        return kubeadm_ops._restart(pod).get_raw_value()


def test_a_restart_stops_the_running_container_and_waits_for_a_new_one(tmp_path):
    node = fake_node(tmp_path, ["aaa", "aaa", "bbb"])
    result = subprocess.run(["sh", "-c", restart_command("kube-apiserver").replace(
        "sleep 5", "true")], env={"PATH": node["PATH"]}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    calls = Path(node["calls"]).read_text().splitlines()
    assert calls[1] == "--runtime-endpoint unix:///run/containerd/containerd.sock stop --timeout 30 aaa"
    assert len(calls) == 4  # listed, stopped, listed (the old one), listed (the new one)


def test_a_restart_that_never_comes_back_fails_with_the_fix(tmp_path):
    node = fake_node(tmp_path, ["aaa", "bbb"], api_answers=False)
    result = subprocess.run(["sh", "-c", restart_command("kube-apiserver", seconds=10).replace(
        "sleep 5", "true")], env={"PATH": node["PATH"]}, capture_output=True, text=True)
    assert result.returncode == 1
    assert "kubeprep: kube-apiserver on cp1 did not run again within 10 s" in result.stderr


# --- image registries that do not answer


LAB_MIRRORS = {"containerd_registry_mirrors": {"registry.k8s.io": ["http://192.168.77.250:5000"]},
               "plain_http_accepted": True}


def test_a_registry_that_answers_through_no_mirror_refuses_the_fresh_nodes_before_any_change():
    facts = {name: node_facts("fresh") for name in ("cp1", "w1")}
    for node in facts.values():
        node["network.TcpAnswers"] = Answering(
            closed=("192.168.77.250:5000", "registry.k8s.io:443"))
    fleet = Fleet(facts, LAB_MIRRORS).prepare()
    assert fleet.plan("cp1") == [] and fleet.plan("w1") == []
    assert sorted(" ".join(error.split()) for error in fleet.errors) == [
        f"[{name}] kubeprep: {name}: the image registry registry.k8s.io does not answer from "
        f"{name} (no TCP connection to 192.168.77.250:5000, registry.k8s.io:443 in 5 s), and "
        f"kubeadm {step} pulls the control plane's images and kube-proxy and the pause image "
        "every pod starts from from it. Fix: set containerd_registry_mirrors = "
        "{'registry.k8s.io': ['https://<mirror>']} to a mirror this host reaches (or "
        "kubernetes_image_repository or containerd_sandbox_image), or deploy_until = "
        "\"kubernetes\" to stop before the cluster."
        for name, step in (("cp1", "init"), ("w1", "join"))]


def test_one_answering_mirror_is_enough_and_an_own_sandbox_registry_is_asked_too():
    facts = {"cp1": node_facts("fresh")}
    facts["cp1"]["network.TcpAnswers"] = Answering(closed=("registry.k8s.io:443",
                                                           "registry-1.docker.io:443"))
    fleet = Fleet(facts, {**LAB_MIRRORS, "containerd_sandbox_image": "docker.io/rancher/pause:3.10"})
    fleet.prepare()
    assert "the image registry docker.io does not answer" in " ".join(fleet.errors)
    assert "pulls the pause image every pod starts from" in " ".join(fleet.errors)
    fleet = Fleet({"cp1": node_facts("fresh")}, LAB_MIRRORS)
    fleet.facts["cp1"]["network.TcpAnswers"] = Answering(closed=("registry.k8s.io:443",))
    assert "kubeadm init" in [op for op, _ in fleet.prepare().plan("cp1")]


def test_joined_nodes_ask_no_registry():
    """A converged cluster makes no TCP read: no registry is pulled from without a join."""
    facts = {"cp1": node_facts("cp_converged", cni_applied=True),
             "w1": node_facts("worker_joined")}
    for node in facts.values():
        del node["network.TcpAnswers"]  # a read of it would fail the prepare
    fleet = Fleet(facts, LAB_MIRRORS).prepare()
    assert fleet.errors == [] and fleet.plan("w1")


# --- a node removed (kubernetes_removed_nodes), fact cases captured on the lab's cluster

def removal_fleet(removed: list[str], w2: str = "lab_w2_joined", nodes: str = "lab_three_nodes",
                  **data) -> Fleet:
    """cp1 converged with w1 and w2 joined (kubectl's nodes from the fact case ``nodes``), w2's
    leftovers those of the ClusterLeftovers case ``w2``; ``removed`` in the data."""
    facts = {"cp1": node_facts("cp_converged", cni_applied=True),
             "w1": node_facts("worker_joined"), "w2": node_facts("worker_joined")}
    facts["cp1"]["kubernetes.ClusterNodes"] = case_output("kubernetes.ClusterNodes", nodes)
    facts["w2"]["kubernetes.ClusterLeftovers"] = case_output("kubernetes.ClusterLeftovers", w2)
    facts["w1"]["kubernetes.ClusterLeftovers"] = case_output("kubernetes.ClusterLeftovers",
                                                             "lab_w2_joined")
    facts["cp1"]["kubernetes.ClusterLeftovers"] = case_output("kubernetes.ClusterLeftovers",
                                                              "lab_cp1_running")
    for name in facts:
        facts[name]["files.Sha1File"] = hashlib.sha1(init_config(
            kube(cni="flannel"), "192.168.77.11", "192.168.77.11:6443").encode()).hexdigest()
        facts[name]["files.File"] = {"mode": 600, "user": "root", "group": "root"}
    return Fleet(facts, {"kubernetes_removed_nodes": removed, **data}).prepare()


DRAIN = ("for try in $(seq 3); do kubectl --kubeconfig=/etc/kubernetes/admin.conf drain w2 "
         "--ignore-daemonsets --delete-emptydir-data --timeout=5m && break; [ $try -ge 3 ] && "
         "{ echo 'kubeprep: the drain of w2 stopped 3 times")


def fake_kubectl(tmp_path: Path, fails: int) -> dict[str, str]:
    """An environment whose kubectl fails its first ``fails`` calls, then succeeds."""
    (tmp_path / "kubectl").write_text(
        "#!/bin/sh\n[ \"$2\" = get ] && { echo 'default/web '; exit 0; }\n"
        f"n=$(cat {tmp_path}/calls 2>/dev/null || echo 0); echo $((n + 1)) > "
        f"{tmp_path}/calls\n[ $n -ge {fails} ] || {{ echo 'connection refused' >&2; exit 1; }}\n")
    (tmp_path / "kubectl").chmod(0o755)
    return {"PATH": f"{tmp_path}:/usr/bin:/bin"}


@pytest.mark.parametrize(("fails", "ok"), [(0, True), (2, True), (3, False)])
def test_a_drain_is_tried_three_times_then_stops_with_why_and_the_fix(tmp_path, fails, ok):
    command = kubeadm_ops.drain_command("w1", "w1 is left cordoned. Fix: ...").get_raw_value()
    done = subprocess.run(["sh", "-c", command.replace("sleep 20", "sleep 0")],
                          env=fake_kubectl(tmp_path, fails), capture_output=True, text=True)
    assert (done.returncode == 0) is ok, done
    assert (tmp_path / "calls").read_text().strip() == str(min(fails + 1, 3))
    assert ("kubeprep: the drain of w1 stopped 3 times (kubectl's messages above say why: a pod "
            "not evicted within 5m each time, as when a PodDisruptionBudget allows no eviction, "
            "or an API server that did not answer). w1 is left cordoned. Fix: ...\n"
            "kubeprep: PodDisruptionBudgets that allow no eviction now: default/web"
            in done.stderr) is not ok


@pytest.mark.parametrize(("fails", "calls", "ok"), [(0, 2, True), (59, 61, True),
                                                   (60, 60, False)])
def test_an_uncordon_waits_for_an_api_server_restarting_after_the_kubelet(tmp_path, fails,
                                                                          calls, ok):
    """On the lab's cp1 the new kubelet restarted the API server: connection refused at first,
    to the uncordon and, once that went through, to the wait for Ready."""
    command = upgrade_ops.uncordon_command("cp1", "cp1 stays cordoned. Fix: ...").get_raw_value()
    done = subprocess.run(["sh", "-c", command.replace("sleep 10", "sleep 0")],
                          env=fake_kubectl(tmp_path, fails), capture_output=True, text=True)
    assert (done.returncode == 0) is ok, done
    assert (tmp_path / "calls").read_text().strip() == str(calls)  # uncordon, then wait
    assert ("cp1 stays cordoned. Fix: ..." in done.stderr) is not ok


def changes(fleet: Fleet, name: str) -> dict[str, list]:
    return {op: commands for op, commands in fleet.plan(name) if commands}


def test_a_removed_worker_is_drained_and_deleted_on_cp1_then_reset_and_cleaned():
    fleet = removal_fleet(["w2"])
    drain, delete, mark = changes(fleet, "cp1")["Nodes removed from the cluster"]
    assert drain.startswith(DRAIN) and drain.endswith(">&2; exit 1; }; sleep 20; done")
    assert delete == "kubectl --kubeconfig=/etc/kubernetes/admin.conf delete node w2"
    assert mark[0] == "_mark_removed"
    assert changes(fleet, "w2") == {"kubeadm reset (in kubernetes_removed_nodes)": [
        "kubeadm reset -f",
        "rm -rf /etc/cni/net.d/10-flannel.conflist",
        "ip link delete cni0",
        "ip link delete flannel.1",
        "iptables-save | grep -v -e KUBE- -e FLANNEL -e CNI- | iptables-restore",
        "ip6tables-save | grep -v -e KUBE- -e FLANNEL -e CNI- | ip6tables-restore",
    ]}
    # w2 is not joined again, nor made a token for; w1 stays as it is
    assert changes(fleet, "w1") == {}
    assert "Fresh join credentials" not in changes(fleet, "cp1")
    order = [fleet.op_name(op) for op in fleet.state.get_op_order()]
    assert order.index("Nodes removed from the cluster") < order.index(
        "kubeadm reset (in kubernetes_removed_nodes)")


def test_a_removed_node_is_reset_only_after_cp1_drained_it():
    fleet = removal_fleet(["w2"])
    log = fleet.run(kubeadm_answers())
    commands = [(host, command) for host, command in log if isinstance(command, str)]
    drained = commands.index(("cp1", "kubectl --kubeconfig=/etc/kubernetes/admin.conf delete "
                                     "node w2"))
    assert commands.index(("w2", "kubeadm reset -f")) > drained
    assert not fleet.state.failed_hosts


def test_a_drain_that_fails_leaves_the_node_unreset_with_the_reason():
    fleet = removal_fleet(["w2"])

    def answer(host: str, command: str) -> tuple[bool, str]:
        if " drain " in command:
            return False, ('error when evicting pods/"web-1" -n "default" (will retry after 5s): '
                           "Cannot evict pod as it would violate the pod's disruption budget.")
        return kubeadm_answers()(host, command)

    log = fleet.run(answer)
    assert ("w2", "kubeadm reset -f") not in log
    assert {host.name for host in fleet.state.failed_hosts} == {"cp1", "w2"}
    assert any("w2 is not reset: cp1 did not drain and delete it from the cluster" in error
               for error in fleet.errors)


def test_a_removed_node_out_of_the_cluster_and_clean_changes_nothing():
    fleet = removal_fleet(["w2"], w2="lab_w2_after_reset", nodes="lab_w2_deleted")
    for name in ("cp1", "w1", "w2"):
        assert changes(fleet, name) == {}, name


def test_no_answer_from_the_api_server_drains_and_resets_nothing():
    fleet = removal_fleet(["w2"], nodes="api_server_did_not_answer")
    (no_answer,) = changes(fleet, "cp1")["Nodes removed from the cluster"]
    assert no_answer[0] == "_no_answer"
    fleet.run(kubeadm_answers())
    assert {host.name for host in fleet.state.failed_hosts} == {"cp1", "w2"}


@pytest.mark.parametrize(("removed", "data", "error"), [
    (["w9"], {}, "kubernetes_removed_nodes = ['w9']: w9 is not a node of the inventory"),
    (["cp1"], {}, "kubernetes_removed_nodes = ['cp1'] holds every control plane: their reset "
                  "ends the cluster and deletes its etcd data. Fix: keep one out of the list, or "
                  "set kubernetes_remove_last_control_plane = True to end the cluster."),
    (["w 2"], {}, "kubernetes_removed_nodes = 'w 2': not a host name of the inventory"),
])
def test_removals_refused(removed, data, error):
    fleet = removal_fleet(removed, **data)
    refused = [name for name in ("cp1", "w1", "w2") if not fleet.plan(name)]
    assert refused, fleet.errors
    assert fleet.errors and all(error in " ".join(text.split()) for text in fleet.errors)


def test_the_last_control_plane_is_reset_with_the_switch_and_nothing_drained():
    fleet = removal_fleet(["cp1", "w1", "w2"], kubernetes_remove_last_control_plane=True)
    assert changes(fleet, "cp1")["kubeadm reset (in kubernetes_removed_nodes)"][0] == (
        "kubeadm reset -f")
    assert "Nodes removed from the cluster" not in changes(fleet, "cp1")


def test_a_removal_without_the_first_control_plane_in_the_run_is_refused():
    facts = {"cp1": node_facts("cp_converged", cni_applied=True),
             "w1": node_facts("worker_joined"), "w2": node_facts("worker_joined")}
    fleet = Fleet(facts, {"kubernetes_removed_nodes": ["w2"]}, active=["w2"]).prepare()
    assert fleet.plan("w2") == []
    assert [" ".join(error.split()) for error in fleet.errors] == [
        "[w2] kubeprep: w2: cannot be removed: the first control plane cp1 is not in this run, "
        "so w2 cannot be drained and deleted from the cluster before its reset. Fix: run "
        "without --limit, or include cp1.",
    ]


# --- upgrade: a changed kubernetes_version on a running cluster

def packages_at(version: str, *held: str) -> dict:
    """kubernetes.KubernetesPackages: the three at ``version`` (deb's 1.1 revision), held."""
    return {"installed": {name: f"{version}-1.1" for name in ("kubeadm", "kubelet", "kubectl")},
            "held": list(held or ("kubeadm", "kubelet", "kubectl"))}


def upgrade_facts(cluster: dict, version: str = "1.37.2", packages: dict | None = None) -> dict:
    """cp1 converged with w1 and w2 joined, the cluster as ``cluster`` (ClusterVersions) says,
    every node's packages at 1.36.3 but those in ``packages``."""
    facts = {"cp1": node_facts("cp_converged", cni_applied=True),
             "w1": node_facts("worker_joined"), "w2": node_facts("worker_joined")}
    for name in facts:
        facts[name]["files.Sha1File"] = hashlib.sha1(init_config(
            kube(cni="flannel", kubernetes_version=version), "192.168.77.11",
            "192.168.77.11:6443").encode()).hexdigest()
        facts[name]["files.File"] = {"mode": 600, "user": "root", "group": "root"}
        facts[name]["kubernetes.KubernetesPackages"] = (packages or {}).get(
            name, packages_at("1.36.3"))
    facts["cp1"]["kubernetes.ClusterVersions"] = cluster
    return facts


def upgrade_fleet(cluster: dict, version: str = "1.37.2", packages: dict | None = None,
                  **data) -> Fleet:
    """``upgrade_facts``' fleet, prepared with ``version`` in the data."""
    return Fleet(upgrade_facts(cluster, version, packages),
                 {"kubernetes_version": version, **data}).prepare()


APT_INSTALL = ("DEBIAN_FRONTEND=noninteractive apt-get install -y "
               "--allow-change-held-packages")
UPGRADE_ORDER = [
    "kubeadm 1.37.2, held (the upgrade's first step)",
    "kubeadm upgrade apply 1.37.2 (the cluster is at v1.36.3), after an etcd snapshot",
    *(f"{step} {node}{what}" for node in ("cp1", "w1", "w2") for step, what in (
        ("Drain", " for 1.37.2"), ("Upgrade", " to 1.37.2"), ("Uncordon", ", Ready at 1.37.2"))),
]


def test_an_upgrade_goes_in_kubeadms_order_one_node_at_a_time():
    fleet = upgrade_fleet(cluster_versions("v1.36.3"))
    order = [fleet.op_name(op) for op in fleet.state.get_op_order()]
    upgrade = [name for name in order if name in UPGRADE_ORDER]
    assert upgrade == UPGRADE_ORDER
    # the joins of the run between the apply and the drains: a node joins the upgraded control
    # plane, and gives the drained nodes' pods a place to go
    assert order.index(UPGRADE_ORDER[1]) < order.index("Fresh join credentials") \
        < order.index("kubeadm join") < order.index(UPGRADE_ORDER[2])
    cp1, w1 = changes(fleet, "cp1"), changes(fleet, "w1")
    assert cp1["kubeadm 1.37.2, held (the upgrade's first step)"] == [
        "apt-get update", f"{APT_INSTALL} 'kubeadm=1.37.2-*'", "apt-mark hold kubeadm"]
    snapshot, plan, apply = cp1[UPGRADE_ORDER[1]]
    assert snapshot == ["_snapshot", ["v1.36.3", "/var/lib/kubeprep/etcd-snapshots"], {}]
    assert plan == 'kubeadm upgrade plan "$(kubeadm version -o short)"'
    assert apply == ('kubeadm upgrade apply "$(kubeadm version -o short)" --config '
                     f"{UPGRADE_CONFIG} -y")
    assert cp1["Drain w1 for 1.37.2"][0] == kubeadm_ops.drain_command("w1", (
        "w1 is left cordoned and not upgraded to 1.37.2; the nodes after it wait. Fix: relax that "
        "budget or give its workload room on other nodes, or wait until the API server answers, "
        "then run kubeprep again: it goes on from w1")).get_raw_value()
    assert cp1["Uncordon w1, Ready at 1.37.2"] == [
        upgrade_ops.uncordon_command("w1", (
            "kubeprep: w1 was not seen uncordoned and Ready in 60 tries 10 s apart after w1's "
            "kubelet restarted (kubectl's messages above say why: an API server that does not "
            "answer, a node not Ready): the nodes after it wait. Fix: once `kubectl "
            "--kubeconfig=/etc/kubernetes/admin.conf get nodes` answers on cp1 and shows w1 "
            "Ready, `kubectl uncordon w1`, then run kubeprep again: it goes on from the next "
            "node.")).get_raw_value()]
    # the first control plane ran apply: no kubeadm upgrade node there; the workers run it
    assert cp1["Upgrade cp1 to 1.37.2"][0] == "apt-get update"
    assert w1["Upgrade w1 to 1.37.2"] == [
        f"kubeadm upgrade node --config {UPGRADE_CONFIG}", "apt-get update",
        f"{APT_INSTALL} 'kubelet=1.37.2-*' 'kubectl=1.37.2-*'", "apt-mark hold kubelet kubectl",
        "systemctl daemon-reload", "systemctl restart kubelet", ["_mark_upgraded", ["w1"], {}]]
    assert "Upgrade w2 to 1.37.2" not in w1  # a no-op there
    # the kubernetes task left the three packages to this stage, so nothing else moves them
    assert not [op for op in changes(fleet, "w1") if op.startswith("kubeadm, kubelet")]


def upgrade_steps(log: list[tuple[str, Any]]) -> list[str]:
    """The upgrade's commands in a run's log, each as 'host: what'."""
    labels = {"snapshot save": "etcd snapshot", "kubeadm upgrade plan": "plan",
              "kubeadm upgrade apply": "apply", "kubeadm upgrade node": "upgrade node",
              "systemctl restart kubelet": "kubelet restarted"}
    steps = []
    for host, command in log:
        if not isinstance(command, str):
            continue
        if kubectl := re.match(r"(?:for .*?; do )?kubectl --kubeconfig=\S+ (drain|uncordon) (\S+)",
                               command):
            steps.append(f"{host}: {kubectl[1]} {kubectl[2]}")
        steps += [f"{host}: {label}" for text, label in labels.items() if text in command]
    return steps


def test_the_upgrade_runs_each_step_only_after_the_one_before():
    fleet = upgrade_fleet(cluster_versions("v1.36.3"))
    log = fleet.run(lambda host, command: (True, "/var/lib/kubeprep/etcd-snapshots/x.db")
                    if "snapshot save" in command else kubeadm_answers()(host, command))
    assert upgrade_steps(log) == [
        "cp1: etcd snapshot", "cp1: plan", "cp1: apply",
        "cp1: drain cp1", "cp1: kubelet restarted", "cp1: uncordon cp1",
        "cp1: drain w1", "w1: upgrade node", "w1: kubelet restarted", "cp1: uncordon w1",
        "cp1: drain w2", "w2: upgrade node", "w2: kubelet restarted", "cp1: uncordon w2",
    ]
    assert not fleet.state.failed_hosts


def test_no_etcd_snapshot_no_upgrade():
    fleet = upgrade_fleet(cluster_versions("v1.36.3"))
    log = fleet.run(lambda host, command: (False, "crictl: executable file not found")
                    if "snapshot save" in command else kubeadm_answers()(host, command))
    assert upgrade_steps(log) == ["cp1: etcd snapshot"]
    assert any("no etcd snapshot on cp1" in error and "so nothing is upgraded" in error
               for error in fleet.errors), fleet.errors


def test_a_drain_a_budget_stops_leaves_that_node_and_the_later_ones_alone():
    fleet = upgrade_fleet(cluster_versions("v1.36.3"))

    def answer(host: str, command: str) -> tuple[bool, str]:
        if " drain w1 " in command:
            return False, ('error when evicting pods/"web-1" -n "default" (will retry after 5s): '
                           "Cannot evict pod as it would violate the pod's disruption budget.")
        return kubeadm_answers()(host, command)

    log = fleet.run(answer)
    ran = [(host, command) for host, command in log if isinstance(command, str)]
    assert ("cp1", "systemctl restart kubelet") in ran  # cp1 went before w1
    assert not [command for host, command in ran if host in ("w1", "w2") and (
        command.startswith(("kubeadm upgrade", "systemctl restart")) or "apt-get install -y "
        "--allow-change-held-packages 'kubelet" in command)]
    assert not [command for _, command in ran if " drain w2 " in command]
    assert {host.name for host in fleet.state.failed_hosts} == {"cp1", "w1", "w2"}
    assert any("w1 is not upgraded: cp1 did not drain it" in error for error in fleet.errors)


def test_a_node_joining_during_an_upgrade_joins_before_the_drains():
    cluster = cluster_versions("v1.37.2", w1="v1.36.3")
    del cluster["nodes"]["w2"]
    facts = upgrade_facts(cluster, packages={name: packages_at("1.37.2") for name in ("cp1", "w2")})
    facts["w2"]["kubernetes.KubeadmNode"] = kubeadm_node("fresh")
    fleet = Fleet(facts, {"kubernetes_version": "1.37.2"}).prepare()
    log = fleet.run(kubeadm_answers())
    ran = [(host, command) for host, command in log if isinstance(command, str)]
    join = next(i for i, (host, command) in enumerate(ran) if host == "w2"
                and command.startswith("kubeadm join"))
    drain = next(i for i, (_, command) in enumerate(ran) if " drain w1 " in command)
    assert join < drain
    assert upgrade_steps(log) == ["cp1: drain w1", "w1: upgrade node", "w1: kubelet restarted",
                                  "cp1: uncordon w1"]


def test_a_run_cut_mid_upgrade_goes_on_from_the_node_it_stopped_at():
    # cp1 done (apply and its kubelet), w1 cordoned for its upgrade when the run stopped
    cluster = ClusterVersions().process(case_output(
        "kubernetes.ClusterVersions", "derived_mid_upgrade")["output"].split("\n"))
    fleet = upgrade_fleet(cluster, packages={"cp1": packages_at("1.37.2")})
    upgrade = [fleet.op_name(op) for op in fleet.state.get_op_order()
               if fleet.op_name(op) in UPGRADE_ORDER]
    assert upgrade == [UPGRADE_ORDER[0], *UPGRADE_ORDER[-6:]]
    assert changes(fleet, "cp1").get(UPGRADE_ORDER[0]) is None  # kubeadm is there already


def test_a_kubelet_upgraded_but_not_restarted_is_restarted():
    fleet = upgrade_fleet(cluster_versions("v1.37.2", w2="v1.36.3"),
                          packages={name: packages_at("1.37.2") for name in ("cp1", "w1", "w2")})
    assert changes(fleet, "w2")["Upgrade w2 to 1.37.2"] == [
        f"kubeadm upgrade node --config {UPGRADE_CONFIG}", "systemctl daemon-reload", "systemctl restart kubelet",
        ["_mark_upgraded", ["w2"], {}]]
    assert changes(fleet, "w1") == {}
    assert [op for op in changes(fleet, "cp1") if "upgrade apply" in op] == []


def test_an_upgraded_cluster_changes_nothing_and_reads_its_versions_once():
    fleet = Fleet({"cp1": node_facts("cp_converged", cni_applied=True),
                   "w1": node_facts("worker_joined"), "w2": node_facts("worker_joined")})
    reads = []
    fake = fleet.fake_get_fact

    def slow_read(host, cls, *args, **kwargs):
        # a round trip: pyinfra prepares the hosts side by side, so the others go on meanwhile
        reads.append((host.name, cls.__name__))
        gevent.sleep(0.05)
        return fake(host, cls, *args, **kwargs)

    fleet.fake_get_fact = slow_read
    fleet.facts["cp1"]["kubernetes.ClusterVersions"] = cluster_versions("v1.35.2", w1="v1.35.2")
    fleet.prepare()
    assert reads.count(("cp1", "ClusterVersions")) == 1
    assert not [op for op in map(fleet.op_name, fleet.state.get_op_order())
                if op.startswith(("Drain", "Upgrade", "Uncordon", "kubeadm upgrade"))]


@pytest.mark.parametrize(("cluster", "version", "problem"), [
    ("v1.35.2", "1.37.2", "would skip 1.36 (the cluster is at v1.35.2): kubeadm upgrades a "
                          "cluster one minor at a time"),
    ("v1.37.2", "1.36.3", "would downgrade the cluster 1.37.2 -> 1.36.3: kubeadm does not "
                          "downgrade a cluster"),
])
def test_a_skipped_minor_or_a_downgrade_of_the_cluster_is_refused(cluster, version, problem):
    fleet = upgrade_fleet(cluster_versions(cluster), version=version,
                          packages={name: packages_at(version) for name in ("cp1", "w1", "w2")})
    assert [name for name in ("cp1", "w1", "w2") if not fleet.plan(name)] == ["cp1", "w1", "w2"]
    assert any(f"kubernetes_version = '{version}': {problem}. Fix: set kubernetes_version to "
               f"the cluster's version ({cluster}) or its next minor." in " ".join(error.split())
               for error in fleet.errors), fleet.errors


def test_an_api_server_that_does_not_answer_upgrades_nothing_and_says_so():
    warnings = []
    with patch("kubeprep.deploys.cluster.logger.warning", warnings.append):
        fleet = upgrade_fleet(ClusterVersions().process(case_output(
            "kubernetes.ClusterVersions", "api_server_did_not_answer")["output"].split("\n")))
    assert not [op for op in map(fleet.op_name, fleet.state.get_op_order())
                if op.startswith(("Drain", "Upgrade", "Uncordon", "kubeadm upgrade"))]
    assert any("whether the cluster needs kubeadm's upgrade is not known: nothing is upgraded "
               "in this run" in warning for warning in warnings), warnings


def test_the_plan_is_printed_a_step_per_node_before_anything_runs():
    """What --dry shows: pyinfra prints the plan while it prepares the operations."""
    said = []
    with patch("kubeprep.deploys.cluster.logger.info", said.append):
        upgrade_fleet(cluster_versions("v1.36.3"))
    assert [" ".join(text.split()) for text in said if "upgrade to" in text] == [
        "[cp1] kubeprep: upgrade to 1.37.2 (the cluster is at v1.36.3), one node at a time: "
        "1. cp1: an etcd snapshot, then kubeadm upgrade plan and apply: kube-apiserver, "
        "kube-controller-manager, kube-scheduler and kube-proxy v1.36.3 -> 1.37.2, etcd and "
        "CoreDNS to what kubeadm 1.37.2 pins "
        "2. cp1: drained, kubelet and kubectl v1.36.3 -> 1.37.2 and held, the kubelet "
        "restarted, uncordoned, Ready "
        "3. w1: drained, kubeadm upgrade node, kubelet and kubectl v1.36.3 -> 1.37.2 and held, "
        "the kubelet restarted, uncordoned, Ready "
        "4. w2: drained, kubeadm upgrade node, kubelet and kubectl v1.36.3 -> 1.37.2 and held, "
        "the kubelet restarted, uncordoned, Ready"]


def test_a_node_cordoned_at_the_version_is_named():
    warnings = []
    cluster = cluster_versions("v1.35.2")
    cluster["nodes"]["w2"]["cordoned"] = True
    with patch("kubeprep.deploys.cluster.logger.warning", warnings.append):
        upgrade_fleet(cluster, version="1.35",
                      packages={name: packages_at("1.35.2") for name in ("cp1", "w1", "w2")})
    assert any("w2 is at 1.35 and cordoned" in warning for warning in warnings), warnings


def uploaded(log: list[tuple[str, Any]], host: str, path: str) -> str:
    (text,) = [command[2] for name, command in log if name == host
               and isinstance(command, tuple) and command[:2] == ("upload", path)]
    return text


def test_kubeadms_upgrade_gets_the_timeouts_and_the_control_planes_their_probes_patches():
    probes = {"apiServer": {"livenessProbe": {"failureThreshold": 20}}}
    fleet = upgrade_fleet(cluster_versions("v1.36.3"), kubernetes_control_plane_probes=probes,
                          kubernetes_timeouts={"upgradeManifests": "15m"})
    log = fleet.run(lambda host, command: (True, "/var/lib/kubeprep/etcd-snapshots/x.db")
                    if "snapshot save" in command else kubeadm_answers()(host, command))
    assert yaml.safe_load(uploaded(log, "cp1", UPGRADE_CONFIG)) == {
        "apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "UpgradeConfiguration",
        "apply": {"patches": {"directory": "/etc/kubernetes/kubeprep-patches"}},
        "node": {"patches": {"directory": "/etc/kubernetes/kubeprep-patches"}},
        "timeouts": {"upgradeManifests": "15m"}}
    assert yaml.safe_load(uploaded(log, "w1", UPGRADE_CONFIG)) == {
        "apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "UpgradeConfiguration",
        "timeouts": {"upgradeManifests": "15m"}}
    # a run that upgrades nothing writes none
    assert UPGRADE_CONFIG not in str(Fleet({"cp1": node_facts("cp_converged")}).prepare().plan(
        "cp1"))
