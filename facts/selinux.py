from __future__ import annotations

from pyinfra.api import FactBase
from typing_extensions import TypedDict, override

_CONFIG_MARK = "--- config"

# The mode now: getenforce's one line, nothing without SELinux tools.
GETENFORCE = "! command -v getenforce >/dev/null 2>&1 || getenforce"
# The mode at boot: the SELINUX= line of the config, nothing without the file.
SELINUX_CONFIG = "grep -E '^[[:space:]]*SELINUX=' /etc/selinux/config 2>/dev/null"


class SelinuxModeDict(TypedDict):
    current: str | None
    config: str | None


class SelinuxMode(FactBase[SelinuxModeDict]):
    """
    Returns the SELinux mode now (``getenforce``) and at boot (``SELINUX=`` in
    ``/etc/selinux/config``), lower-cased; ``None`` where the tool or the file is absent.

    .. code:: python

        {
            "current": "enforcing",
            "config": "enforcing",
        }
    """

    @override
    @staticmethod
    def default() -> SelinuxModeDict:
        return {"current": None, "config": None}

    @override
    def command(self) -> str:
        return f"{GETENFORCE}; echo '{_CONFIG_MARK}'; {SELINUX_CONFIG} || true"

    @override
    def process(self, output) -> SelinuxModeDict:
        split = output.index(_CONFIG_MARK) if _CONFIG_MARK in output else len(output)
        return parse_selinux_mode(output[:split], output[split + 1 :])


def parse_selinux_mode(getenforce: list[str], config: list[str]) -> SelinuxModeDict:
    """What ``GETENFORCE`` and ``SELINUX_CONFIG`` print, as the mode now and at boot."""
    current = [line.strip() for line in getenforce if line.strip()]
    mode: SelinuxModeDict = {"current": current[-1].lower() if current else None, "config": None}
    for line in config:  # the last SELINUX= line wins, as for the kernel
        mode["config"] = line.split("=", 1)[1].strip().strip("\"'").lower() or None
    return mode
