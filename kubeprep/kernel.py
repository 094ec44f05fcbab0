"""Whether the kernel task's modules are set up already, from one ``KernelModulesSetup`` fact."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

MODULES_FILE_MODE = "644"


def modules_file_text(modules: list[str]) -> str:
    """The modules-load.d file that loads ``modules`` at boot: one name a line."""
    return "".join(f"{module}\n" for module in modules)


def modules_file_converged(setup: Mapping, text: str) -> bool:
    """True when the file has exactly ``text`` (same SHA-1) and mode 644, as ``files.put``
    would leave it."""
    found = setup["file"]
    return bool(found) and found["mode"] == MODULES_FILE_MODE and (
        found["sha1"] == hashlib.sha1(text.encode()).hexdigest()
    )


def builtin_modules(setup: Mapping, modules: list[str]) -> list[str]:
    return [module for module in modules if setup["modules"].get(module, {}).get("builtin")]


def unloaded_modules(setup: Mapping, modules: list[str]) -> list[str]:
    return [module for module in modules if not setup["modules"].get(module, {}).get("loaded")]
