"""firewalld port specs (``6443/tcp``, ``30000-32767/tcp``): validation and coverage."""

from __future__ import annotations

import ipaddress
import re

# Used with fullmatch: `$` alone also matches before a final newline ("6443/tcp\n").
_PORT = re.compile(r"(?P<first>[0-9]+)(?:-(?P<last>[0-9]+))?/(?P<proto>tcp|udp|sctp)")


def port_error(value: object) -> str | None:
    """Why ``value`` is not a firewalld port such as ``6443/tcp`` or ``30000-32767/tcp``."""
    match = _PORT.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return "expected 'N/proto' or 'N-M/proto' with proto tcp, udp or sctp"
    first = int(match["first"])
    last = int(match["last"] or first)
    if not 1 <= first <= last <= 65535:
        return "ports must satisfy 1 <= N <= M <= 65535"
    return None


def _span(port: str) -> tuple[str, int, int] | None:
    match = _PORT.fullmatch(port)
    if not match:
        return None
    return match["proto"], int(match["first"]), int(match["last"] or match["first"])


def covered(port: str, by: list[str]) -> bool:
    """Whether every port number of ``port`` is open in ``by``, ranges and neighbours included.

    firewalld merges adjacent ports into ranges on add and splits ranges on remove, so the same
    open ports can be listed as ``2379/tcp 2380/tcp`` or as ``2379-2380/tcp``.
    """
    wanted = _span(port)
    if wanted is None:
        return False
    proto, first, last = wanted
    spans = sorted(span[1:] for span in map(_span, by) if span and span[0] == proto)
    for low, high in spans:
        if low <= first <= high:
            first = high + 1
        if first > last:
            return True
    return False


def source_error(value: object) -> str | None:
    """Why ``value`` is not a firewalld source address such as ``10.0.0.5`` or ``10.244.0.0/16``."""
    try:
        ipaddress.ip_network(value, strict=True) if isinstance(value, str) else None
    except ValueError as error:
        return f"not an IP address or network ({error})"
    return None if isinstance(value, str) else "expected an address such as '192.168.1.10'"
