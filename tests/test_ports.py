"""kubeprep.ports.covered: a port is open when the zone's ports cover every number of it."""

import pytest

from kubeprep.ports import covered


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
