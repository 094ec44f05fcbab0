"""What the lab tests share: run the readiness check, snapshot the nodes, find leftovers, probe
ports from a node or from an address that is not one."""

from __future__ import annotations

import json
import shlex
from contextlib import contextmanager

KUBEADM_PORTS = (6443, 2379, 2380, 10250, 10257, 10259)
# Every zone's settings, runtime and permanent, as firewalld's own Python client reads them over
# D-Bus: one Python start per node, where each `firewall-cmd` call is one (3-6 s on the lab's VMs).
# Names as arguments limit it to those zones (a zone absent from a config is left out of it).
ZONES_SCRIPT = """
import json, sys
from firewall.client import FirewallClient
fw = FirewallClient()
config = fw.config()
def wanted(names):
    return [name for name in names if len(sys.argv) == 1 or name in sys.argv[1:]]
def plain(settings):
    found = settings.getSettingsDict()
    found["ports"] = ["/".join(pair) for pair in found["ports"]]
    return found
print(json.dumps({
    "runtime": {name: plain(fw.getZoneSettings(name)) for name in wanted(fw.getZones())},
    "permanent": {name: plain(config.getZoneByName(name).getSettings())
                  for name in wanted(config.getZoneNames())},
    "default": fw.getDefaultZone(),
}, sort_keys=True))
"""
ZONES_READ = f"python3 -c {shlex.quote(ZONES_SCRIPT)}"
SNAPSHOT = (
    "find /etc -xdev \\( -type f -o -type l \\) -printf '%p %s %T@\\n' | sort | md5sum; "
    "nft list ruleset 2>/dev/null | md5sum; "
    f"{ZONES_READ} 2>/dev/null | md5sum; "
    "cut -d' ' -f1 /proc/modules | sort | md5sum; "
    "sysctl -a 2>/dev/null | grep -E '^net\\.(ipv4\\.ip_forward|bridge\\.)' | sort; "
    "swapon --show=NAME --noheadings; getenforce 2>/dev/null; hostname"
)


def firewall_zones(lab, node: str, *names: str) -> dict:
    """``{"runtime": {zone: settings}, "permanent": {...}, "default": zone}`` of ``node``, for
    ``names`` (every zone without names); settings as firewalld's ``getSettingsDict``, ports as
    ``"6443/tcp"``."""
    command = " ".join([ZONES_READ, *map(shlex.quote, names)])
    return json.loads(lab.run(node, command, check=True).stdout)


def zone_sets(lab, node: str, *names: str) -> dict[str, dict[str, dict[str, set[str]]]]:
    """config -> zone -> {"ports", "services", "sources", "protocols"} as sets."""
    keys = ("ports", "services", "sources", "protocols")
    return {config: {zone: {key: set(settings[key]) for key in keys}
                     for zone, settings in zones.items()}
            for config, zones in firewall_zones(lab, node, *names).items() if config != "default"}


def snapshot(lab) -> dict[str, str]:
    """Everything the check could change if it were wrong, per node."""
    return {node: lab.run(node, SNAPSHOT, check=True).stdout for node in lab.nodes}


def leftovers(lab) -> dict[str, str]:
    """Listeners on kubeadm's ports and probe processes still running, per node."""
    found = {}
    for node in lab.nodes:
        out = lab.run(
            node,
            "ss -ltnH | awk '{print $4}' | grep -E ':(" + "|".join(map(str, KUBEADM_PORTS))
            + ")$'; ps -eo args | grep -E '[s]elect\\.select|[d]ev/tcp' ; true",
            check=True,
        ).stdout.strip()
        if out:
            found[node] = out
    return found


# The lab inventory goes all the way to a flannel cluster (test_kubeadm_cluster.py builds it); the
# files before that one test the stages before the cluster: as far as the runtime, no CNI.
BEFORE_CLUSTER = ("--data", "deploy_until=runtime", "--data", "cni=none")


def run_check(lab, tmp_path, monkeypatch, *args: str, stage: tuple[str, ...] = BEFORE_CLUSTER):
    """``pyinfra -y lab/inventory.py STAGE ARGS check.py`` with a JSON report: (result, report)."""
    report = tmp_path / "readiness.json"
    monkeypatch.setenv("KUBEPREP_CHECK_JSON", str(report))
    result = lab.pyinfra(*stage, *args, "check.py", timeout=600)
    assert report.exists(), f"no JSON report:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result, json.loads(report.read_text())


def statuses(data: dict) -> dict[str, dict[str, str | None]]:
    """Node -> check -> level."""
    return {name: node["status"] for name, node in data["nodes"].items()}


# Connect to ADDRESS on each of PORTS (comma-separated), from SOURCE if given; print per port
# "PORT open", "PORT refused" (no listener: the firewall let it through) or "PORT filtered"
# (rejected by the firewall, or no answer).
PROBE = """
import socket, sys
address, ports, source = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
for port in ports:
    sock = socket.socket()
    sock.settimeout(6)
    if source:
        sock.bind((source[0], 0))
    try:
        sock.connect((address, int(port)))
        print(port, "open")
    except ConnectionRefusedError:
        print(port, "refused")
    except OSError:
        print(port, "filtered")
    sock.close()
"""
# The same for UDP: three datagrams per port, then "PORT open" (taken without a word, as a
# VXLAN socket takes one), "PORT refused" (ICMP port unreachable: let through, no socket) or
# "PORT filtered" (any other ICMP error: firewalld's reject, icmpx admin-prohibited, reads as
# EHOSTUNREACH). A silent drop would read as open: firewalld's zones reject, they do not drop.
UDP_PROBE = """
import socket, sys
address, ports, source = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
for port in ports:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    if source:
        sock.bind((source[0], 0))
    sock.connect((address, int(port)))
    status = "open"
    try:
        for _ in range(3):
            sock.send(b"kubeprep-probe")
            try:
                sock.recv(64)
            except socket.timeout:
                pass
    except ConnectionRefusedError:
        status = "refused"
    except OSError:
        status = "filtered"
    print(port, status)
    sock.close()
"""
OUTSIDER = "192.168.77.250"  # the lab namespace's own address: on the lab network, not a node
# Listeners on PORTS (space-separated) for at most 90 s; the marker lets stop_listeners find them
# (the [s] keeps pkill from matching the shell that runs it).
MANY_LISTENERS = """nohup timeout 90 python3 -c '
import socket, sys, time
listeners = []  # kubeprep-test-listeners
for port in sys.argv[1:]:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("", int(port)))
    listener.listen(16)
    listeners.append(listener)
time.sleep(90)
' {ports} >/dev/null 2>&1 & sleep 2"""
STOP_LISTENERS = "pkill -f 'kubeprep-test-listener[s]'; true"


def probe(lab, address: str, ports, peer: str | None = None, udp: bool = False
          ) -> dict[int, str]:
    """Port -> open/refused/filtered, connecting (TCP, or ``udp``) from ``peer`` (a node) or,
    without one, from OUTSIDER (an address on the lab network that is not a node)."""
    listed = ",".join(map(str, ports))
    script = UDP_PROBE if udp else PROBE
    if peer is None:
        result = lab.netns_exec("python3", "-c", script, address, listed, OUTSIDER)
    else:
        result = lab.run(peer, f"python3 -c '{script}' {address} {listed}", check=True)
    found = dict(line.split() for line in result.stdout.splitlines())
    assert set(found) == {str(port) for port in ports}, (result.stdout, result.stderr)
    return {int(port): status for port, status in found.items()}


@contextmanager
def listening(lab, node: str, ports):
    """Listeners on ``ports`` of ``node`` while inside, so "open" proves the firewall let a
    probe through; earlier test listeners are stopped first, these ones on the way out."""
    lab.run(node, STOP_LISTENERS, check=True)
    lab.run(node, MANY_LISTENERS.format(ports=" ".join(map(str, ports))), check=True)
    try:
        yield
    finally:
        lab.run(node, STOP_LISTENERS, check=True)
