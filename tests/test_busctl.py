"""kubeprep.busctl: busctl's text replies, from firewalld on the lab's Debian 12 cp1."""

import pytest

from kubeprep.busctl import parse_reply, tokens

# `busctl call org.fedoraproject.FirewallD1 /org/fedoraproject/FirewallD1
#  org.fedoraproject.FirewallD1.zone getZoneSettings2 s public` on cp1 after the deploy.
CP1_PUBLIC = (
    'a{sv} 8 "short" s "Public" "description" s "For use in public areas. You do not trust the '
    'other computers on networks to not harm your computer. Only selected incoming connections '
    'are accepted." "target" s "default" "services" as 2 "ssh" "dhcpv6-client" "masquerade" b '
    'false "icmp_block_inversion" b false "forward" b true "ports" a(ss) 6 "22" "tcp" "6443" '
    '"tcp" "2379-2380" "tcp" "10250" "tcp" "10257" "tcp" "10259" "tcp"'
)


def test_firewalld_zone_settings():
    (settings,) = parse_reply(CP1_PUBLIC)
    assert settings["services"] == ["ssh", "dhcpv6-client"]
    assert settings["masquerade"] is False and settings["forward"] is True
    assert settings["ports"] == [
        ("22", "tcp"), ("6443", "tcp"), ("2379-2380", "tcp"), ("10250", "tcp"),
        ("10257", "tcp"), ("10259", "tcp"),
    ]
    assert settings["target"] == "default"


def test_nested_structs_numbers_and_several_values():
    values = parse_reply('a(ssss)i 1 "80" "tcp" "8080" "" -3 ')
    assert values == [[("80", "tcp", "8080", "")], -3]


def test_escapes_in_strings():
    assert tokens(r'as 3 "a\"b" "c\\d" "tab\there"') == ["as", "3", 'a"b', "c\\d", "tab\there"]


def test_a_truncated_reply_raises():
    with pytest.raises(IndexError):
        parse_reply('a{sv} 2 "target" s "default"')
