"""Several facts of the current host in one round trip (pyinfra reads each fact with its own)."""

from __future__ import annotations

from typing import Any

from pyinfra import host
from pyinfra.api import FactBase

from facts.together import Together, fact_name


def read_together(*facts: tuple[type[FactBase], dict[str, Any]]) -> list[Any]:
    """The value of each ``(fact class, arguments)``, read in one round trip, as ``host.get_fact``
    gives it: its ``default()`` when it prints nothing, or when the read failed (pyinfra has then
    failed the host, as for one fact)."""
    outputs = host.get_fact(
        Together, facts=[(fact_name(fact_cls), arguments) for fact_cls, arguments in facts],
    )
    if len(outputs) != len(facts):
        outputs = [[] for _ in facts]
    return [
        fact_cls().process(lines) if lines else fact_cls().default()
        for (fact_cls, _), lines in zip(facts, outputs, strict=True)
    ]
