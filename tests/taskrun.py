"""Run a kubeprep deploy file against a fake host: facts in, operations and their commands out.

Facts come from a case file. A fact given as ``{"output": "..."}`` is the raw command output and
goes through the fact's own ``process()``, so kubeprep's facts are exercised on real output; any
other value is used as the parsed fact (for pyinfra's own facts, tested upstream).
``firewalld.FirewalldZones`` (several zones in one read) is answered from each zone's
``firewalld.FirewalldZone`` output, joined the way its command prints them. Facts read together
(``kubeprep.fleet.reads.read_together``) are answered one by one, and counted as one
``together.Together``.
"""

from __future__ import annotations

import runpy
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.state import StateStage
from pyinfra.context import ctx_host, ctx_state
from pyinfra_cli.exceptions import UnexpectedExternalError
from pyinfra_cli.util import load_deploy_file
from pyinfra_testing.operations import parse_commands

from kubeprep.facts.firewalld import FirewalldZone, FirewalldZones
from kubeprep.facts.together import Together

ROOT = Path(__file__).resolve().parent.parent


def group_data(group: str) -> dict[str, Any]:
    """The data a host of ``group`` gets from group_data/: all.py, then the role's file."""
    data: dict[str, Any] = {}
    for name in ("all", group):
        path = ROOT / "group_data" / f"{name}.py"
        if path.exists():
            data.update(
                {k: v for k, v in runpy.run_path(str(path)).items() if not k.startswith("__")},
            )
    return data


class ByArguments(dict):
    """A fact's values by its arguments, written ``"zone=public"`` (sorted, comma-separated)."""


def fact_key(fact_cls: type) -> str:
    return f"{fact_cls.__module__.rsplit('.', 1)[-1]}.{fact_cls.__name__}"


@dataclass
class Run:
    """What a deploy file did on the fake host."""

    ops: list[tuple[str, list[Any]]]  # (operation name, commands) in execution order
    failed: bool
    fact_reads: list[Counter] = field(default_factory=list)  # per operation, reads per fact
    errors: list[str] = field(default_factory=list)
    prepare_reads: Counter = field(default_factory=Counter)  # reads while the deploy is prepared

    def commands(self, op_name: str) -> list[Any]:
        matches = [commands for name, commands in self.ops if name == op_name]
        assert len(matches) == 1, f"{op_name!r} not run once in {[n for n, _ in self.ops]}"
        return matches[0]

    @property
    def changes(self) -> dict[str, list[Any]]:
        return {name: commands for name, commands in self.ops if commands}


# The lab's nodes: the host under test takes its role's address, the other two are its peers.
LAB_ADDRESSES = {"control_plane": "192.168.77.11", "workers": "192.168.77.21"}
LAB_PEERS = {
    "control_plane": {"w1": ("workers", "192.168.77.21"), "w2": ("workers", "192.168.77.22")},
    "workers": {"cp1": ("control_plane", "192.168.77.11"), "w2": ("workers", "192.168.77.22")},
}


def run_deploy(
    deploy_file: str,
    facts: dict[str, Any],
    group: str = "control_plane",
    data: dict[str, Any] | None = None,
    groups: list[str] | None = None,
    peers: dict[str, tuple[str, str | None]] | None = None,
    yes: bool = False,
    project_data: bool = True,
) -> Run:
    """Prepare ``deploy_file`` (from the project's root, or an absolute path) for one host named
    ``node`` and generate every operation's commands.

    ``node`` has its role's lab address as ``cluster_address`` unless ``data`` says otherwise;
    ``peers`` (name -> (group, cluster_address); the lab's other two nodes by default) are in
    the inventory but not connected, as with ``--limit``. ``yes``: as ``pyinfra -y`` does, the
    operations run only when they are executed (else also once while preparing, to show changes).
    Missing facts fail the test with the fact's name, so a case file lists every fact a task reads.
    ``project_data=False``: no host gets group_data/, as in another project that calls a deploy.
    """
    data_of = group_data if project_data else lambda group: {}
    host_data = {
        **data_of(group), "cluster_address": LAB_ADDRESSES.get(group), **(data or {}),
    }
    if host_data["cluster_address"] is None:
        del host_data["cluster_address"]
    peers = LAB_PEERS.get(group, {}) if peers is None else peers
    members: dict[str, list] = {name: [["node"], host_data] for name in (groups or [group])}
    for name, (peer_group, address) in peers.items():
        peer_data = {**data_of(peer_group), "cluster_address": address}
        if address is None:
            del peer_data["cluster_address"]
        members.setdefault(peer_group, [[], data_of(peer_group)])[0].append((name, peer_data))
    inventory = Inventory(
        (["node", *peers], {}), **{name: tuple(member) for name, member in members.items()},
    )
    state = State(inventory, Config(), check_for_changes=not yes)
    state.cwd = str(ROOT)  # the project's root, as the CLI sets it
    state.set_stage(StateStage.Prepare)
    host = inventory.get_host("node")
    state.activate_host(host)
    reads: Counter = Counter()

    def fake_get_fact(self: Host, fact_cls, *args, **kwargs):
        key = fact_key(fact_cls)
        reads[key] += 1
        if fact_cls is FirewalldZones:
            return fact_cls().process(
                [line for zone in kwargs["zones"]
                 for line in [f"--- zone={zone}", *zone_output(zone or None)]],
            )
        return answer(fact_cls, key, kwargs)

    def zone_output(zone: str | None) -> list[str]:
        value = answer(FirewalldZone, fact_key(FirewalldZone), {"zone": zone}, raw=True)
        assert set(value) == {"output"}, f"FirewalldZone for zone={zone} must be raw output"
        return value["output"].split("\n") if value["output"] else []

    def answer(fact_cls, key: str, kwargs: dict, raw: bool = False):
        if key not in facts:
            raise AssertionError(f"case has no fact {key} (arguments {kwargs})")
        value = facts[key]
        if isinstance(value, ByArguments):
            arguments = ",".join(f"{name}={value}" for name, value in sorted(kwargs.items()))
            if arguments not in value:
                raise AssertionError(f"case has no fact {key} for {arguments}")
            value = value[arguments]
        if isinstance(value, dict) and set(value) == {"output"} and not raw:
            return fact_cls().process(value["output"].split("\n"))
        return value

    def fake_read_together(*facts_asked):
        reads[fact_key(Together)] += 1  # one round trip for all of them
        return [fake_get_fact(None, fact_cls, **arguments) for fact_cls, arguments in facts_asked]

    errors: list[str] = []
    with (
        patch.object(Host, "get_fact", fake_get_fact),
        patch("kubeprep.fleet.reads.read_together", fake_read_together),
        patch("pyinfra.is_cli", True),
        patch("kubeprep.fleet.hosts.logger.error", lambda message: errors.append(message)),
        ctx_state.use(state),
    ):
        try:
            load_deploy_file(state, str(ROOT / deploy_file))
        except UnexpectedExternalError as error:  # an error in deploy code, e.g. a missing fact
            while isinstance(error, UnexpectedExternalError):
                error = error.exception
            raise error from None
        except PyinfraError as error:  # failing the last host ends pyinfra's prepare
            if "No hosts remaining" not in str(error):
                raise
        prepare_reads = Counter(reads)
        ops, fact_reads = [], []
        for op_hash in state.get_op_order():
            op_data = state.get_op_data_for_host(host, op_hash)
            # A deploy's operations are named "<deploy> | name" ("Firewall | ..."): keep the name.
            name = next(iter(state.get_op_meta(op_hash).names)).split(" | ")[-1]
            reads.clear()
            with ctx_host.use(host):
                commands = parse_commands(list(op_data.command_generator()))
            ops.append((name, commands))
            fact_reads.append(Counter(reads))
    return Run(ops, host in state.failed_hosts, fact_reads, errors, prepare_reads)
