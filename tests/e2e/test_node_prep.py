"""The real deploy on the lab's real VMs, checked over SSH independently of kubeprep's own facts.

The tests share one booted lab and run in file order: preview, converge, check each task's real
state, converge again with zero changes, single-task run, lockout, stopped firewalld. The reboot
that proves it all persists is test_reboot.py's, later, on the lab as every file leaves it.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time

import pytest
from checkrun import BEFORE_CLUSTER, listening, probe, zone_sets

pytestmark = pytest.mark.lab

# The admin account's data: a hash of the lab password and the lab's own public key.
PASSWORD_HASH = (
    "$6$kubeprepLab0$V96wC4ATBtpdJ1cBAbLVzMjfyyL62mYb2IQTdavx39A.wD/D46YZoOyfBuh9pTfEUOOuYQJHfsFck0Q7XSzYU/"
)
# The public zone: open to every source.
PUBLIC_PORTS = {
    "cp1": {"22/tcp", "6443/tcp"},
    "w1": {"22/tcp", "30000-32767/tcp"},
    "w2": {"22/tcp", "30000-32767/tcp"},
}
# The cluster zone, for the nodes only: firewalld's own definitions where one opens only listed
# ports (kube-control-plane-secure has no 10250, so that stays a port), the rest as ports.
CLUSTER_ZONE = {
    "cp1": ({"kube-control-plane-secure"}, {"22/tcp", "10250/tcp"}),
    "w1": ({"kube-worker"}, {"22/tcp"}),
    "w2": ({"kube-worker"}, {"22/tcp"}),
}
SYSCTLS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
           "net.ipv4.ip_forward")


def data_args(lab, stage: tuple[str, ...] = BEFORE_CLUSTER) -> list[str]:
    """The admin's hash and key, and the stages to run (before the cluster unless told)."""
    key = (lab.repo_dir / "lab/.state/id_ed25519.pub").read_text().strip()
    return ["--data", f"admin_password_hash={PASSWORD_HASH}",
            "--data", f"admin_ssh_keys={json.dumps([key])}", *stage]


def deploy(lab, *args: str, target: str = "deploy.py") -> dict:
    """Run the real CLI with --json (and -y), return its results; fail on any error."""
    result = lab.pyinfra("--json", *data_args(lab), *args, target)
    assert result.rc == 0, f"pyinfra failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return json.loads(result.stdout)["results"]


def changes_by_host(results: dict) -> dict[str, set[str]]:
    """Host -> names of the operations that changed it."""
    changed: dict[str, set[str]] = {}
    for op in results["operations"]:
        for host in op["success"]:
            changed.setdefault(host, set()).add(op_name(op))
    return changed


def op_name(op: dict) -> str:
    """The operation's name without the task file pyinfra puts before included operations."""
    return op["name"].split(" | ")[-1]


def sh(lab, node: str, command: str) -> str:
    return lab.run(node, command, check=True).stdout


class SshWatch:
    """Hold one SSH session open and open a new one every few seconds, recording failures."""

    def __init__(self, lab, node: str):
        self.lab, self.node, self.failures, self.probes = lab, node, [], 0
        self.stop = threading.Event()
        self.session = subprocess.Popen(
            [str(lab.repo_dir / "lab/lab"), "ssh", node, "while sleep 1; do echo alive; done"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.thread = threading.Thread(target=self._probe, daemon=True)
        self.thread.start()

    def _probe(self) -> None:
        while not self.stop.is_set():
            result = self.lab.run(self.node, "true", timeout=60)
            self.probes += 1
            if result.rc != 0:
                self.failures.append(result.stderr.strip())
            self.stop.wait(2)

    def finish(self) -> bool:
        """Stop probing; True when the held session is still alive."""
        self.stop.set()
        self.thread.join(timeout=120)
        alive = self.session.poll() is None
        self.session.kill()
        return alive


@pytest.fixture(scope="module")
def before(lab):
    """Each node's fstab and ports before the first run, and the dry-run plan."""
    fstabs = {node: sh(lab, node, "cat /etc/fstab") for node in lab.nodes}
    # Without -y (lab.pyinfra adds it), so pyinfra computes the plan.
    dry = subprocess.run(
        [str(lab.repo_dir / ".venv/bin/pyinfra"), "lab/inventory.py", "--dry", "--json",
         *data_args(lab), "deploy.py"],
        cwd=lab.repo_dir, capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL,
    )
    assert dry.returncode == 0, dry.stderr[-4000:]
    return {"fstab": fstabs, "plan": json.loads(dry.stdout)["plan"]}


@pytest.fixture(scope="module")
def first_run(lab, before):
    watch = SshWatch(lab, "cp1")
    started = time.monotonic()
    results = deploy(lab)
    seconds = time.monotonic() - started
    alive = watch.finish()
    return {"results": results, "seconds": seconds, "ssh_alive": alive, "watch": watch}


def test_first_run_changes_every_host_without_errors(first_run):
    results = first_run["results"]
    print(f"first converge of 3 hosts: {first_run['seconds']:.0f} s")
    assert results["failed_hosts"] == []
    assert results["totals"]["error"] == 0
    assert set(changes_by_host(results)) == {"cp1", "w1", "w2"}


def test_dry_run_listed_the_changes_the_run_made(before, first_run):
    planned: dict[str, set[str]] = {}
    for op in before["plan"]:
        # The account's operation is conditional: at run time one fact decides whether it runs.
        for host in op["hosts_with_change"] + op["hosts_with_conditional_change"]:
            planned.setdefault(host, set()).add(op_name(op))
    # Every change the run made was previewed. The preview may list more: on Debian, installing
    # firewalld starts and enables it, so "firewalld running and enabled" then has nothing to do.
    made = changes_by_host(first_run["results"])
    for host, names in made.items():
        assert names <= planned.get(host, set()), (host, names - planned.get(host, set()))
    assert set(planned) == set(made)


def test_ssh_stayed_up_through_the_run(first_run):
    watch = first_run["watch"]
    assert first_run["ssh_alive"], "the held SSH session to cp1 was cut"
    assert watch.probes >= 3 and watch.failures == [], watch.failures


def test_account(lab, first_run):
    for node in lab.nodes:
        assert sh(lab, node, "getent passwd kubeadmin").split(":")[6].strip() == "/bin/bash"
        assert sh(lab, node, "getent shadow kubeadmin").split(":")[1] == PASSWORD_HASH
        assert "wheel" not in sh(lab, node, "id -nG kubeadmin").split()
    port = str(int(os.environ.get("KUBEPREP_LAB_PORT_BASE", "2200")) + 2)  # w1
    login = subprocess.run(
        ["ssh", "-i", str(lab.repo_dir / "lab/.state/id_ed25519"), "-p", port,
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "kubeadmin@127.0.0.1", "id -un"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert login.stdout.strip() == "kubeadmin", login.stderr


def check_zones(lab, node: str, configs=("runtime", "permanent")) -> None:
    """The public zone has the role's public ports, the cluster zone the rest, the nodes as
    sources; in the runtime and the permanent config."""
    services, ports = CLUSTER_ZONE[node]
    zones = zone_sets(lab, node, "public", "kubeprep")
    for config in configs:
        public, cluster = zones[config]["public"], zones[config]["kubeprep"]
        assert public["ports"] == PUBLIC_PORTS[node], (node, config)
        assert cluster["services"] == services, (node, config)
        assert cluster["ports"] == ports, (node, config)
        assert cluster["sources"] == set(lab.cluster_address.values()), (node, config)


def test_firewall_zones_runtime_and_permanent(lab, first_run):
    for node in lab.nodes:
        assert sh(lab, node, "systemctl is-active firewalld").strip() == "active"
        assert sh(lab, node, "systemctl is-enabled firewalld").strip() == "enabled"
        check_zones(lab, node)


LISTEN = (
    "nohup timeout 40 python3 -c 'import socket,sys; s=socket.socket(); "
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"\", int(sys.argv[1]))); "
    "s.listen(); s.settimeout(40); s.accept()' {port} >/dev/null 2>&1 & sleep 2"
)
CONNECT = "timeout 8 bash -c 'exec 3<>/dev/tcp/{address}/{port}' && echo open || echo closed"


def test_listed_port_reachable_from_a_worker_and_unlisted_port_not(lab, first_run):
    cp1 = lab.cluster_address["cp1"]
    for port, expected in ((6443, "open"), (7777, "closed")):
        sh(lab, "cp1", LISTEN.format(port=port))
        assert sh(lab, "w1", CONNECT.format(address=cp1, port=port)).strip() == expected, port




def test_nodes_only_ports_answer_nodes_and_not_other_sources(lab, first_run):
    """Listeners on every port, so "open" proves the firewall lets the source through."""
    targets = {"cp1": (6443, 2379, 2380, 10250, 10257, 10259), "w1": (10250, 30080)}
    public = {6443, 30080}
    for node, ports in targets.items():
        address = lab.cluster_address[node]
        peer = "w2" if node == "cp1" else "cp1"
        with listening(lab, node, ports):
            outside, inside = probe(lab, address, ports), probe(lab, address, ports, peer)
        assert outside == {port: "open" if port in public else "filtered" for port in ports}, node
        assert inside == dict.fromkeys(ports, "open"), (peer, node)


def test_swap_off_and_fstab_only_swap_lines_commented(lab, before, first_run):
    for node in lab.nodes:
        assert sh(lab, node, "swapon --show --noheadings").strip() == ""
        old = before["fstab"][node].split("\n")
        new = sh(lab, node, "cat /etc/fstab").split("\n")
        assert len(new) == len(old)
        commented = [n for n, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        assert commented, f"{node}: no swap line was commented"
        for n in commented:
            assert new[n] == "#kubeprep# " + old[n] and old[n].split()[2] == "swap"
        assert sh(lab, node, "cat /etc/fstab.kubeprep.bak") == before["fstab"][node]
    assert "UUID=" in sh(lab, "w1", "grep '^#kubeprep# UUID=' /etc/fstab")


def check_kernel(lab, node: str) -> None:
    modules = {line.split()[0] for line in sh(lab, node, "cat /proc/modules").splitlines()}
    assert {"overlay", "br_netfilter"} <= modules, node
    values = sh(lab, node, "sysctl -n " + " ".join(SYSCTLS)).split()
    assert values == ["1", "1", "1"], node


def test_kernel_modules_and_sysctls(lab, first_run):
    for node in lab.nodes:
        check_kernel(lab, node)
        assert sh(lab, node, "cat /etc/modules-load.d/k8s.conf") == "overlay\nbr_netfilter\n"


def test_selinux_permissive_on_the_selinux_node(lab, first_run):
    assert sh(lab, "cp1", "getenforce").strip() == "Permissive"
    assert "SELINUX=permissive" in sh(lab, "cp1", "grep ^SELINUX= /etc/selinux/config")
    assert "SELINUX=enforcing" in sh(lab, "cp1", "grep ^SELINUX= /etc/selinux/config.kubeprep.bak")


def test_second_run_changes_nothing(lab, first_run):
    started = time.monotonic()
    results = deploy(lab)
    print(f"no-change re-run of 3 hosts: {time.monotonic() - started:.0f} s")
    assert results["totals"]["error"] == 0
    assert changes_by_host(results) == {}
    assert results["totals"]["no_change"] == results["totals"]["hosts"] > 0


def test_single_task_converges_swap_and_nothing_else(lab, first_run):
    # Undo swap on w2 and also break a kernel setting the swap task must leave alone.
    sh(lab, "w2", "cp /etc/fstab.kubeprep.bak /etc/fstab && swapon -a && sysctl -w net.ipv4.ip_forward=0")
    assert sh(lab, "w2", "swapon --show --noheadings").strip() != ""
    results = deploy(lab, "--limit", "w2", target="tasks/swap.py")
    assert changes_by_host(results) == {"w2": {"Swap off, now and at boot"}}
    assert sh(lab, "w2", "swapon --show --noheadings").strip() == ""
    assert sh(lab, "w2", "sysctl -n net.ipv4.ip_forward").strip() == "0"
    assert "#kubeprep# /swapfile" in sh(lab, "w2", "cat /etc/fstab")


def test_ssh_port_the_firewall_would_close_is_refused_before_any_change(lab, first_run):
    # w2 still has ip_forward = 0 from the single-task test: the deploy would change that.
    result = lab.pyinfra("--limit", "w2", *data_args(lab),
                         "--data", "firewall_ssh_port=2222/tcp", "deploy.py")
    assert result.rc != 0
    assert "sshd listens on 22/tcp" in result.stdout + result.stderr
    assert sh(lab, "w2", "sysctl -n net.ipv4.ip_forward").strip() == "0"


def test_stopped_firewalld_without_ssh_is_converged_without_dropping_ssh(lab, first_run):
    sh(lab, "w1", "systemctl stop firewalld && firewall-offline-cmd --remove-port=22/tcp"
                  " && firewall-offline-cmd --remove-service=ssh")
    assert "22/tcp" not in sh(lab, "w1", "firewall-offline-cmd --list-ports")
    watch = SshWatch(lab, "w1")
    results = deploy(lab, "--limit", "w1")
    alive = watch.finish()
    assert alive and watch.failures == [], watch.failures
    assert results["totals"]["error"] == 0
    zones = zone_sets(lab, "w1", "public")
    assert "22/tcp" in zones["runtime"]["public"]["ports"]
    assert "22/tcp" in zones["permanent"]["public"]["ports"]


def test_a_full_run_converges_what_the_single_task_left(lab, first_run):
    # w2's ip_forward = 0, left by the single-task test, and nothing else (test_reboot.py
    # reboots the converged lab later, after test_swap_kinds.py).
    assert changes_by_host(deploy(lab)) == {
        "w2": {"Kernel parameters in /etc/sysctl.d/k8s.conf, applied"}}
