from __future__ import annotations

import re

from pyinfra.api import FactBase
from typing_extensions import override

_SOURCE = re.compile(r"\bsrc (\d+\.\d+\.\d+\.\d+)")

# The route to a public address; read with parse_default_route_address().
DEFAULT_ROUTE = "ip -4 -o route get 1.1.1.1 2>/dev/null"


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
