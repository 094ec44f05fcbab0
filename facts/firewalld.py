from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

from kubeprep.busctl import parse_reply

_SECTION = re.compile(
    r"^--- (permanent|zones|runtime|dbus|service (?P<service>[A-Za-z0-9_.-]+))$",
)
_DBUS_ZONE_SETTINGS = (
    "busctl call org.fedoraproject.FirewallD1 /org/fedoraproject/FirewallD1"
    ' org.fedoraproject.FirewallD1.zone getZoneSettings2 s "$zone" 2>/dev/null'
)
_LIST_ALL_KEYS = ("services", "ports", "sources", "protocols")


# The Kubernetes service definitions firewalld ships (kube*.xml, etcd-*.xml; firewalld >= 1.2).
KUBERNETES_SERVICE_FILES = (
    "/usr/lib/firewalld/services/kube*.xml /usr/lib/firewalld/services/etcd-*.xml"
    " /etc/firewalld/services/kube*.xml /etc/firewalld/services/etcd-*.xml"
)
# Lists the definitions, /etc after /usr/lib so that an edited copy wins; one process, not one
# per file (each costs ~0.1 s on a small VM).
SERVICE_DEFINITIONS = (
    "awk 'FNR == 1 { name = FILENAME; sub(/.*\\//, \"\", name); sub(/\\.xml$/, \"\", name);"
    " print \"--- service \" name } { print }'"
    f" {KUBERNETES_SERVICE_FILES} 2>/dev/null"
)


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
    service_ports: dict[str, list[str]]
    zones: list[str]


class FirewalldZone(FactBase[FirewalldZoneDict]):
    """
    Returns whether firewalld is installed, active and enabled, one zone's runtime and permanent
    ports, services, sources and protocols, and the ports of the Kubernetes service
    definitions on the host (``kube*``, ``etcd-*``, includes resolved), in one round trip.
    For a zone that does not exist, ``zones`` lists the zones the host has (their files);
    otherwise it is empty.

    The runtime config comes from firewalld over D-Bus (``busctl``, milliseconds; firewalld 0.9+)
    or, where that fails, ``firewall-cmd --list-all`` (seconds: it starts Python); only while
    firewalld runs. The permanent config comes from the zone's XML file; both are ``None`` for a
    zone that does not exist.

    + zone: the zone to read; the default zone from ``firewalld.conf`` when omitted

    .. code:: python

        {
            "installed": True,
            "active": True,
            "enabled": True,
            "zone": "public",
            "runtime": {"ports": ["22/tcp"], "services": ["ssh"], "sources": [], "protocols": []},
            "permanent": {"ports": ["22/tcp"], "services": ["ssh"], "sources": [], "protocols": []},
            "service_ports": {"kubelet": ["10250/tcp"], "kube-worker": ["10250/tcp", ...]},
            "zones": [],
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
            "service_ports": {},
            "zones": [],
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
            'active=$(systemctl is-active firewalld 2>/dev/null); echo "active=$active";',
            'echo "enabled=$(systemctl is-enabled firewalld 2>/dev/null)";',
            pick_zone,
            '; zone="${zone:-public}"; echo "zone=$zone"; echo "--- permanent";',
            'cat "/etc/firewalld/zones/$zone.xml" 2>/dev/null'
            ' || cat "/usr/lib/firewalld/zones/$zone.xml" 2>/dev/null',
            ' || { echo "--- zones"; ls /usr/lib/firewalld/zones /etc/firewalld/zones 2>/dev/null'
            " | sed -n 's/[.]xml$//p'; };",
            f"{SERVICE_DEFINITIONS};",
            'echo "--- runtime";',
            'if [ "$active" = active ]; then',
            f'if reply=$({_DBUS_ZONE_SETTINGS}); then echo "--- dbus"; echo "$reply";',
            'else firewall-cmd --zone="$zone" --list-all 2>/dev/null; fi; fi; true',
        )

    @override
    def process(self, output) -> FirewalldZoneDict:
        fact = self.default()
        if not output:
            return fact
        fact["installed"] = True
        sections: dict[str, list[str]] = {
            "head": [], "permanent": [], "zones": [], "runtime": [], "dbus": [], "services": [],
        }
        current = sections["head"]
        for line in output:
            match = _SECTION.match(line)
            if match and match["service"]:
                current = sections["services"]
                current.append(line)
            elif match:
                current = sections[match.group(1)]
            else:
                current.append(line)

        head = dict(line.split("=", 1) for line in sections["head"] if "=" in line)
        fact["active"] = head.get("active") == "active"
        fact["enabled"] = head.get("enabled") == "enabled"
        fact["zone"] = head.get("zone") or None
        if any(line.strip() for line in sections["permanent"]):
            fact["permanent"] = parse_zone_xml("\n".join(sections["permanent"]))
        if fact["active"] and sections["dbus"]:
            fact["runtime"] = parse_zone_settings(" ".join(sections["dbus"]))
        elif fact["active"] and any(line.strip() for line in sections["runtime"]):
            fact["runtime"] = parse_list_all(sections["runtime"])
        fact["service_ports"] = parse_service_definitions(sections["services"])
        fact["zones"] = sorted({line.strip() for line in sections["zones"] if line.strip()})
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


def parse_service_xml(text: str) -> tuple[list[str], list[str]] | None:
    """A firewalld service file's ports and included services, or None when it is not valid."""
    try:
        root = ElementTree.fromstring(text.strip())
    except ElementTree.ParseError:
        return None
    ports = [f"{element.get('port')}/{element.get('protocol')}" for element in root.iter("port")]
    includes = [element.get("service", "") for element in root.iter("include")]
    return ports, includes


def parse_service_definitions(lines: list[str]) -> dict[str, list[str]]:
    """What ``SERVICE_DEFINITIONS`` prints, as each service's ports with its includes resolved."""
    files: dict[str, list[str]] = {}
    current: list[str] = []
    for line in lines:
        match = _SECTION.match(line)
        if match and match["service"]:
            current = files[match["service"]] = []
        else:
            current.append(line)
    return resolve_services(
        {name: parse_service_xml("\n".join(text)) for name, text in files.items()},
    )


def resolve_services(
    definitions: dict[str, tuple[list[str], list[str]] | None],
) -> dict[str, list[str]]:
    """Each service's ports with its includes expanded; services that cannot be resolved (an
    unreadable file, an include that is not listed, a loop) are left out."""
    resolved: dict[str, list[str]] = {}

    def ports_of(name: str, seen: tuple[str, ...]) -> list[str] | None:
        definition = definitions.get(name)
        if definition is None or name in seen:
            return None
        ports, includes = definition
        found = list(ports)
        for include in includes:
            included = ports_of(include, (*seen, name))
            if included is None:
                return None
            found.extend(included)
        return list(dict.fromkeys(found))

    for name in definitions:
        ports = ports_of(name, ())
        if ports is not None:
            resolved[name] = ports
    return resolved
