from __future__ import annotations

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

_FSTAB_MARK = "--- fstab"
_END_MARK = "--- end"


class ActiveSwapDict(TypedDict):
    name: str
    type: str


class SwapStateDict(TypedDict):
    active: list[ActiveSwapDict]
    fstab: str | None


class SwapState(FactBase[SwapStateDict]):
    """
    Returns the active swaps (``/proc/swaps``) and the exact text of the fstab, byte for byte,
    so the swap entries can be found and edited without touching any other line.

    + fstab: path of the fstab to read

    .. code:: python

        {
            "active": [{"name": "/dev/dm-1", "type": "partition"}],
            "fstab": "/dev/mapper/rl-root / xfs defaults 0 0\\n...",
        }
    """

    @override
    @staticmethod
    def default() -> SwapStateDict:
        return {"active": [], "fstab": None}

    @override
    def command(self, fstab: str = "/etc/fstab") -> StringCommand:
        # The newline printed after the file makes a missing final newline visible.
        return StringCommand(
            "cat /proc/swaps;", "echo", QuoteString(_FSTAB_MARK), ";",
            "if [ -f", QuoteString(fstab), "]; then cat", QuoteString(fstab), "; echo;",
            "echo", QuoteString(_END_MARK), "; fi",
        )

    @override
    def process(self, output) -> SwapStateDict:
        fact = self.default()
        split = output.index(_FSTAB_MARK) if _FSTAB_MARK in output else len(output)
        for line in output[1:split]:  # the first line of /proc/swaps is its header
            fields = line.split()
            if len(fields) >= 2:
                fact["active"].append({"name": fields[0], "type": fields[1]})
        rest = output[split + 1 :]
        if _END_MARK in rest:
            fact["fstab"] = "\n".join(rest[: len(rest) - 1 - rest[::-1].index(_END_MARK)])
        return fact
