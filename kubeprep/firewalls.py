"""What stands in firewalld's way on a host: a ``firewall_zone`` it does not have, and other
firewalls (ufw, nftables.service, iptables.service) that would still drop what it opens; and
firewalld's Kubernetes service definitions, read with its zones.

Pure Python: facts in (``kubeprep.facts.firewalld.FirewalldZone``,
``kubeprep.facts.other_firewalls.OtherFirewalls``), problems out, for the firewall deploy
(``kubeprep.deploys.firewall``) and the readiness check alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeprep.errors import DataError

# The zones the firewalld package ships (config/zones in firewalld 0.9 to 2.x).
FIREWALLD_ZONES = ("block", "dmz", "drop", "external", "home", "internal", "public", "trusted",
                   "work")
# firewalld's Kubernetes service definitions (firewalld >= 1.2), as its services directory lists
# them. tasks/firewall.py and the readiness check read them with the zones, so that the ports of
# one a zone lists count as open there (and close with it); tasks/firewall.py tries the
# whole-role ones, kube-control-plane-secure and kube-worker.
KUBERNETES_SERVICES = (
    "kube-api", "kube-apiserver", "kube-control-plane-secure", "kube-control-plane",
    "kube-controller-manager-secure", "kube-controller-manager", "kube-nodeport-services",
    "kube-scheduler-secure", "kube-scheduler", "kube-worker", "kubelet-readonly",
    "kubelet-worker", "kubelet", "etcd-client", "etcd-server",
)
# Where each service keeps its rules: Debian's nftables, RHEL's nftables, iptables-services.
RULE_FILES = {
    "nftables.service": ("/etc/nftables.conf", "/etc/sysconfig/nftables.conf"),
    "iptables.service": ("/etc/sysconfig/iptables",),
    "ip6tables.service": ("/etc/sysconfig/ip6tables",),
}
# The lines of an nftables file that hold no rule: Debian's default is only these (empty chains
# that accept everything).
_NFT_SKELETON = re.compile(
    r"^(#.*|flush ruleset;?|table .*\{|chain .*\{|\}|policy accept;?"
    r"|type \w+ hook \w+ priority [\w-]+;( policy accept;)?)$",
)


@dataclass(frozen=True)
class OtherFirewall:
    name: str  # ufw, nftables.service, iptables.service, ip6tables.service
    detail: str  # what runs, for messages
    stop: str  # the shell command that stops it now and at boot


def zone_error(host: str, zone: str | None, firewalld: Mapping[str, Any]) -> DataError | None:
    """A DataError when ``firewall_zone`` is not a zone of the host's firewalld (installed: its
    zone files or runtime; not installed yet: the zones the package ships), else None."""
    if zone is None:
        return None
    if firewalld.get("installed"):
        if (firewalld.get("permanent") is not None or firewalld.get("runtime") is not None
                or firewalld.get("etc_file")):
            return None
        found, where = list(firewalld.get("zones") or []), "zones found"
    elif zone in FIREWALLD_ZONES:
        return None
    else:
        found, where = list(FIREWALLD_ZONES), "firewalld is not installed yet; the zones it ships"
    return DataError(
        f"{host}: firewall_zone = {zone!r}: firewalld has no such zone ({where}: "
        f"{', '.join(found) or 'none'}). Fix: set firewall_zone to one of those, or None for the "
        f"default zone, or create it first (firewall-cmd --permanent --new-zone={zone}).",
    )


def broken_zone_files(zones: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The zones (keys of a ``FirewalldZones`` read) whose file in /etc/firewalld/zones firewalld
    cannot load: empty or not valid XML, as a write cut short by a power cut leaves it."""
    return [key for key, zone in zones.items()
            if zone.get("etc_file") and zone.get("permanent_problem")]


def firewalld_failed_error(
    host: str, zones: Mapping[str, Mapping[str, Any]], own_zone: str | None,
) -> DataError | None:
    """A DataError when firewalld cannot load its config and setting aside the broken zone files
    kubeprep may replace does not fix it, else None.

    ``zones`` is a ``FirewalldZones`` read of the zones the firewall task changes; ``own_zone``
    the cluster zone, which kubeprep makes whole again from data. Another zone's broken file can
    only give way to firewalld's copy before its last write or to the zone the package ships.
    """
    broken = broken_zone_files(zones)
    fix = ("Fix: firewall-offline-cmd --check-config names the file firewalld cannot load; "
           "repair or remove it, then systemctl restart firewalld.")
    for key in broken:
        zone = zones[key]
        name = zone.get("zone") or key
        if name != own_zone and zone.get("previous") is None and not zone.get("stock_file"):
            return DataError(
                f"{host}: firewalld zone {name}: /etc/firewalld/zones/{name}.xml is broken "
                f"({zone['permanent_problem']}), with no valid earlier copy ({name}.xml.old) and "
                f"no zone of that name from the package to fall back on. {fix}",
            )
    names = [zone.get("zone") or key for key, zone in zones.items()]
    if not broken and any(zone.get("failed") for zone in zones.values()):
        return DataError(
            f"{host}: firewalld runs in its FAILED state: its config did not load, so it accepts "
            f"every packet and refuses every permanent change, and the broken file is not one "
            f"of the zones kubeprep changes ({', '.join(names) or 'none'}). {fix}",
        )
    return None


def nftables_rules(text: str) -> list[str]:
    """The lines of an nftables file beyond the empty skeleton Debian ships (rules, sets,
    includes, a ``policy drop``)."""
    lines = (line.split("#", 1)[0].strip() if not line.startswith("#!") else ""
             for line in text.splitlines())
    return [line for line in lines if line and not _NFT_SKELETON.match(line)]


def iptables_rules(text: str) -> list[str]:
    """The rules (``-A`` lines) of an iptables-save file such as /etc/sysconfig/iptables."""
    return [line.strip() for line in text.splitlines() if line.strip().startswith("-A ")]


def other_firewalls(fact: Mapping[str, Any]) -> list[OtherFirewall]:
    """The firewalls besides firewalld that would drop what it opens: ufw when it is active (or
    set to start at boot), and nftables.service / iptables.service / ip6tables.service when
    enabled or active with rules of their own."""
    found = []
    ufw = fact.get("ufw") or {}
    units = fact.get("units") or {}
    ufw_at_boot = ufw.get("enabled") and (units.get("ufw.service") or {}).get("enabled")
    if ufw.get("active") or ufw_at_boot:
        state = "active" if ufw.get("active") else "set to start at boot (ENABLED=yes)"
        found.append(OtherFirewall("ufw", f"ufw is {state}", "ufw disable"))
    files = fact.get("files") or {}
    for unit, paths in RULE_FILES.items():
        status = units.get(unit) or {}
        states = [word for word in ("enabled", "active") if status.get(word)]
        if not states:
            continue
        parse = nftables_rules if unit.startswith("nftables") else iptables_rules
        counted = [(path, len(parse(files[path]))) for path in paths if path in files]
        rules = [(path, count) for path, count in counted if count]
        if rules:
            where = ", ".join(f"{count} in {path}" for path, count in rules)
            found.append(OtherFirewall(
                unit, f"{unit} is {' and '.join(states)} with rules of its own ({where})",
                f"systemctl disable --now {unit}",
            ))
    return found


def other_firewalls_error(host: str, found: list[OtherFirewall]) -> DataError | None:
    """A DataError naming what runs and the two fixes, or None when nothing does."""
    if not found:
        return None
    details = "; ".join(firewall.detail for firewall in found)
    commands = " && ".join(firewall.stop for firewall in found)
    return DataError(
        f"{host}: firewall_disable_others = False: {details}, which would still drop what "
        f"firewalld opens. Fix: stop it yourself ({commands}), or set "
        "firewall_disable_others = True so that the firewall task stops and disables it.",
    )
