from __future__ import annotations

import re

from pyinfra.api import FactBase
from typing_extensions import override

_SOURCE = re.compile(r"\bsrc (\d+\.\d+\.\d+\.\d+)")


class DefaultRouteAddress(FactBase[str | None]):
    """
    Returns the IPv4 address the host sends from on its default route, or ``None`` without one.

    .. code:: python

        "192.168.77.21"
    """

    @override
    def command(self) -> str:
        return "ip -4 -o route get 1.1.1.1 2>/dev/null; true"

    @override
    def process(self, output) -> str | None:
        match = _SOURCE.search(" ".join(output))
        return match.group(1) if match else None
