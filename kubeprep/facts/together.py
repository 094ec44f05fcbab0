"""Several facts' commands in one round trip (``Together``); ``kubeprep.fleet.reads`` turns each
output into its fact's value."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pyinfra.api import FactBase, StringCommand
from typing_extensions import override

from kubeprep.facts import marked_sections

_END = "--- end of fact"


class Together(FactBase[list[list[str]]]):
    """
    Returns the output lines of several facts' commands, run in one round trip, in order;
    ``kubeprep.fleet.reads.read_together()`` turns each into its fact's value. Each command runs
    in a subshell and must end its output with a newline (facts print lines); the first that
    fails stops the rest and fails the whole, as one fact's failure would.

    + facts: ``(fact class as "module.Class", its arguments)`` pairs, such as
      ``("kubeprep.facts.sshd.SshdPorts", {})``

    .. code:: python

        [["22"], ["Id=ufw.service", "ActiveState=inactive", ...]]
    """

    default = list

    @override
    def command(self, facts: list[tuple[str, dict[str, Any]]]) -> StringCommand:
        return StringCommand(
            *(StringCommand("(", fact_class(name)().command(**arguments), f') && echo "{_END}"')
              for name, arguments in facts),
            _separator=" && ",
        )

    @override
    def process(self, output) -> list[list[str]]:
        # Each fact's lines end at its mark; what follows the last mark is no fact's.
        return [lines for _, lines in marked_sections(output, "", mark=_END)[:-1]]


def fact_name(fact_cls: type[FactBase]) -> str:
    return f"{fact_cls.__module__}.{fact_cls.__name__}"


def fact_class(name: str) -> type[FactBase]:
    module, _, class_name = name.rpartition(".")
    return getattr(import_module(module), class_name)
