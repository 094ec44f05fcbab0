"""firewalld port specs (``6443/tcp``, ``30000-32767/tcp``): validation, and coverage compared
by port numbers (a range, single ports, overlaps), never by the strings firewalld lists."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

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


def _merged(ports: Iterable[str]) -> list[tuple[str, int, int]]:
    """The port numbers of ``ports`` as sorted, disjoint, non-adjacent spans; bad specs skipped."""
    merged: list[tuple[str, int, int]] = []
    for proto, first, last in sorted(span for span in map(_span, ports) if span):
        if merged and merged[-1][0] == proto and first <= merged[-1][2] + 1:
            merged[-1] = (proto, merged[-1][1], max(merged[-1][2], last))
        else:
            merged.append((proto, first, last))
    return merged


def _text(proto: str, first: int, last: int) -> str:
    return f"{first}/{proto}" if first == last else f"{first}-{last}/{proto}"


def minus(ports: Iterable[str], taken: Iterable[str]) -> list[str]:
    """The port numbers of ``ports`` that ``taken`` does not cover, as the fewest specs.

    >>> minus(["2000-3000/tcp"], ["2379-2380/tcp", "22/tcp"])
    ['2000-2378/tcp', '2381-3000/tcp']
    """
    holes = _merged(taken)
    parts = []
    for proto, first, last in _merged(ports):
        for hole_proto, low, high in holes:
            if hole_proto != proto or high < first or low > last:
                continue
            if low > first:
                parts.append(_text(proto, first, low - 1))
            first = high + 1
        if first <= last:
            parts.append(_text(proto, first, last))
    return parts


def common(ports: Iterable[str], others: Iterable[str]) -> list[str]:
    """The port numbers both ``ports`` and ``others`` cover, as the fewest specs.

    >>> common(["2379/tcp", "2380/tcp", "6443/tcp"], ["2000-3000/tcp"])
    ['2379-2380/tcp']
    """
    ports = list(ports)
    return minus(ports, minus(ports, others))


def covered(port: str, by: Iterable[str]) -> bool:
    """Whether every port number of ``port`` is open in ``by``, ranges and neighbours included.

    firewalld merges overlapping ports into ranges on add and splits ranges on remove, so the same
    open ports can be listed as ``2379/tcp 2380/tcp`` or as ``2379-2380/tcp``.
    """
    return _span(port) is not None and not minus([port], by)


def source_error(value: object) -> str | None:
    """Why ``value`` is not a firewalld source address such as ``10.0.0.5`` or ``10.244.0.0/16``."""
    try:
        ipaddress.ip_network(value, strict=True) if isinstance(value, str) else None
    except ValueError as error:
        return f"not an IP address or network ({error})"
    return None if isinstance(value, str) else "expected an address such as '192.168.1.10'"
