"""kubeprep.fleet.reads: several facts in one round trip, each as host.get_fact gives it; one read per host
shared by the operations until one changes what it says."""

from pyinfra.context import ctx_host, ctx_state
from pyinfra_testing.util import FakeState, create_host

from kubeprep.facts.other_firewalls import OtherFirewalls
from kubeprep.facts.sshd import SshdPorts
from kubeprep.facts.swap import SwapState
from kubeprep.fleet import reads
from kubeprep.fleet.reads import read_together

ARGUMENTS = "facts=[('kubeprep.facts.sshd.SshdPorts', {}), ('kubeprep.facts.other_firewalls.OtherFirewalls', {})]"


def _read(outputs: list[list[str]]) -> list:
    state = FakeState()
    host = create_host(state, facts={"together.Together": {ARGUMENTS: outputs}})
    with ctx_state.use(state), ctx_host.use(host):
        return read_together((SshdPorts, {}), (OtherFirewalls, {}))


def test_each_output_goes_through_its_own_fact():
    ports, others = _read([["2222", "22"], []])
    assert ports == [22, 2222]
    assert others == OtherFirewalls().default()  # printed nothing


def test_a_failed_read_gives_every_fact_its_default():
    # pyinfra has failed the host and gives Together's default: no output at all.
    assert _read([]) == [[], OtherFirewalls().default()]


# --- shared_fact: one read per host, shared until an operation changes what it says


def _counting_host(state):
    """A fake host whose every read is counted; each read of SwapState gives a new value."""
    host = create_host(state)
    host.reads = []

    def get_fact(fact_cls, **arguments):
        host.reads.append((fact_cls, arguments))
        return {"read": len(host.reads)}

    host.get_fact = get_fact
    return host


def test_operations_share_a_read_with_the_same_arguments_defaults_included():
    state = FakeState()
    host = _counting_host(state)
    with ctx_state.use(state), ctx_host.use(host):
        first = reads.shared_fact(SwapState)
        assert reads.shared_fact(SwapState, fstab="/etc/fstab") is first
        assert reads.shared_fact(SwapState, fstab="/mnt/fstab") == {"read": 2}
    assert host.reads == [(SwapState, {}), (SwapState, {"fstab": "/mnt/fstab"})]


def test_a_change_makes_the_next_operation_read_again():
    state = FakeState()
    host = _counting_host(state)
    with ctx_state.use(state), ctx_host.use(host):
        reads.shared_fact(SwapState)
        assert list(reads.changes(SwapState, [])) == []
        assert reads.shared_fact(SwapState) == {"read": 1}  # nothing changed
        assert list(reads.changes(SwapState, ["swapoff -a"])) == ["swapoff -a"]
        assert reads.shared_fact(SwapState) == {"read": 2}
        assert reads.shared_fact(SwapState) == {"read": 2}


def test_a_kept_read_is_shared_and_its_arguments_outlive_a_drop():
    state = FakeState()
    host = _counting_host(state)
    with ctx_state.use(state), ctx_host.use(host):
        assert reads.last_arguments(SwapState) == {}
        reads.keep(SwapState, {"read": "together"}, fstab="/etc/fstab")
        assert reads.shared_fact(SwapState) == {"read": "together"}
        reads.drop(SwapState)
        assert reads.last_arguments(SwapState) == {"fstab": "/etc/fstab"}
        assert reads.shared_fact(SwapState) == {"read": 1}


def test_hosts_do_not_share_reads():
    state = FakeState()
    one, two = _counting_host(state), _counting_host(state)
    with ctx_state.use(state):
        for host in (one, two, one):
            with ctx_host.use(host):
                reads.shared_fact(SwapState)
    assert len(one.reads) == len(two.reads) == 1
