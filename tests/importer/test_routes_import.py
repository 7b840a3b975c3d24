"""keepalived's one-line virtual_routes / virtual_rules / virtual_ipaddress_excluded and
static_* entries -> haipvs mappings (haipvs/importer/routes.py), with keepalived 2.2.7's
words (vrrp_iproute.c alloc_route(), parse_nexthops(); vrrp_iprule.c alloc_rule();
vrrp_ipaddress.c parse_ipaddress())."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.importer.notes import CHANGED, NOT_TRANSLATED

INSTANCE = """vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {{
        192.0.2.100/24
    }}
{body}
}}
"""


def run(tmp_path: Path, text: str):
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    result = import_keepalived(path, display="keepalived.conf")
    return load_config_text(result.yaml, "imported.yaml"), result


def test_virtual_routes_every_supported_word(tmp_path: Path):
    config, result = run(tmp_path, INSTANCE.format(body="""    virtual_routes {
        198.51.100.0/24 via 192.0.2.254 dev eth0 table 100 metric 5
        blackhole 203.0.113.0/24
        src 192.0.2.100 to 10.0.0.0/8 gw 192.0.2.1 oif eth0 scope link onlink no_track
        10.1.0.0/16 nexthop via 192.0.2.1 weight 2 nexthop via 192.0.2.2 dev eth0 onlink
        default via 192.0.2.1 table main preference 7
    }"""))
    assert not result.notes, result.notes
    routes = config.vrrp_instances[0].virtual_routes
    first = routes[0]
    assert (str(first.to), str(first.via), first.dev, first.table, first.metric) == (
        "198.51.100.0/24", "192.0.2.254", "eth0", 100, 5)
    assert routes[1].type == "blackhole" and str(routes[1].to) == "203.0.113.0/24"
    third = routes[2]
    assert (str(third.src), str(third.via), third.dev, third.scope, third.onlink,
            third.no_track) == ("192.0.2.100", "192.0.2.1", "eth0", "link", True, True)
    hops = routes[3].nexthop
    assert [(str(h.via), h.dev, h.weight, h.onlink) for h in hops] == [
        ("192.0.2.1", None, 2, False), ("192.0.2.2", "eth0", 1, True)]
    assert routes[4].to == ipaddress.ip_network("0.0.0.0/0") and routes[4].table == 254
    assert routes[4].metric == 7


def test_deprecated_or_becomes_two_nexthops(tmp_path: Path):
    config, result = run(tmp_path, INSTANCE.format(
        body="    virtual_routes {\n        10.2.0.0/16 via 192.0.2.1 or 192.0.2.2\n    }"))
    assert [n.kind for n in result.notes] == [CHANGED]
    hops = config.vrrp_instances[0].virtual_routes[0].nexthop
    assert [str(h.via) for h in hops] == ["192.0.2.1", "192.0.2.2"]


def test_route_options_haipvs_does_not_program_are_noted_on_their_line(tmp_path: Path):
    config, result = run(tmp_path, INSTANCE.format(body="""    virtual_routes {
        198.51.100.0/24 via 192.0.2.1 mtu 1400 protocol 99
        203.0.113.0/24 via 192.0.2.1 table office
    }"""))
    assert [(n.line, n.kind) for n in result.notes] == [
        (8, NOT_TRANSLATED), (8, NOT_TRANSLATED), (9, NOT_TRANSLATED)]
    assert "rt_tables" in result.notes[2].why
    # The route itself is kept (without mtu/protocol); the one with a table name is not.
    assert [str(r.to) for r in config.vrrp_instances[0].virtual_routes] == ["198.51.100.0/24"]


def test_virtual_rules(tmp_path: Path):
    config, result = run(tmp_path, INSTANCE.format(body="""    virtual_rules {
        from 192.0.2.100 table 100 priority 100
        fwmark 0x10/0xff lookup 100 priority 101 dev eth0
        to 203.0.113.0/24 type prohibit order 102
        inet6 from all to 2001:db8::/32 table 6 preference 103 oif eth0
    }"""))
    assert not result.notes, result.notes
    rules = config.vrrp_instances[0].virtual_rules
    assert (str(rules[0].from_), rules[0].table, rules[0].priority) == ("192.0.2.100/32", 100, 100)
    assert (rules[1].fwmark, rules[1].fwmask, rules[1].iif, rules[1].priority) == (
        16, 255, "eth0", 101)
    assert (rules[2].action, rules[2].table) == ("prohibit", None)
    assert (rules[3].family, rules[3].from_, str(rules[3].to), rules[3].oif) == (
        6, None, "2001:db8::/32", "eth0")


def test_rules_keepalived_ignores_or_numbers_itself_are_noted(tmp_path: Path):
    # vrrp_iprule.c alloc_rule(): "No action specified for rule - ignoring"; without a
    # preference it counts down from RULE_START_PRIORITY ("probably not what you want").
    config, result = run(tmp_path, INSTANCE.format(body="""    virtual_rules {
        from 192.0.2.100 priority 100
        from 192.0.2.101 table 100
    }"""))
    assert [(n.line, n.kind) for n in result.notes] == [(8, NOT_TRANSLATED), (9, NOT_TRANSLATED)]
    assert "ignores this rule too" in result.notes[0].why
    assert "priority" in result.notes[1].why
    assert config.vrrp_instances[0].virtual_rules == ()


def test_excluded_addresses_and_the_static_blocks(tmp_path: Path):
    config, result = run(tmp_path, """static_ipaddress {
    203.0.113.1/32 dev eth1 label eth1:s
    203.0.113.2/32
}
static_routes {
    198.51.100.128/25 via 192.0.2.254 dev eth0 table 200
}
static_rules {
    to 198.51.100.128/25 table 200 priority 1200
}
""" + INSTANCE.format(body="""    virtual_ipaddress_excluded {
        192.0.2.200/24 dev eth0
        2001:db8::5/64
    }"""))
    # keepalived puts a static address without dev on its default interface (eth0).
    assert [(n.line, n.kind) for n in result.notes] == [(3, CHANGED)]
    assert [(str(a.address), a.dev, a.label) for a in config.static_ipaddress] == [
        ("203.0.113.1/32", "eth1", "eth1:s"), ("203.0.113.2/32", "eth0", None)]
    assert [(str(r.to), r.table) for r in config.static_routes] == [("198.51.100.128/25", 200)]
    assert [r.priority for r in config.static_rules] == [1200]
    excluded = config.vrrp_instances[0].virtual_ipaddress_excluded
    assert [(str(a.address), a.dev) for a in excluded] == [
        ("192.0.2.200/24", "eth0"), ("2001:db8::5/64", None)]
    # not advertised: the VIPs stay what virtual_ipaddress says
    assert [str(v.address) for v in config.vrrp_instances[0].virtual_ipaddress] == [
        "192.0.2.100/24"]
