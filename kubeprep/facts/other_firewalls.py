"""The firewalls besides firewalld (``OtherFirewalls``): ufw, the nftables and iptables services
and their rule files; ``kubeprep.firewalls`` tells which would drop what firewalld opens."""

from __future__ import annotations

from pyinfra.api import FactBase
from typing_extensions import TypedDict, override

from kubeprep.facts import FILE_LINE, marked_sections
from kubeprep.firewalls import RULE_FILES

UNITS = ("ufw.service", *RULE_FILES)
_FILES = " ".join(path for paths in RULE_FILES.values() for path in paths)
# The units' state, ufw's (``--- ufw``), then each rule file (``--- file PATH``), its lines behind
# FILE_LINE so that no content reads as a mark.
OTHER_FIREWALLS = (
    f"systemctl show -p Id,ActiveState,UnitFileState {' '.join(UNITS)} 2>/dev/null;"
    ' echo "--- ufw"; if [ -x /usr/sbin/ufw ]; then echo installed;'
    " grep -s '^ENABLED=' /etc/ufw/ufw.conf; LC_ALL=C /usr/sbin/ufw status 2>/dev/null | head -n 1;"
    f" fi; for file in {_FILES}; do"
    f' [ -f "$file" ] && echo "--- file $file" && sed \'s/^/{FILE_LINE}/\' "$file"; done; true'
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
    parts = marked_sections(lines, "units", ("ufw", "file"))
    unit: dict[str, str] = {}
    for line in [*parts[0][1], ""]:  # systemctl show: a blank line after each unit
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
    for name, part in parts[1:]:
        if name.startswith("file "):
            fact["files"][name.removeprefix("file ")] = "".join(
                line[len(FILE_LINE):] + "\n" for line in part if line.startswith(FILE_LINE)
            )
        elif name == "ufw":
            for line in part:
                fact["ufw"]["installed"] = True
                fact["ufw"]["enabled"] |= line.strip() in ("ENABLED=yes", 'ENABLED="yes"')
                fact["ufw"]["active"] |= line.strip() == "Status: active"
    return fact
