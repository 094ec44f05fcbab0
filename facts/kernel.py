from __future__ import annotations

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import override


class BuiltinKernelModules(FactBase[list[str]]):
    """
    Returns which of the given modules are built into the running kernel (listed in
    ``modules.builtin``): they can never be loaded, so ``modprobe`` must not be asked to.

    + modules: module names to look up

    .. code:: python

        ["overlay"]
    """

    default = list

    @override
    def command(self, modules: list[str]) -> StringCommand:
        return StringCommand(
            "for m in", *(QuoteString(module) for module in modules), "; do",
            'grep -qE "/${m}\\.ko(\\.[a-z]+)?$" "/lib/modules/$(uname -r)/modules.builtin"',
            '2>/dev/null && echo "$m"; done; true',
        )

    @override
    def process(self, output) -> list[str]:
        return [line.strip() for line in output if line.strip()]
