from __future__ import annotations

from pyinfra.api import FactBase
from typing_extensions import TypedDict, override

_CONFIG_MARK = "--- config"


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
        return (
            "! command -v getenforce >/dev/null 2>&1 || getenforce; "
            f"echo '{_CONFIG_MARK}'; "
            "grep -E '^[[:space:]]*SELINUX=' /etc/selinux/config 2>/dev/null || true"
        )

    @override
    def process(self, output) -> SelinuxModeDict:
        fact = self.default()
        split = output.index(_CONFIG_MARK) if _CONFIG_MARK in output else len(output)
        current = [line.strip() for line in output[:split] if line.strip()]
        if current:
            fact["current"] = current[-1].lower()
        for line in output[split + 1 :]:
            fact["config"] = line.split("=", 1)[1].strip().strip("\"'").lower() or None
        return fact
