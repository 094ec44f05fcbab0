"""firewall: firewalld installed, the SSH port open before it can start, the role's ports open;
the nodes-only ports open to the cluster's nodes alone, in a zone of their own; no other firewall
left to drop what firewalld opens."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import apt, dnf, server, systemd

from kubeprep.errors import DataError
from kubeprep.facts.firewalld import FirewalldZoneDict, FirewalldZones
from kubeprep.facts.network import InterfaceAddresses
from kubeprep.facts.other_firewalls import OtherFirewalls
from kubeprep.facts.packages import PackageSources, PackageSourcesDict
from kubeprep.facts.sshd import SshdPorts
from kubeprep.firewalls import (
    KUBERNETES_SERVICES,
    OtherFirewall,
    broken_zone_files,
    firewalld_failed_error,
    other_firewalls,
    other_firewalls_error,
    zone_error,
)
from kubeprep.fleet import reads
from kubeprep.fleet.hosts import checked_host, cluster_addresses, refuse
from kubeprep.fleet.sources import sources_error
from kubeprep.keys import deploy_defaults
from kubeprep.operations import firewalld
from kubeprep.settings import (
    Platform,
    Settings,
    ssh_lockout_error,
    trusted_networks_error,
)


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
    sshd_ports, others, zones, interfaces, packages = _read_firewall_facts(settings)
    nodes = settings.firewall_cluster_only and cluster_addresses()
    refusal = (_host_error(settings, sshd_ports, others, zones)
               or _nodes_error(settings, nodes, interfaces)
               or sources_error(packages, "firewall", None))
    if refusal:
        refuse(refusal)
        return
    # firewalld's whole-role definitions (>= 1.2), tried in this order where one opens only
    # listed ports.
    services = ["kube-control-plane-secure", "kube-worker"] if settings.firewall_services else []
    _install_firewalld(platform, others, broken_zone_files(zones))
    # Operation names are the same for every host (pyinfra names an operation once for all).
    # While firewalld is stopped every change below goes into the permanent config, so SSH is
    # open the moment it starts; while it runs, each change is made at runtime first.
    cluster_nodes = nodes if isinstance(nodes, list) else []
    _open_to_nodes(settings, cluster_nodes, services)
    _open_public_ports(settings, bool(cluster_nodes), services)


def _read_firewall_facts(settings: Settings) -> tuple[
    list[int], list[OtherFirewall], dict[str, FirewalldZoneDict], list[str], PackageSourcesDict,
]:
    """sshd's ports, the other firewalls, the zones, the interface addresses and whether
    firewalld is to be installed (with the package sources then), in one read."""
    # Nothing read here changes before the firewall task runs: each problem stops the host
    # before anything changes. sshd's ports: a port firewalld would close is a lockout. The
    # zones: every zone the firewall task's operations change, with firewalld's Kubernetes
    # service definitions (a service a zone lists opens their ports), a read they share. One
    # round trip for all.
    arguments = firewalld.read_arguments([
        settings.firewall_zone,
        *([settings.firewall_cluster_zone] if settings.firewall_cluster_only else []),
        *(["trusted"] if settings.trusted_sources else []),
    ], KUBERNETES_SERVICES)
    sshd_ports, found_firewalls, zones, interfaces, packages = reads.read_together(
        (SshdPorts, {}), (OtherFirewalls, {}), (FirewalldZones, arguments),
        (InterfaceAddresses, {}), (PackageSources, {"packages": ["firewalld"]}),
    )
    firewalld.keep_zones(arguments, zones)
    return sshd_ports, other_firewalls(found_firewalls), zones, interfaces, packages


def _host_error(
    settings: Settings,
    sshd_ports: list[int],
    others: list[OtherFirewall],
    zones: dict[str, FirewalldZoneDict],
) -> DataError | None:
    """What refuses this host's firewall: firewalld failed, an SSH lockout, a bad zone, others."""
    cluster_zone = settings.firewall_cluster_zone if settings.firewall_cluster_only else None
    return (
        firewalld_failed_error(host.name, zones, cluster_zone)
        or ssh_lockout_error(host.name, sshd_ports, settings)
        or zone_error(host.name, settings.firewall_zone, zones[settings.firewall_zone or ""])
        or (None if settings.firewall_disable_others else other_firewalls_error(host.name, others))
    )


def _nodes_error(
    settings: Settings, nodes: list[str] | DataError | bool, interfaces: list[str],
) -> DataError | None:
    """What refuses the nodes-only zone: no node addresses, or trusted networks that hold one."""
    if isinstance(nodes, DataError):
        return nodes
    # The pod and service networks go into the trusted zone: neither may hold any node's address,
    # nor overlap the network this node reaches the others on.
    return trusted_networks_error(settings, nodes, interfaces) if isinstance(nodes, list) else None


def _install_firewalld(platform: Platform, others: list[OtherFirewall], broken: list[str]) -> None:
    """Stop the other firewalls, install firewalld, set aside the zone files it cannot load."""
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
    # Zone files a power cut left half-written (firewalld then runs on its stock config): set
    # aside, where that is enough to make firewalld load its config again.
    if broken:
        firewalld.loadable_zone_files(
            name="Set aside zone files firewalld cannot load",
            zones=[key or None for key in broken],
        )


def _open_to_nodes(settings: Settings, nodes: list[str], services: list[str]) -> None:
    """The cluster zone for ``nodes`` (if any) with their ports, the CNI's protocols, trust."""
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


def _open_public_ports(settings: Settings, cluster_zone: bool, services: list[str]) -> None:
    """SSH and the public ports open (the node ports closed if ``cluster_zone``), firewalld on."""
    # Last, once the nodes reach their ports through the cluster zone: the nodes-only ports
    # close to everyone else.
    firewalld.ports(
        name="Open the SSH port and the role's public ports",
        ports=settings.public_ports,
        zone=settings.firewall_zone,
        prune=settings.firewall_prune,
        close=list(settings.node_ports) if cluster_zone else [],
        services=services,
    )
    # pyinfra's own check reads two facts: this one is the zones' read the operations share.
    systemd.service(
        name="firewalld running and enabled", service="firewalld", enabled=True,
        _if=lambda: not firewalld.running_and_enabled(settings.firewall_zone),
    )
