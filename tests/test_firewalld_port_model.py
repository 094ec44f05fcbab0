"""firewalld.ports against a model of how firewalld treats port lists, on random zones.

The running daemon (firewalld 0.9 to 1.3, ``fw_policy.add_port/remove_port`` and
``config_zone.addPort/removePort``): adding a port one entry already holds is refused
(ALREADY_ENABLED); otherwise it merges with the entries it overlaps. Removing a port needs one entry
that holds it all (else NOT_ENABLED) and then cuts it out of every entry. Over D-Bus a refusal makes
``busctl`` fail and stops the operation's chain of calls, so the model refuses too.
``firewall-offline-cmd`` adds and removes entries as strings. The calls must leave exactly the
right numbers open, runtime and permanent, and a number open before and after must never close in
between at runtime.
"""

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from pyinfra.context import ctx_host, ctx_state
from pyinfra_testing.util import FakeState, create_host

from kubeprep.operations import firewalld
from kubeprep.ports import minus

Entry = tuple[int, int]  # tcp only: first, last


def _entry(spec: str) -> Entry:
    first, _, last = spec.removesuffix("/tcp").partition("-")
    return int(first), int(last or first)


def _numbers(entries: list[Entry]) -> set[int]:
    return {n for first, last in entries for n in range(first, last + 1)}


class Refused(Exception):
    """firewalld's ALREADY_ENABLED or NOT_ENABLED: busctl fails, the chain of calls stops."""


def daemon_add(entries: list[Entry], spec: str) -> list[Entry]:
    first, last = _entry(spec)
    if any(low <= first and last <= high for low, high in entries):
        raise Refused(f"ALREADY_ENABLED: {spec} in {entries}")
    kept = [(low, high) for low, high in entries if high < first or low > last]
    merged = [(low, high) for low, high in entries if (low, high) not in kept]
    return [*kept, (min([first, *(low for low, _ in merged)]),
                    max([last, *(high for _, high in merged)]))]


def daemon_remove(entries: list[Entry], spec: str) -> list[Entry]:
    first, last = _entry(spec)
    if not any(low <= first and last <= high for low, high in entries):
        raise Refused(f"NOT_ENABLED: {spec} not in one of {entries}")
    result = []
    for low, high in entries:
        if high < first or low > last:
            result.append((low, high))
            continue
        if low < first:
            result.append((low, first - 1))
        if high > last:
            result.append((last + 1, high))
    return result


def offline_add(entries: list[Entry], spec: str) -> list[Entry]:
    return entries if _entry(spec) in entries else [*entries, _entry(spec)]


def offline_remove(entries: list[Entry], spec: str) -> list[Entry]:
    return [entry for entry in entries if entry != _entry(spec)]


def commands_for(listed: list[str], wanted: list[str], close: list[str], prune: bool,
                 active: bool) -> list[str]:
    config = {"ports": listed, "services": [], "sources": [], "protocols": []}
    facts = {"firewalld.FirewalldZones": {"services=[], zones=['']": {"": {
        "installed": True, "active": active, "enabled": active, "zone": "public",
        "runtime": config if active else None, "permanent": config, "service_ports": {},
        "zones": [],
    }}}}
    state = FakeState()
    host = create_host(state, facts=facts)
    with ctx_state.use(state), ctx_host.use(host):
        return [str(command) for command in
                firewalld.ports._inner(wanted, prune=prune, close=close)]


# The D-Bus calls on ports (tests/dbus_spelling.py): runtime ones name the zone, permanent ones
# go to the zone's config object.
_RUNTIME_CALL = re.compile(r"FirewallD1\.zone (addPort|removePort) sss?i? public (\S+) tcp\b")
_PERMANENT_CALL = re.compile(r"FirewallD1\.config\.zone (addPort|removePort) ss (\S+) tcp$")
_OFFLINE_OPTION = re.compile(r"--(add|remove)-port=(\S+)")


def changes(commands: list[str], active: bool) -> list[tuple[str, str, str]]:
    """(config, "add" or "remove", port) for each port change the commands make, in order."""
    found = []
    for command in commands:
        if not active:
            assert command.startswith("firewall-offline-cmd --zone=public "), command
            found += [("permanent", option, port)
                      for option, port in _OFFLINE_OPTION.findall(command)]
            continue
        assert "firewall-cmd" not in command and "firewall-offline-cmd" not in command, command
        for call in command.split(" && "):
            for config, pattern in (("runtime", _RUNTIME_CALL), ("permanent", _PERMANENT_CALL)):
                if match := pattern.search(call):
                    method, port = match.groups()
                    found.append((config, method.removesuffix("Port"), port))
    return found


def spec(first: int, last: int) -> str:
    return f"{first}/tcp" if first == last else f"{first}-{last}/tcp"


specs = st.tuples(st.integers(1, 40), st.integers(0, 12)).map(lambda p: spec(p[0], p[0] + p[1]))


def check(listed, wanted, close, prune, active, add, remove):
    def numbers(ports: list[str]) -> set[int]:
        return _numbers(list(map(_entry, ports)))

    if prune:
        expected_open = numbers(wanted)
    else:  # close never closes a wanted number
        expected_open = (numbers(listed) - numbers(minus(close, wanted))) | numbers(wanted)
    before = _numbers(list(map(_entry, listed)))
    entries = {"runtime": list(map(_entry, listed)), "permanent": list(map(_entry, listed))}
    for config, option, port in changes(commands_for(listed, wanted, close, prune, active), active):
        entries[config] = (add if option == "add" else remove)(entries[config], port)
        if active and config == "runtime":
            lost = (before & expected_open) - _numbers(entries[config])
            assert not lost, f"{sorted(lost)} closed in between by {option} {port}"
    assert _numbers(entries["permanent"]) == expected_open
    if active:
        assert _numbers(entries["runtime"]) == expected_open


@settings(max_examples=300)
@given(st.lists(specs, max_size=5), st.lists(specs, max_size=3), st.lists(specs, max_size=3),
       st.booleans())
def test_running_daemon_ends_exact_and_never_closes_what_stays(listed, wanted, close, prune):
    # What the daemon lists at runtime: its own merges of what was added.
    runtime: list[Entry] = []
    for port in listed:
        if not any(low <= _entry(port)[0] and _entry(port)[1] <= high for low, high in runtime):
            runtime = daemon_add(runtime, port)
    listed = [spec(*entry) for entry in runtime]
    check(listed, wanted, close, prune, True, daemon_add, daemon_remove)


@settings(max_examples=300)
@given(st.lists(specs, max_size=5, unique=True), st.lists(specs, max_size=3),
       st.lists(specs, max_size=3), st.booleans())
def test_offline_config_ends_exact(listed, wanted, close, prune):
    check(listed, wanted, close, prune, False, offline_add, offline_remove)
