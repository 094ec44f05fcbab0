"""firewall: firewalld installed, the SSH port open before it can start, the role's ports open."""

from pyinfra.operations import apt, dnf, systemd

from kubeprep.prepare import checked_host
from operations import firewalld

checked = checked_host()
if checked:
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
