"""kubeprep.fleet.remote.run_on: a command on any host of the run, with that host's connection arguments."""

from unittest.mock import patch

from pyinfra.api import Config, Inventory, State, StringCommand
from pyinfra.api.arguments import CONNECTOR_ARGUMENT_KEYS
from pyinfra.api.host import Host
from pyinfra.connectors.util import CommandOutput, OutputLine

from kubeprep.fleet.remote import run_on


def test_the_target_hosts_data_and_the_config_give_its_connection_arguments():
    inventory = Inventory((["cp1", ("w1", {"_sudo": True, "_sudo_user": "admin"})], {}))
    state = State(inventory, Config(SHELL="bash"))
    calls = []

    def run_shell_command(host, command, **arguments):
        calls.append((host.name, str(command), arguments))
        return True, CommandOutput([OutputLine("stdout", "ok")])

    with patch.object(Host, "run_shell_command", run_shell_command):
        # No operation is running on w1: its arguments come from its data, not an operation.
        ok, output = run_on(state, inventory.get_host("w1"), StringCommand("kubeadm", "version"))
    assert ok and output.stdout_lines == ["ok"]
    [(name, command, arguments)] = calls
    assert (name, command) == ("w1", "kubeadm version")
    assert set(arguments) <= set(CONNECTOR_ARGUMENT_KEYS)
    assert arguments["_sudo"] is True and arguments["_sudo_user"] == "admin"
    assert arguments["_shell_executable"] == "bash"
