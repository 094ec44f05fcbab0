"""kubeprep.ports: coverage and interval arithmetic by port numbers, never by strings."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeprep.ports import common, covered, minus, port_error


@pytest.mark.parametrize(
    ("port", "opened", "expected"),
    [
        ("6443/tcp", ["6443/tcp"], True),
        ("6443/tcp", ["6443/udp"], False),
        ("2379-2380/tcp", ["2379/tcp", "2380/tcp"], True),  # the write-up opens them one by one
        ("2379-2380/tcp", ["2380/tcp"], False),
        ("2380/tcp", ["2379-2380/tcp"], True),  # firewalld merged them into a range
        ("30000-32767/tcp", ["30000-31000/tcp", "31001-32767/tcp"], True),
        ("30000-32767/tcp", ["30000-31000/tcp", "31002-32767/tcp"], False),
        ("10-20/tcp", ["13-25/tcp", "5-12/tcp"], True),  # unordered neighbours
        ("10-20/tcp", ["15-25/tcp", "5-12/tcp"], False),  # 13 and 14 are closed
        ("22/tcp", [], False),
        ("22/tcp", ["not a port"], False),
    ],
)
def test_covered(port, opened, expected):
    assert covered(port, opened) is expected


def _numbers(ports: list[str]) -> set[tuple[str, int]]:
    """The model: every (protocol, number) a list of specs opens."""
    opened = set()
    for port in ports:
        numbers, proto = port.split("/")
        first, _, last = numbers.partition("-")
        opened |= {(proto, n) for n in range(int(first), int(last or first) + 1)}
    return opened


@st.composite
def port_specs(draw) -> str:
    proto = draw(st.sampled_from(["tcp", "udp"]))
    first = draw(st.integers(1, 60))
    last = draw(st.integers(first, 64))
    return f"{first}/{proto}" if first == last and draw(st.booleans()) else f"{first}-{last}/{proto}"


spec_lists = st.lists(port_specs(), max_size=6)


@given(spec_lists, spec_lists)
def test_minus_and_common_keep_exactly_the_right_numbers(ports, others):
    assert _numbers(minus(ports, others)) == _numbers(ports) - _numbers(others)
    assert _numbers(common(ports, others)) == _numbers(ports) & _numbers(others)


@given(spec_lists, spec_lists)
def test_results_are_the_fewest_specs(ports, others):
    for result in (minus(ports, others), common(ports, others)):
        assert all(port_error(port) is None for port in result)
        numbers = [_numbers([port]) for port in result]
        # Disjoint and not adjacent: no two specs could be one.
        for left, right in zip(result, result[1:], strict=False):
            gap = {(p, n + 1) for p, n in _numbers([left])} & _numbers([right])
            assert not gap, (left, right)
        assert sum(map(len, numbers)) == len(set().union(*numbers))


@given(port_specs(), spec_lists)
def test_covered_means_nothing_left_over(port, by):
    assert covered(port, by) is (_numbers([port]) <= _numbers(by))


@pytest.mark.parametrize(
    ("ports", "others", "left", "shared"),
    [
        # The write-up's single ports against kubeprep's etcd range.
        (["2379/tcp", "2380/tcp"], ["2379-2380/tcp"], [], ["2379-2380/tcp"]),
        # A hand-made range that only partly holds the ports to close.
        (["2000-3000/tcp"], ["2379-2380/tcp"], ["2000-2378/tcp", "2381-3000/tcp"],
         ["2379-2380/tcp"]),
        (["10250/tcp"], ["10250/udp"], ["10250/tcp"], []),
        (["30000-32767/tcp"], ["30000/tcp", "32767/tcp"], ["30001-32766/tcp"],
         ["30000/tcp", "32767/tcp"]),
        (["not a port", "22/tcp"], [], ["22/tcp"], []),
    ],
)
def test_minus_and_common_examples(ports, others, left, shared):
    assert minus(ports, others) == left
    assert common(ports, others) == shared
