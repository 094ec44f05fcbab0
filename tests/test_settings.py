"""Tests for kubeprep.settings: the group_data defaults, every refusal message, the platforms."""

import ast
import runpy
from pathlib import Path

import pytest
from host_states import fresh
from pyinfra.facts.server import LinuxDistribution
from taskrun import run_deploy

from kubeprep.keys import DECLARED, TASKS, PerRole
from kubeprep.settings import (
    KEYS,
    DataError,
    Platform,
    plain_http_sources,
    platform_from_release,
    settings_from_data,
    trust_error,
    unknown_keys,
)

ROOT = Path(__file__).resolve().parent.parent
GROUP_DATA = ROOT / "group_data"
HOST = "cp1.lab"
# `openssl passwd -6 -salt 8Xb1c0ZQ9pQ3Sg2e kubeprep`
SHA512_HASH = (
    "$6$8Xb1c0ZQ9pQ3Sg2e$Jw6.ctLAZRu5po9KtJsXXKbaOMMKEuy5attZaoJrGtHI2/ovxd39ZyE0flHETpk6hQlE"
    "CuzVp.vbXHc6OyJRs0"
)
ED25519_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG2n7bC0n5tqE6XwD1m1v0kq3Y8b9o4Jx7cR2aQ9s8Kf me@laptop"


def group_data_file(name: str) -> dict:
    module = runpy.run_path(str(GROUP_DATA / f"{name}.py"))
    return {key: value for key, value in module.items() if not key.startswith("__")}


def group_data(role: str) -> dict:
    """What pyinfra gives a host of ``role``: all.py, overridden by the role's file."""
    return {**group_data_file("all"), **group_data_file(role)}


def refused(data: dict, groups=("control_plane",), host: str = HOST) -> str:
    with pytest.raises(DataError) as error:
        settings_from_data(host, list(groups), data)
    return str(error.value)


def with_(**changes) -> dict:
    return {**group_data("control_plane"), **changes}


# --------------------------------------------------------------------------------- defaults

def test_group_data_sets_exactly_the_known_keys():
    assert set(group_data("control_plane")) == set(KEYS)
    assert set(group_data("workers")) == set(KEYS)


def test_all_py_holds_the_declared_defaults():
    expected = {key.name: key.default for key in DECLARED
                if not key.inventory and not isinstance(key.default, PerRole)}
    assert group_data_file("all") == expected


@pytest.mark.parametrize("role", ["control_plane", "workers"])
def test_role_files_hold_the_declared_per_role_defaults(role):
    expected = {key.name: getattr(key.default, role) for key in DECLARED
                if isinstance(key.default, PerRole)}
    assert group_data_file(role) == expected


def readme_data_keys() -> dict[str, list[str]]:
    """The "Data keys" table of docs/data-keys.md: each key's cells after the key, backticks
    kept."""
    text = (ROOT / "docs" / "data-keys.md").read_text(encoding="utf-8")
    section = text.split("\n## Data keys\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_readme_table_has_the_declared_keys_defaults_tasks_and_meanings():
    rows = readme_data_keys()
    assert list(rows) == [key.name for key in DECLARED]
    for key in DECLARED:
        default, task, meaning = rows[key.name]
        if isinstance(key.default, PerRole):
            assert default.startswith("per role"), key.name
        elif key.inventory:
            assert default == "(host data)", key.name
        else:
            assert ast.literal_eval(default.strip("`")) == key.default, key.name
        assert (task, meaning) == (key.task, key.description), key.name


def test_every_key_names_a_task_that_exists():
    for key in DECLARED:
        assert key.task in TASKS, key.name
        top_level = {"check": "check.py", "deploy": "deploy.py"}
        assert (ROOT / top_level.get(key.task, f"tasks/{key.task}.py")).exists()


def test_control_plane_defaults_are_valid():
    settings = settings_from_data(HOST, ["control_plane"], group_data("control_plane"))
    assert settings.role == "control_plane"
    assert settings.cluster_zone_ports == [
        "22/tcp", "6443/tcp", "2379-2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp",
    ]
    assert settings.kernel_sysctls == (
        ("net.bridge.bridge-nf-call-iptables", "1"),
        ("net.bridge.bridge-nf-call-ip6tables", "1"),
        ("net.ipv4.ip_forward", "1"),
    )
    assert (settings.selinux_mode, settings.swap, settings.admin_password_hash) == (
        "permissive", "off", None,
    )


def test_worker_defaults_are_valid():
    settings = settings_from_data("w1.lab", ["workers"], group_data("workers"))
    assert settings.role == "workers"
    assert settings.cluster_zone_ports == ["22/tcp", "30000-32767/tcp", "10250/tcp"]
    assert settings.public_ports == ["22/tcp", "30000-32767/tcp"]


def test_internal_ports_are_public_only_with_the_write_up_switch():
    split = settings_from_data(HOST, ["control_plane"], group_data("control_plane"))
    assert split.public_ports == ["22/tcp", "6443/tcp"]
    open_to_all = settings_from_data(HOST, ["control_plane"], with_(firewall_cluster_only=False))
    assert open_to_all.public_ports == open_to_all.cluster_zone_ports == split.cluster_zone_ports


@pytest.mark.parametrize(("cni", "ports", "protocols"), [
    ("none", [], []),
    ("flannel", ["8472/udp"], []),
    ("calico", ["179/tcp", "4789/udp", "5473/tcp"], ["4"]),
    ("cilium", ["8472/udp", "4240/tcp", "4244/tcp"], ["icmp"]),
])
def test_cni_presets_add_node_ports_protocols_and_trusted_networks(cni, ports, protocols):
    settings = settings_from_data("w1.lab", ["workers"], {**group_data("workers"), "cni": cni})
    assert settings.cluster_zone_ports == ["22/tcp", "30000-32767/tcp", "10250/tcp", *ports]
    assert settings.public_ports == ["22/tcp", "30000-32767/tcp"]
    assert list(settings.cni_protocols) == protocols
    assert settings.trusted_sources == ([] if cni == "none" else ["10.244.0.0/16", "10.96.0.0/12"])


@pytest.mark.parametrize(("changes", "key", "fix"), [
    ({"cni": "weave"}, "cni = 'weave'", "use one of none, flannel, calico, cilium"),
    ({"cni_pod_cidr": "10.244.0.1/16"}, "cni_pod_cidr = '10.244.0.1/16'", "'10.244.0.0/16'"),
    ({"cni_service_cidr": "10.96.0.1"}, "cni_service_cidr = '10.96.0.1'", "'10.244.0.0/16'"),
    ({"firewall_cluster_zone": "public"}, "firewall_cluster_zone = 'public'", "'kubeprep'"),
    ({"firewall_cluster_zone": "trusted"}, "firewall_cluster_zone = 'trusted'", "'kubeprep'"),
    ({"firewall_cluster_ports": ["10250"]}, "firewall_cluster_ports = '10250'", "'6443/tcp'"),
    ({"cluster_address": "node-1"}, "cluster_address = 'node-1'", "'192.168.77.11'"),
    ({"cluster_address": "10.0.0.0/24"}, "cluster_address = '10.0.0.0/24'", "'192.168.77.11'"),
])
def test_cluster_firewall_data_is_refused_with_the_key_and_the_fix(changes, key, fix):
    message = refused(with_(**changes))
    assert message.startswith(f"{HOST}: {key}: ")
    assert fix in message


def test_cluster_zone_that_is_also_firewall_zone_refused():
    message = refused(with_(firewall_zone="edge", firewall_cluster_zone="edge"))
    assert message == (
        f"{HOST}: firewall_cluster_zone = 'edge': is firewall_zone too: kubeprep owns the "
        "cluster zone's sources. Fix: keep the default 'kubeprep'."
    )


@pytest.mark.parametrize(("group", "changes", "key", "port", "other"), [
    ("control_plane", {"firewall_ports": ["6443/tcp", "2379/tcp"]}, "firewall_ports", "2379/tcp",
     "2379-2380/tcp"),  # coverage, not strings: 2379/tcp is inside 2379-2380/tcp
    ("control_plane", {"firewall_ports": ["2380-2390/tcp"]}, "firewall_ports", "2380-2390/tcp",
     "2379-2380/tcp"),
    ("workers", {"firewall_ports": ["10000-20000/tcp"]}, "firewall_ports", "10000-20000/tcp",
     "10250/tcp"),
    ("workers", {"firewall_ssh_port": "10250/tcp"}, "firewall_ssh_port", "10250/tcp", "10250/tcp"),
])
def test_port_both_public_and_nodes_only_refused(group, changes, key, port, other):
    message = refused({**group_data(group), **changes}, groups=[group])
    assert message == (
        f"{HOST}: {key} = {port!r}: also nodes-only, in firewall_cluster_ports ({other!r}): a "
        "port is open either to everyone or to the cluster's nodes only. "
        f"Fix: keep it in only one of {key} and firewall_cluster_ports."
    )


@pytest.mark.parametrize(("cni", "changes", "key", "port", "other"), [
    ("calico", {"firewall_ports": ["30000-32767/tcp", "179/tcp"]}, "firewall_ports", "179/tcp",
     "179/tcp"),
    ("flannel", {"firewall_ports": ["8000-9000/udp"]}, "firewall_ports", "8000-9000/udp",
     "8472/udp"),
    ("cilium", {"firewall_ssh_port": "4240/tcp"}, "firewall_ssh_port", "4240/tcp", "4240/tcp"),
])
def test_public_port_the_cni_opens_to_the_nodes_refused(cni, changes, key, port, other):
    message = refused({**group_data("workers"), "cni": cni, **changes}, groups=["workers"])
    assert message == (
        f"{HOST}: {key} = {port!r}: also nodes-only, as a port of cni = {cni!r} ({other!r}): a "
        "port is open either to everyone or to the cluster's nodes only. "
        f"Fix: remove it from {key} (the {cni} preset opens it to the nodes), or set cni = 'none'."
    )


@pytest.mark.parametrize("changes", [
    {"firewall_ports": ["30000-32767/tcp", "10250/udp"]},  # another protocol
    {"firewall_ports": ["10249/tcp", "10251-10260/tcp"]},  # neighbours, not the same port
    {"cni": "calico", "firewall_ports": ["30000-32767/tcp", "179/udp", "4789/tcp"]},
])
def test_ports_next_to_the_nodes_only_ones_accepted(changes):
    settings = settings_from_data("w1", ["workers"], {**group_data("workers"), **changes})
    assert settings.firewall_ports == tuple(changes["firewall_ports"])


def test_ssh_port_listed_again_is_opened_once_and_first():
    settings = settings_from_data(HOST, ["control_plane"], with_(firewall_ports=["6443/tcp", "22/tcp"]))
    assert settings.public_ports == ["22/tcp", "6443/tcp"]


def test_settings_are_immutable():
    settings = settings_from_data(HOST, ["control_plane"], group_data("control_plane"))
    with pytest.raises(AttributeError):
        settings.swap = "keep"
    assert isinstance(settings.firewall_ports, tuple)


def test_the_tasks_views_are_their_keys_as_settings_holds_them():
    args = {"scheduler": {"leader-elect-lease-duration": "60s"}}
    settings = settings_from_data(HOST, ["control_plane"],
                                  with_(kubernetes_control_plane_args=args))
    assert settings.kubernetes_control_plane_args == (
        ("scheduler", (("leader-elect-lease-duration", "60s"),)),
    )
    for view in (settings.kubernetes, settings.runtime):
        assert {name: getattr(view, name) for name in view.KEYS} == {
            name: getattr(settings, name) for name in view.KEYS}
        with pytest.raises(AttributeError):
            view.cni = "flannel"
    assert settings.kubernetes.repo_url == "https://pkgs.k8s.io/core:/stable:/v1.35"


# ---------------------------------------------------------------- trusted pod and service networks

TRUST_FIX = {
    "cni_pod_cidr": "choose a network no node is on and nothing else uses, e.g. '10.244.0.0/16', "
                    "and give kubeadm and the CNI the same",
    "cni_service_cidr": "choose a network no node is on and nothing else uses, e.g. "
                        "'10.96.0.0/12', and give kubeadm the same",
}


@pytest.mark.parametrize(("changes", "key", "value", "address"), [
    # Calico's own default pod network, with nodes in 192.168.x.x
    ({"cni": "calico", "cni_pod_cidr": "192.168.0.0/16"}, "cni_pod_cidr", "192.168.0.0/16",
     "192.168.77.11"),
    ({"cni_service_cidr": "192.168.77.0/24"}, "cni_service_cidr", "192.168.77.0/24",
     "192.168.77.11"),
    ({"cni_pod_cidr": "fd00::/64", "cluster_address": "fd00::11"}, "cni_pod_cidr", "fd00::/64",
     "fd00::11"),
])
def test_trusted_network_holding_the_node_refused(changes, key, value, address):
    message = refused(with_(**{"cluster_address": "192.168.77.11", **changes}))
    assert message == (
        f"{HOST}: {key} = {value!r}: holds the node address {address}, so firewalld's trusted zone "
        f"would accept every machine on that network. Fix: {TRUST_FIX[key]}."
    )


@pytest.mark.parametrize(("key", "value"), [("cni_pod_cidr", "0.0.0.0/0"),
                                            ("cni_service_cidr", "::/0")])
def test_trusted_network_of_every_address_refused_with_or_without_a_cni(key, value):
    for cni in ("none", "flannel"):
        assert refused(with_(cni=cni, **{key: value})) == (
            f"{HOST}: {key} = {value!r}: is every address, so firewalld's trusted zone would accept "
            f"every machine. Fix: {TRUST_FIX[key]}."
        )


@pytest.mark.parametrize(("pods", "services"), [("10.96.0.0/16", "10.96.0.0/12"),
                                                ("10.0.0.0/8", "10.96.0.0/12")])
def test_overlapping_pod_and_service_networks_refused(pods, services):
    assert refused(with_(cni_pod_cidr=pods, cni_service_cidr=services)) == (
        f"{HOST}: cni_service_cidr = {services!r}: overlaps cni_pod_cidr ({pods!r}), so pods and "
        "services would share addresses. Fix: choose networks apart, e.g. pods '10.244.0.0/16' "
        "and services '10.96.0.0/12'."
    )


def test_trust_error_checks_every_node_address():
    addresses = ["192.168.77.11", "192.168.77.21", "fd00::22"]
    assert trust_error("10.244.0.0/16", "10.96.0.0/12", addresses) is None
    assert trust_error("192.168.77.16/28", "10.96.0.0/12", addresses).startswith(
        "cni_pod_cidr = '192.168.77.16/28': holds the node address 192.168.77.21, ")
    assert trust_error("10.244.0.0/16", "fd00::/64", addresses).startswith(
        "cni_service_cidr = 'fd00::/64': holds the node address fd00::22, ")


# w2's interface addresses on the lab (tests/fact_cases/network.InterfaceAddresses).
LAB_W2_INTERFACES = ["127.0.0.1/8", "::1/128", "10.0.2.15/24", "192.168.77.22/24",
                     "fe80::5054:ff:fe4b:7716/64"]


@pytest.mark.parametrize(("pod_cidr", "message"), [
    ("10.244.0.0/16", None),
    # Holds no node address, but 192.168.77.250 (not a node) would be trusted.
    ("192.168.77.128/25", "cni_pod_cidr = '192.168.77.128/25': overlaps the nodes' network "
                          "192.168.77.0/24, so firewalld's trusted zone would accept other "
                          "machines on it."),
    # A network that holds the nodes' one.
    ("192.0.0.0/8", "cni_pod_cidr = '192.0.0.0/8': holds the node address 192.168.77.11"),
    # qemu's user network (10.0.2.0/24) holds no node address: not the nodes' network.
    ("10.0.0.0/16", None),
])
def test_trust_error_refuses_the_nodes_network(pod_cidr, message):
    addresses = ["192.168.77.11", "192.168.77.21", "192.168.77.22"]
    error = trust_error(pod_cidr, "10.96.0.0/12", addresses, LAB_W2_INTERFACES)
    if message is None:
        assert error is None
    else:
        assert error.startswith(message)


def test_trust_error_leaves_a_peer_address_that_is_not_one_to_the_peer():
    """A peer's bad cluster_address is refused on that peer (its own data check)."""
    assert trust_error("10.244.0.0/16", "10.96.0.0/12", ["node-1"]) is None


def test_firewall_task_refuses_a_trusted_network_holding_another_node():
    """cp1 (192.168.77.11) is outside the pod network, its peer w1 (192.168.78.21) is inside."""
    run = run_deploy("tasks/firewall.py", fresh("rhel"),
                     data={"cni": "flannel", "cni_pod_cidr": "192.168.78.0/24"},
                     peers={"w1": ("workers", "192.168.78.21")})
    assert run.failed and run.ops == []
    assert run.errors == [
        "[node] kubeprep: node: cni_pod_cidr = '192.168.78.0/24': holds the node address 192.168.78.21, "
        "so firewalld's trusted zone would accept every machine on that network. "
        f"Fix: {TRUST_FIX['cni_pod_cidr']}.",
    ]


# ------------------------------------------------------------------------------------ ports

@pytest.mark.parametrize("port", ["0/tcp", "65536/tcp", "10-5/tcp", "80/icmp", "80", 80, "tcp/80",
                                  " 80/tcp", "80/TCP", "1-/tcp"])
def test_bad_port_refused_with_host_key_value_and_fix(port):
    message = refused(with_(firewall_ports=["6443/tcp", port]))
    assert message.startswith(f"{HOST}: firewall_ports = {port!r}: ")
    assert "Fix: write it like '6443/tcp' or '2379-2380/tcp'." in message


@pytest.mark.parametrize("port", ["1/tcp", "65535/udp", "30000-32767/tcp", "2379-2380/tcp",
                                  "5000-5000/sctp"])
def test_good_ports_accepted(port):
    settings = settings_from_data(HOST, ["control_plane"],
                                  with_(firewall_ports=[port], firewall_cluster_ports=[]))
    assert settings.firewall_ports == (port,)


def test_out_of_range_port_says_what_the_range_is():
    assert "1 <= N <= M <= 65535" in refused(with_(firewall_ports=["65536/tcp"]))


def test_bad_ssh_port_refused():
    message = refused(with_(firewall_ssh_port="ssh"))
    assert message.startswith(f"{HOST}: firewall_ssh_port = 'ssh': ")
    assert "Fix:" in message


def test_bad_zone_refused():
    message = refused(with_(firewall_zone="my zone"))
    assert message.startswith(f"{HOST}: firewall_zone = 'my zone': not a firewalld zone name")


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("kubernetes_image_repository", "https://registry.example.com", "not an image repository"),
    ("kubernetes_image_repository", "Registry.example.com/k8s", "not an image repository"),
    ("kubernetes_etcd_image_tag", "3.6.16 -0", "not an image tag"),
    ("kubernetes_dns_image_tag", ":v1.14.3", "not an image tag"),
    ("kubernetes_etcd_image_tag", "3.6.16-0\n", "not an image tag"),
    ("kubernetes_timeouts", {"apiServer": "10m"}, "not one of kubeadm's timeouts"),
    ("kubernetes_encryption_algorithm", "ECDSA-P521", "unknown value"),
    ("kubernetes_timeouts", {"tlsBootstrap": 600}, "not a duration"),
    ("kubernetes_timeouts", {"tlsBootstrap": "10 minutes"}, "not a duration"),
    ("containerd_registry_ca", "/etc/site-ca.pem", "not PEM certificates"),
    ("containerd_registry_ca", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
     "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", "holds a private key"),
    ("kubernetes_control_plane_args", {"kubelet": {"v": "2"}}, "not a control-plane component"),
    ("kubernetes_control_plane_args", {"scheduler": {"--v": "2"}}, "not a flag name"),
    ("kubernetes_control_plane_env", {"apiServer": {"GO GC": "200"}},
     "not an environment variable name"),
    ("kubernetes_control_plane_env", {"etcd": {"GOGC": 400}}, "not a one-line string"),
    ("kubernetes_control_plane_env", {"etcd": "GOGC=400"}, "not a mapping of an environment"),
])
def test_bad_air_gapped_and_kubeadm_keys_refused(key, value, problem):
    message = refused(with_(**{key: value}))
    assert message.startswith(f"{HOST}: {key}"), message
    assert f": {problem}" in message, message
    assert "Fix:" in message


@pytest.mark.parametrize(("key", "value"), [
    ("kubernetes_image_repository", "registry.example.com:5000/k8s"),
    ("kubernetes_etcd_image_tag", "3.6.16-0"),
    ("kubernetes_dns_image_tag", "v1.14.3"),
    ("kubernetes_timeouts", {"controlPlaneComponentHealthCheck": "10m", "tlsBootstrap": "1h5m"}),
    ("kubernetes_control_plane_env", {"apiServer": {"GOGC": "200"}, "etcd": {"GOMEMLIMIT": "1GiB"}}),
])
def test_air_gapped_image_keys_accepted(key, value):
    settings_from_data(HOST, ["control_plane"], with_(**{key: value}))  # raises DataError if refused


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("firewall_ports", ["6443/tcp\n"], "'6443/tcp\\n'"),
    ("firewall_cluster_ports", ["10250/tcp\n"], "'10250/tcp\\n'"),
    ("firewall_ssh_port", "22/tcp\n", "'22/tcp\\n'"),
    ("firewall_zone", "public\n", "'public\\n'"),
    ("firewall_cluster_zone", "kubeprep\n", "'kubeprep\\n'"),
    ("admin_user", "kubeadmin\n", "'kubeadmin\\n'"),
    ("kernel_modules", ["overlay\n"], "'overlay\\n'"),
    ("kernel_sysctls", {"net.ipv4.ip_forward\n": 1}, "'net.ipv4.ip_forward\\n'"),
    ("containerd_package", "containerd.io\n", "'containerd.io\\n'"),
    ("containerd_sandbox_image", "registry.k8s.io/pause:3.10\n", "'registry.k8s.io/pause:3.10\\n'"),
    ("containerd_registry_mirrors", {"docker.io\n": ["https://m.example"]}, "'docker.io\\n'"),
])
def test_a_final_newline_is_not_part_of_a_valid_value(key, value, shown):
    """Patterns match the whole value: ``$`` alone also matches before a final newline."""
    message = refused(with_(**{key: value}))
    assert message.startswith(f"{HOST}: {key} = {shown}: ")
    assert "Fix:" in message


@pytest.mark.parametrize("port", ["22-23/tcp", "22/udp"])
def test_ssh_port_must_be_one_tcp_port(port):
    assert refused(with_(firewall_ssh_port=port)) == (
        f"{HOST}: firewall_ssh_port = {port!r}: not one TCP port, and sshd listens on one. "
        "Fix: write the TCP port sshd listens on, e.g. '22/tcp'."
    )


@pytest.mark.parametrize(("zone", "target"), [
    ("trusted", "accepts every connection"),
    ("drop", "drops every packet"),
    ("block", "rejects every connection"),
])
def test_zones_that_ignore_their_ports_refused_as_firewall_zone(zone, target):
    assert refused(with_(firewall_zone=zone)) == (
        f"{HOST}: firewall_zone = {zone!r}: firewalld's {zone} zone {target} whatever ports it "
        "lists. Fix: use 'public' or a zone of your own, or None for the default zone."
    )


# ------------------------------------------------------------------------------------ roles

@pytest.mark.parametrize(("groups", "found"), [
    (["control_plane", "workers"], "control_plane, workers"),
    ([], "neither"),
    (["etcd"], "neither"),
])
def test_host_must_be_in_exactly_one_role(groups, found):
    message = refused(group_data("control_plane"), groups=groups)
    assert message.startswith(f"{HOST}: is in {found} of the groups control_plane/workers")
    assert "Fix: list it once, under control_plane or workers" in message


# ---------------------------------------------------------------------------- keys and types

@pytest.mark.parametrize("key", sorted(KEYS))
def test_missing_key_refused(key):
    data = group_data("control_plane")
    del data[key]
    message = refused(data)
    where = "control_plane.py" if key in ("firewall_ports", "firewall_cluster_ports") else "all.py"
    assert message == (
        f"{HOST}: required key {key} is missing. "
        f"Fix: set {key} in group_data/{where} (see docs/data-keys.md)."
    )


def test_cluster_address_may_be_left_out():
    assert settings_from_data(HOST, ["control_plane"], group_data("control_plane")) \
        .cluster_address is None


def test_none_for_a_required_key_is_missing():
    assert "required key swap is missing" in refused(with_(swap=None))


@pytest.mark.parametrize(("key", "value", "wanted"), [
    ("admin_sudo", "yes", "bool"),
    ("firewall_ports", "6443/tcp", "list"),
    ("kernel_sysctls", [("net.ipv4.ip_forward", 1)], "dict"),
    ("firewall_zone", 1, "str or None"),
    ("admin_ssh_keys", ED25519_KEY, "list"),
])
def test_wrong_type_refused(key, value, wanted):
    message = refused(with_(**{key: value}))
    assert message == (
        f"{HOST}: {key} = {value!r}: must be {wanted}. Fix: give {key} a {wanted} value."
    )


def test_a_version_given_as_a_number_is_refused_with_how_to_quote_it():
    # pyinfra's --data kubernetes_version=1.40 parses the value: the number 1.4 arrives.
    assert refused(with_(kubernetes_version=1.4)) == (
        f"{HOST}: kubernetes_version = 1.4: must be str, not a number (1.40 would read as 1.4). "
        "Fix: quote it: kubernetes_version = \"1.4\" in data, or on the command line "
        "--data 'kubernetes_version=\"1.4\"' with the digits you meant."
    )


# ---------------------------------------------------------------------------------- account

@pytest.mark.parametrize("password", [
    "kubeprep-S3cret!", "hunter2hunter2", "$6$short",
    SHA512_HASH + "\n",  # `$` alone also matches before a final newline
    "$6$saltonly$", "$6$8Xb1c0ZQ9pQ3Sg2e", "$6$8Xb1c0ZQ9pQ3Sg2e$",  # a salt without its hash
    SHA512_HASH[:-1],  # a sha512 hash has 86 characters
    "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$", "$5$abc$", "$1$abc$",
])
def test_plain_text_password_refused_without_echoing_it(password):
    message = refused(with_(admin_password_hash=password))
    assert message.startswith(f"{HOST}: admin_password_hash = '<hidden>': not a crypt(3) hash")
    assert "openssl passwd -6" in message
    assert password not in message


def test_password_of_the_wrong_type_is_not_echoed():
    message = refused(with_(admin_password_hash=31415926))
    assert "31415926" not in message


# Each from libxcrypt's crypt(3) (Python's crypt.crypt("kubeprep", salt)) or `openssl passwd`.
@pytest.mark.parametrize("password_hash", [
    SHA512_HASH, "!" + SHA512_HASH, None,
    "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7",
    "$6$rounds=10000$saltsalt$W3XLaAx9cA7PNWeGwc9OX/XwVmjQ/4cDpJHR2aioq4a0IaEeltBTqrnkKiNusqtQkWbq"
    "C81Ehr0yho5.DwBZK.",
    "$6$$AKAYwrA0OAG.roNelXkeBagya7mQAP5dTEWfUfc5WYRlQG2TFuRCZx9qoIU6VdvmIZXuy/fXfP3YtvgWCdGWj0",
    "$5$abc$FWgtazAuK6xFz2axEwPjXU7awkz7JUv87NXyROd.ph5",
    "$5$rounds=1000$abc$WD8I9C807QoT8Akxf4oBUEdolfeQ9B.H61Zq3Sv0cD0",
    "$1$abc$IC8EZOa9iUC9o.fVSarVU0",
    "$2b$05$abcdefghijklmnopqrstuun00VRlqIgbVRRdFN0TgGkuQGL2yv/W6",
    "$gy$j9T$F5Jx5fExrKuPp53xLKQ..1$mlTPV25LPsOM4H5G1LSkOPYLnxXOvmRf3Ls/QWNR1l1",
    "$7$CU..../....abcdefgh$Qdr.grjA0JQEwXutov.unAhLkIe/vSYhP.gQQB6r381",
])
def test_crypt_hash_or_none_accepted(password_hash):
    settings = settings_from_data(HOST, ["control_plane"], with_(admin_password_hash=password_hash))
    assert settings.admin_password_hash == password_hash


@pytest.mark.parametrize("key", ["AAAAC3NzaC1lZDI1NTE5AAAAIG2n7bC0", "ssh-ed25519", "me@laptop", 42,
                                 "ssh-ed25519  AAAAC3NzaC1lZDI1NTE5AAAAIG2n7bC0"])
def test_bad_ssh_key_refused(key):
    message = refused(with_(admin_ssh_keys=[ED25519_KEY, key]))
    assert message.startswith(f"{HOST}: admin_ssh_keys = {key!r}: not an OpenSSH public key line")
    assert "Fix: paste the contents of a *.pub file" in message


@pytest.mark.parametrize("key", [ED25519_KEY + "\n", ED25519_KEY + "\nssh-rsa AAAAB3NzaC1yc2E x@y",
                                 ED25519_KEY + "\r\n"])
def test_ssh_key_with_a_line_break_refused(key):
    assert refused(with_(admin_ssh_keys=[key])) == (
        f"{HOST}: admin_ssh_keys = {key!r}: holds a line break, so it is more than one "
        "authorized_keys line. Fix: give each key as its own list item, on one line."
    )


def test_ssh_keys_accepted():
    rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 admin@bastion"
    no_comment = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG2n7bC0n5tqE6XwD1m1v0kq3Y8b9o4Jx7cR2aQ9s8Kf"
    spaced = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 Admin on the bastion"
    keys = [ED25519_KEY, rsa, no_comment, spaced]
    settings = settings_from_data(HOST, ["control_plane"], with_(admin_ssh_keys=keys))
    assert settings.admin_ssh_keys == tuple(keys)


@pytest.mark.parametrize("user", ["Admin", "1admin", "ad min", ""])
def test_bad_user_name_refused(user):
    assert refused(with_(admin_user=user)).startswith(f"{HOST}: admin_user = {user!r}: ")


@pytest.mark.parametrize("shell", ["bash", "bin/bash", "", "/bin/bash\n"])
def test_relative_admin_shell_refused(shell):
    assert refused(with_(admin_shell=shell)) == (
        f"{HOST}: admin_shell = {shell!r}: not an absolute path. Fix: use a path such as /bin/bash."
    )


# ------------------------------------------------------------------------- selinux and swap

@pytest.mark.parametrize("mode", ["Permissive", "enforced", "off"])
def test_unknown_selinux_mode_refused(mode):
    assert refused(with_(selinux_mode=mode)) == (
        f"{HOST}: selinux_mode = {mode!r}: unknown value. "
        "Fix: use one of enforcing, permissive, disabled."
    )


def test_unknown_swap_policy_refused():
    assert refused(with_(swap="on")) == (
        f"{HOST}: swap = 'on': unknown value. Fix: use one of off, keep."
    )


# ----------------------------------------------------------------------------------- kernel

@pytest.mark.parametrize("key", ["ip_forward", "net ipv4 ip_forward", "net.ipv4.ip_forward=1",
                                 "Net.ipv4.ip_forward", "net..ipv4"])
def test_bad_sysctl_key_refused(key):
    message = refused(with_(kernel_sysctls={"net.ipv4.ip_forward": 1, key: 1}))
    assert message == (
        f"{HOST}: kernel_sysctls = {key!r}: not a sysctl key. "
        "Fix: use dotted keys such as 'net.ipv4.ip_forward'."
    )


@pytest.mark.parametrize("value", [True, None, "", "  ", 1.5, "yes", "1.5", "1\n", "1 # on", " 1"])
def test_bad_sysctl_value_refused(value):
    message = refused(with_(kernel_sysctls={"net.ipv4.ip_forward": value}))
    assert message.startswith(f"{HOST}: kernel_sysctls['net.ipv4.ip_forward'] = {value!r}: ")
    assert "Fix: use an integer or a string such as 1." in message


@pytest.mark.parametrize("value", [1, "1", 0, -1, "-1", 262144])
def test_integer_sysctl_values_accepted(value):
    settings = settings_from_data(HOST, ["control_plane"],
                                  with_(kernel_sysctls={"net.ipv4.ip_forward": value}))
    assert settings.kernel_sysctls == (("net.ipv4.ip_forward", str(value)),)


def test_empty_kernel_modules_refused():
    assert refused(with_(kernel_modules=[])) == (
        f"{HOST}: kernel_modules = []: is empty. "
        "Fix: list the modules to load, e.g. ['overlay', 'br_netfilter']."
    )


@pytest.mark.parametrize(("key", "path", "example"), [
    ("kernel_sysctl_file", "/etc/sysctl.d/k8s", "/etc/sysctl.d/k8s.conf"),
    ("kernel_sysctl_file", "/etc/sysctl.d/k8s.conf.bak", "/etc/sysctl.d/k8s.conf"),
    ("kernel_modules_file", "/etc/modules-load.d/k8s.txt", "/etc/modules-load.d/k8s.conf"),
])
def test_files_never_read_at_boot_refused(key, path, example):
    """sysctl --system and systemd-modules-load read only *.conf files."""
    assert refused(with_(**{key: path})) == (
        f"{HOST}: {key} = {path!r}: does not end in .conf, so it is never read at boot. "
        f"Fix: use a path such as {example}."
    )


def test_bad_module_and_relative_paths_refused():
    assert "not a kernel module name" in refused(with_(kernel_modules=["br netfilter"]))
    message = refused(with_(kernel_sysctl_file="k8s.conf"))
    assert message.startswith(f"{HOST}: kernel_sysctl_file = 'k8s.conf': not an absolute path")


# ------------------------------------------------------------------------- kubernetes_version

@pytest.mark.parametrize("version", ["1.35", "1.36.2"])
def test_kubernetes_version_accepted(version):
    settings = settings_from_data(HOST, ["control_plane"], with_(kubernetes_version=version))
    assert settings.kubernetes_version == version


@pytest.mark.parametrize("version", ["latest", "1", "1.x", "1.35.2.1", "v1.35", "1.35\n"])
def test_kubernetes_version_refused(version):
    assert refused(with_(kubernetes_version=version)) == (
        f"{HOST}: kubernetes_version = {version!r}: not a Kubernetes version. "
        "Fix: write the minor, '1.35', or pin the patch, '1.35.2'."
    )


# ------------------------------------------------------------------------------ unknown keys

def test_unknown_keys_listed_with_did_you_mean():
    data = {**group_data("control_plane"), "firewall_port": ["80/tcp"], "selinux": "permissive",
            "zzz_custom": 1}
    assert unknown_keys(data) == [
        "firewall_port (did you mean firewall_ports?)",
        "selinux (did you mean selinux_mode?)",
        "zzz_custom",
    ]


def test_pyinfra_and_inventory_keys_are_not_unknown():
    data = {**group_data("workers"), "ssh_user": "rocky", "_sudo": True, "cluster_address": "10.0.0.1"}
    assert unknown_keys(data) == []


# --------------------------------------------------------------------------------- platforms

OS_RELEASES = {
    "rocky-8.10": ("/etc/os-release", '''NAME="Rocky Linux"
VERSION="8.10 (Green Obsidian)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="8.10"
PLATFORM_ID="platform:el8"
PRETTY_NAME="Rocky Linux 8.10 (Green Obsidian)"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:rocky:rocky:8:GA"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-8"
ROCKY_SUPPORT_PRODUCT_VERSION="8.10"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="8.10"''', "/etc/rocky-release", "Rocky Linux release 8.10 (Green Obsidian)"),
    "alma-9.4": ("/etc/os-release", '''NAME="AlmaLinux"
VERSION="9.4 (Seafoam Ocelot)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"
CPE_NAME="cpe:/o:almalinux:almalinux:9::baseos"''', "/etc/almalinux-release",
                 "AlmaLinux release 9.4 (Seafoam Ocelot)"),
    "rhel-9.4": ("/etc/os-release", '''NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"''', "/etc/redhat-release",
                 "Red Hat Enterprise Linux release 9.4 (Plow)"),
    "debian-12": ("/etc/os-release", '''PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian''', None, None),
    "ubuntu-22.04": ("/etc/os-release", '''PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=jammy''', "/etc/lsb-release", '''DISTRIB_ID=Ubuntu
DISTRIB_RELEASE=22.04
DISTRIB_CODENAME=jammy
DISTRIB_DESCRIPTION="Ubuntu 22.04.4 LTS"'''),
    "ubuntu-24.04": ("/etc/os-release", '''PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble''', None, None),
    "centos-7": ("/etc/os-release", '''NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"''', "/etc/centos-release", "CentOS Linux release 7.9.2009 (Core)"),
    "debian-11": ("/etc/os-release", '''PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"
NAME="Debian GNU/Linux"
VERSION_ID="11"
VERSION="11 (bullseye)"
VERSION_CODENAME=bullseye
ID=debian''', None, None),
    "ubuntu-20.04": ("/etc/os-release", '''NAME="Ubuntu"
VERSION="20.04.6 LTS (Focal Fossa)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 20.04.6 LTS"
VERSION_ID="20.04"
VERSION_CODENAME=focal
UBUNTU_CODENAME=focal''', None, None),
    "fedora-40": ("/etc/os-release", '''NAME="Fedora Linux"
VERSION="40 (Server Edition)"
ID=fedora
VERSION_ID=40
PLATFORM_ID="platform:f40"
PRETTY_NAME="Fedora Linux 40 (Server Edition)"
VARIANT_ID=server''', "/etc/fedora-release", "Fedora release 40 (Forty)"),
}


def release(name: str) -> dict:
    """pyinfra's LinuxDistribution fact, parsed from the host's real *-release files."""
    files = OS_RELEASES[name]
    output = []
    for path, content in zip(files[::2], files[1::2], strict=True):
        if path:
            output += [path, *content.split("\n"), "---"]
    return LinuxDistribution().process(output)


def test_release_fixture_has_pyinfra_structure():
    fact = release("rocky-8.10")
    assert (fact["name"], fact["major"], fact["minor"]) == ("Rocky Linux", 8, 10)
    assert fact["release_meta"]["ID"] == "rocky"
    assert fact["release_meta"]["VERSION_ID"] == "8.10"


@pytest.mark.parametrize(("name", "platform"), [
    ("rocky-8.10", Platform("rhel", "rocky", "8.10")),
    ("alma-9.4", Platform("rhel", "almalinux", "9.4")),
    ("rhel-9.4", Platform("rhel", "rhel", "9.4")),
    ("debian-12", Platform("debian", "debian", "12")),
    ("ubuntu-22.04", Platform("debian", "ubuntu", "22.04")),
    ("ubuntu-24.04", Platform("debian", "ubuntu", "24.04")),
])
def test_supported_platforms(name, platform):
    assert platform_from_release(HOST, release(name)) == platform


@pytest.mark.parametrize(("name", "found"), [
    ("centos-7", "CentOS 7"),
    ("debian-11", "Debian 11"),
    ("ubuntu-20.04", "Ubuntu 20.04"),
    ("fedora-40", "Fedora 40"),
])
def test_unsupported_platforms_refused(name, found):
    with pytest.raises(DataError) as error:
        platform_from_release(HOST, release(name))
    assert str(error.value) == (
        f"{HOST}: unsupported platform {found!r}. kubeprep supports Rocky Linux, AlmaLinux or "
        "RHEL 8/9, Debian 12, Ubuntu 22.04/24.04. Fix: remove this host from the inventory or "
        "run it on a supported release."
    )


def test_a_platform_s_family_is_the_os_release_rule_s():
    """One rule for the RHEL family: each supported ID is in the family its releases are listed
    under by kubeprep.os_release's rule, and each supported platform gets that family."""
    from kubeprep.os_release import is_rhel_family
    from kubeprep.settings import SUPPORTED_RELEASES

    assert {family: {distro: is_rhel_family(distro, "") for distro in releases}
            for family, releases in SUPPORTED_RELEASES.items()} == {
        "rhel": {"rocky": True, "almalinux": True, "rhel": True},
        "debian": {"debian": False, "ubuntu": False},
    }
    for name in ("rocky-8.10", "alma-9.4", "rhel-9.4", "debian-12", "ubuntu-24.04"):
        meta = release(name)["release_meta"]
        rhel = is_rhel_family(meta["ID"], meta.get("ID_LIKE", ""))
        assert platform_from_release(HOST, release(name)).family == ("rhel" if rhel else "debian")


@pytest.mark.parametrize("meta", [
    {"ID": "centos", "ID_LIKE": "rhel fedora", "VERSION_ID": "9"},
    {"ID": "fedora", "VERSION_ID": "40"},
    {"ID": "ol", "ID_LIKE": "fedora", "VERSION_ID": "9.4"},
    {"ID": "rocky", "ID_LIKE": "rhel centos fedora", "VERSION_ID": "10.0"},
    {"ID": "scientific", "ID_LIKE": "rhel centos fedora", "VERSION_ID": "8"},
    {"ID": "ubuntu", "ID_LIKE": "debian", "VERSION_ID": "23.10"},
    {"ID": "linuxmint", "ID_LIKE": "ubuntu debian", "VERSION_ID": "22.04"},
    {"ID": "debian", "ID_LIKE": "rhel", "VERSION_ID": "12"},
])
def test_the_rhel_family_s_other_members_stay_unsupported(meta):
    """The family rule says dnf, not supported: CentOS, Fedora, Oracle Linux and a release
    kubeprep does not list are refused, as an Ubuntu derivative is, and an os-release whose
    ID_LIKE puts Debian in the RHEL family."""
    with pytest.raises(DataError, match=r"^cp1\.lab: unsupported platform "):
        platform_from_release(HOST, {"name": meta["ID"], "release_meta": meta})


def test_unknown_release_refused():
    with pytest.raises(DataError, match=r"^cp1\.lab: unsupported platform 'unknown'"):
        platform_from_release(HOST, LinuxDistribution.default())


@pytest.mark.parametrize(("key", "value", "named"), [
    ("kubernetes_repo_url", "http://10.0.0.5:8099/core:/stable:/v{minor}", "kubernetes_repo_url"),
    ("containerd_registry_mirrors", {"registry.k8s.io": ["https://a.example", "http://10.0.0.5"]},
     "containerd_registry_mirrors['registry.k8s.io']"),
    ("cni_manifest", "http://10.0.0.5/kube-flannel.yml", "cni_manifest"),
    ("containerd_rpm_gpg_key", "http://10.0.0.5/gpg", "containerd_rpm_gpg_key"),
])
def test_a_plain_http_source_is_refused_unless_accepted(key, value, named):
    message = refused(with_(**{key: value}))
    assert message.startswith(f"{HOST}: {named} = ")
    assert "plain HTTP" in message and "plain_http_accepted = True" in message
    settings = settings_from_data(HOST, ["control_plane"],
                                  with_(**{key: value, "plain_http_accepted": True}))
    assert [name for name, _ in plain_http_sources(settings)] == [named]
