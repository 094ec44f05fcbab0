"""One sysctl.d file next to the live values of its keys (``SysctlFile``), and the parser of
``key = value`` lines that NodeReadiness uses too."""

from __future__ import annotations

import re

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

from kubeprep.facts import marked_sections

_LIVE = "live"  # the mark (``--- live``) between the file and the live values
_ASSIGNMENT = re.compile(r"^\s*([^#;=\s][^=]*?)\s*=\s*(.*?)\s*$")


class SysctlFileDict(TypedDict):
    file: dict[str, str] | None
    live: dict[str, str]


class SysctlFile(FactBase[SysctlFileDict]):
    """
    Returns the settings of one sysctl.d file next to the live values of the given keys, so an
    operation can tell whether the file is written and whether it is applied in one round trip.
    A key the kernel does not know yet (``net.bridge.*`` before ``br_netfilter``) has no live value.

    + path: the sysctl.d file, e.g. ``/etc/sysctl.d/k8s.conf``
    + keys: the keys whose live values to read

    .. code:: python

        {
            "file": {"net.ipv4.ip_forward": "1"},
            "live": {"net.ipv4.ip_forward": "0"},
        }
    """

    @override
    @staticmethod
    def default() -> SysctlFileDict:
        return {"file": None, "live": {}}

    @override
    def command(self, path: str, keys: list[str]) -> StringCommand:
        return StringCommand(
            # The echo ends a last line that has no newline, so the mark stays on its own line.
            "cat", QuoteString(path), "2>/dev/null; echo;",
            "echo", QuoteString(f"--- {_LIVE}"), ";",
            "sysctl", *(QuoteString(key) for key in keys), "2>/dev/null || true",
        )

    @override
    def process(self, output) -> SysctlFileDict:
        parts = dict(marked_sections(output, "file", (_LIVE,)))
        if _LIVE not in parts:
            return self.default()
        # A file without settings (missing, empty or only comments) reads as None.
        settings = parse_sysctl_lines(parts["file"])
        return {"file": settings or None, "live": parse_sysctl_lines(parts[_LIVE])}


def parse_sysctl_lines(lines: list[str]) -> dict[str, str]:
    """Parse ``key = value`` lines (sysctl.d syntax and ``sysctl KEY`` output); last one wins."""
    settings = {}
    for line in lines:
        match = _ASSIGNMENT.match(line)
        if match:
            key = match.group(1).lstrip("-").replace("/", ".")
            settings[key] = " ".join(match.group(2).split())
    return settings
