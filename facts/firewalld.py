from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

from kubeprep.busctl import parse_reply

_SECTION = re.compile(r"^--- (permanent|runtime|dbus)$")
_DBUS_ZONE_SETTINGS = (
    "busctl call org.fedoraproject.FirewallD1 /org/fedoraproject/FirewallD1"
    ' org.fedoraproject.FirewallD1.zone getZoneSettings2 s "$zone" 2>/dev/null'
)
_LIST_ALL_KEYS = ("services", "ports", "sources", "protocols")


class ZoneConfigDict(TypedDict):
    ports: list[str]
    services: list[str]
    sources: list[str]
    protocols: list[str]


class FirewalldZoneDict(TypedDict):
    installed: bool
    active: bool
    enabled: bool
    zone: str | None
    runtime: ZoneConfigDict | None
    permanent: ZoneConfigDict | None


class FirewalldZone(FactBase[FirewalldZoneDict]):
    """
    Returns whether firewalld is installed, active and enabled, and one zone's runtime and
    permanent ports, services, sources and protocols, in one round trip.

    The runtime config comes from firewalld over D-Bus (``busctl``, milliseconds; firewalld 0.9+)
    or, where that fails, ``firewall-cmd --list-all`` (seconds: it starts Python); only while
    firewalld runs. The permanent config comes from the zone's XML file.

    + zone: the zone to read; the default zone from ``firewalld.conf`` when omitted

    .. code:: python

        {
            "installed": True,
            "active": True,
            "enabled": True,
            "zone": "public",
            "runtime": {"ports": ["22/tcp"], "services": ["ssh"], "sources": [], "protocols": []},
            "permanent": {"ports": ["22/tcp"], "services": ["ssh"], "sources": [], "protocols": []},
        }
    """

    @override
    @staticmethod
    def default() -> FirewalldZoneDict:
        return {
            "installed": False,
            "active": False,
            "enabled": False,
            "zone": None,
            "runtime": None,
            "permanent": None,
        }

    @override
    def command(self, zone: str | None = None) -> StringCommand:
        pick_zone = (
            StringCommand("zone=", QuoteString(zone), _separator="")
            if zone
            else "zone=$(sed -n 's/^DefaultZone=//p' /etc/firewalld/firewalld.conf 2>/dev/null)"
        )
        return StringCommand(
            "command -v firewall-cmd >/dev/null 2>&1 || exit 0;",
            'echo "active=$(systemctl is-active firewalld 2>/dev/null)";',
            'echo "enabled=$(systemctl is-enabled firewalld 2>/dev/null)";',
            pick_zone,
            '; zone="${zone:-public}"; echo "zone=$zone"; echo "--- permanent";',
            'cat "/etc/firewalld/zones/$zone.xml" 2>/dev/null'
            ' || cat "/usr/lib/firewalld/zones/$zone.xml" 2>/dev/null;',
            'echo "--- runtime";',
            'if [ "$(systemctl is-active firewalld 2>/dev/null)" = active ]; then',
            f'if reply=$({_DBUS_ZONE_SETTINGS}); then echo "--- dbus"; echo "$reply";',
            'else firewall-cmd --zone="$zone" --list-all; fi; fi',
        )

    @override
    def process(self, output) -> FirewalldZoneDict:
        fact = self.default()
        if not output:
            return fact
        fact["installed"] = True
        sections: dict[str, list[str]] = {"head": [], "permanent": [], "runtime": [], "dbus": []}
        current = "head"
        for line in output:
            match = _SECTION.match(line)
            if match:
                current = match.group(1)
                continue
            sections[current].append(line)

        head = dict(line.split("=", 1) for line in sections["head"] if "=" in line)
        fact["active"] = head.get("active") == "active"
        fact["enabled"] = head.get("enabled") == "enabled"
        fact["zone"] = head.get("zone") or None
        if any(line.strip() for line in sections["permanent"]):
            fact["permanent"] = parse_zone_xml("\n".join(sections["permanent"]))
        if fact["active"] and sections["dbus"]:
            fact["runtime"] = parse_zone_settings(" ".join(sections["dbus"]))
        elif fact["active"] and sections["runtime"]:
            fact["runtime"] = parse_list_all(sections["runtime"])
        return fact


def _empty_zone() -> ZoneConfigDict:
    return {"ports": [], "services": [], "sources": [], "protocols": []}


def parse_list_all(lines: list[str]) -> ZoneConfigDict:
    """Parse ``firewall-cmd --list-all`` output (the indented ``key: values`` lines)."""
    zone = _empty_zone()
    for line in lines:
        key, _, values = line.strip().partition(":")
        if key in _LIST_ALL_KEYS:
            zone[key] = values.split()
    return zone


def parse_zone_settings(reply: str) -> ZoneConfigDict:
    """Parse firewalld's ``getZoneSettings2`` D-Bus reply, as ``busctl call`` prints it."""
    (settings,) = parse_reply(reply)
    return {
        "ports": [f"{port}/{proto}" for port, proto in settings.get("ports", [])],
        "services": list(settings.get("services", [])),
        "sources": list(settings.get("sources", [])),
        "protocols": list(settings.get("protocols", [])),
    }


def parse_zone_xml(text: str) -> ZoneConfigDict:
    """Parse a firewalld zone file (``/etc/firewalld/zones/NAME.xml``)."""
    zone = _empty_zone()
    root = ElementTree.fromstring(text.strip())
    for element in root:
        if element.tag == "port":
            zone["ports"].append(f"{element.get('port')}/{element.get('protocol')}")
        elif element.tag == "service":
            zone["services"].append(element.get("name", ""))
        elif element.tag == "source" and element.get("address"):
            zone["sources"].append(element.get("address", ""))
        elif element.tag == "protocol":
            zone["protocols"].append(element.get("value", ""))
    return zone
