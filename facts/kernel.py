from __future__ import annotations

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

# True when the module named by $m is listed in the running kernel's modules.builtin.
IS_BUILTIN = (
    'grep -qE "/${m}\\.ko(\\.[a-z]+)?$" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null'
)
_STATES = ("loaded", "builtin", "available")


class ModuleStateDict(TypedDict):
    loaded: bool
    builtin: bool
    available: bool  # loaded, built in, or a module file modprobe can load


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
            IS_BUILTIN, '&& echo "$m"; done; true',
        )

    @override
    def process(self, output) -> list[str]:
        return [line.strip() for line in output if line.strip()]


def module_states_command(modules: list[str]) -> StringCommand:
    """Print ``loaded NAME``, ``builtin NAME`` and ``available NAME`` for each module that is;
    ends with ``;``."""
    return StringCommand(
        "for m in", *(QuoteString(module) for module in modules), "; do",
        'grep -q "^$m " /proc/modules 2>/dev/null && echo "loaded $m";',
        IS_BUILTIN, '&& echo "builtin $m";',
        'modinfo -F filename "$m" >/dev/null 2>&1 && echo "available $m"; done;',
    )


def parse_module_states(lines: list[str]) -> dict[str, ModuleStateDict]:
    """What ``module_states_command`` prints, per module it names."""
    states: dict[str, ModuleStateDict] = {}
    for line in lines:
        state, _, name = line.strip().partition(" ")
        if name and state in _STATES:
            module = states.setdefault(name, {"loaded": False, "builtin": False,
                                              "available": False})
            module[state] = True  # type: ignore[literal-required]
    for module in states.values():
        module["available"] = module["available"] or module["loaded"] or module["builtin"]
    return states
