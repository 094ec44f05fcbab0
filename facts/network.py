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
