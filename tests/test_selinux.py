"""What selinux.mode tells the operator when SELinux comes back from disabled: a reboot."""

import logging
import shutil
import subprocess

import pytest
from pyinfra.context import ctx_host, ctx_state
from pyinfra_testing.util import FakeState, create_host

from kubeprep.operations import selinux

ROCKY8_ARGS = "ro crashkernel=auto resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap rhgb quiet"


def _plan(caplog, fact: dict, **kwargs) -> tuple[list[str], list[str]]:
    """The commands ``selinux.mode`` sends for ``fact`` and the warnings it logs."""
    state = FakeState()
    host = create_host(state, facts={"selinux.SelinuxMode": fact})
    with caplog.at_level(logging.WARNING, logger="pyinfra"), ctx_state.use(state), \
            ctx_host.use(host):
        commands = [str(command) for command in selinux.mode._inner(**kwargs)]
    return commands, [record.getMessage() for record in caplog.records]


@pytest.mark.parametrize(("wanted", "after"), [
    ("permissive", ""),
    ("enforcing", "; run again after it to set enforcing (never straight onto an unlabelled system)"),
])
def test_back_from_disabled_warns_that_a_reboot_relabels(caplog, wanted, after):
    fact = {"current": "disabled", "config": "disabled", "relabel_pending": False,
            "boot_args": [ROCKY8_ARGS]}
    commands, warnings = _plan(caplog, fact, mode=wanted)
    assert commands[-1] == "touch /.autorelabel"
    assert warnings == [
        "reboot pending: the next boot relabels the file system (/.autorelabel) and starts "
        f"SELinux permissive{after}",
    ]


def test_disabling_warns_that_it_needs_a_reboot(caplog):
    fact = {"current": "enforcing", "config": "enforcing", "relabel_pending": False,
            "boot_args": [ROCKY8_ARGS]}
    commands, warnings = _plan(caplog, fact, mode="disabled", kernel_arg_disables=True)
    assert commands[-1] == "grubby --update-kernel ALL --args selinux=0"
    assert warnings == ["SELinux is disabled from the next boot: reboot"]


def test_no_change_no_warning(caplog):
    fact = {"current": "permissive", "config": "permissive", "relabel_pending": False,
            "boot_args": [ROCKY8_ARGS]}
    assert _plan(caplog, fact, mode="permissive") == ([], [])


# Rocky 8's /etc/selinux/config as the selinux-policy package installs it.
ROCKY8_CONFIG = """
# This file controls the state of SELinux on the system.
# SELINUX= can take one of these three values:
#     enforcing - SELinux security policy is enforced.
#     permissive - SELinux prints warnings instead of enforcing.
#     disabled - No SELinux policy is loaded.
SELINUX=enforcing
# SELINUXTYPE= can take one of these three values:
#     targeted - Targeted processes are protected,
#     minimum - Modification of targeted policy. Only selected processes are protected.
#     mls - Multi Level Security protection.
SELINUXTYPE=targeted

"""


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("sed")), reason="runs the edit")
def test_two_changes_keep_the_original_config_in_the_backup(caplog, tmp_path):
    """permissive, then enforcing: the edits sent (on a copy of the file) keep the first text."""
    config = tmp_path / "config"
    config.write_text(ROCKY8_CONFIG)
    for before, wanted in (("enforcing", "permissive"), ("permissive", "enforcing")):
        fact = {"current": before, "config": before, "relabel_pending": False,
                "boot_args": [ROCKY8_ARGS]}
        commands, _ = _plan(caplog, fact, mode=wanted)
        assert commands[0] == f"setenforce {int(wanted == 'enforcing')}"
        edit = commands[1].replace(selinux.CONFIG, str(config))
        subprocess.run(["bash", "-c", edit], check=True)
        assert config.read_text() == ROCKY8_CONFIG.replace("SELINUX=enforcing", f"SELINUX={wanted}")
    assert (tmp_path / "config.kubeprep.bak").read_text() == ROCKY8_CONFIG
