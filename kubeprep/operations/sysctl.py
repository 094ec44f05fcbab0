"""
Persist kernel parameters in a sysctl.d file and apply them to the running kernel.
"""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, OperationValueError, StringCommand, operation
from pyinfra.api.command import QuoteString

from kubeprep.facts.sysctl import SysctlFile


@operation()
def persisted(path: str, values: dict[str, str | int]):
    """
    Write ``values`` to a sysctl.d file that kubeprep owns, and run ``sysctl --system`` when a
    live value differs, so they hold now and after a reboot. File and live values are read in
    one round trip.

    + path: the sysctl.d file, e.g. ``/etc/sysctl.d/k8s.conf`` (rewritten whole when it differs)
    + values: the keys and values to set, in file order

    **Example:**

    .. code:: python

        sysctl.persisted(
            name="Forward IPv4, as Kubernetes networking needs",
            path="/etc/sysctl.d/k8s.conf",
            values={"net.ipv4.ip_forward": 1},
        )
    """
    if not values:
        raise OperationValueError("values must name at least one sysctl key")
    # Compared the way the kernel prints them: "32768\t60999" reads back as "32768 60999".
    wanted = {key: " ".join(str(value).split()) for key, value in values.items()}
    state = host.get_fact(SysctlFile, path=path, keys=list(wanted))

    if state["file"] != wanted:
        content = "".join(f"{key} = {value}\n" for key, value in wanted.items())
        yield FileUploadCommand(
            StringIO(content), path, remote_temp_filename=host.get_temp_filename(path),
        )
        yield StringCommand("chmod 644", QuoteString(path))

    differ = [key for key, value in wanted.items() if state["live"].get(key) != value]
    if differ:
        yield "sysctl --system"

    if state["file"] == wanted and not differ:
        host.noop(f"{path} sets {', '.join(wanted)} and the kernel has those values")
