"""
Manage the SELinux mode, now and at boot.
"""

from __future__ import annotations

from pyinfra import host, logger
from pyinfra.api import OperationError, OperationValueError, StringCommand, operation
from pyinfra.api.command import QuoteString

from kubeprep.facts.selinux import SelinuxMode
from kubeprep.node_files import RELABEL_MARK
from kubeprep.operations.backup import keep_original

MODES = ("enforcing", "permissive", "disabled")
CONFIG = "/etc/selinux/config"


@operation()
def mode(mode: str = "permissive", relabel: bool = True, kernel_arg_disables: bool = False):
    """
    Set the SELinux mode now (``setenforce``) and at boot (``SELINUX=`` in ``/etc/selinux/config``,
    the file as it was before kubeprep first changed it kept in ``config.kubeprep.bak``).

    + mode: ``enforcing``, ``permissive`` or ``disabled`` (``disabled`` takes effect at boot;
      until then the host is set permissive)
    + relabel: when SELinux is disabled in the kernel and ``mode`` brings it back at the next
      boot, create ``/.autorelabel`` so that boot relabels the file system, and write the config
      ``permissive`` even if ``enforcing`` is asked: enforcing is set by a run after that boot,
      never straight onto an unlabelled system (RHEL); ``False`` only edits the config
    + kernel_arg_disables: ``disabled`` also adds the ``selinux=0`` kernel argument to every boot
      entry with grubby, as RHEL 9 needs (its config no longer disables SELinux)

    A ``selinux=0`` kernel argument is removed when ``mode`` is not ``disabled``. A reboot this
    needs is logged as a warning. On a host without SELinux (no ``getenforce`` and no config
    file) nothing is done.

    **Example:**

    .. code:: python

        selinux.mode(
            name="Set SELinux permissive, as kubeadm's install guide asks",
            mode="permissive",
        )
    """
    if mode not in MODES:
        raise OperationValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")

    state = host.get_fact(SelinuxMode)
    current, config = state["current"], state["config"]
    if current is None and config is None:
        host.noop("SELinux is not installed on this host")
        return

    comes_back = relabel and current == "disabled" and mode != "disabled" and config is not None
    boot_mode = "permissive" if comes_back and mode == "enforcing" else mode
    commands = [
        *_setenforce_commands(current, mode),
        *_config_commands(config, boot_mode),
        *_kernel_arg_commands(state["boot_args"], mode, kernel_arg_disables),
        *([f"touch {RELABEL_MARK}"] if comes_back and not state["relabel_pending"] else []),
    ]

    note = _reboot_note(mode, boot_mode) if comes_back else None
    if not commands:
        now = "disabled in the kernel" if current == "disabled" else current
        boot = f"{boot_mode} at boot" if config else f"has no {CONFIG}"
        host.noop(f"SELinux is {now} now and {boot}" + (f"; {note}" if note else ""))
        return
    if note:
        logger.warning(f"{host.print_prefix}{note}")
    elif mode == "disabled" and current != "disabled":
        logger.warning(f"{host.print_prefix}SELinux is disabled from the next boot: reboot")
    yield from commands


def _setenforce_commands(current: str | None, mode: str) -> list[str]:
    """``setenforce`` to ``mode`` now (permissive for ``disabled``), when SELinux runs otherwise."""
    runtime_mode = "permissive" if mode == "disabled" else mode
    if current in ("enforcing", "permissive") and current != runtime_mode:
        return ["setenforce 1" if runtime_mode == "enforcing" else "setenforce 0"]
    return []


def _config_commands(config: str | None, boot_mode: str) -> list[StringCommand]:
    """``SELINUX=boot_mode`` in the config (its original kept), unless it says that or is absent."""
    if config is None or config == boot_mode:
        return []
    return [StringCommand(
        keep_original(CONFIG), "&& sed -i -E",
        QuoteString(f"s/^[[:space:]]*SELINUX=.*/SELINUX={boot_mode}/"), CONFIG,
    )]


def _kernel_arg_commands(
    boot_args: list[str] | None, mode: str, kernel_arg_disables: bool,
) -> list[str]:
    """grubby adding ``selinux=0`` to every boot entry for ``disabled``, else removing it."""
    entries = [_disables(args) for args in boot_args or []]
    if mode == "disabled" and kernel_arg_disables and not (entries and all(entries)):
        if boot_args is None:
            raise OperationError(
                "SELinux disabled needs the selinux=0 kernel argument on this release, and "
                "grubby, which adds it, is not installed. Fix: install grubby, or set "
                "selinux_mode = 'permissive'.",
            )
        return ["grubby --update-kernel ALL --args selinux=0"]
    if mode != "disabled" and any(entries):
        return ["grubby --update-kernel ALL --remove-args selinux"]
    return []


def _disables(args: str) -> bool:
    """Whether a kernel command line turns SELinux off: its last ``selinux=`` is ``selinux=0``."""
    values = [arg for arg in args.split() if arg.startswith("selinux=")]
    return bool(values) and values[-1] == "selinux=0"


def _reboot_note(mode: str, boot_mode: str) -> str:
    note = (
        f"reboot pending: the next boot relabels the file system ({RELABEL_MARK}) and starts "
        f"SELinux {boot_mode}"
    )
    if boot_mode != mode:
        note += f"; run again after it to set {mode} (never straight onto an unlabelled system)"
    return note
