"""
Turn swap off now and keep it off after a reboot.
"""

from __future__ import annotations

import hashlib

from pyinfra import host
from pyinfra.api import StringCommand, operation
from pyinfra.api.command import QuoteString

from facts.swap import SwapState
from kubeprep.fstab import COMMENT_PREFIX, is_swap_entry


@operation()
def off(fstab: str = "/etc/fstab"):
    """
    Turn every active swap off (``swapoff -a``) and comment out every swap entry in the fstab,
    leaving all other lines byte for byte as they were and a backup next to the file.

    + fstab: path of the fstab to edit

    The edit only goes ahead if the file still has the checksum it had when it was read, and is
    followed by ``systemctl daemon-reload`` so systemd drops the swap units it generated from it.

    **Example:**

    .. code:: python

        swap.off(
            name="Disable swap, as the kubelet requires",
        )
    """
    state = host.get_fact(SwapState, fstab=fstab)

    if state["active"]:
        yield "swapoff -a"

    text = state["fstab"]
    swap_lines = [
        number for number, line in enumerate((text or "").split("\n"), 1) if is_swap_entry(line)
    ]
    if swap_lines:
        checksum = hashlib.sha256(text.encode()).hexdigest()
        prefix = COMMENT_PREFIX.replace("#", "\\#")
        yield StringCommand(
            "echo", QuoteString(f"{checksum}  {fstab}"), "| sha256sum --check --status &&",
            "sed", "-i.kubeprep.bak",
            *(arg for n in swap_lines for arg in ("-e", QuoteString(f"{n}s/^/{prefix}/"))),
            QuoteString(fstab),
        )
        yield "systemctl daemon-reload"

    if not state["active"] and not swap_lines:
        host.noop(f"no swap is active and {fstab} has no swap entry")
