"""SELinux's mode now and at boot, a pending relabel and the boot entries' kernel arguments
(``SelinuxMode``); its command and parser serve NodeReadiness too."""

from __future__ import annotations

from pyinfra.api import FactBase
from typing_extensions import TypedDict, override

from kubeprep.facts import marked_sections
from kubeprep.node_files import RELABEL_MARK

# The marks between the parts of SELINUX_COMMAND's output (``--- NAME``); before the first:
# getenforce's.
_CONFIG = "config"
_RELABEL = "relabel"
_GRUBBY = "grubby"

# Reads the mode now and at boot, a relabel pending for the next boot, and the kernel arguments
# of every boot entry (grubby(8) --info=ALL prints one args="..." line per entry; no grubby part
# without grubby). Other facts may run it and hand its output to parse_selinux().
SELINUX_COMMAND = (
    "! command -v getenforce >/dev/null 2>&1 || getenforce; "
    f"echo '--- {_CONFIG}'; "
    "grep -E '^[[:space:]]*SELINUX=' /etc/selinux/config 2>/dev/null || true; "
    f"echo '--- {_RELABEL}'; [ ! -e {RELABEL_MARK} ] || echo {RELABEL_MARK}; "
    f"if command -v grubby >/dev/null 2>&1; then echo '--- {_GRUBBY}'; "
    "grubby --info=ALL 2>/dev/null | grep '^args=' || true; fi"
)


class SelinuxModeDict(TypedDict):
    current: str | None
    config: str | None
    relabel_pending: bool
    boot_args: list[str] | None


def parse_selinux(output: list[str]) -> SelinuxModeDict:
    """The lines ``SELINUX_COMMAND`` prints, parsed (see ``SelinuxMode``)."""
    fact: SelinuxModeDict = {
        "current": None, "config": None, "relabel_pending": False, "boot_args": None,
    }
    parts = dict(marked_sections(output, "", (_CONFIG, _RELABEL, _GRUBBY)))
    current = [line.strip() for line in parts[""] if line.strip()]
    if current:
        fact["current"] = current[-1].lower()
    for line in parts.get(_CONFIG, []):
        fact["config"] = line.split("=", 1)[1].strip().strip("\"'").lower() or None
    fact["relabel_pending"] = RELABEL_MARK in (line.strip() for line in parts.get(_RELABEL, []))
    if _GRUBBY in parts:
        fact["boot_args"] = [
            line.split("=", 1)[1].strip().strip('"') for line in parts[_GRUBBY] if "=" in line
        ]
    return fact


class SelinuxMode(FactBase[SelinuxModeDict]):
    """
    Returns the SELinux mode now (``getenforce``) and at boot (``SELINUX=`` in
    ``/etc/selinux/config``), lower-cased, ``None`` where the tool or the file is absent; whether
    ``/.autorelabel`` waits for the next boot; and the kernel arguments of each boot entry
    (``grubby --info=ALL``; ``None`` without grubby).

    .. code:: python

        {
            "current": "disabled",
            "config": "permissive",
            "relabel_pending": True,
            "boot_args": ["ro crashkernel=auto resume=/dev/mapper/rl-swap rhgb quiet"],
        }
    """

    @override
    @staticmethod
    def default() -> SelinuxModeDict:
        return {"current": None, "config": None, "relabel_pending": False, "boot_args": None}

    @override
    def command(self) -> str:
        return SELINUX_COMMAND

    @override
    def process(self, output) -> SelinuxModeDict:
        return parse_selinux(output)
