"""kubeprep.kernel: the kernel task's run-time decisions, from KernelModulesSetup read on hosts."""

import json
from pathlib import Path

from kubeprep.kernel import (
    builtin_modules,
    modules_file_converged,
    modules_file_text,
    unloaded_modules,
)

CASES = Path(__file__).parent / "fact_cases" / "kernel.KernelModulesSetup"
MODULES = ["overlay", "br_netfilter"]


def _fact(case: str) -> dict:
    return json.loads((CASES / f"{case}.json").read_text())["fact"]


def test_converged_host_needs_neither_the_file_nor_modprobe():
    setup = _fact("debian12_converged")
    assert modules_file_converged(setup, modules_file_text(MODULES))
    assert unloaded_modules(setup, MODULES) == []


def test_fresh_host_needs_both():
    setup = _fact("debian12_fresh")
    assert not modules_file_converged(setup, modules_file_text(MODULES))
    assert unloaded_modules(setup, MODULES) == MODULES
    assert builtin_modules(setup, MODULES) == []


def test_other_text_or_mode_is_written_again():
    setup = _fact("file_with_other_modules_and_mode")
    assert not modules_file_converged(setup, modules_file_text(MODULES))
    assert modules_file_converged(setup | {"file": setup["file"] | {"mode": "644"}},
                                  modules_file_text(["overlay"]))
    assert unloaded_modules(setup, MODULES) == ["br_netfilter"]
