from __future__ import annotations

from pyinfra.api import FactBase
from typing_extensions import TypedDict, override

from kubeprep.firewalls import RULE_FILES

UNITS = ("ufw.service", *RULE_FILES)
_FILES = " ".join(path for paths in RULE_FILES.values() for path in paths)
# One line per file, each file's lines prefixed with "|" so that no content reads as a header.
OTHER_FIREWALLS = (
    f"systemctl show -p Id,ActiveState,UnitFileState {' '.join(UNITS)} 2>/dev/null;"
    ' echo "--- ufw"; if [ -x /usr/sbin/ufw ]; then echo installed;'
    " grep -s '^ENABLED=' /etc/ufw/ufw.conf; LC_ALL=C /usr/sbin/ufw status 2>/dev/null | head -n 1;"
    f" fi; for file in {_FILES}; do"
    ' [ -f "$file" ] && echo "--- file $file" && sed \'s/^/|/\' "$file"; done; true'
)


class UnitDict(TypedDict):
    active: bool
    enabled: bool


class UfwDict(TypedDict):
    installed: bool
    enabled: bool  # ENABLED=yes in /etc/ufw/ufw.conf: ufw.service loads its rules at boot
    active: bool  # ``ufw status``: its rules are loaded now


class OtherFirewallsDict(TypedDict):
    units: dict[str, UnitDict]
    ufw: UfwDict
    files: dict[str, str]


class OtherFirewalls(FactBase[OtherFirewallsDict]):
    """
    Returns the firewalls besides firewalld, in one round trip: whether ufw is installed, set to
    start (``ENABLED=yes``) and active; whether ``ufw.service``, ``nftables.service``,
    ``iptables.service`` and ``ip6tables.service`` are active or enabled (installed ones only);
    and the rule files of the last three (``/etc/nftables.conf``, ``/etc/sysconfig/...``).
    ``kubeprep.firewalls.other_firewalls`` tells which of them would drop what firewalld opens.

    .. code:: python

        {
            "units": {"ufw.service": {"active": True, "enabled": True}},
            "ufw": {"installed": True, "enabled": True, "active": True},
            "files": {"/etc/nftables.conf": "#!/usr/sbin/nft -f\\n..."},
        }
    """

    @override
    @staticmethod
    def default() -> OtherFirewallsDict:
        return {"units": {}, "ufw": {"installed": False, "enabled": False, "active": False},
                "files": {}}

    @override
    def command(self) -> str:
        return OTHER_FIREWALLS

    @override
    def process(self, output) -> OtherFirewallsDict:
        return parse_other_firewalls(list(output))


def parse_other_firewalls(lines: list[str]) -> OtherFirewallsDict:
    """What ``OTHER_FIREWALLS`` prints, as a dict."""
    fact = OtherFirewalls.default()
    end = lines.index("--- ufw") if "--- ufw" in lines else len(lines)
    unit: dict[str, str] = {}
    for line in [*lines[:end], ""]:  # systemctl show: a blank line after each unit
        if "=" in line:
            key, _, value = line.partition("=")
            unit[key] = value
        elif unit:
            if unit.get("UnitFileState"):  # empty for a unit that is not installed
                fact["units"][unit.get("Id", "")] = {
                    "active": unit.get("ActiveState") in ("active", "activating", "reloading"),
                    "enabled": unit["UnitFileState"].startswith("enabled"),
                }
            unit = {}
    file = None
    for line in lines[end + 1:]:
        if line.startswith("--- file "):
            file = line.removeprefix("--- file ")
            fact["files"][file] = ""
        elif file and line.startswith("|"):
            fact["files"][file] += line[1:] + "\n"
        elif file is None:
            fact["ufw"]["installed"] = True
            fact["ufw"]["enabled"] |= line.strip() in ("ENABLED=yes", 'ENABLED="yes"')
            fact["ufw"]["active"] |= line.strip() == "Status: active"
    return fact
