"""The runtime task on the lab's VMs: containerd from the offline repository (1.6 from bookworm on
cp1 and w1, 2.x from unstable on w2), its effective config, real pods through the CRI socket with
the kubelet's own calls, pod-to-pod traffic across nodes through kubeprep's firewall, and a hand
edit undone.

Starts from the converged lab test_node_prep.py leaves (the deploy ran the runtime task). The pod
network is test scaffolding, not shipped: Debian's CNI plugins from the offline repository, a
bridge + host-local config with one subnet per node out of cni_pod_cidr, and the routes flannel's
host-gw mode would set. Everything it adds is removed at the end.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pytest
from checkrun import ZONES_READ, zone_sets
from cri.client import CriClient

pytestmark = pytest.mark.lab

SOCKET = "/run/containerd/containerd.sock"
# The sandbox image comes from the lab's registry mirror (lab/inventory.py, KUBERNETES): containerd
# pulls it through certs.d/registry.k8s.io/hosts.toml on the first RunPodSandbox.
PAUSE = runpy.run_path(os.path.join(os.path.dirname(__file__), "../../lab/inventory.py"))[
    "KUBERNETES"]["containerd_sandbox_image"]
BUSYBOX = "localhost/busybox:1.35"
CNI_BIN_DIR = "/usr/lib/cni"
POD_CIDR = "10.244.0.0/16"
SUBNET = {"cp1": "10.244.0.0/24", "w1": "10.244.1.0/24", "w2": "10.244.2.0/24"}
PORT = 8080
TRUSTED = ("10.244.0.0/16", "10.96.0.0/12")  # cni_pod_cidr, cni_service_cidr


def sid_version(package: str) -> str:
    path = os.path.join(os.path.dirname(__file__), "../../lab/image/sid-packages.txt")
    with open(path) as pins:
        lines = [line.strip() for line in pins if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)[package]


def sh(lab, node: str, command: str) -> str:
    return lab.run(node, command, check=True).stdout


def on_nodes(lab, command) -> dict[str, str]:
    """``command(node)`` run on every node in parallel -> stdout per node."""
    with ThreadPoolExecutor(len(lab.nodes)) as pool:
        outputs = pool.map(lambda node: sh(lab, node, command(node)), lab.nodes)
        return dict(zip(lab.nodes, outputs, strict=True))


def runtime_run(lab, *args: str) -> dict[str, set[str]]:
    """``pyinfra tasks/runtime.py`` -> host: names of the operations that changed it."""
    result = lab.pyinfra("--json", *args, "tasks/runtime.py")
    assert result.rc == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    changed: dict[str, set[str]] = {}
    for op in json.loads(result.stdout)["results"]["operations"]:
        for host in op["success"]:
            changed.setdefault(host, set()).add(op["name"].split(" | ")[-1])
    return changed


def read_effective(dump: str) -> dict:
    """What the version in ``containerd config dump`` reads: version 2 (1.x) keeps the CRI
    settings in one plugin, version 3 (2.x) in two."""
    config = tomllib.loads(dump)
    plugins = config["plugins"]
    if config["version"] == 2:
        cri = plugins["io.containerd.grpc.v1.cri"]
        runtime, sandbox, bin_dirs = cri, cri["sandbox_image"], [cri["cni"]["bin_dir"]]
    else:
        runtime = plugins["io.containerd.cri.v1.runtime"]
        sandbox = plugins["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"]
        bin_dirs = runtime["cni"]["bin_dirs"]
    runc = runtime["containerd"]["runtimes"]["runc"]
    return {"version": config["version"], "systemd_cgroup": runc["options"]["SystemdCgroup"],
            "sandbox": sandbox, "cni_bin_dirs": bin_dirs}


def effective(lab) -> dict[str, dict]:
    return {node: read_effective(dump)
            for node, dump in on_nodes(lab, lambda _: "containerd config dump").items()}


def daemon_systemd_cgroup(client: CriClient) -> bool:
    """SystemdCgroup as the running daemon holds it (the CRI Status call, crictl info)."""
    return client.config()["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"]


@pytest.fixture(scope="module")
def cri(lab, tmp_path_factory):
    """A CRI client per node, over containerd's socket forwarded with ssh -L."""
    directory = tmp_path_factory.mktemp("cri")
    base = int(os.environ.get("KUBEPREP_LAB_PORT_BASE", "2200"))
    tunnels, clients = [], {}
    for index, node in enumerate(lab.nodes, start=1):
        local = directory / f"{node}.sock"
        tunnels.append(subprocess.Popen(
            ["ssh", "-N", "-i", str(lab.repo_dir / "lab/.state/id_ed25519"), "-p", str(base + index),
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ExitOnForwardFailure=yes",
             "-L", f"{local}:{SOCKET}", "root@127.0.0.1"],
            stdin=subprocess.DEVNULL,
        ))
        clients[node] = CriClient(str(local))
    deadline = time.monotonic() + 60
    while not all((directory / f"{node}.sock").exists() for node in lab.nodes):
        assert time.monotonic() < deadline, "the CRI sockets were not forwarded within 60 s"
        assert all(tunnel.poll() is None for tunnel in tunnels), "an ssh -L tunnel exited"
        time.sleep(0.5)
    yield clients
    for client in clients.values():
        client.channel.close()
    for tunnel in tunnels:
        tunnel.terminate()
        tunnel.wait(timeout=30)


def test_containerd_from_the_offline_repo_with_the_config_its_version_reads(lab, cri):
    versions = on_nodes(lab, lambda _: "dpkg-query -W -f '${Version}' containerd")
    assert versions["cp1"].startswith("1.6.") and versions["w1"].startswith("1.6."), versions
    assert versions["w2"] == sid_version("containerd"), versions
    for node, config in effective(lab).items():
        assert config == {"version": 3 if node == "w2" else 2, "systemd_cgroup": True,
                          "sandbox": PAUSE, "cni_bin_dirs": [CNI_BIN_DIR]}, node
        assert daemon_systemd_cgroup(cri[node]) is True, node
        # The daemon answering on the socket is the package's (1.6.20~ds1, 2.1.9+unknown).
        assert cri[node].version().runtime_version[:4] == versions[node][:4], node


def test_a_second_run_of_the_runtime_task_changes_nothing(lab):
    assert runtime_run(lab) == {}


class Pod(NamedTuple):
    sandbox: str
    container: str
    address: str


SCAFFOLD = (
    "ctr -n k8s.io images import --base-name "
    "localhost/busybox /opt/lab-images/busybox.tar >/dev/null && mkdir -p /etc/cni/net.d && "
    "echo '{conflist}' > /etc/cni/net.d/10-labpods.conflist{routes}"
)
UNSCAFFOLD = (
    "rm -f /etc/cni/net.d/10-labpods.conflist; ip link del cni0 2>/dev/null; rm -rf /var/lib/cni; "
    "ctr -n k8s.io images rm {busybox} >/dev/null; {routes}"
)


def conflist(node: str) -> str:
    return json.dumps({"cniVersion": "0.4.0", "name": "labpods", "plugins": [{
        "type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": SUBNET[node]}]],
                 "routes": [{"dst": "0.0.0.0/0"}]},
    }]})


def routes(lab, node: str, verb: str) -> str:
    """flannel host-gw: every other node's pod subnet via that node's lab address."""
    return "".join(f" && ip route {verb} {SUBNET[peer]} via {lab.cluster_address[peer]}"
                   for peer in lab.nodes if peer != node)


@pytest.fixture(scope="module")
def pods(lab, cri):
    """A busybox pod on every node (RunPodSandbox, CreateContainer, StartContainer), listening on
    PORT and answering with its hostname."""
    started = time.monotonic()
    on_nodes(lab, lambda node: SCAFFOLD.format(conflist=conflist(node),
                                               routes=routes(lab, node, "replace")))
    scaffolded = time.monotonic()
    running: dict[str, Pod] = {}
    try:
        for node in lab.nodes:
            client = cri[node]
            sandbox = client.run_pod(f"pod-{node}")
            container = client.start_container(
                sandbox, "listener", BUSYBOX,
                command=["/busybox", "nc", "-ll", "-p", str(PORT), "-e", "/busybox", "hostname"],
            )
            running[node] = Pod(sandbox, container, client.pod_address(sandbox))
        print(f"pod network scaffolding on 3 nodes: {scaffolded - started:.0f} s, "
              f"3 pods started: {time.monotonic() - scaffolded:.0f} s")
        yield running
    finally:
        for node, pod in running.items():
            cri[node].remove_pod(pod.sandbox)
        on_nodes(lab, lambda node: UNSCAFFOLD.format(
            busybox=BUSYBOX, routes=routes(lab, node, "del").removeprefix(" && ") + ";"))


def test_a_pod_runs_on_every_node_with_an_address_from_its_subnet(lab, cri, pods):
    for node, pod in pods.items():
        assert pod.address.startswith(SUBNET[node].removesuffix("0/24")), (node, pod)
        code, out, err = cri[node].exec_sync(pod.container, ["/busybox", "ip", "-4", "addr"])
        assert code == 0, err
        assert f"inet {pod.address}/24" in out.decode(), (node, out)
        code, out, _ = cri[node].exec_sync(pod.container, ["/busybox", "hostname"])
        assert (code, out.decode().strip()) == (0, f"pod-{node}")


def connect_all(lab, cri, pods) -> dict[tuple[str, str], str]:
    """From every pod to every other node's pod on PORT: the peer's hostname, or nc's error."""
    seen = {}
    for source in lab.nodes:
        for target in lab.nodes:
            if source == target:
                continue
            started = time.monotonic()
            code, out, err = cri[source].exec_sync(
                pods[source].container,
                ["/busybox", "nc", "-w", "3", pods[target].address, str(PORT)],
            )
            seconds = time.monotonic() - started
            seen[(source, target)] = (out if code == 0 else err).decode().strip()
            print(f"{source} -> {target}: {seen[(source, target)]!r} in {seconds:.1f} s")
    return seen


@pytest.fixture(scope="module")
def zones_before(lab):
    return on_nodes(lab, lambda _: ZONES_READ)


def test_pods_across_nodes_with_the_pod_network_not_trusted(lab, cri, pods, zones_before):
    """cni = none (the lab files before the cluster): the pod network is in no zone of
    kubeprep's, so a pod's packet enters firewalld's default zone (public) through cni0 on its own node. firewalld's
    intra-zone forwarding accepts only towards interfaces and sources bound to a zone, never the
    default zone's catch-all (fw_zone.py skips interface "+"), so the packet falls to the end of
    the forward chain: `reject with icmpx admin-prohibited`, which nc reports as EHOSTUNREACH at
    once, not a timeout."""
    seen = connect_all(lab, cri, pods)
    assert all("No route to host" in answer for answer in seen.values()), seen


def test_pods_across_nodes_with_the_pod_network_trusted(lab, cri, pods, zones_before):
    result = lab.pyinfra("--data", "cni=flannel", "tasks/firewall.py")
    assert result.rc == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    try:
        for node in lab.nodes:
            assert zone_sets(lab, node, "trusted")["runtime"]["trusted"]["sources"] == \
                set(TRUSTED), node
        seen = connect_all(lab, cri, pods)
    finally:
        sources = " ".join(f"--remove-source={source}" for source in TRUSTED)
        undo = "; ".join(
            f"firewall-cmd {config}--zone=trusted {sources} >/dev/null; "
            f"firewall-cmd {config}--zone=kubeprep --remove-port=8472/udp >/dev/null"
            for config in ("", "--permanent "))
        on_nodes(lab, lambda _: undo)
    assert seen == {(source, target): f"pod-{target}" for source, target in seen}
    assert on_nodes(lab, lambda _: ZONES_READ) == zones_before


def test_a_hand_edit_of_the_cgroup_driver_is_undone_and_containerd_restarted(lab, cri):
    edited = ("w1", "w2")  # containerd 1.6 (config version 2) and 2.x (version 3)
    for node in edited:
        sh(lab, node, "sed -i 's/SystemdCgroup = true/SystemdCgroup = false/' "
                      "/etc/containerd/config.toml && systemctl restart containerd")
        assert daemon_systemd_cgroup(cri[node]) is False, node
    assert {node: config["systemd_cgroup"] for node, config in effective(lab).items()} == {
        "cp1": True, "w1": False, "w2": False}
    assert runtime_run(lab) == {
        node: {"containerd configured for the kubelet, running and enabled"} for node in edited}
    for node, config in effective(lab).items():
        assert config["systemd_cgroup"] is True, node
        assert daemon_systemd_cgroup(cri[node]) is True, node
