"""firewall: firewalld installed, the SSH port open before it can start, the role's ports open."""

from pyinfra import host
from pyinfra.operations import apt, dnf, systemd

from facts.sshd import SshdPorts
from kubeprep.prepare import checked_host, refuse
from kubeprep.settings import ssh_lockout_error
from operations import firewalld

checked = checked_host()
# sshd's ports do not change during the run: a port firewalld would close stops the host here,
# before anything changes.
lockout = checked and ssh_lockout_error(host.name, host.get_fact(SshdPorts), checked[0])
if lockout:
    refuse(lockout)
elif checked:
    settings, platform = checked
    if platform.family == "rhel":
        dnf.packages(name="Install firewalld", packages=["firewalld"])
    else:
        apt.packages(
            name="Install firewalld", packages=["firewalld"], update=True, cache_time=86400,
        )
    # Runs before firewalld is started: while it is stopped the ports go into the permanent
    # config, so SSH is open the moment it starts.
    firewalld.ports(
        # One name for every host (pyinfra names an operation once for all hosts).
        name="Open the SSH port and the role's ports",
        ports=settings.open_ports,
        zone=settings.firewall_zone,
        prune=settings.firewall_prune,
    )
    systemd.service(name="firewalld running and enabled", service="firewalld", enabled=True)
