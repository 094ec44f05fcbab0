"""kubeprep.firewalls: a firewall_zone the host lacks, and other firewalls that drop what
firewalld opens, from the facts' values."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kubeprep.firewalls import (
    FIREWALLD_ZONES,
    broken_zone_files,
    firewalld_failed_error,
    iptables_rules,
    nftables_rules,
    other_firewalls,
    other_firewalls_error,
    zone_error,
)

CASES = Path(__file__).parent / "fact_cases"
# What iptables-services installs as /etc/sysconfig/iptables on RHEL 8/9.
IPTABLES_SERVICES_DEFAULT = """# sample configuration for iptables service
# you can edit this manually or use system-config-firewall
# please do not ask us to add additional ports/services to this default configuration
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -j REJECT --reject-with icmp-host-prohibited
COMMIT
"""


def fact_case(name: str) -> dict:
    return json.loads((CASES / "other_firewalls.OtherFirewalls" / f"{name}.json").read_text())["fact"]


def test_debian_default_nftables_config_holds_no_rules():
    fact = fact_case("debian12_fresh_nftables_default_disabled")
    assert nftables_rules(fact["files"]["/etc/nftables.conf"]) == []
    assert other_firewalls(fact) == []


@pytest.mark.parametrize(("text", "rules"), [
    ("table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n"
     "  }\n}\n", ["type filter hook input priority 0; policy drop;"]),
    ("table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter;\n"
     "\t\ttcp dport 22 accept # ssh\n\t}\n}\n", ["tcp dport 22 accept"]),
    ('include "/etc/nftables.d/*.nft"\n', ['include "/etc/nftables.d/*.nft"']),
    ("#!/usr/sbin/nft -f\n# flush ruleset\n", []),
])
def test_nftables_rules_are_what_goes_beyond_the_empty_skeleton(text, rules):
    assert nftables_rules(text) == rules


def test_enabled_nftables_with_rules_is_found_disabled_without_is_not():
    fact = fact_case("debian12_fresh_nftables_default_disabled")
    fact["files"]["/etc/nftables.conf"] += "table ip own {\n chain input {\n  ip saddr 10.0.0.0/8 drop\n }\n}\n"
    assert other_firewalls(fact) == []  # disabled and inactive: it never loads them
    fact["units"]["nftables.service"]["enabled"] = True
    (found,) = other_firewalls(fact)
    assert found.name == "nftables.service"
    assert found.detail == ("nftables.service is enabled with rules of its own "
                            "(1 in /etc/nftables.conf)")
    assert found.stop == "systemctl disable --now nftables.service"


def test_iptables_services_default_rules_count():
    fact = {"units": {"iptables.service": {"active": True, "enabled": True}},
            "files": {"/etc/sysconfig/iptables": IPTABLES_SERVICES_DEFAULT}}
    assert len(iptables_rules(IPTABLES_SERVICES_DEFAULT)) == 6
    (found,) = other_firewalls(fact)
    assert found.detail == ("iptables.service is enabled and active with rules of its own "
                            "(6 in /etc/sysconfig/iptables)")


@pytest.mark.parametrize(("ufw", "service_enabled", "found"), [
    ({"installed": True, "enabled": True, "active": True}, True, "ufw is active"),
    ({"installed": True, "enabled": True, "active": False}, True,
     "ufw is set to start at boot (ENABLED=yes)"),
    ({"installed": True, "enabled": True, "active": False}, False, None),
    ({"installed": True, "enabled": False, "active": False}, True, None),  # Ubuntu's default
])
def test_ufw_counts_when_active_or_set_to_start(ufw, service_enabled, found):
    fact = {"ufw": ufw, "units": {"ufw.service": {"active": True, "enabled": service_enabled}}}
    assert [firewall.detail for firewall in other_firewalls(fact)] == ([found] if found else [])


def test_refusal_names_the_host_what_runs_and_both_fixes():
    fact = {"ufw": {"installed": True, "enabled": True, "active": True}, "units": {}}
    error = other_firewalls_error("w2", other_firewalls(fact))
    assert str(error) == (
        "w2: firewall_disable_others = False: ufw is active, which would still drop what "
        "firewalld opens. Fix: stop it yourself (ufw disable), or set "
        "firewall_disable_others = True so that the firewall task stops and disables it."
    )
    assert other_firewalls_error("w2", []) is None


INSTALLED_NO_ZONE = {"installed": True, "active": True, "permanent": None, "runtime": None,
                     "zones": ["block", "public", "trusted"]}


@pytest.mark.parametrize(("zone", "fact", "message"), [
    (None, INSTALLED_NO_ZONE, None),
    ("internal", {**INSTALLED_NO_ZONE, "permanent": {"ports": []}}, None),
    ("internal", {"installed": False}, None),
    ("kubernetes", INSTALLED_NO_ZONE,
     "cp1: firewall_zone = 'kubernetes': firewalld has no such zone (zones found: block, public, "
     "trusted). Fix: set firewall_zone to one of those, or None for the default zone, or create "
     "it first (firewall-cmd --permanent --new-zone=kubernetes)."),
    ("kubernetes", {"installed": False},
     "cp1: firewall_zone = 'kubernetes': firewalld has no such zone (firewalld is not installed "
     f"yet; the zones it ships: {', '.join(FIREWALLD_ZONES)}). Fix:"),
])
def test_zone_error(zone, fact, message):
    error = zone_error("cp1", zone, fact)
    if message is None:
        assert error is None
    else:
        assert str(error).startswith(message)


# w2's real read after its cluster zone file was emptied (a write cut short) and firewalld
# restarted: firewalld FAILED, running on its stock config.
TORN = json.loads(
    (CASES / "firewalld.FirewalldZones" / "debian12_failed_after_a_torn_cluster_zone_file.json")
    .read_text(),
)["fact"]


def test_a_torn_cluster_zone_file_is_set_aside_not_refused():
    assert TORN["kubeprep"]["failed"] and TORN["kubeprep"]["permanent_problem"]
    assert broken_zone_files(TORN) == ["kubeprep"]
    assert firewalld_failed_error("w2", TORN, "kubeprep") is None


def test_a_torn_cluster_zone_file_without_an_old_copy_is_still_ours_to_set_aside():
    torn = {**TORN, "kubeprep": {**TORN["kubeprep"], "previous": None}}
    assert firewalld_failed_error("w2", torn, "kubeprep") is None


def test_a_torn_file_of_a_zone_not_ours_without_a_fallback_is_refused():
    # The same torn file, but kubeprep does not own that zone (no cluster zone in this data).
    torn = {**TORN, "kubeprep": {**TORN["kubeprep"], "previous": None}}
    message = str(firewalld_failed_error("w2", torn, None))
    assert message.startswith(
        "w2: firewalld zone kubeprep: /etc/firewalld/zones/kubeprep.xml is broken (the zone file "
        "is empty), with no valid earlier copy (kubeprep.xml.old)",
    )
    assert "firewall-offline-cmd --check-config" in message


def test_a_torn_public_zone_file_falls_back_on_the_package_zone():
    public = {**TORN[""], "permanent": None, "permanent_problem": "the zone file is empty",
              "previous": None}
    torn = {"": public, "kubeprep": {**TORN["kubeprep"], "permanent_problem": None}}
    assert broken_zone_files(torn) == [""]
    assert firewalld_failed_error("w2", torn, "kubeprep") is None


def test_failed_for_a_file_kubeprep_does_not_change_is_refused_before_any_change():
    whole = {**TORN, "kubeprep": {**TORN["kubeprep"], "permanent_problem": None,
                                  "permanent": TORN["kubeprep"]["previous"]}}
    message = str(firewalld_failed_error("w2", whole, "kubeprep"))
    assert message.startswith("w2: firewalld runs in its FAILED state")
    assert "(public, kubeprep)" in message and "systemctl restart firewalld" in message
    not_failed = {name: {**zone, "failed": False} for name, zone in whole.items()}
    assert firewalld_failed_error("w2", not_failed, "kubeprep") is None


def test_loading_the_other_firewalls_fact_does_not_load_the_settings_layer():
    """kubeprep.facts.other_firewalls needs kubeprep.firewalls (its rule files), which raises DataError:
    that error lives apart, so the fact does not load the settings, the keys or containerd's."""
    loaded = subprocess.run(
        [sys.executable, "-c",
         "import sys, kubeprep.facts.other_firewalls; print(' '.join(sorted(sys.modules)))"],
        cwd=Path(__file__).parent.parent, capture_output=True, text=True, check=True,
    ).stdout.split()
    assert {"kubeprep.facts.other_firewalls", "kubeprep.firewalls", "kubeprep.errors"} <= set(loaded)
    assert not {"kubeprep.settings", "kubeprep.keys", "kubeprep.containerd"} & set(loaded)
