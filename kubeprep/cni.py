"""What each CNI needs from the nodes' firewall: ports and IP protocols between nodes.

Sources (also in the README, "CNI presets"):
- flannel: Documentation/backends.md and troubleshooting.md in flannel-io/flannel (VXLAN on
  Linux uses UDP 8472).
- calico: "Network requirements" in the Calico docs (BGP 179/tcp, IP-in-IP IP protocol 4,
  VXLAN 4789/udp, Typha 5473/tcp).
- cilium: Documentation/operations/system_requirements.rst, "Firewall Rules" (VXLAN 8472/udp,
  health 4240/tcp, Hubble 4244/tcp, ICMP echo for health checks).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CniPreset:
    ports: tuple[str, ...]
    protocols: tuple[str, ...]  # firewalld protocol names or numbers


CNI_PRESETS: dict[str, CniPreset] = {
    "none": CniPreset((), ()),
    "flannel": CniPreset(("8472/udp",), ()),
    "calico": CniPreset(("179/tcp", "4789/udp", "5473/tcp"), ("4",)),
    "cilium": CniPreset(("8472/udp", "4240/tcp", "4244/tcp"), ("icmp",)),
}
