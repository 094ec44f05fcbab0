"""firewall: firewalld installed, the SSH port open before it can start, the role's ports open;
the nodes-only ports open to the cluster's nodes alone, in a zone of their own."""

from pyinfra import host
from pyinfra.operations import apt, dnf, systemd

from facts.sshd import SshdPorts
from fleet.hosts import checked_host, cluster_addresses, refuse
from kubeprep.settings import DataError, ssh_lockout_error, trusted_networks_error
from operations import firewalld

checked = checked_host()
# sshd's ports do not change during the run: a port firewalld would close stops the host here,
# before anything changes.
lockout = checked and ssh_lockout_error(host.name, host.get_fact(SshdPorts), checked[0])
nodes = checked and checked[0].firewall_cluster_only and cluster_addresses()
# The pod and service networks go into the trusted zone: neither may hold any node's address.
untrusted = isinstance(nodes, list) and trusted_networks_error(checked[0], nodes)
refusal = lockout or (nodes if isinstance(nodes, DataError) else untrusted)
if refusal:
    refuse(refusal)
elif checked:
    settings, platform = checked
    if platform.family == "rhel":
        dnf.packages(name="Install firewalld", packages=["firewalld"])
    else:
        apt.packages(
            name="Install firewalld", packages=["firewalld"], update=True, cache_time=86400,
        )
    # Operation names are the same for every host (pyinfra names an operation once for all).
    # While firewalld is stopped every change below goes into the permanent config, so SSH is
    # open the moment it starts; while it runs, each change is made at runtime first.
    node_zone = settings.firewall_cluster_zone if nodes else settings.firewall_zone
    if nodes:
        firewalld.zone(name="Create the cluster zone", zone=settings.firewall_cluster_zone)
        # Its ports before its sources: a node's traffic lands here as soon as it is a source.
        firewalld.ports(
            name="Open every node port to the cluster zone",
            ports=settings.cluster_zone_ports,
            zone=settings.firewall_cluster_zone,
            prune=True,
            services=settings.firewall_services,
        )
    if settings.cni_protocols:
        firewalld.protocols(
            name="Accept the CNI's protocols", protocols=list(settings.cni_protocols),
            zone=node_zone,
        )
    if nodes:
        firewalld.sources(
            name="Cluster nodes are the cluster zone's sources",
            sources=nodes,
            zone=settings.firewall_cluster_zone,
            prune=True,
        )
    if settings.trusted_sources:
        firewalld.sources(
            name="Trust the pod and service networks",
            sources=settings.trusted_sources,
            zone="trusted",
        )
    # Last, once the nodes reach their ports through the cluster zone: the nodes-only ports
    # close to everyone else.
    firewalld.ports(
        name="Open the SSH port and the role's public ports",
        ports=settings.public_ports,
        zone=settings.firewall_zone,
        prune=settings.firewall_prune,
        close=list(settings.node_ports) if nodes else [],
        services=settings.firewall_services,
    )
    systemd.service(name="firewalld running and enabled", service="firewalld", enabled=True)
