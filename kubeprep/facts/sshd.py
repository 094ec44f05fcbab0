"""The TCP ports sshd listens on (``SshdPorts``), so that the firewall never closes them."""

from __future__ import annotations

from pyinfra.api import FactBase
from typing_extensions import override


class SshdPorts(FactBase[list[int]]):
    """
    Returns the TCP ports sshd listens on: from its effective config (``sshd -T``), or, where that
    cannot run, from the listening sockets owned by ``sshd``.

    .. code:: python

        [22]
    """

    default = list

    @override
    def command(self) -> str:
        return (
            "sshd -T 2>/dev/null | awk '$1 == \"port\" {print $2}' | grep . || "
            "ss -ltnpH 2>/dev/null | awk '/\"sshd\"/ {n = split($4, a, \":\"); print a[n]}'; true"
        )

    @override
    def process(self, output) -> list[int]:
        return sorted({int(line) for line in output if line.strip().isdigit()})
