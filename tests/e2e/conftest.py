"""Fixtures for end-to-end tests on the kubeprep VM lab (lab/lab).

The session-scoped ``lab`` fixture boots three pristine VMs once per test
session (``lab/lab reset``) and stops them at the end. If the lab cannot boot,
every lab test ERRORs (nothing is skipped).

    def test_something(lab):
        rc, out, err = lab.run("cp1", "getenforce")
        result = lab.pyinfra("deploy.py")          # pyinfra -y lab/inventory.py deploy.py
        lab.reboot("cp1", "w1")                    # returns when SSH answers again

Environment:
    KUBEPREP_LAB_REUSE=1  use the running lab as it is (``lab/lab up``, no reset)
    KUBEPREP_LAB_KEEP=1   leave the VMs running after the session
    plus lab/lab's own KUBEPREP_LAB_CACHE, KUBEPREP_LAB_PORT_BASE, ...
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

REPO_DIR = Path(__file__).resolve().parents[2]
LAB_CMD = REPO_DIR / "lab" / "lab"
INVENTORY = REPO_DIR / "lab" / "inventory.py"
NODES = ("cp1", "w1", "w2")
CLUSTER_ADDRESS = {"cp1": "192.168.77.11", "w1": "192.168.77.21", "w2": "192.168.77.22"}
NETNS = "kubeprep-lab"  # `ip netns exec kubeprep-lab CMD` runs from 192.168.77.250


# The lab tests share one lab and run in this order: checks of pristine VMs first, the tests that
# cut power last, then the cluster on whatever they left.
FILE_ORDER = (
    "test_check_fresh.py", "test_lab_smoke.py", "test_node_prep.py", "test_readiness.py",
    "test_kubernetes_packages.py", "test_readiness_outside.py", "test_pods.py",
    "test_hand_made_firewalls.py", "test_swap_kinds.py", "test_reboot.py", "test_faults.py",
    "test_cni.py", "test_kubeadm_cluster.py",
)


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        name = item.path.name
        return FILE_ORDER.index(name) if name in FILE_ORDER else -1

    items.sort(key=rank)  # stable: the order inside a file is kept, other tests first


_SECONDS_PER_FILE: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Add every phase's time (setup, call, teardown) to its file's total."""
    name = report.nodeid.split("::")[0]
    if name.startswith("tests/e2e/"):
        _SECONDS_PER_FILE[name] = _SECONDS_PER_FILE.get(name, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    """Time per lab test file; the first one also carries the lab's boot (the session fixture)."""
    if not _SECONDS_PER_FILE:
        return
    terminalreporter.section("lab time per test file")
    for name, seconds in _SECONDS_PER_FILE.items():
        terminalreporter.write_line(f"{seconds:8.1f} s  {name}")
    terminalreporter.write_line(f"{sum(_SECONDS_PER_FILE.values()):8.1f} s  in all")


class CmdResult(NamedTuple):
    """(rc, stdout, stderr) of a command; unpacks like a tuple."""

    rc: int
    stdout: str
    stderr: str


def _pyinfra_bin() -> str:
    candidate = Path(sys.executable).parent / "pyinfra"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("pyinfra")
    if not found:
        raise RuntimeError("pyinfra not found next to the Python running pytest nor on PATH")
    return found


def _run(argv: list[str], timeout: float, check_as: str) -> CmdResult:
    """Run ``argv`` from the repo root without stdin; with ``check_as``, assert it succeeded."""
    proc = subprocess.run(
        argv, cwd=REPO_DIR, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    result = CmdResult(proc.returncode, proc.stdout, proc.stderr)
    if check_as:
        assert result.rc == 0, f"{check_as} -> rc={result.rc}\n{result.stdout}\n{result.stderr}"
    return result


class Lab:
    """Handle on the running lab; all paths relative to the repo root."""

    nodes = NODES
    cluster_address = CLUSTER_ADDRESS
    netns = NETNS
    repo_dir = REPO_DIR
    inventory = INVENTORY

    def lab(self, *args: str, timeout: float = 900, check: bool = True) -> CmdResult:
        """Run ``lab/lab ARGS`` (build, up, down, reset, status, ...)."""
        proc = subprocess.run(
            [str(LAB_CMD), *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=timeout
        )
        result = CmdResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"lab/lab {' '.join(args)} failed (rc={proc.returncode}):\n{proc.stderr}"
            )
        return result

    def run(
        self, node: str, cmd: str | list[str], timeout: float = 300, check: bool = False
    ) -> CmdResult:
        """Run a shell command as root on NODE over SSH -> (rc, stdout, stderr).

        ``cmd`` is a shell string, or a list that is quoted for you. With
        ``check=True`` a non-zero rc raises AssertionError with the output.
        """
        if node not in NODES:
            raise ValueError(f"unknown node {node!r}")
        if not isinstance(cmd, str):
            cmd = shlex.join(cmd)
        return _run([str(LAB_CMD), "ssh", node, cmd], timeout, f"{node}: {cmd!r}" if check else "")

    def pyinfra(self, *args: str, timeout: float = 1800, check: bool = False) -> CmdResult:
        """Run ``pyinfra -y lab/inventory.py ARGS`` from the repo root.

        e.g. ``lab.pyinfra("deploy.py")``, ``lab.pyinfra("--limit", "cp1", "deploy.py")``,
        ``lab.pyinfra("fact", "server.Hostname")``. Returns (rc, stdout, stderr).
        """
        argv = [_pyinfra_bin(), "-y", "lab/inventory.py", *args]
        return _run(argv, timeout, f"pyinfra {' '.join(args)}" if check else "")

    def reboot(self, *nodes: str, timeout: float = 900) -> None:
        """Reboot NODES (all when none given) and wait until they answer SSH again."""
        self.lab("reboot", *(nodes or NODES), timeout=timeout)

    def netns_exec(self, *argv: str, timeout: float = 60) -> CmdResult:
        """Run a host command inside the lab's network namespace (source 192.168.77.250)."""
        proc = subprocess.run(
            ["ip", "netns", "exec", NETNS, *argv], capture_output=True, text=True, timeout=timeout
        )
        return CmdResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def lab():
    """Pristine lab for the session: ``lab/lab kube`` (the lab's Kubernetes, built or reused),
    then ``lab/lab reset`` (builds the image if needed)."""
    handle = Lab()
    command = "up" if os.environ.get("KUBEPREP_LAB_REUSE") == "1" else "reset"
    try:
        # The lab's Kubernetes: built (cold: about 25 minutes on 2 cores) or reused (seconds).
        handle.lab("kube", timeout=5400)
        handle.lab(command, timeout=2400)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        pytest.fail(f"the lab did not boot: {exc}", pytrace=False)
    yield handle
    if os.environ.get("KUBEPREP_LAB_KEEP") != "1":
        handle.lab("down", check=False)
