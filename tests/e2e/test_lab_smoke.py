"""Smoke test: the lab is what lab/README.md says it is (fresh operator machines).

Runs on pristine VMs (the session's ``lab`` fixture). Sends no packet outside
the lab's own network namespace: isolation is checked on routes and links.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

NODES = ("cp1", "w1", "w2")
LAB_PORT = 7777  # TCP port used for the lab-network check (cp1 listens)

# One SSH round trip per node (each costs seconds under TCG): "@name" starts a section.
PROBE = r"""
echo @hostname; hostname; cat /etc/hostname
echo @eth1; ip -4 -o addr show dev eth1
echo @default; ip route show default
echo @ids; cat /sys/class/dmi/id/product_uuid /sys/class/net/eth0/address /sys/class/net/eth1/address
echo @swapon; swapon --show=NAME --noheadings
echo @fstab; cat /etc/fstab
echo @firewalld; dpkg-query -W -f='${Status}\n' firewalld 2>/dev/null; command -v firewall-cmd
echo @getenforce; getenforce
echo @selinux_config; grep '^SELINUX=' /etc/selinux/config
echo @cmdline; cat /proc/cmdline
echo @modules
for m in overlay br_netfilter; do
    modinfo -F filename $m
    grep -qw $m /lib/modules/$(uname -r)/modules.builtin && echo builtin-$m
    grep -q "^$m " /proc/modules && echo loaded-$m
done
echo @sources; cat /etc/apt/sources.list; ls /etc/apt/sources.list.d
true
"""


@pytest.fixture(scope="module")
def probe(lab) -> dict[str, dict[str, str]]:
    """node -> section -> output of PROBE on the pristine VMs."""
    found = {}
    for node in NODES:
        out = lab.run(node, PROBE, check=True).stdout
        parts = re.split(r"^@(\w+)$", out, flags=re.M)[1:]
        found[node] = {
            name: body.strip() for name, body in zip(parts[::2], parts[1::2], strict=True)
        }
    return found


def test_nodes_answer_ssh_with_their_hostnames(probe):
    for node in NODES:
        assert probe[node]["hostname"].split() == [node, node]


def test_inventory_reaches_every_node(lab):
    rc, out, err = lab.pyinfra("fact", "server.Hostname")
    assert rc == 0, out + err
    text = out + err  # pyinfra prints the fact JSON on stderr
    facts = json.loads(text[text.index("{") : text.rindex("}") + 1])
    assert facts == {node: node for node in NODES}


def test_each_node_has_its_lab_address_and_default_route_on_the_lab_net(lab, probe):
    for node in NODES:
        assert f"inet {lab.cluster_address[node]}/24" in probe[node]["eth1"]
        # the only default route: the lab net (eth0 = qemu user net, restrict=on)
        assert probe[node]["default"].splitlines() == [
            "default via 192.168.77.1 dev eth1 proto static"
        ]


def test_hardware_identity_is_unique(probe):
    uuids = {probe[node]["ids"].split()[0] for node in NODES}
    macs = {mac for node in NODES for mac in probe[node]["ids"].split()[1:]}
    assert len(uuids) == 3 and len(macs) == 6


def test_swap_file_active_on_every_node(probe):
    for node in NODES:
        assert "/swapfile" in probe[node]["swapon"].split(), node
        fstab = probe[node]["fstab"]
        assert re.search(r"^/swapfile\s+none\s+swap\s+sw\s+0\s+0$", fstab, re.M), fstab


def test_w1_has_a_second_swap_by_uuid(lab, probe):
    assert sorted(probe["w1"]["swapon"].split()) == ["/dev/vdb", "/swapfile"]
    match = re.search(r"^UUID=(\S+)\s+none\s+swap\s+sw\s+0\s+0$", probe["w1"]["fstab"], re.M)
    assert match, probe["w1"]["fstab"]
    assert lab.run("w1", f"blkid -U {match.group(1)}", check=True).stdout.strip() == "/dev/vdb"
    for node in ("cp1", "w2"):
        assert probe[node]["swapon"].split() == ["/swapfile"]


def test_firewalld_absent_but_installable_offline(lab, probe):
    for node in NODES:
        assert "install ok installed" not in probe[node]["firewalld"]
        assert "firewall-cmd" not in probe[node]["firewalld"]
        assert probe[node]["sources"] == "deb [trusted=yes] file:/opt/lab-repo ./"
    rc, out, err = lab.run("w2", "apt-get update && apt-get install -s firewalld", timeout=300)
    assert rc == 0, out + err
    assert "Inst firewalld" in out
    assert re.search(r"^0 upgraded, 1 newly installed", out, re.M), out  # deps preinstalled
    fetched = re.findall(r"^(?:Get|Hit|Ign):\d+ (\S+)", out, re.M)
    assert fetched and set(fetched) == {"file:/opt/lab-repo"}, fetched


def test_selinux_enforcing_on_cp1_from_config(probe):
    cp1 = probe["cp1"]
    assert cp1["getenforce"] == "Enforcing"
    assert cp1["selinux_config"] == "SELINUX=enforcing"
    assert "security=selinux" in cp1["cmdline"] and "enforcing=" not in cp1["cmdline"]


def test_selinux_disabled_on_workers(probe):
    for node in ("w1", "w2"):
        assert probe[node]["getenforce"] == "Disabled"
        assert "security=selinux" not in probe[node]["cmdline"]


def test_overlay_and_br_netfilter_are_loadable_modules_not_loaded(probe):
    for node in NODES:
        out = probe[node]["modules"]
        assert "builtin-" not in out and "loaded-" not in out, out
        assert out.count(".ko") == 2, out


def test_vms_talk_over_the_lab_network(lab):
    # one-shot listener on cp1's lab address; w1 and the namespace client connect
    listener = (
        "import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
        f"s.bind(('192.168.77.11',{LAB_PORT}));s.listen(2);s.settimeout(90)\n"
        "for _ in range(2):\n c,a=s.accept();c.sendall(('hello '+a[0]+'\\n').encode());c.close()"
    )
    lab.run("cp1", f'nohup timeout 100 python3 -c "{listener}" >/dev/null 2>&1 &', check=True)
    out = ""
    for _ in range(15):
        rc, out, _ = lab.run("w1", f"nc -w 5 192.168.77.11 {LAB_PORT} </dev/null")
        if "hello" in out:
            break
        time.sleep(2)
    assert out.strip() == "hello 192.168.77.21"
    # the host-side "non-node" client inside the namespace (192.168.77.250)
    rc, out, err = lab.netns_exec(
        "python3",
        "-c",
        f"import socket;s=socket.create_connection(('192.168.77.11',{LAB_PORT}),5);print(s.recv(64).decode())",
    )
    assert rc == 0, err
    assert out.strip() == "hello 192.168.77.250"


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout


def test_lab_network_has_no_way_out(lab):
    # namespace: only the lab /24, no default route, no forwarding, no uplink
    routes = _ip("-n", lab.netns, "-4", "route", "show")
    assert routes.strip().splitlines() and all(
        r.startswith("192.168.77.0/24 ") for r in routes.strip().splitlines()
    )
    links = _ip("-n", lab.netns, "-o", "link", "show")
    names = sorted(re.findall(r"^\d+: ([^:@]+)", links, re.M))
    assert names == ["kpl-cp1", "kpl-w1", "kpl-w2", "kplbr0", "lo"], names
    fwd = lab.netns_exec("sysctl", "-n", "net.ipv4.ip_forward").stdout.strip()
    assert fwd == "0"
    unreachable = lab.netns_exec("ip", "route", "get", "1.1.1.1")  # a lookup, sends nothing
    assert unreachable.rc != 0 and "unreachable" in unreachable.stderr.lower()
    # root namespace: no lab address, no lab tap/bridge
    assert "192.168.77." not in _ip("-4", "addr", "show")
    assert not re.search(r"kpl-|kplbr0", _ip("-o", "link", "show"))
    # SSH NICs: qemu user networking with restrict=on, forwards bound to loopback
    for node in NODES:
        pid = (Path(lab.repo_dir) / "lab" / ".state" / f"{node}.pid").read_text().strip()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        user_nets = re.findall(r"-netdev (user,\S+)", cmdline)
        assert user_nets and all(
            "restrict=on" in n and "hostfwd=tcp:127.0.0.1:" in n for n in user_nets
        )
