"""kubeprep.fleet.readiness: the listener each probe target gets before the probes, and the paths it
leaves "not checked"."""

from unittest.mock import patch

from kubeprep.checks.model import Path, PathResult
from kubeprep.fleet import readiness


class _Inventory:
    @staticmethod
    def get_host(name):
        return name


class _State:
    inventory = _Inventory()


def _paths(*ports: int) -> list[Path]:
    return [Path("cp1", "w1", "192.168.77.21", port, "kubelet") for port in ports]


def _listen(facts: dict, answer: list[str]) -> tuple:
    commands = []

    def run(_state, target, command):
        commands.append((target, command))
        return answer

    with patch.object(readiness, "_run", run):
        return readiness._listen(_State(), "w1", facts, _paths(10250, 22, 10250), 60), commands


def test_ports_already_listened_on_get_no_listener():
    (already, pid, unchecked), commands = _listen({"listening": [10250, 22]}, [])
    assert (already, pid, unchecked, commands) == ({22, 10250}, None, [], [])


def test_a_port_the_listener_could_not_bind_is_not_checked():
    (already, pid, unchecked), commands = _listen(
        {"listening": [22], "python": "/usr/bin/python3"}, ["pid 4242"],
    )
    assert (already, pid) == ({22}, 4242)
    assert [target for target, _ in commands] == ["w1"]
    assert " 10250 " in commands[0][1] and " 22 " not in commands[0][1]
    assert unchecked == [
        PathResult(path, "not checked", "could not listen on 10250 on w1")
        for path in _paths(10250, 10250)
    ]


def test_without_python_nothing_listens_and_the_report_says_why():
    (already, pid, unchecked), commands = _listen({}, [])
    assert (already, pid, commands) == (set(), None, [])
    assert {result.detail for result in unchecked} == {
        "could not listen on 10250 on w1 (no python3 or platform-python)",
        "could not listen on 22 on w1 (no python3 or platform-python)",
    }
    assert len(unchecked) == 3
