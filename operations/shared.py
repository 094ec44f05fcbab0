"""One read of a fact per host, shared by the operations that read it until one of them changes it.

pyinfra 3.10 keeps no fact: every ``host.get_fact`` is an SSH round trip. Operations that read the
same fact one after another, with nothing else changing what it says in between, share the first
read through ``shared_fact()``; an operation about to change it goes through ``changes()``, so
the next one reads the host as it then is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from inspect import signature
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from pyinfra import host
from pyinfra.api import FactBase
from pyinfra.api.host import Host
from pyinfra.context import ctx_host

T = TypeVar("T")

# Host objects belong to one run, so they key it.
_reads: WeakKeyDictionary[Host, dict[tuple[type, tuple], Any]] = WeakKeyDictionary()


def shared_fact(fact_cls: type[FactBase[T]], **arguments: Any) -> T:
    """The current host's ``fact_cls`` with ``arguments``, read unless an earlier read holds."""
    bound = signature(fact_cls().command).bind(**arguments)
    bound.apply_defaults()
    key = (fact_cls, tuple(sorted(bound.arguments.items())))
    reads = _reads.setdefault(ctx_host.get(), {})
    if key not in reads:
        reads[key] = host.get_fact(fact_cls, **arguments)
    return reads[key]


def changes(fact_cls: type[FactBase], commands: Iterable[T]) -> Iterator[T]:
    """``commands``; when there are any, the host's reads of ``fact_cls`` are dropped first."""
    commands = list(commands)
    if commands:
        reads = _reads.get(ctx_host.get(), {})
        for key in [key for key in reads if key[0] is fact_cls]:
            del reads[key]
    yield from commands
