"""firewall: firewalld installed, the SSH port open before it can start, the role's ports open;
the nodes-only ports open to the cluster's nodes alone, in a zone of their own; no other firewall
left to drop what firewalld opens."""

from pyinfra import host
from pyinfra.operations import apt, dnf, server, systemd

from facts.firewalld import FirewalldZones
from facts.network import InterfaceAddresses
from facts.other_firewalls import OtherFirewalls
from facts.sshd import SshdPorts
from fleet import reads
from fleet.hosts import checked_host, cluster_addresses, refuse
from kubeprep.errors import DataError
from kubeprep.firewalls import (
    KUBERNETES_SERVICES,
    broken_zone_files,
    firewalld_failed_error,
    other_firewalls,
    other_firewalls_error,
    zone_error,
)
from kubeprep.settings import ssh_lockout_error, trusted_networks_error
from operations import firewalld

checked = checked_host()
problem, others, broken, interfaces = None, [], [], []
if checked:
    # Nothing read here changes before the firewall task runs: each problem stops the host here,
    # before anything changes. sshd's ports: a port firewalld would close is a lockout. The
    # zones: every zone the operations below change, with firewalld's Kubernetes service
    # definitions (a service a zone lists opens their ports), a read they share. One round trip
    # for all.
    arguments = firewalld.read_arguments([
        checked[0].firewall_zone,
        *([checked[0].firewall_cluster_zone] if checked[0].firewall_cluster_only else []),
        *(["trusted"] if checked[0].trusted_sources else []),
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
    cluster_zone = checked[0].firewall_cluster_zone if checked[0].firewall_cluster_only else None
    problem = (
        firewalld_failed_error(host.name, zones, cluster_zone)
        or ssh_lockout_error(host.name, sshd_ports, checked[0])
        or zone_error(host.name, checked[0].firewall_zone, zones[checked[0].firewall_zone or ""])
        or (not checked[0].firewall_disable_others and other_firewalls_error(host.name, others))
    )
nodes = checked and checked[0].firewall_cluster_only and cluster_addresses()
# The pod and service networks go into the trusted zone: neither may hold any node's address,
# nor overlap the network this node reaches the others on.
untrusted = isinstance(nodes, list) and trusted_networks_error(checked[0], nodes, interfaces)
refusal = problem or (nodes if isinstance(nodes, DataError) else untrusted)
if refusal:
    refuse(refusal)
elif checked:
    settings, platform = checked
    # firewalld's whole-role definitions (>= 1.2), tried in this order where one opens only
    # listed ports.
    services = ["kube-control-plane-secure", "kube-worker"] if settings.firewall_services else []
    if others:
        # Before firewalld is installed (Debian's package starts it): each goes now and at boot.
        server.shell(
            name="Stop and disable the other firewalls",
            commands=[firewall.stop for firewall in others],
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
