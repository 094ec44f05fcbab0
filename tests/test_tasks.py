"""Every task, and deploy.py, on fresh, converged and half-converged Rocky 8 and Debian 12 hosts."""

from __future__ import annotations

import copy
import json

import pytest
from dbus_spelling import dbus
from host_states import (
    FACT_CASES,
    FEDORA_ZRAM_CONF,
    NO_SWAPS_61,
    ROCKY_9,
    ROLE_PORTS,
    Answering,
    Installed,
    converged,
    fact_case_output,
    firewalld_output,
    fresh,
    list_all,
    public_xml,
    selinux_output,
    show,
    swap_output,
)
from kube_states import packages_facts
from taskrun import ByArguments, run_deploy

FAMILIES = ["rhel", "debian"]
SWAP_OFF_OPS = [
    "zram swap off, now and at boot (zram-generator config overridden)",
    "Hand-written .swap units stopped and masked",
    "swap.target masked, so nothing starts swap at boot",
    "Swap off, now and at boot",
]
SWAP_KEEP_OPS = [
    "swap = keep: zram-generator config restored",
    "swap = keep: .swap units masked by kubeprep restored",
    "swap = keep: swap.target unmasked",
    "swap = keep: fstab swap entries uncommented, swap on",
]
TASKS = ["account", "firewall", "swap", "kernel", "selinux", "runtime"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("task", TASKS)
def test_converged_host_gets_no_command(task, family):
    run = run_deploy(f"tasks/{task}.py", converged(family))
    assert run.ops, "the task added no operation"
    assert run.changes == {}


# deploy.py up to the runtime on one host; tests/test_kubernetes.py and tests/test_cluster.py
# cover the later stages (the cluster's needs a whole fleet).
UP_TO_RUNTIME = {"deploy_until": "runtime"}


@pytest.mark.parametrize("family", FAMILIES)
def test_whole_deploy_on_converged_worker_changes_nothing(family):
    run = run_deploy("deploy.py", converged(family, "workers"), group="workers", data=UP_TO_RUNTIME)
    assert len(run.ops) == {"rhel": 18, "debian": 17}[family]  # RHEL adds a repository
    assert run.changes == {}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_converged_host_asks_no_package_source_whether_it_answers(family):
    run = run_deploy("deploy.py", converged(family, "workers"), group="workers",
                     data=UP_TO_RUNTIME)
    assert run.prepare_reads["network.TcpAnswers"] == 0 and run.changes == {}


@pytest.mark.parametrize(("family", "closed", "source", "tried"), [
    ("debian", "deb.debian.org:80", "http://deb.debian.org/debian", "deb.debian.org:80"),
    ("rhel", "mirrors.rockylinux.org:443",
     "https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=AppStream-$releasever",
     "mirrors.rockylinux.org:443"),
])
def test_a_package_source_that_does_not_answer_refuses_the_host_before_any_change(
        family, closed, source, tried):
    facts = fresh(family)
    facts["network.TcpAnswers"] = Answering(closed=(closed,))
    run = run_deploy("tasks/firewall.py", facts)
    assert run.failed and run.ops == []
    assert [" ".join(error.split()) for error in run.errors] == [
        f"[node] kubeprep: node: the package source {source} does not answer from node (no TCP "
        f"connection to {tried} in 5 s), and the firewall task installs firewalld (apt and dnf "
        "read every enabled source first). Fix: point that source (/etc/apt/sources.list.d, "
        "/etc/yum.repos.d) at a mirror this host reaches, disable it, or install firewalld by "
        "hand."]


def test_the_runtime_task_names_the_containerd_repository_it_adds_and_the_stage_before():
    facts = converged("rhel", "workers")
    facts["packages.PackageSources"] = Installed("rhel", ("firewalld",))
    facts["network.TcpAnswers"] = Answering(closed=("download.docker.com:443",))
    run = run_deploy("tasks/runtime.py", facts, group="workers")
    assert run.failed and run.ops == []
    (error,) = run.errors
    assert "the package source https://download.docker.com/linux/centos/$releasever/$basearch/" \
        "stable does not answer" in error and "the runtime task installs containerd.io" in error
    assert error.endswith('or install containerd.io by hand, or deploy_until = "ready" to stop '
                          "before it.")


@pytest.mark.parametrize("family", FAMILIES)
def test_each_operation_reads_each_fact_once(family):
    run = run_deploy("deploy.py", fresh(family), data=UP_TO_RUNTIME)
    for (name, _), reads in zip(run.ops, run.fact_reads, strict=True):
        twice = {fact: n for fact, n in reads.items() if n > 1 and not fact.startswith("files.")}
        assert not twice, f"{name} reads {twice}"


@pytest.mark.parametrize("family", FAMILIES)
def test_converged_host_reads_its_zones_once(family):
    """The firewall task reads every zone it changes once, before anything runs, and its
    operations use that read: nothing changes firewalld in between on such a host."""
    run = run_deploy("deploy.py", converged(family), data=UP_TO_RUNTIME, yes=True)
    assert run.prepare_reads["firewalld.FirewalldZones"] == 1
    # With sshd's ports and the other firewalls, in one round trip.
    assert run.prepare_reads["together.Together"] == 1
    assert run.prepare_reads["sshd.SshdPorts"] == 1
    assert run.prepare_reads["other_firewalls.OtherFirewalls"] == 1
    assert sum(reads["firewalld.FirewalldZones"] for reads in run.fact_reads) == 0


def test_fresh_host_reads_its_zones_again_once_firewalld_is_installed():
    """A read that found no firewalld is not used: the install changes everything it says."""
    run = run_deploy("deploy.py", fresh("debian"), data=UP_TO_RUNTIME, yes=True)
    assert run.prepare_reads["firewalld.FirewalldZones"] == 1
    zone_reads = {name: reads["firewalld.FirewalldZones"]
                  for (name, _), reads in zip(run.ops, run.fact_reads, strict=True)
                  if reads["firewalld.FirewalldZones"]}
    # The fake host still has no firewalld after the install, so each operation reads again; on
    # a real host the first one reads the installed firewalld, and the next ones share it.
    assert list(zone_reads) == FIREWALL_OPS[1:5] and set(zone_reads.values()) == {1}


def test_an_operation_that_changes_a_zone_makes_the_next_one_read_again():
    run = run_deploy("tasks/firewall.py", write_up_host(), yes=True)
    reads = {name: reads["firewalld.FirewalldZones"]
             for (name, _), reads in zip(run.ops, run.fact_reads, strict=True)}
    assert run.prepare_reads["firewalld.FirewalldZones"] == 1
    # The zone is created (a change), so the cluster zone's ports read it again, and so on.
    assert reads == {
        "Install firewalld": 0, "Create the cluster zone": 0,
        "Open every node port to the cluster zone": 1,
        "Cluster nodes are the cluster zone's sources": 1,
        "Open the SSH port and the role's public ports": 1,
        "firewalld running and enabled": 0,
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_swap_operations_share_one_read_until_one_changes_the_host(family):
    converged_run = run_deploy("tasks/swap.py", converged(family), yes=True)
    assert [reads["swap.SwapState"] for reads in converged_run.fact_reads] == [1, 0, 0, 0]
    # Fresh: zram and the units are left alone (no read again), swap.target is masked (a
    # change), so swap off reads the host again.
    fresh_run = run_deploy("tasks/swap.py", fresh(family), yes=True)
    assert [name for name, commands in fresh_run.ops if commands] == SWAP_OFF_OPS[2:]
    assert [reads["swap.SwapState"] for reads in fresh_run.fact_reads] == [1, 0, 0, 1]


FIREWALL_OPS = [
    "Install firewalld",
    "Create the cluster zone",
    "Open every node port to the cluster zone",
    "Cluster nodes are the cluster zone's sources",
    "Open the SSH port and the role's public ports",
    "firewalld running and enabled",
]


def test_fresh_rocky_control_plane_in_order():
    run = run_deploy("deploy.py", fresh("rhel"), data=UP_TO_RUNTIME)
    assert [name for name, _ in run.ops] == [
        "Admin user kubeadmin",
        *FIREWALL_OPS,
        *SWAP_OFF_OPS,
        "Load overlay, br_netfilter at boot",
        "Load overlay, br_netfilter now",
        "Kernel parameters in /etc/sysctl.d/k8s.conf, applied",
        "SELinux permissive",
        "Add the containerd.io repository",
        "Install containerd",
        "containerd configured for the kubelet, running and enabled",
    ]
    assert run.commands("Install firewalld") == ["dnf install -y firewalld"]
    # firewalld is not running yet: everything goes to the permanent config, SSH first, and the
    # cluster zone gets its ports before its sources.
    assert run.commands("Create the cluster zone") == ["firewall-offline-cmd --new-zone=kubeprep"]
    assert run.commands("Open every node port to the cluster zone") == [
        "firewall-offline-cmd --zone=kubeprep --add-port=22/tcp --add-port=6443/tcp "
        "--add-port=2379-2380/tcp --add-port=10250/tcp --add-port=10257/tcp "
        "--add-port=10259/tcp",
    ]
    assert run.commands("Cluster nodes are the cluster zone's sources") == [
        "firewall-offline-cmd --zone=kubeprep --add-source=192.168.77.11 "
        "--add-source=192.168.77.21 --add-source=192.168.77.22",
    ]
    assert run.commands("Open the SSH port and the role's public ports") == [
        "firewall-offline-cmd --zone=public --add-port=22/tcp --add-port=6443/tcp",
    ]
    assert run.commands("firewalld running and enabled") == [
        "systemctl start firewalld.service",
        "systemctl enable firewalld.service",
    ]
    swap = run.commands("Swap off, now and at boot")
    assert swap[0] == "swapoff -a"
    assert "-e '14s/^/\\#kubeprep\\# /' /etc/fstab" in swap[1]
    assert swap[2] == "systemctl daemon-reload"
    assert run.commands("swap.target masked, so nothing starts swap at boot") == [
        "systemctl mask swap.target",
    ]
    assert run.commands("zram swap off, now and at boot (zram-generator config overridden)") == []
    assert run.commands("Hand-written .swap units stopped and masked") == []
    assert run.commands("Load overlay, br_netfilter now") == ["modprobe -a overlay br_netfilter"]
    assert run.commands("Kernel parameters in /etc/sysctl.d/k8s.conf, applied")[-1] == (
        "sysctl --system"
    )
    assert run.commands("SELinux permissive") == [
        "setenforce 0",
        "{ [ -e /etc/selinux/config.kubeprep.bak ] || cp -p /etc/selinux/config "
        "/etc/selinux/config.kubeprep.bak; } && "
        "sed -i -E 's/^[[:space:]]*SELINUX=.*/SELINUX=permissive/' /etc/selinux/config",
    ]


def test_fresh_debian_worker():
    run = run_deploy("deploy.py", fresh("debian"), group="workers", data=UP_TO_RUNTIME)
    install = run.commands("Install firewalld")
    assert install[0] == "apt-get update"
    assert install[-1].endswith(" install firewalld")
    assert run.commands("Open every node port to the cluster zone") == [
        "firewall-offline-cmd --zone=kubeprep --add-port=22/tcp --add-port=30000-32767/tcp "
        "--add-port=10250/tcp",
    ]
    assert run.commands("Open the SSH port and the role's public ports") == [
        "firewall-offline-cmd --zone=public --add-port=22/tcp --add-port=30000-32767/tcp",
    ]
    assert "-e '9s/^/\\#kubeprep\\# /' /etc/fstab" in run.commands("Swap off, now and at boot")[1]
    assert run.commands("SELinux permissive") == []  # Debian without SELinux: a no-op


def test_running_firewalld_gets_runtime_before_permanent():
    """Half-converged: firewalld runs with only SSH open; ports go live first, then persist."""
    facts = converged("rhel")
    facts["firewalld.FirewalldZone"]["zone=None"] = firewalld_output(
        True, public_xml(["22/tcp"]), "  ports: 22/tcp",
    )
    run = run_deploy("tasks/firewall.py", facts)
    assert run.changes == {
        "Open the SSH port and the role's public ports": dbus([
            "firewall-cmd --zone=public --add-port=6443/tcp",
            "firewall-cmd --permanent --zone=public --add-port=6443/tcp",
        ]),
    }


# The write-up's control plane ports as Rocky 8 lists them after its
# `firewall-cmd --permanent --add-port={6443,2379,2380,10250,10259,10257}/tcp` (the seed).
WRITE_UP_PORTS = ["22/tcp", "6443/tcp", "2379/tcp", "2380/tcp", "10250/tcp", "10259/tcp",
                  "10257/tcp"]


def write_up_host(family: str = "rhel", every_port: list[str] | None = None) -> dict:
    """A control plane set up the write-up's way: every port open to all in public."""
    every_port = every_port or ROLE_PORTS["control_plane"][1]
    facts = converged(family)
    facts["firewalld.FirewalldZone"] = ByArguments({
        "zone=None": firewalld_output(True, public_xml(every_port), list_all(" ".join(every_port))),
        # The zone does not exist: no file, and neither busctl nor firewall-cmd answers for it.
        "zone=kubeprep": firewalld_output(True, "", "", zone="kubeprep"),
    })
    return facts


def test_write_up_ports_move_to_the_cluster_zone_before_they_close_to_all():
    run = run_deploy("tasks/firewall.py", write_up_host())
    assert [name for name, commands in run.ops if commands] == FIREWALL_OPS[1:5]
    # firewalld runs: the new zone needs a reload to exist at runtime; then its ports, then its
    # sources, and only then do the nodes-only ports close in public.
    assert run.commands("Create the cluster zone") == dbus([
        "firewall-cmd --permanent --new-zone=kubeprep", "firewall-cmd --reload",
    ])
    nodes_only = ("--remove-port=2379-2380/tcp --remove-port=10250/tcp "
                  "--remove-port=10257/tcp --remove-port=10259/tcp")
    assert run.commands("Open the SSH port and the role's public ports") == dbus([
        f"firewall-cmd --zone=public {nodes_only}",
        f"firewall-cmd --permanent --zone=public {nodes_only}",
    ])


def test_write_up_single_ports_close_in_public_however_they_are_listed():
    run = run_deploy("tasks/firewall.py", write_up_host(every_port=WRITE_UP_PORTS))
    nodes_only = ("--remove-port=2379/tcp --remove-port=2380/tcp --remove-port=10250/tcp "
                  "--remove-port=10259/tcp --remove-port=10257/tcp")
    assert run.commands("Open the SSH port and the role's public ports") == dbus([
        f"firewall-cmd --zone=public {nodes_only}",
        f"firewall-cmd --permanent --zone=public {nodes_only}",
    ])


def test_write_up_switch_keeps_every_port_public_and_no_cluster_zone():
    run = run_deploy("tasks/firewall.py", write_up_host(), data={"firewall_cluster_only": False})
    assert [name for name, _ in run.ops] == [FIREWALL_OPS[0], *FIREWALL_OPS[4:]]
    assert run.changes == {}


def test_node_added_and_node_removed_update_the_sources():
    """cp1 has w1 and w2 as sources; the inventory now lists w1 and w3 (w2 was replaced)."""
    run = run_deploy(
        "tasks/firewall.py", converged("rhel"),
        peers={"w1": ("workers", "192.168.77.21"), "w3": ("workers", "192.168.77.23")},
    )
    assert run.changes == {
        "Cluster nodes are the cluster zone's sources": dbus([
            "firewall-cmd --zone=kubeprep --add-source=192.168.77.23",
            "firewall-cmd --permanent --zone=kubeprep --add-source=192.168.77.23",
            "firewall-cmd --zone=kubeprep --remove-source=192.168.77.22",
            "firewall-cmd --permanent --zone=kubeprep --remove-source=192.168.77.22",
        ]),
    }


def test_cluster_address_comes_from_the_default_route_without_data():
    """A lone worker without cluster_address: its default route's source (w1's, read on the lab)
    is the only node address, so the other two sources go."""
    run = run_deploy("tasks/firewall.py", converged("rhel", "workers"), group="workers",
                     data={"cluster_address": None}, peers={})
    removed = "--remove-source=192.168.77.11 --remove-source=192.168.77.22"
    assert run.changes == {
        "Cluster nodes are the cluster zone's sources": dbus([
            f"firewall-cmd --zone=kubeprep {removed}",
            f"firewall-cmd --permanent --zone=kubeprep {removed}",
        ]),
    }


# Read on the lab's w2 after `apt-get install ufw && ufw allow 22/tcp && ufw --force enable`.
UFW_ACTIVE = fact_case_output("other_firewalls.OtherFirewalls/debian12_ufw_enabled_by_hand")


@pytest.mark.parametrize("task", ["tasks/firewall.py", "deploy.py"])
def test_active_ufw_is_refused_before_any_change(task):
    facts = fresh("debian")
    facts["other_firewalls.OtherFirewalls"] = UFW_ACTIVE
    run = run_deploy(task, facts)
    assert run.failed
    # deploy.py: the account task's operations were added first, but a failed host runs none.
    assert run.ops == [] if task == "tasks/firewall.py" else "Install firewalld" not in str(run.ops)
    assert len(run.errors) == 1
    assert run.errors[0].endswith(
        "kubeprep: node: firewall_disable_others = False: ufw is active, which would still drop "
        "what firewalld opens. Fix: stop it yourself (ufw disable), or set "
        "firewall_disable_others = True so that the firewall task stops and disables it.",
    )


def test_active_ufw_is_disabled_before_firewalld_is_installed_when_allowed():
    facts = fresh("debian")
    facts["other_firewalls.OtherFirewalls"] = UFW_ACTIVE
    run = run_deploy("tasks/firewall.py", facts, data={"firewall_disable_others": True})
    assert not run.failed
    assert [name for name, _ in run.ops] == ["Stop and disable the other firewalls", *FIREWALL_OPS]
    assert run.commands("Stop and disable the other firewalls") == ["ufw disable"]


@pytest.mark.parametrize(("facts", "found"), [
    (converged("rhel"), "zones found: block, dmz, drop, external, home, internal, kubeprep, "
                        "public, trusted, work"),
    (fresh("rhel"), "firewalld is not installed yet; the zones it ships: block, dmz, drop, "
                    "external, home, internal, public, trusted, work"),
])
def test_firewall_zone_the_host_lacks_is_refused_before_any_change(facts, found):
    facts = copy.deepcopy(facts)
    if not isinstance(facts["firewalld.FirewalldZone"], ByArguments):
        facts["firewalld.FirewalldZone"] = {"output": ""}  # no output: not installed
    else:
        facts["firewalld.FirewalldZone"]["zone=kubernetes"] = firewalld_output(
            True, "--- zones\n" + "\n".join(
                ["block", "dmz", "drop", "external", "home", "internal", "public", "trusted",
                 "work", "kubeprep"]),
            "", zone="kubernetes",
        )
    run = run_deploy("tasks/firewall.py", facts, data={"firewall_zone": "kubernetes"})
    assert run.failed and run.ops == []
    assert f"node: firewall_zone = 'kubernetes': firewalld has no such zone ({found})" in \
        run.errors[0]


def test_peer_without_cluster_address_that_is_not_connected_fails_the_host_first():
    run = run_deploy("tasks/firewall.py", fresh("rhel"), peers={"w9": ("workers", None)})
    assert run.failed and run.ops == []
    assert "w9: cluster_address is not set" in run.errors[0]
    assert "Fix: set cluster_address for w9 in the inventory" in run.errors[0]


@pytest.mark.parametrize(("cni", "ports", "protocol"), [
    ("flannel", "--add-port=8472/udp", None),
    ("calico", "--add-port=179/tcp --add-port=4789/udp --add-port=5473/tcp", "4"),
    ("cilium", "--add-port=8472/udp --add-port=4240/tcp --add-port=4244/tcp", "icmp"),
])
def test_cni_preset_opens_its_ports_to_the_nodes_and_trusts_pods_and_services(
    cni, ports, protocol,
):
    facts = converged("rhel", "workers")
    trusted = '<?xml version="1.0" encoding="utf-8"?>\n<zone target="ACCEPT">\n</zone>'
    facts["firewalld.FirewalldZone"]["zone=trusted"] = firewalld_output(
        True, trusted, list_all("").replace("public (active)", "trusted"), zone="trusted",
    )
    run = run_deploy("tasks/firewall.py", facts, group="workers", data={"cni": cni})
    changes = run.changes
    assert changes.pop("Open every node port to the cluster zone") == dbus([
        f"firewall-cmd --zone=kubeprep {ports}",
        f"firewall-cmd --permanent --zone=kubeprep {ports}",
    ])
    if protocol:
        assert changes.pop("Accept the CNI's protocols") == dbus([
            f"firewall-cmd --zone=kubeprep --add-protocol={protocol}",
            f"firewall-cmd --permanent --zone=kubeprep --add-protocol={protocol}",
        ])
    trust = "--add-source=10.244.0.0/16 --add-source=10.96.0.0/12"
    assert changes == {
        "Trust the pod and service networks": dbus([
            f"firewall-cmd --zone=trusted {trust}",
            f"firewall-cmd --permanent --zone=trusted {trust}",
        ]),
    }


def test_stopped_firewalld_without_ssh_is_opened_before_start():
    """The lockout case: firewalld stopped, SSH missing from its permanent config."""
    facts = converged("rhel", "workers")
    facts["firewalld.FirewalldZone"]["zone=None"] = firewalld_output(
        False, public_xml(["10250/tcp"]),
    )
    facts["firewalld.FirewalldZone"]["zone=kubeprep"]["output"] = facts[
        "firewalld.FirewalldZone"]["zone=kubeprep"]["output"].replace(
        "active=active\nenabled=enabled", "active=inactive\nenabled=disabled")
    facts["systemd.SystemdStatus"] = {"firewalld.service": False}
    run = run_deploy("tasks/firewall.py", facts, group="workers")
    names = [name for name, _ in run.ops]
    open_op = "Open the SSH port and the role's public ports"
    assert names.index(open_op) < names.index("firewalld running and enabled")
    assert run.changes == {
        open_op: [
            "firewall-offline-cmd --zone=public --add-port=22/tcp --add-port=30000-32767/tcp",
            "firewall-offline-cmd --zone=public --remove-port=10250/tcp",
        ],
        "firewalld running and enabled": ["systemctl start firewalld.service"],
    }


def test_half_converged_kernel_only_applies():
    facts = converged("debian")
    facts["sysctl.SysctlFile"]["output"] = facts["sysctl.SysctlFile"]["output"].replace(
        "--- live\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n",
        "--- live\n",
    ).replace("--- live\nnet.ipv4.ip_forward = 1", "--- live\nnet.ipv4.ip_forward = 0")
    run = run_deploy("tasks/kernel.py", facts)
    assert run.changes == {
        "Kernel parameters in /etc/sysctl.d/k8s.conf, applied": ["sysctl --system"],
    }


def test_builtin_module_is_not_loaded_every_run():
    facts = converged("rhel")
    facts["kernel.KernelModulesSetup"] = {"output": facts["kernel.KernelModulesSetup"][
        "output"].replace("loaded overlay", "builtin overlay")}
    del facts["server.KernelModules"]["overlay"]
    run = run_deploy("tasks/kernel.py", facts)
    assert run.changes == {}
    assert [name for name, _ in run.ops][1] == "Load br_netfilter now"


def test_sudo_and_keys_for_admin():
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop"
    facts = fresh("rhel")
    facts["files.Directory"] = None
    facts["files.File"] = None
    facts["server.AuthorizedKeys"] = []
    facts["files.FindInFile"] = []
    password = "$6$saltsalt$" + "a" * 86
    run = run_deploy(
        "tasks/account.py", facts,
        data={"admin_sudo": True, "admin_ssh_keys": [key], "admin_password_hash": password},
    )
    commands = " ".join(str(c) for c in run.commands("Admin user kubeadmin"))
    assert "-G wheel" in commands
    assert f"-p '{password}'" in commands
    assert key in commands


@pytest.mark.parametrize(
    ("data", "groups", "message"),
    [
        ({"firewall_ports": ["6443/tcp", "70000/tcp"]}, None, "node: firewall_ports = '70000/tcp'"),
        ({"admin_password_hash": "hunter2"}, None, "plain text is refused"),
        ({"selinux_mode": "off"}, None, "selinux_mode = 'off'"),
        ({}, ["control_plane", "workers"], "exactly one"),
    ],
)
def test_bad_data_fails_the_host_before_any_operation(data, groups, message):
    run = run_deploy("deploy.py", fresh("rhel"), data=data, groups=groups)
    assert run.failed
    assert run.ops == []
    assert len(run.errors) == 1 and message in run.errors[0]
    assert "hunter2" not in run.errors[0]


def test_unsupported_platform_fails_with_what_was_found():
    facts = copy.deepcopy(fresh("rhel"))
    facts["server.LinuxDistribution"] = {
        "name": "CentOS", "major": 7, "minor": 9,
        "release_meta": {"ID": "centos", "VERSION_ID": "7"},
    }
    run = run_deploy("tasks/firewall.py", facts)
    assert run.failed and run.ops == []
    assert "unsupported platform 'CentOS 7'" in run.errors[0]


# ------------------------------------------------------------------------------------ swap

ZRAM_OVERRIDE = (
    "echo '# kubeprep: swap = \"off\". No [zramN] section here: zram-generator creates no "
    "device.' > /etc/systemd/zram-generator.conf"
)
HAND_WRITTEN = show(
    "swapfile2.swap", "loaded", "active", "/etc/systemd/system/swapfile2.swap", "enabled",
)


def rocky9_zram_host() -> dict:
    """Rocky 9 with zram-generator's default config: /dev/zram0 on, no swap in the fstab."""
    facts = converged("rhel")
    facts["server.LinuxDistribution"] = ROCKY_9
    facts["swap.SwapState"] = swap_output(
        NO_SWAPS_61 + "\n/dev/zram0                              partition\t1873916\t\t0\t\t100",
        "UUID=5e3e4c2a-2d4b-4b9e-9c61-0f1f6c1d7a10 /                       xfs     defaults        0 0\n",
        units=show(
            "dev-zram0.swap", "loaded", "active", "/run/systemd/generator/dev-zram0.swap", "generated",
        ),
        zram={"/usr/lib/systemd/zram-generator.conf": FEDORA_ZRAM_CONF},
    )
    return facts


def test_swap_task_orders_zram_first_and_keeps_the_operation_name():
    run = run_deploy("tasks/swap.py", fresh("rhel"))
    assert [name for name, _ in run.ops] == SWAP_OFF_OPS
    run = run_deploy("tasks/swap.py", fresh("rhel"), data={"swap": "keep"})
    assert [name for name, _ in run.ops] == SWAP_KEEP_OPS


def test_rocky9_zram_host():
    run = run_deploy("tasks/swap.py", rocky9_zram_host())
    assert run.changes == {
        "zram swap off, now and at boot (zram-generator config overridden)": [
            ZRAM_OVERRIDE, "swapoff /dev/zram0", "systemctl daemon-reload",
        ],
        "swap.target masked, so nothing starts swap at boot": ["systemctl mask swap.target"],
        # planned from the facts read before the run; at run time /proc/swaps is empty by then
        "Swap off, now and at boot": ["swapoff -a"],
    }


def test_rocky9_zram_host_converged():
    facts = rocky9_zram_host()
    facts["swap.SwapState"] = swap_output(
        NO_SWAPS_61, "UUID=5e3e4c2a /  xfs  defaults  0 0\n", swap_target="masked",
        zram={
            "/etc/systemd/zram-generator.conf": (
                '# kubeprep: swap = "off". No [zramN] section here: zram-generator creates no '
                "device.\n"
            ),
            "/usr/lib/systemd/zram-generator.conf": FEDORA_ZRAM_CONF,
        },
    )
    assert run_deploy("tasks/swap.py", facts).changes == {}


def test_debian_hand_written_swap_unit():
    facts = converged("debian")
    facts["swap.SwapState"] = swap_output(
        NO_SWAPS_61 + "\n/swapfile2                              file\t\t524284\t\t0\t\t-2",
        "/dev/vda\t/\text4\terrors=remount-ro\t0\t1\n", swap_target="masked", units=HAND_WRITTEN,
    )
    run = run_deploy("tasks/swap.py", facts)
    assert run.changes == {
        "Hand-written .swap units stopped and masked": [
            "systemctl stop swapfile2.swap",
            "mv /etc/systemd/system/swapfile2.swap /etc/systemd/system/swapfile2.swap.kubeprep.bak",
            "systemctl mask swapfile2.swap",
        ],
        "Swap off, now and at boot": ["swapoff -a"],
    }


def test_keep_undoes_everything_kubeprep_did():
    """A Rocky 9 host kubeprep turned swap off on, every kind of it, then ``swap: keep``."""
    facts = rocky9_zram_host()
    fstab = "UUID=5e3e4c2a / xfs defaults 0 0\n#kubeprep# /swapfile none swap sw 0 0\n"
    facts["swap.SwapState"] = swap_output(
        NO_SWAPS_61, fstab, swap_target="masked",
        units=show("swapfile2.swap", "masked", "inactive", "/dev/null", "masked"),
        unit_backups="file swapfile2.swap\n",
        zram={
            "/etc/systemd/zram-generator.conf": (
                '# kubeprep: swap = "off". No [zramN] section here: zram-generator creates no '
                "device.\n"
            ),
            "/usr/lib/systemd/zram-generator.conf": FEDORA_ZRAM_CONF,
        },
    )
    run = run_deploy("tasks/swap.py", facts, data={"swap": "keep"})
    restore_fstab = run.commands("swap = keep: fstab swap entries uncommented, swap on")
    assert restore_fstab[0].endswith("sed -i -e '2s/^#kubeprep# //' /etc/fstab")
    assert run.changes == {
        "swap = keep: zram-generator config restored": [
            "rm /etc/systemd/zram-generator.conf",
            "systemctl daemon-reload",
            "systemctl start dev-zram0.swap",
        ],
        "swap = keep: .swap units masked by kubeprep restored": [
            "systemctl unmask swapfile2.swap",
            "mv /etc/systemd/system/swapfile2.swap.kubeprep.bak /etc/systemd/system/swapfile2.swap",
            "systemctl daemon-reload",
        ],
        "swap = keep: swap.target unmasked": ["systemctl unmask swap.target"],
        "swap = keep: fstab swap entries uncommented, swap on": [
            restore_fstab[0], "systemctl daemon-reload", "swapon -a",
        ],
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_keep_on_a_host_kubeprep_never_touched_changes_nothing(family):
    facts = fresh(family)
    facts["swap.SwapState"]["output"] = facts["swap.SwapState"]["output"].replace(
        "--- units\n", f"--- units\n{HAND_WRITTEN}",
    )
    run = run_deploy("tasks/swap.py", facts, data={"swap": "keep"})
    assert len(run.ops) == 4
    assert run.changes == {}


def test_keep_on_a_zram_host_already_restored_changes_nothing():
    """Converged for ``keep``: the override is gone, the vendor config is read, zram0 is on."""
    run = run_deploy("tasks/swap.py", rocky9_zram_host(), data={"swap": "keep"})
    assert run.changes == {}


def test_sshd_port_the_firewall_would_close_fails_the_host_before_any_change():
    facts = fresh("rhel")
    facts["sshd.SshdPorts"] = {"output": "2222"}
    run = run_deploy("tasks/firewall.py", facts)
    assert run.failed and run.ops == []
    assert "sshd listens on 2222/tcp" in run.errors[0]
    assert "Fix: set firewall_ssh_port = '2222/tcp'" in run.errors[0]


def test_sshd_port_listed_among_the_role_ports_is_enough():
    facts = fresh("rhel")
    facts["sshd.SshdPorts"] = {"output": "22\n2222"}
    run = run_deploy("tasks/firewall.py", facts, data={"firewall_ports": ["2222/tcp", "6443/tcp"]})
    assert not run.failed and run.ops


# ---------------------------------------------------------------------------------- selinux

def test_rocky8_back_from_disabled_relabels_then_waits_for_the_reboot():
    facts = fresh("rhel")
    facts["selinux.SelinuxMode"] = selinux_output("Disabled", "disabled")
    run = run_deploy("tasks/selinux.py", facts, data={"selinux_mode": "enforcing"})
    assert run.commands("SELinux enforcing")[-2:] == [
        "{ [ -e /etc/selinux/config.kubeprep.bak ] || cp -p /etc/selinux/config "
        "/etc/selinux/config.kubeprep.bak; } && "
        "sed -i -E 's/^[[:space:]]*SELINUX=.*/SELINUX=permissive/' /etc/selinux/config",
        "touch /.autorelabel",
    ]
    facts["selinux.SelinuxMode"] = selinux_output("Disabled", "permissive", relabel=True)
    assert run_deploy("tasks/selinux.py", facts, data={"selinux_mode": "enforcing"}).changes == {}


def test_debian_with_selinux_off_in_the_kernel_gets_no_relabel():
    facts = fresh("debian")
    facts["selinux.SelinuxMode"] = {"output": "Disabled\n--- config\nSELINUX=permissive\n--- relabel"}
    assert run_deploy("tasks/selinux.py", facts).changes == {}


@pytest.mark.parametrize(("release", "grubby"), [(None, False), (ROCKY_9, True)])
def test_disabled_needs_the_kernel_argument_from_rhel_9_on(release, grubby):
    facts = fresh("rhel")
    if release:
        facts["server.LinuxDistribution"] = release
    run = run_deploy("tasks/selinux.py", facts, data={"selinux_mode": "disabled"})
    commands = run.commands("SELinux disabled")
    assert commands[0] == "setenforce 0"
    assert commands[1].endswith("'s/^[[:space:]]*SELINUX=.*/SELINUX=disabled/' /etc/selinux/config")
    assert commands[2:] == (["grubby --update-kernel ALL --args selinux=0"] if grubby else [])


def test_a_host_of_the_outside_group_gets_no_operation_and_is_not_failed():
    """check.py's probe sources (group ``outside``) are not nodes: the deploy leaves them alone."""
    run = run_deploy("deploy.py", fresh("debian"), groups=["outside"])
    assert (run.ops, run.failed, run.errors) == ([], False, [])


@pytest.mark.parametrize(("until", "last_task_op"), [
    ("ready", "SELinux permissive"),
    ("runtime", "containerd configured for the kubelet, running and enabled"),
])
def test_deploy_until_decides_the_last_stage(until, last_task_op):
    run = run_deploy("deploy.py", converged("debian", "workers"), group="workers",
                     data={"deploy_until": until})
    assert run.ops[-1][0] == last_task_op


def test_deploy_until_kubernetes_adds_the_packages_task():
    facts = {**converged("debian", "workers"),
             **packages_facts("debian12", "debian_none_installed", None)}
    run = run_deploy("deploy.py", facts, group="workers",
                     data={"deploy_until": "kubernetes", "kubernetes_version": "1.36.4"})
    assert [name for name, _ in run.ops][-2:] == [
        "kubeadm, kubelet and kubectl 1.36.4, held", "kubelet enabled",
    ]


def test_a_pod_network_on_the_nodes_network_is_refused_before_any_change():
    # The nodes on a /16 LAN: 192.168.128.0/17 holds no node address, but trusting it would
    # trust every machine in the upper half of that LAN.
    facts = fresh("debian")
    facts["network.InterfaceAddresses"] = {"output": "127.0.0.1/8\n192.168.77.21/16"}
    run = run_deploy("tasks/firewall.py", facts,
                     data={"cni": "flannel", "cni_pod_cidr": "192.168.128.0/17"})
    assert run.failed and run.ops == []
    assert run.errors[0].endswith(
        "kubeprep: node: cni_pod_cidr = '192.168.128.0/17': overlaps the nodes' network "
        "192.168.0.0/16, so firewalld's trusted zone would accept other machines on it. "
        f"Fix: {run.errors[0].split('Fix: ')[1]}",
    )


def test_a_torn_cluster_zone_file_is_set_aside_before_any_other_firewall_change():
    # w2's real read after its cluster zone file was emptied: firewalld FAILED.
    lines = json.loads((FACT_CASES / "firewalld.FirewalldZones" /
                        "debian12_failed_after_a_torn_cluster_zone_file.json").read_text())["output"]
    cluster = lines.index("--- zone=kubeprep")
    facts = converged("debian", "workers")
    facts["firewalld.FirewalldZone"] = ByArguments({
        "zone=None": {"output": "\n".join(lines[1:cluster])},
        "zone=kubeprep": {"output": "\n".join(lines[cluster + 1:])},
    })
    run = run_deploy("tasks/firewall.py", facts, group="workers")
    assert not run.failed, run.errors
    names = [name for name, _ in run.ops]
    assert names[:3] == ["Install firewalld", "Set aside zone files firewalld cannot load",
                         "Create the cluster zone"]
    mv, cp, restart = run.commands("Set aside zone files firewalld cannot load")
    assert mv.startswith("mv /etc/firewalld/zones/kubeprep.xml /etc/firewalld/zones/kubeprep.xml"
                         ".kubeprep-broken-")
    assert cp == "cp -p /etc/firewalld/zones/kubeprep.xml.old /etc/firewalld/zones/kubeprep.xml"
    assert restart.startswith("systemctl restart firewalld && ")


@pytest.mark.parametrize("task", ["tasks/selinux.py", "deploy.py"])
def test_disabled_on_rhel_9_without_grubby_is_refused_before_any_change(task):
    facts = fresh("rhel")
    facts["server.LinuxDistribution"] = ROCKY_9
    facts["selinux.SelinuxMode"] = {
        "output": "Enforcing\n--- config\nSELINUX=enforcing\n--- relabel",  # no grubby part
    }
    run = run_deploy(task, facts, data={"selinux_mode": "disabled"})
    assert run.failed
    # deploy.py: the earlier tasks' operations were added first, but a failed host runs none.
    assert "SELinux disabled" not in str(run.ops)
    assert run.errors[0].endswith(
        "kubeprep: node: selinux_mode = 'disabled': on rocky 9.5 only the selinux=0 kernel "
        "argument disables SELinux, and grubby, which adds it, is not installed. Fix: install "
        "grubby (dnf install grubby), or set selinux_mode = 'permissive'.",
    )
