"""Every kind of swap on one real VM: a swap file and a UUID= disk in fstab, and a hand-written
systemd .swap unit that fstab does not know about. All of it ends off after the run, and a
second run changes nothing; test_reboot.py, next, proves it stays off after a reboot.

Runs after the deploy tests (see conftest's FILE_ORDER) on w1, which has the lab's UUID= swap disk.
"""

from __future__ import annotations

import json

import pytest
from checkrun import BEFORE_CLUSTER

pytestmark = pytest.mark.lab

# A swap file that only a hand-written unit turns on, and at boot through multi-user.target, so
# masking swap.target alone would not keep it off.
UNIT = "var-lib-extra.swap"
MAKE_UNIT = f"""
set -e
head -c 64M /dev/urandom > /var/lib/extra && chmod 600 /var/lib/extra && mkswap -q /var/lib/extra
cat > /etc/systemd/system/{UNIT} <<'UNIT'
[Unit]
Description=Extra swap, written by hand

[Swap]
What=/var/lib/extra

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now {UNIT}
"""


def sh(lab, command: str) -> str:
    return lab.run("w1", command, check=True).stdout


def deploy_w1(lab) -> dict:
    result = lab.pyinfra("--json", "--limit", "w1", *BEFORE_CLUSTER, "deploy.py")
    assert result.rc == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return json.loads(result.stdout)["results"]


def changed(results: dict) -> set[str]:
    return {op["name"].split(" | ")[-1] for op in results["operations"] if op["success"]}


def active_swaps(lab) -> list[str]:
    return sh(lab, "swapon --show=NAME --noheadings").split()


@pytest.fixture(scope="module")
def every_kind_of_swap(lab):
    """w1 as the installer and an admin left it: fstab's swap lines live, swap.target unmasked,
    plus the hand-written unit; three swaps active."""
    deploy_w1(lab)  # a known starting point whatever ran before
    sh(lab, "cp /etc/fstab.kubeprep.bak /etc/fstab && systemctl unmask swap.target"
            " && systemctl daemon-reload && swapon -a")
    sh(lab, MAKE_UNIT)
    fstab = sh(lab, "cat /etc/fstab")
    assert "\nUUID=" in fstab and "\n/swapfile" in fstab
    assert len(active_swaps(lab)) == 3, active_swaps(lab)
    return fstab


def test_the_run_turns_every_kind_off_as_separate_changes(lab, every_kind_of_swap):
    results = deploy_w1(lab)
    assert changed(results) == {
        "Hand-written .swap units stopped and masked",
        "swap.target masked, so nothing starts swap at boot",
        "Swap off, now and at boot",
    }
    assert active_swaps(lab) == []
    assert sh(lab, f"systemctl is-enabled {UNIT} || true").strip() == "masked"
    fstab = sh(lab, "cat /etc/fstab").split("\n")
    original = every_kind_of_swap.split("\n")
    assert len(fstab) == len(original)
    for before, after in zip(original, fstab, strict=True):
        is_swap = not before.startswith("#") and len(before.split()) > 2 \
            and before.split()[2] == "swap"
        assert after == ("#kubeprep# " + before if is_swap else before)


def test_a_second_run_changes_nothing(lab, every_kind_of_swap):
    assert changed(deploy_w1(lab)) == set()
