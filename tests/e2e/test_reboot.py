"""Everything kubeprep set survives a reboot of every node: swap stays off (every kind: w1 has
them all from test_swap_kinds.py), the kernel modules and sysctls, the zones as firewalld loads
them at boot, containerd running with the same effective config, SELinux permissive; a deploy
after it changes nothing.

Runs right after test_swap_kinds.py (see conftest's FILE_ORDER): one reboot of the converged lab
proves what test_node_prep.py and test_swap_kinds.py set up, and what the files between left
(each ends converged: its last deploy changes nothing).
"""

from __future__ import annotations

import time
import tomllib

import pytest
from test_node_prep import changes_by_host, check_kernel, check_zones, deploy, sh
from test_swap_kinds import UNIT

pytestmark = pytest.mark.lab


def test_everything_persists_across_a_reboot(lab):
    # The files before leave the lab converged (each ends with a run that changes nothing).
    # containerd's effective config (tests/e2e/test_pods.py checks what it says).
    runtime = {node: sh(lab, node, "containerd config dump") for node in lab.nodes}
    started = time.monotonic()
    lab.reboot()
    print(f"reboot of 3 VMs: {time.monotonic() - started:.0f} s")
    for node in lab.nodes:
        assert sh(lab, node, "swapon --show --noheadings").strip() == "", node
        assert sh(lab, node, "cat /proc/swaps").strip().count("\n") == 0, node  # the header only
        check_kernel(lab, node)
        check_zones(lab, node, configs=("runtime",))
        assert sh(lab, node, "systemctl is-active containerd").strip() == "active", node
        assert tomllib.loads(sh(lab, node, "containerd config dump")) == \
            tomllib.loads(runtime[node]), node
    if lab.run("w1", "test -e /var/lib/extra").rc == 0:  # test_swap_kinds.py's unit, if it ran
        assert sh(lab, "w1", f"systemctl is-enabled {UNIT} || true").strip() == "masked"
    assert sh(lab, "cp1", "getenforce").strip() == "Permissive"
    assert changes_by_host(deploy(lab)) == {}
