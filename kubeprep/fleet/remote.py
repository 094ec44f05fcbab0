"""One shell command on any host of the run, from Python while pyinfra executes (a
``FunctionCommand``), for what an operation's own commands cannot do: read an answer at run time
(join credentials) or run on other hosts (the readiness probes).

The pyinfra internals relied on: ``pyinfra.api.arguments.pop_global_arguments(state, host, {})``,
the global arguments pyinfra gives that host's operations from its data and the config
(``_sudo``, ``_su_user``, ``_shell_executable``...), filtered to ``CONNECTOR_ARGUMENT_KEYS``, the
ones ``Host.run_shell_command`` takes. It works for any host at any time, where
``Host.current_op_global_arguments`` is only set on a host in the middle of one of its
operations; arguments given to one operation's call are not part of it.
"""

from __future__ import annotations

from pyinfra.api import State, StringCommand
from pyinfra.api.arguments import CONNECTOR_ARGUMENT_KEYS, pop_global_arguments
from pyinfra.api.host import Host
from pyinfra.connectors.util import CommandOutput


def run_on(state: State, target: Host, command: StringCommand,
           stdin: str | None = None) -> tuple[bool, CommandOutput]:
    """Run ``command`` on ``target`` with its connection arguments, ``stdin`` written to it
    (pyinfra shows and logs a command, never its input): whether it succeeded, and its output."""
    arguments, _ = pop_global_arguments(state, target, {})
    connector_arguments = {
        key: value for key, value in arguments.items() if key in CONNECTOR_ARGUMENT_KEYS
    }
    if stdin is not None:
        connector_arguments["_stdin"] = stdin
    return target.run_shell_command(command, **connector_arguments)
