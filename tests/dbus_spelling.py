"""firewall-cmd's spelling of a change, as the firewalld D-Bus calls kubeprep sends for it.

Tests state firewalld changes the way a person reads them (``firewall-cmd --zone=public
--add-port=6443/tcp``, then ``--permanent``); ``dbus()`` turns a list of them, in order, into the
one command the operation sends while firewalld runs. Written from firewalld's D-Bus API
(src/firewall/server/firewalld.py and config_zone.py, 0.9 to 2.x), not from kubeprep's code.
"""

from __future__ import annotations

BUS = "busctl call org.fedoraproject.FirewallD1"
RUNTIME = f"{BUS} /org/fedoraproject/FirewallD1 org.fedoraproject.FirewallD1.zone"
CONFIG = f"{BUS} /org/fedoraproject/FirewallD1/config org.fedoraproject.FirewallD1.config"
PERMANENT = f'{BUS} "$zone_path" org.fedoraproject.FirewallD1.config.zone'
# Reloads get 300 s: a reload rebuilds every rule, past busctl's 25 s default on a busy small VM.
RELOAD = ("busctl --timeout=300 call org.fedoraproject.FirewallD1 /org/fedoraproject/FirewallD1"
          " org.fedoraproject.FirewallD1 reload")
# option: (method, runtime signature, permanent signature); runtime additions take a timeout.
METHODS = {
    "add-port": ("addPort", "sssi", "ss"), "remove-port": ("removePort", "sss", "ss"),
    "add-service": ("addService", "ssi", "s"), "remove-service": ("removeService", "ss", "s"),
    "add-source": ("addSource", "ss", "s"), "remove-source": ("removeSource", "ss", "s"),
    "add-protocol": ("addProtocol", "ssi", "s"),
    "remove-protocol": ("removeProtocol", "ss", "s"),
}


def find_zone_path(zone: str) -> str:
    return (f"zone_path=$({CONFIG} getZoneByName s {zone} ) && "
            'zone_path=${zone_path#*\\"} && zone_path=${zone_path%\\"}')


def dbus(commands: list[str]) -> list[str]:
    """``firewall-cmd`` commands (runtime, ``--permanent``, ``--new-zone``, ``--reload``) as one
    chain of D-Bus calls; the permanent config's zone object is looked up first."""
    calls: list[str] = []
    lookup = None
    for command in commands:
        words = command.split()
        if words == ["firewall-cmd", "--reload"]:
            calls.append(RELOAD)
            continue
        permanent = words[1] == "--permanent"
        options = words[2:] if permanent else words[1:]
        if options[0].startswith("--new-zone="):
            calls.append(f"{CONFIG} addZone2 'sa{{sv}}' {options[0].split('=')[1]} 0")
            continue
        zone = options[0].removeprefix("--zone=")
        for option in options[1:]:
            name, value = option[2:].split("=", 1)
            method, runtime_signature, permanent_signature = METHODS[name]
            values = " ".join(value.split("/") if name.endswith("port") else [value])
            if permanent:
                lookup = find_zone_path(zone)
                calls.append(f"{PERMANENT} {method} {permanent_signature} {values}")
            else:
                timeout = " 0" if runtime_signature.endswith("i") else ""
                calls.append(f"{RUNTIME} {method} {runtime_signature} {zone} {values}{timeout}")
    return [" && ".join([lookup, *calls] if lookup else calls)]
