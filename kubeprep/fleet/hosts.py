"""Per host, once per run: its data, its role and its platform checked; every node's address.

The pyinfra internals relied on: ``pyinfra.context.ctx_host.get()`` and ``ctx_state.get()``, the
``Host`` and ``State`` objects behind pyinfra's ``host`` and ``state`` proxies, which key what is
kept for the run (a proxy is one object for every host and run); ``State.fail_hosts()``, which
fails a host while the deploy is prepared, before any operation is added for it.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from pyinfra import host, logger, state
from pyinfra.api.host import Host
from pyinfra.api.state import State
from pyinfra.context import ctx_host, ctx_state
from pyinfra.facts.server import LinuxDistribution

from kubeprep.facts.network import DefaultRouteAddress
from kubeprep.keys import PerRole
from kubeprep.settings import (
    OUTSIDE,
    ROLES,
    DataError,
    Platform,
    Settings,
    plain_http_sources,
    platform_from_release,
    role_of,
    settings_from_data,
    unknown_keys,
)

# One check per host and run: deploy.py and every deploy it calls share it, so the platform
# fact is read once. Host objects belong to one run, so they key it.
_checked: WeakKeyDictionary[Host, tuple[Settings, Platform] | None] = WeakKeyDictionary()
# Every node's cluster address, found once per run for all hosts.
_addresses: WeakKeyDictionary[State, list[str] | DataError] = WeakKeyDictionary()


def checked_host() -> tuple[Settings, Platform] | None:
    """The host's validated settings and platform; ``None`` once the host has been failed, and
    for a host of the ``outside`` group (the readiness check's probe sources, not nodes).

    A problem is logged with the host, the key, the value and the fix, and the host is failed
    before any operation is added for it, so nothing on it changes; other hosts go on.
    """
    current = ctx_host.get()  # the Host object behind pyinfra's context proxy
    if current not in _checked:
        _checked[current] = _check(current)
    return _checked[current]


def _check(current: Host) -> tuple[Settings, Platform] | None:
    if OUTSIDE in host.groups:
        return None  # no task changes a host that is not a node
    data = host.data.dict()
    try:
        # A kubeprep deploy's data_defaults hold each per-role default whole: the role's part.
        role = role_of(host.name, list(host.groups))
        data = {name: value.for_role(role) if isinstance(value, PerRole) else value
                for name, value in data.items()}
        settings = settings_from_data(host.name, list(host.groups), data)
        platform = platform_from_release(host.name, host.get_fact(LinuxDistribution))
    except DataError as error:
        refuse(error)
        return None
    for note in unknown_keys(data):
        logger.warning(f"{host.print_prefix}kubeprep: unknown data key {note}; it is ignored")
    plain = plain_http_sources(settings)
    if plain:
        logger.warning(
            f"{host.print_prefix}kubeprep: plain HTTP accepted (plain_http_accepted = True) "
            f"for {', '.join(f'{key} {url}' for key, url in plain)}",
        )
    return settings, platform


def refuse(error: DataError) -> None:
    """Log ``error`` for the current host and fail it, so none of its operations run."""
    logger.error(f"{host.print_prefix}kubeprep: {error}")
    state.fail_hosts({ctx_host.get()})


def address_of(node: Host) -> str | None:
    """A node's cluster address: its data, else its default route's (when in this run)."""
    if node.data.get("cluster_address"):
        return node.data.get("cluster_address")
    return node.get_fact(DefaultRouteAddress) if node in state.activated_hosts else None


def cluster_addresses() -> list[str] | DataError:
    """The address of every node in the inventory on the cluster network, or why one is unknown.

    A node's ``cluster_address`` from its data, else the address of its default route (read over
    SSH). Nodes that cannot be reached need ``cluster_address``: they stay cluster members.
    """
    current = ctx_state.get()
    if current not in _addresses:
        _addresses[current] = _find_addresses(current)
    return _addresses[current]


def _find_addresses(current: State) -> list[str] | DataError:
    addresses = []
    for node in current.inventory:
        if not set(node.groups) & set(ROLES):
            continue
        address = address_of(node)
        if not address:
            return DataError(
                f"{node.name}: cluster_address is not set and the node has no default route "
                "to read it from (or cannot be reached), so the cluster zone's sources are not "
                f"known. Fix: set cluster_address for {node.name} in the inventory, e.g. "
                "('node', {'cluster_address': '192.168.77.21'}).",
            )
        addresses.append(address)
    return list(dict.fromkeys(addresses))
