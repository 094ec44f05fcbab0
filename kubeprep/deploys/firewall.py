"""firewall: firewalld installed, the SSH port open before it can start, the role's ports open;
the nodes-only ports open to the cluster's nodes alone, in a zone of their own; no other firewall
left to drop what firewalld opens."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import apt, dnf, server, systemd

from kubeprep.errors import DataError
from kubeprep.facts.firewalld import FirewalldZones
from kubeprep.facts.network import InterfaceAddresses
from kubeprep.facts.other_firewalls import OtherFirewalls
from kubeprep.facts.sshd import SshdPorts
from kubeprep.firewalls import (
    KUBERNETES_SERVICES,
    broken_zone_files,
    firewalld_failed_error,
    other_firewalls,
    other_firewalls_error,
    zone_error,
)
from kubeprep.fleet import reads
from kubeprep.fleet.hosts import checked_host, cluster_addresses, refuse
from kubeprep.keys import deploy_defaults
from kubeprep.operations import firewalld
from kubeprep.settings import ssh_lockout_error, trusted_networks_error


@deploy("Firewall", data_defaults=deploy_defaults())
def firewall() -> None:
    """
    firewalld installed and running with the SSH port open first, the role's ports open
    (``firewall_*`` keys of the host's data), the nodes-only ports in a zone of their own whose
    sources are the cluster's nodes, the CNI's ports and networks (``cni*``); other firewalls
    refused, or stopped with ``firewall_disable_others``.

    **Example:**

    .. code:: python

        from kubeprep.deploys.firewall import firewall

        firewall(_sudo=True)
    """
    checked = checked_host()
    if not checked:
        return
    settings, platform = checked
    # Nothing read here changes before the firewall task runs: each problem stops the host here,
    # before anything changes. sshd's ports: a port firewalld would close is a lockout. The
    # zones: every zone the operations below change, with firewalld's Kubernetes service
    # definitions (a service a zone lists opens their ports), a read they share. One round trip
    # for all.
    arguments = firewalld.read_arguments([
        settings.firewall_zone,
        *([settings.firewall_cluster_zone] if settings.firewall_cluster_only else []),
        *(["trusted"] if settings.trusted_sources else []),
    ], KUBERNETES_SERVICES)
    sshd_ports, found_firewalls, zones, interfaces = reads.read_together(
        (SshdPorts, {}), (OtherFirewalls, {}), (FirewalldZones, arguments),
        (InterfaceAddresses, {}),
    )
    firewalld.keep_zones(arguments, zones)
    others = other_firewalls(found_firewalls)
    # Zone files a power cut left half-written (firewalld then runs on its stock config): set
    # aside below, where that is enough to make firewalld load its config again.
    broken = broken_zone_files(zones)
    cluster_zone = settings.firewall_cluster_zone if settings.firewall_cluster_only else None
    problem = (
        firewalld_failed_error(host.name, zones, cluster_zone)
        or ssh_lockout_error(host.name, sshd_ports, settings)
        or zone_error(host.name, settings.firewall_zone, zones[settings.firewall_zone or ""])
        or (not settings.firewall_disable_others and other_firewalls_error(host.name, others))
    )
    nodes = settings.firewall_cluster_only and cluster_addresses()
    # The pod and service networks go into the trusted zone: neither may hold any node's address,
    # nor overlap the network this node reaches the others on.
    untrusted = isinstance(nodes, list) and trusted_networks_error(settings, nodes, interfaces)
    refusal = problem or (nodes if isinstance(nodes, DataError) else untrusted)
    if refusal:
        refuse(refusal)
        return
    # firewalld's whole-role definitions (>= 1.2), tried in this order where one opens only
    # listed ports.
    services = ["kube-control-plane-secure", "kube-worker"] if settings.firewall_services else []
    if others:
        # Before firewalld is installed (Debian's package starts it): each goes now and at boot.
        server.shell(
            name="Stop and disable the other firewalls",
            commands=[other.stop for other in others],
        )
    if platform.family == "rhel":
        dnf.packages(name="Install firewalld", packages=["firewalld"])
    else:
        apt.packages(
            name="Install firewalld", packages=["firewalld"], update=True, cache_time=86400,
        )
    if broken:
        firewalld.loadable_zone_files(
            name="Set aside zone files firewalld cannot load",
            zones=[key or None for key in broken],
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
            services=services,
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
        services=services,
    )
    # pyinfra's own check reads two facts: this one is the zones' read the operations share.
    systemd.service(
        name="firewalld running and enabled", service="firewalld", enabled=True,
        _if=lambda: not firewalld.running_and_enabled(settings.firewall_zone),
    )
