"""Every task, and deploy.py, on fresh, converged and half-converged Rocky 8 and Debian 12 hosts."""

from __future__ import annotations

import copy

import pytest
from host_states import CP_PORTS, WORKER_PORTS, converged, firewalld_output, fresh, public_xml
from taskrun import run_deploy

FAMILIES = ["rhel", "debian"]
TASKS = ["account", "firewall", "swap", "kernel", "selinux"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("task", TASKS)
def test_converged_host_gets_no_command(task, family):
    run = run_deploy(f"tasks/{task}.py", converged(family, CP_PORTS))
    assert run.ops, "the task added no operation"
    assert run.changes == {}


@pytest.mark.parametrize("family", FAMILIES)
def test_whole_deploy_on_converged_worker_changes_nothing(family):
    run = run_deploy("deploy.py", converged(family, WORKER_PORTS), group="workers")
    assert len(run.ops) == 9
    assert run.changes == {}


@pytest.mark.parametrize("family", FAMILIES)
def test_each_operation_reads_each_fact_once(family):
    run = run_deploy("deploy.py", fresh(family))
    for (name, _), reads in zip(run.ops, run.fact_reads, strict=True):
        twice = {fact: n for fact, n in reads.items() if n > 1 and not fact.startswith("files.")}
        assert not twice, f"{name} reads {twice}"


def test_fresh_rocky_control_plane_in_order():
    run = run_deploy("deploy.py", fresh("rhel"))
    assert [name for name, _ in run.ops] == [
        "Admin user kubeadmin",
        "Install firewalld",
        "Open 22/tcp, 6443/tcp, 2379-2380/tcp, 10250/tcp, 10257/tcp, 10259/tcp",
        "firewalld running and enabled",
        "Swap off, now and at boot",
        "Load overlay, br_netfilter at boot",
        "Load overlay, br_netfilter now",
        "Kernel parameters in /etc/sysctl.d/k8s.conf, applied",
        "SELinux permissive",
    ]
    assert run.commands("Install firewalld") == ["dnf install -y firewalld"]
    # firewalld is not running yet: the ports, SSH first, go to the permanent config only.
    assert run.commands("Open 22/tcp, 6443/tcp, 2379-2380/tcp, 10250/tcp, 10257/tcp, 10259/tcp") == [
        "firewall-offline-cmd --zone=public --add-port=22/tcp --add-port=6443/tcp "
        "--add-port=2379-2380/tcp --add-port=10250/tcp --add-port=10257/tcp "
        "--add-port=10259/tcp",
    ]
    assert run.commands("firewalld running and enabled") == [
        "systemctl start firewalld.service",
        "systemctl enable firewalld.service",
    ]
    swap = run.commands("Swap off, now and at boot")
    assert swap[0] == "swapoff -a"
    assert "-e '14s/^/\\#kubeprep\\# /' /etc/fstab" in swap[1]
    assert swap[2] == "systemctl daemon-reload"
    assert run.commands("Load overlay, br_netfilter now") == ["modprobe -a overlay br_netfilter"]
    assert run.commands("Kernel parameters in /etc/sysctl.d/k8s.conf, applied")[-1] == (
        "sysctl --system"
    )
    assert run.commands("SELinux permissive") == [
        "setenforce 0",
        "sed -i.kubeprep.bak -E 's/^[[:space:]]*SELINUX=.*/SELINUX=permissive/' /etc/selinux/config",
    ]


def test_fresh_debian_worker():
    run = run_deploy("deploy.py", fresh("debian"), group="workers")
    install = run.commands("Install firewalld")
    assert install[0] == "apt-get update"
    assert install[-1].endswith(" install firewalld")
    assert run.commands("Open 22/tcp, 10250/tcp, 30000-32767/tcp") == [
        "firewall-offline-cmd --zone=public --add-port=22/tcp --add-port=10250/tcp "
        "--add-port=30000-32767/tcp",
    ]
    assert "-e '9s/^/\\#kubeprep\\# /' /etc/fstab" in run.commands("Swap off, now and at boot")[1]
    assert run.commands("SELinux permissive") == []  # Debian without SELinux: a no-op


def test_running_firewalld_gets_runtime_before_permanent():
    """Half-converged: firewalld runs with only SSH open; ports go live first, then persist."""
    facts = converged("rhel", CP_PORTS)
    facts["firewalld.FirewalldZone"] = firewalld_output(True, public_xml(["22/tcp"]), "  ports: 22/tcp")
    run = run_deploy("tasks/firewall.py", facts)
    added = "--add-port=6443/tcp --add-port=2379-2380/tcp --add-port=10250/tcp " \
        "--add-port=10257/tcp --add-port=10259/tcp"
    assert run.changes == {
        "Open 22/tcp, 6443/tcp, 2379-2380/tcp, 10250/tcp, 10257/tcp, 10259/tcp": [
            f"firewall-cmd --zone=public {added}",
            f"firewall-cmd --permanent --zone=public {added}",
        ],
    }


def test_stopped_firewalld_without_ssh_is_opened_before_start():
    """The lockout case: firewalld stopped, SSH missing from its permanent config."""
    facts = converged("rhel", WORKER_PORTS)
    facts["firewalld.FirewalldZone"] = firewalld_output(False, public_xml(["10250/tcp"]))
    facts["systemd.SystemdStatus"] = {"firewalld.service": False}
    run = run_deploy("tasks/firewall.py", facts, group="workers")
    names = [name for name, _ in run.ops]
    open_op = "Open 22/tcp, 10250/tcp, 30000-32767/tcp"
    assert names.index(open_op) < names.index("firewalld running and enabled")
    assert run.changes == {
        open_op: ["firewall-offline-cmd --zone=public --add-port=22/tcp --add-port=30000-32767/tcp"],
        "firewalld running and enabled": ["systemctl start firewalld.service"],
    }


def test_half_converged_kernel_only_applies():
    facts = converged("debian", CP_PORTS)
    facts["sysctl.SysctlFile"]["output"] = facts["sysctl.SysctlFile"]["output"].replace(
        "--- live\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n",
        "--- live\n",
    ).replace("--- live\nnet.ipv4.ip_forward = 1", "--- live\nnet.ipv4.ip_forward = 0")
    run = run_deploy("tasks/kernel.py", facts)
    assert run.changes == {
        "Kernel parameters in /etc/sysctl.d/k8s.conf, applied": ["sysctl --system"],
    }


def test_builtin_module_is_not_loaded_every_run():
    facts = converged("rhel", CP_PORTS)
    facts["kernel.BuiltinKernelModules"] = {"output": "overlay"}
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
