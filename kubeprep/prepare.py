"""Check the current host once per run: its data, its role and its platform."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from pyinfra import host, logger, state
from pyinfra.api.host import Host
from pyinfra.facts.server import LinuxDistribution

from kubeprep.settings import (
    DataError,
    Platform,
    Settings,
    platform_from_release,
    settings_from_data,
    unknown_keys,
)

# One check per host and run: deploy.py and every task it includes share it, so the platform
# fact is read once. Host objects belong to one run, so they key it.
_checked: WeakKeyDictionary[Host, tuple[Settings, Platform] | None] = WeakKeyDictionary()


def checked_host() -> tuple[Settings, Platform] | None:
    """The host's validated settings and platform; ``None`` once the host has been failed.

    A problem is logged with the host, the key, the value and the fix, and the host is failed
    before any operation is added for it, so nothing on it changes; other hosts go on.
    """
    current = host._get_module()  # the Host object behind pyinfra's context proxy
    if current not in _checked:
        _checked[current] = _check(current)
    return _checked[current]


def _check(current: Host) -> tuple[Settings, Platform] | None:
    data = host.data.dict()
    try:
        settings = settings_from_data(host.name, list(host.groups), data)
        platform = platform_from_release(host.name, host.get_fact(LinuxDistribution))
    except DataError as error:
        refuse(error)
        return None
    for note in unknown_keys(data):
        logger.warning(f"{host.print_prefix}kubeprep: unknown data key {note}; it is ignored")
    return settings, platform


def refuse(error: DataError) -> None:
    """Log ``error`` for the current host and fail it, so none of its operations run."""
    logger.error(f"{host.print_prefix}kubeprep: {error}")
    state.fail_hosts({host._get_module()})
