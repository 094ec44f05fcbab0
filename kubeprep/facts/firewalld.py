"""firewalld's zones as they stand: one zone (``FirewalldZone``) or several (``FirewalldZones``),
runtime and permanent, with the service definitions asked for; and the readers NodeReadiness
composes (a zone's file and runtime config, the zones bound to an interface). The runtime config
comes over D-Bus where it can (``busctl``), else from ``firewall-cmd``."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping, Sequence

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

from kubeprep.busctl import parse_reply
from kubeprep.facts import marked_sections, parse_settings_lines

# The parts of FirewalldZone's output (``--- NAME``); before the first: the ``name=value`` head.
_PARTS = ("permanent", "zones", "runtime", "daemon", "previous", "service")
_DBUS_MARK = "--- dbus"  # the runtime config that follows is a D-Bus reply
# firewalld's zone interface over D-Bus (firewalld 0.9+): milliseconds, where firewall-cmd takes
# seconds to start Python.
_ZONE_API = (
    "busctl call org.fedoraproject.FirewallD1 /org/fedoraproject/FirewallD1"
    " org.fedoraproject.FirewallD1.zone"
)
# firewalld's own state (``s "RUNNING"``, ``s "FAILED"``, ``s "INIT"``) over D-Bus.
FIREWALLD_STATE = (
    "busctl get-property org.fedoraproject.FirewallD1 /org/fedoraproject/FirewallD1"
    " org.fedoraproject.FirewallD1 state 2>/dev/null"
)
_LIST_ALL_KEYS = ("services", "ports", "sources", "protocols")
IF_FIREWALLD_RUNS = 'if [ "$(systemctl is-active firewalld 2>/dev/null)" = active ]; then'


# Prints the definition of each service named after it (``--- service NAME``, then the file:
# /etc/firewalld/services' where it has a non-empty one, else the package's), then of each
# service those include (``<include service="NAME"/>``), each once. One process for them all,
# not one per file (each costs ~0.1 s on a small VM).
_SERVICE_DEFINITIONS = (
    "awk 'BEGIN { for (i = 1; i < ARGC; i++) queue[++n] = ARGV[i];"
    " for (i = 1; i <= n; i++) { name = queue[i];"
    " if ((name in seen) || name !~ /^[A-Za-z0-9_.-]+$/) continue; seen[name] = 1;"
    ' file = "/etc/firewalld/services/" name ".xml"; got = (getline line < file);'
    ' if (got <= 0) { close(file); file = "/usr/lib/firewalld/services/" name ".xml";'
    " got = (getline line < file) }"
    ' if (got <= 0) { close(file); continue } print "--- service " name;'
    " while (got > 0) { print line; rest = line;"
    ' while (match(rest, /<include[^>]*service="[^"]*"/)) {'
    ' inc = substr(rest, RSTART, RLENGTH); sub(/.*service="/, "", inc); sub(/"$/, "", inc);'
    " queue[++n] = inc; rest = substr(rest, RSTART + RLENGTH) }"
    " got = (getline line < file) } close(file) } }'"
)


def service_definitions_command(services: Sequence[str]) -> list[StringCommand]:
    """The command that prints the definitions of ``services`` and of the services they
    include; none for no services. Read with parse_service_definitions()."""
    if not services:
        return []
    return [StringCommand(
        _SERVICE_DEFINITIONS, *(QuoteString(service) for service in services), "2>/dev/null;",
    )]


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
    permanent_problem: str | None  # why the zone file could not be read
    etc_file: bool  # the zone has a file in /etc/firewalld/zones (its own, or an override)
    stock_file: bool  # the package ships the zone (/usr/lib/firewalld/zones)
    previous: ZoneConfigDict | None  # firewalld's copy of the /etc file before its last write
    failed: bool  # firewalld runs on its stock config: its own config did not load
    service_ports: dict[str, list[str]]
    zones: list[str]


def choose_zone(zone: str | None) -> StringCommand:
    """Set ``$zone`` to ``zone``, else to the default zone of ``firewalld.conf`` (``public`` when
    it names none), and print ``zone=NAME``."""
    pick = (
        StringCommand("zone=", QuoteString(zone), _separator="")
        if zone
        else "zone=$(sed -n 's/^DefaultZone=//p' /etc/firewalld/firewalld.conf 2>/dev/null)"
    )
    return StringCommand(pick, '; zone="${zone:-public}"; echo "zone=$zone";')


def zone_file_command(variable: str) -> str:
    """Print the file of the zone named by the shell variable ``variable`` (/etc before
    /usr/lib); nothing for a zone without a file. Read with parse_zone_file()."""
    return (
        f'cat "/etc/firewalld/zones/${variable}.xml" 2>/dev/null'
        f' || cat "/usr/lib/firewalld/zones/${variable}.xml" 2>/dev/null;'
    )


def zone_runtime_command(variable: str) -> str:
    """Print the runtime config of the zone named by the shell variable ``variable``, for a
    firewalld that runs: its D-Bus reply behind ``--- dbus``, else ``firewall-cmd --list-all``.
    Read with parse_runtime()."""
    return (
        f'if reply=$({_ZONE_API} getZoneSettings2 s "${variable}" 2>/dev/null);'
        f' then echo "{_DBUS_MARK}"; echo "$reply";'
        f' else firewall-cmd --zone="${variable}" --list-all 2>/dev/null; fi;'
    )


class FirewalldZone(FactBase[FirewalldZoneDict]):
    """
    Returns whether firewalld is installed, active and enabled, one zone's runtime and permanent
    ports, services, sources and protocols, and the ports of the service definitions asked for
    (``service_ports``, includes resolved), in one round trip.
    For a zone that does not exist, ``zones`` lists the zones the host has (their files);
    otherwise it is empty.

    The runtime config comes from firewalld over D-Bus (``busctl``, milliseconds; firewalld 0.9+)
    or, where that fails, ``firewall-cmd --list-all`` (seconds: it starts Python); only while
    firewalld runs. The permanent config comes from the zone's XML file; both are ``None`` for a
    zone that does not exist. A zone file that is empty or not valid XML (a write cut short)
    reads as no permanent config, with ``permanent_problem`` saying why. ``previous`` is the
    config of firewalld's copy of the ``/etc`` file before its last write (``NAME.xml.old``);
    None without one, or when it is not valid either. ``failed`` is firewalld's own FAILED
    state: running on its stock config because its own did not load, accepting every packet and
    refusing every permanent change.

    + zone: the zone to read; the default zone from ``firewalld.conf`` when omitted
    + services: the services whose definitions to read, with the services they include (a copy
      in ``/etc/firewalld/services`` before the package's); none when omitted

    .. code:: python

        {
            "installed": True,
            "active": True,
            "enabled": True,
            "zone": "public",
            "runtime": {"ports": ["22/tcp"], "services": ["ssh"], "sources": [], "protocols": []},
            "permanent": {"ports": ["22/tcp"], "services": ["ssh"], "sources": [], "protocols": []},
            "permanent_problem": None,
            "etc_file": True,
            "stock_file": True,
            "previous": {"ports": [], "services": ["ssh"], "sources": [], "protocols": []},
            "failed": False,
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
            "permanent_problem": None,
            "etc_file": False,
            "stock_file": False,
            "previous": None,
            "failed": False,
            "service_ports": {},
            "zones": [],
        }

    @override
    def command(self, zone: str | None = None, services: Sequence[str] = ()) -> StringCommand:
        return StringCommand(
            "command -v firewall-cmd >/dev/null 2>&1 || exit 0;",
            'active=$(systemctl is-active firewalld 2>/dev/null); echo "active=$active";',
            'echo "enabled=$(systemctl is-enabled firewalld 2>/dev/null)";',
            choose_zone(zone), 'echo "--- permanent";',
            zone_file_command("zone"),
            # A zone without a file: the zones there are, to name them when refusing it.
            '[ -e "/etc/firewalld/zones/$zone.xml" ]'
            ' || [ -e "/usr/lib/firewalld/zones/$zone.xml" ]',
            ' || { echo "--- zones"; ls /usr/lib/firewalld/zones /etc/firewalld/zones 2>/dev/null'
            " | sed -n 's/[.]xml$//p'; };",
            *service_definitions_command(services),
            'echo "--- runtime";',
            'if [ "$active" = active ]; then', zone_runtime_command("zone"), "fi;",
            # firewalld's state, where the zone's files are, and its copy of the /etc one.
            f'echo "--- daemon"; [ "$active" != active ] || {FIREWALLD_STATE};',
            'f="/etc/firewalld/zones/$zone.xml"; [ ! -e "$f" ] || echo "etc_file=yes";',
            '[ ! -e "/usr/lib/firewalld/zones/$zone.xml" ] || echo "stock_file=yes";',
            '[ ! -e "$f.old" ] || { echo "--- previous"; cat "$f.old"; }; true',
        )

    @override
    def process(self, output) -> FirewalldZoneDict:
        fact = self.default()
        if not output:
            return fact
        fact["installed"] = True
        parts = marked_sections(output, "head", _PARTS)
        sections = {name: [] for name in _PARTS} | dict(parts)
        head = parse_settings_lines(sections["head"])
        fact["active"] = head.get("active") == "active"
        fact["enabled"] = head.get("enabled") == "enabled"
        fact["zone"] = head.get("zone") or None
        daemon = parse_settings_lines(sections["daemon"])
        fact["etc_file"] = daemon.get("etc_file") == "yes"
        fact["stock_file"] = daemon.get("stock_file") == "yes"
        fact["failed"] = any(line.strip() == 's "FAILED"' for line in sections["daemon"])
        fact["permanent"], fact["permanent_problem"] = parse_zone_file(sections["permanent"])
        if fact["etc_file"] and fact["permanent"] is None and fact["permanent_problem"] is None:
            fact["permanent_problem"] = "the zone file is empty"
        fact["previous"], _ = parse_zone_file(sections["previous"])
        fact["runtime"] = parse_runtime(fact["active"], sections["runtime"])
        fact["service_ports"] = _service_ports(parts)
        fact["zones"] = sorted({line.strip() for line in sections["zones"] if line.strip()})
        return fact


def parse_zone_file(lines: list[str]) -> tuple[ZoneConfigDict | None, str | None]:
    """What ``zone_file_command`` prints, as (config, problem): (None, None) without a file,
    (None, why) for a file that is not valid XML. Never raises: a broken file is reported."""
    text = "\n".join(lines).strip()
    if not text:
        return None, None
    try:
        return parse_zone_xml(text), None
    except ElementTree.ParseError as error:
        return None, f"the zone file is not valid XML ({error})"


def parse_runtime(active: bool, lines: list[str]) -> ZoneConfigDict | None:
    """A zone's runtime config: firewalld's D-Bus reply after a ``--- dbus`` line, else
    ``firewall-cmd --list-all``. None while firewalld is stopped or for a zone it does not have
    (both then print nothing)."""
    if not active:
        return None
    if lines[:1] == [_DBUS_MARK] and any(line.strip() for line in lines[1:]):
        return parse_zone_settings(" ".join(lines[1:]))
    if not any(line.strip() for line in lines):
        return None
    return parse_list_all(lines)


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
    """What ``service_definitions_command`` prints, as each service's ports with its includes
    resolved."""
    return _service_ports(marked_sections(lines, "", ("service",)))


def _service_ports(parts: list[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """The ``--- service NAME`` parts of an output, as ``parse_service_definitions`` reads them."""
    return resolve_services({
        name.removeprefix("service "): parse_service_xml("\n".join(lines))
        for name, lines in parts if name.startswith("service ")
    })


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


_ZONE_MARK = "--- zone="


class FirewalldZones(FactBase[dict[str, FirewalldZoneDict]]):
    """
    Returns ``FirewalldZone`` for each of several zones, in one round trip: what one run of the
    firewall task needs, read once and shared by its operations.

    + zones: the zones to read; ``""`` for the default zone from ``firewalld.conf``
    + services: the services whose definitions each zone's read holds, as ``FirewalldZone``'s

    .. code:: python

        {
            "": {"installed": True, "active": True, "zone": "public", ...},
            "kubeprep": {"installed": True, "active": True, "zone": "kubeprep", ...},
        }
    """

    @override
    @staticmethod
    def default() -> dict[str, FirewalldZoneDict]:
        return {}

    @override
    def command(self, zones: list[str], services: Sequence[str] = ()) -> StringCommand:
        parts: list[StringCommand | str] = []
        for zone in zones:
            # Each zone's read in a subshell: its "exit 0" (firewalld absent) ends only that one.
            parts += ["echo", QuoteString(f"{_ZONE_MARK}{zone}"), "; (",
                      FirewalldZone().command(zone or None, services), ");"]
        return StringCommand(*parts, "true")

    @override
    def process(self, output) -> dict[str, FirewalldZoneDict]:
        return {
            zone: FirewalldZone().process(lines) if lines else FirewalldZone.default()
            for zone, lines in marked_sections(output, "", mark=_ZONE_MARK)[1:]
        }


class InterfaceZoneDict(TypedDict):
    interfaces: list[str]  # bound now (firewalld's active zones); empty while it is stopped
    permanent_interfaces: list[str]  # bound in the zone file
    runtime: ZoneConfigDict | None
    permanent: ZoneConfigDict | None


def interface_zones_command(section: Callable[[str], str]) -> list[str]:
    """The default zone's name, the zones bound to an interface now (firewalld's active zones,
    over D-Bus, else ``firewall-cmd --get-active-zones``) and in their files, then each of these
    zones but ``$zone`` and ``$cluster_zone`` (read already): its file and its runtime config
    (``--- zone NAME``). ``section(NAME)`` prints the mark of each of the three sections that
    parse_interface_zones() reads."""
    return [
        section("firewall_default"),
        'default=$(sed -n "s/^DefaultZone=//p" /etc/firewalld/firewalld.conf 2>/dev/null);',
        'default="${default:-public}"; echo "$default";',
        section("firewall_bindings"), 'names="$default";', IF_FIREWALLD_RUNS,
        f'if reply=$({_ZONE_API} getActiveZones 2>/dev/null); then',
        f'echo "{_DBUS_MARK}"; echo "$reply";',
        """names="$names $(echo "$reply" | grep -o '"[^"]*"' | tr -d '"')";""",
        'else reply=$(firewall-cmd --get-active-zones 2>/dev/null); echo "$reply";',
        """names="$names $(echo "$reply" | awk '/^[^[:space:]]/ {print $1}')"; fi; fi;""",
        "for f in $(grep -sl '<interface ' /etc/firewalld/zones/*.xml);",
        'do f="${f##*/}"; names="$names ${f%.xml}"; done;',
        section("firewall_zones"),
        "for z in $(echo $names | tr ' ' '\\n' | grep -E '^[A-Za-z0-9_-]+$' | sort -u); do",
        '[ "$z" = "$zone" ] || [ "$z" = "${cluster_zone:-}" ] && continue;',
        '[ -e "/etc/firewalld/zones/$z.xml" ] || [ -e "/usr/lib/firewalld/zones/$z.xml" ]',
        '|| continue; echo "--- zone $z"; echo "--- permanent";', zone_file_command("z"),
        'echo "--- runtime";', IF_FIREWALLD_RUNS, zone_runtime_command("z"), "fi; done;",
    ]


def parse_interface_zones(
    sections: Mapping[str, list[str]],
    active: bool,
    read: Mapping[str, tuple[list[str], list[str]]],
) -> dict[str, InterfaceZoneDict]:
    """What ``interface_zones_command`` prints, by section: every zone bound to an interface (now
    or in its file), and the default zone, with both configs. ``read``: the zones read apart
    already, as (what zone_file_command printed, what zone_runtime_command printed)."""
    files: dict[str, list[str]] = {}
    runtimes: dict[str, list[str]] = {}
    zone = None
    for name, lines in marked_sections(sections.get("firewall_zones", []), "",
                                       ("zone", "permanent", "runtime")):
        if name.startswith("zone "):
            zone = name.removeprefix("zone ")
            files[zone], runtimes[zone] = [], []
        elif zone and name == "permanent":
            files[zone] = lines
        elif zone and name == "runtime":
            runtimes[zone] = lines
    for zone, (file, runtime) in read.items():
        files[zone], runtimes[zone] = file, runtime
    default_zone = next((line.strip() for line in sections.get("firewall_default", [])
                         if line.strip()), None)
    bound_now = _active_zones(sections.get("firewall_bindings", []))
    result: dict[str, InterfaceZoneDict] = {}
    for zone in files:
        interfaces = bound_now.get(zone, [])
        permanent_interfaces = _zone_file_interfaces(files[zone])
        if not (interfaces or permanent_interfaces or zone == default_zone):
            continue
        result[zone] = {
            "interfaces": interfaces,
            "permanent_interfaces": permanent_interfaces,
            "runtime": parse_runtime(active, runtimes[zone]),
            "permanent": parse_zone_file(files[zone])[0],
        }
    return result


def _zone_file_interfaces(lines: list[str]) -> list[str]:
    """The interfaces a zone file binds to its zone (``<interface name="eth0"/>``)."""
    try:
        root = ElementTree.fromstring("\n".join(lines).strip())
    except ElementTree.ParseError:
        return []
    return [element.get("name", "") for element in root.iter("interface") if element.get("name")]


def _active_zones(lines: list[str]) -> dict[str, list[str]]:
    """zone -> interfaces bound now: firewalld's ``getActiveZones`` reply after a ``--- dbus``
    line, else ``firewall-cmd --get-active-zones`` (a zone name, then indented
    ``interfaces:`` and ``sources:`` lines)."""
    if lines[:1] == [_DBUS_MARK]:
        (zones,) = parse_reply(" ".join(lines[1:]))
        return {zone: list(bound.get("interfaces", [])) for zone, bound in zones.items()}
    found: dict[str, list[str]] = {}
    zone = None
    for line in lines:
        if line.strip() and not line[0].isspace():
            zone = line.split()[0]
            found[zone] = []
        elif zone and line.strip().startswith("interfaces:"):
            found[zone] = line.split(":", 1)[1].split()
    return found
