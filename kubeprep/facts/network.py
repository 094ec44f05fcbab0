"""The host's network: its default route's source address (``DefaultRouteAddress``), its
interface addresses (``InterfaceAddresses``), which ``host:port`` answer it (``TcpAnswers``);
and the readers only NodeReadiness runs (the interfaces with their MAC addresses, the listening
TCP ports, the addresses by interface)."""

from __future__ import annotations

import re

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

_SOURCE = re.compile(r"\bsrc (\d+\.\d+\.\d+\.\d+)")
# Seconds a TCP connection may take to open before its target counts as not answering.
CONNECT_SECONDS = 5

# The route to a public address; read with parse_default_route_address().
DEFAULT_ROUTE = "ip -4 -o route get 1.1.1.1 2>/dev/null"
# Each interface but lo: its name, MAC address and whether a device backs it; read with
# parse_net_interfaces().
NET_INTERFACES = (
    'for i in /sys/class/net/*; do [ "${i##*/}" = lo ] && continue;'
    ' d=no; [ -e "$i/device" ] && d=yes;'
    ' echo "${i##*/} $(cat "$i/address" 2>/dev/null) $d"; done'
)
# The local addresses of listening TCP sockets (IPv4 and IPv6); read with parse_listening_ports().
LISTENING_TCP = "awk '$4 == \"0A\" {print $2}' /proc/net/tcp /proc/net/tcp6 2>/dev/null"
# Each address with its interface; read with parse_ip_addresses().
IP_ADDRESSES = "ip -o addr show 2>/dev/null | awk '{print $2, $4}'"


class InterfaceDict(TypedDict):
    name: str
    address: str
    device: bool  # backed by a device (a NIC), not a bridge, veth or tunnel


class DefaultRouteAddress(FactBase[str | None]):
    """
    Returns the IPv4 address the host sends from on its default route, or ``None`` without one.

    .. code:: python

        "192.168.77.21"
    """

    @override
    def command(self) -> str:
        return f"{DEFAULT_ROUTE}; true"

    @override
    def process(self, output) -> str | None:
        return parse_default_route_address(output)


def parse_default_route_address(lines: list[str]) -> str | None:
    """The ``src`` address of what ``DEFAULT_ROUTE`` prints, or ``None`` without a route."""
    match = _SOURCE.search(" ".join(lines))
    return match.group(1) if match else None


class InterfaceAddresses(FactBase[list[str]]):
    """
    Returns the host's interface addresses with their prefix length, IPv4 and IPv6: each names
    the network the host is on there.

    .. code:: python

        ["127.0.0.1/8", "10.0.2.15/24", "192.168.77.21/24", "::1/128"]
    """

    @override
    def command(self) -> str:
        return "ip -o addr show 2>/dev/null | awk '{ print $4 }'; true"

    @override
    def process(self, output) -> list[str]:
        return [line.strip() for line in output if "/" in line]


def parse_net_interfaces(lines: list[str]) -> list[InterfaceDict]:
    """What ``NET_INTERFACES`` prints: each interface's name, MAC address (lower case) and
    whether a device backs it."""
    return [
        {"name": fields[0], "address": fields[1].lower(), "device": fields[2] == "yes"}
        for fields in map(str.split, lines) if len(fields) == 3
    ]


def parse_listening_ports(lines: list[str]) -> list[int]:
    """What ``LISTENING_TCP`` prints (``ADDRESS:PORT``, in hex), as the sorted listening ports."""
    ports = set()
    for line in lines:
        _, _, port = line.strip().rpartition(":")
        try:
            ports.add(int(port, 16))
        except ValueError:
            continue
    return sorted(ports)


def parse_ip_addresses(lines: list[str]) -> list[str]:
    """What ``IP_ADDRESSES`` prints, as the addresses without their prefix lengths."""
    return [fields[1].split("/")[0] for fields in map(str.split, lines) if len(fields) == 2]


class TcpAnswers(FactBase[dict[str, bool]]):
    """
    Returns, for each ``host:port``, whether a TCP connection to it opens from this host within
    ``CONNECT_SECONDS`` (bash's ``/dev/tcp``: no curl needed on a fresh host).

    + targets: ``host:port`` strings, e.g. ``pkgs.k8s.io:443``

    .. code:: python

        {"pkgs.k8s.io:443": False, "192.168.77.250:8099": True}
    """

    @override
    def command(self, targets: list[str]) -> StringCommand:
        parts: list[str | QuoteString] = []
        for target in targets:
            name, port = target.rsplit(":", 1)
            parts += [
                f"if timeout {CONNECT_SECONDS} bash -c",
                QuoteString(f"exec 3<>/dev/tcp/{name}/{port}"), "2>/dev/null; then echo",
                QuoteString(f"open {target}"), "; else echo", QuoteString(f"closed {target}"),
                "; fi;",
            ]
        return StringCommand(*parts, "true")

    @override
    def process(self, output) -> dict[str, bool]:
        return {fields[1]: fields[0] == "open" for fields in (line.split() for line in output)
                if len(fields) == 2 and fields[0] in ("open", "closed")}
