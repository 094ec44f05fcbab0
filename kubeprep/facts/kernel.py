"""Kernel modules: whether each is loaded, built in or loadable, and the mode, owner and SHA-1
of the modules-load.d file that loads them at boot (``KernelModulesSetup``); the module-state
read serves NodeReadiness too."""

from __future__ import annotations

import re

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

# True when the module named by $m is listed in the running kernel's modules.builtin.
IS_BUILTIN = (
    'grep -qE "/${m}\\.ko(\\.[a-z]+)?$" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null'
)
_STATES = ("loaded", "builtin", "available")
_SHA1 = re.compile(r"[0-9a-f]{40}")


class ModuleStateDict(TypedDict):
    loaded: bool
    builtin: bool
    available: bool  # loaded, built in, or a module file modprobe can load


class FileStateDict(TypedDict):
    mode: str  # octal, as ``stat -c %a`` prints it
    user: str
    group: str
    sha1: str


class KernelModulesSetupDict(TypedDict):
    modules: dict[str, ModuleStateDict]
    file: FileStateDict | None


class KernelModulesSetup(FactBase[KernelModulesSetupDict]):
    """
    Returns, in one round trip, whether each module is loaded, built into the running kernel
    (``modules.builtin``: it can never be loaded, so ``modprobe`` must not be asked to) or
    available, and the mode, owner and SHA-1 of the file that loads them at boot (``None``
    without one).

    + modules: module names to look up
    + path: the modules-load.d file

    .. code:: python

        {
            "modules": {"overlay": {"loaded": True, "builtin": False, "available": True}},
            "file": {"mode": "644", "user": "root", "group": "root", "sha1": "8f4e..."},
        }
    """

    @override
    @staticmethod
    def default() -> KernelModulesSetupDict:
        return {"modules": {}, "file": None}

    @override
    def command(self, modules: list[str], path: str) -> StringCommand:
        return StringCommand(
            module_states_command(modules),
            "stat -c 'file %a %U %G' ", QuoteString(path), "2>/dev/null && sha1sum",
            QuoteString(path), "; true",
        )

    @override
    def process(self, output) -> KernelModulesSetupDict:
        fact = self.default()
        fact["modules"] = parse_module_states(output)
        words = [line.split() for line in output]
        stat = [line[1:] for line in words if line[:1] == ["file"] and len(line) == 4]
        sums = [line[0] for line in words if len(line) >= 2 and _SHA1.fullmatch(line[0])]
        if stat and sums:
            mode, user, group = stat[0]
            fact["file"] = {"mode": mode, "user": user, "group": group, "sha1": sums[0]}
        return fact


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
