"""Reads of the current host: several facts in one round trip, and one read shared by the
operations that need it until one of them changes what it says.

pyinfra 3.10 keeps no fact: every ``host.get_fact`` is an SSH round trip. ``read_together()``
makes several reads one; ``shared_fact()`` gives an operation the host's last read of a fact
when it was made with the same arguments and nothing has changed it since, and an operation
about to change it goes through ``changes()``, so the next one reads the host as it then is.

The one pyinfra internal relied on: ``pyinfra.context.ctx_host.get()``, the ``Host`` object
behind pyinfra's ``host`` proxy. The proxy is one object for every host, so it cannot key the
reads; ``Host`` objects belong to one run, so a ``WeakKeyDictionary`` keyed by them lasts a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from inspect import signature
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from pyinfra import host
from pyinfra.api import FactBase
from pyinfra.api.host import Host
from pyinfra.context import ctx_host

from kubeprep.facts.together import Together, fact_name

T = TypeVar("T")


@dataclass
class _Read:
    arguments: dict[str, Any]  # as the fact's command() takes them, defaults filled in
    value: Any
    current: bool = True  # False once an operation has changed what it says


_last_reads: WeakKeyDictionary[Host, dict[type[FactBase], _Read]] = WeakKeyDictionary()


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


def shared_fact(fact_cls: type[FactBase[T]], **arguments: Any) -> T:
    """The current host's ``fact_cls`` with ``arguments``: its last read when that was made with
    the same arguments and nothing has changed it since, else a new read."""
    last = _host_reads().get(fact_cls)
    if last is None or not last.current or last.arguments != _bound(fact_cls, arguments):
        keep(fact_cls, host.get_fact(fact_cls, **arguments), **arguments)
    return _host_reads()[fact_cls].value


def keep(fact_cls: type[FactBase[T]], value: T, **arguments: Any) -> None:
    """Share ``value``, the current host's ``fact_cls`` with ``arguments`` read another way
    (``read_together``), with the operations that call ``shared_fact()``."""
    _host_reads()[fact_cls] = _Read(_bound(fact_cls, arguments), value)


def drop(fact_cls: type[FactBase]) -> None:
    """Stop sharing the current host's last read of ``fact_cls``: what it says has changed."""
    last = _host_reads().get(fact_cls)
    if last is not None:
        last.current = False


def last_arguments(fact_cls: type[FactBase]) -> dict[str, Any]:
    """The arguments of the current host's last read of ``fact_cls``, also once it is dropped
    (``{}`` before any), so that an operation can read again all that earlier ones shared."""
    last = _host_reads().get(fact_cls)
    return dict(last.arguments) if last is not None else {}


def changes(fact_cls: type[FactBase], commands: Iterable[T]) -> Iterator[T]:
    """``commands``; when there are any, the host's read of ``fact_cls`` is dropped first."""
    commands = list(commands)
    if commands:
        drop(fact_cls)
    yield from commands


def _host_reads() -> dict[type[FactBase], _Read]:
    return _last_reads.setdefault(ctx_host.get(), {})


def _bound(fact_cls: type[FactBase], arguments: dict[str, Any]) -> dict[str, Any]:
    bound = signature(fact_cls().command).bind(**arguments)
    bound.apply_defaults()
    return dict(bound.arguments)
