"""fleet.reads.read_together: several facts in one round trip, each as host.get_fact gives it."""

from pyinfra.context import ctx_host, ctx_state
from pyinfra_testing.util import FakeState, create_host

from facts.other_firewalls import OtherFirewalls
from facts.sshd import SshdPorts
from fleet.reads import read_together

ARGUMENTS = "facts=[('facts.sshd.SshdPorts', {}), ('facts.other_firewalls.OtherFirewalls', {})]"


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
