"""The route/rule/address settings (haipvs/config/routes.py): keepalived 2.2.7's options as
mappings, and clear errors for what haipvs refuses (vrrp_iproute.c alloc_route(),
vrrp_iprule.c alloc_rule(), vrrp_ipaddress.c)."""

from __future__ import annotations

import ipaddress

import pytest

from haipvs.config import ConfigError, load_config_text
from haipvs.limits import ROUTE_TABLE_MAIN
from haipvs.policy.routes import Address, NextHop, Route, Rule, instance_entries, static_entries

BASE = """global: {}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress: [192.0.2.100/24]
"""


def load(extra_instance: str = "", top: str = ""):
    return load_config_text(BASE + extra_instance + top, "t.yaml")


def error_of(extra_instance: str = "", top: str = "") -> str:
    with pytest.raises(ConfigError) as info:
        load(extra_instance, top)
    return str(info.value)


def test_every_supported_option_reaches_the_policy():
    config = load("""    virtual_ipaddress_excluded:
      - 192.0.2.200/24
      - {address: "2001:db8::5/64", dev: eth1}
    virtual_routes:
      - {to: 198.51.100.0/24, via: 192.0.2.1, src: 192.0.2.100, dev: eth0, table: 100,
         metric: 5, scope: global, onlink: true, no_track: true}
      - {to: 203.0.113.0/24, type: blackhole}
      - {to: default, nexthop: [{via: 192.0.2.1, weight: 2}, {dev: eth1, onlink: true}]}
    virtual_rules:
      - {from: 192.0.2.100, table: 100, priority: 100}
      - {to: "2001:db8::/32", action: prohibit, priority: 101}
      - {fwmark: 16, fwmask: 255, iif: eth0, oif: eth1, table: 7, priority: 102}
""")
    entries = instance_entries(config.vrrp_instances[0])
    net = ipaddress.ip_network
    assert entries.addresses == (
        Address(ipaddress.ip_interface("192.0.2.200/24"), "eth0"),
        Address(ipaddress.ip_interface("2001:db8::5/64"), "eth1"))
    assert entries.routes[0] == Route(
        net("198.51.100.0/24"), via=ipaddress.ip_address("192.0.2.1"),
        src=ipaddress.ip_address("192.0.2.100"), dev="eth0", table=100, metric=5,
        scope="global", onlink=True, no_track=True)
    assert entries.routes[1] == Route(net("203.0.113.0/24"), type="blackhole")
    assert entries.routes[1].table == ROUTE_TABLE_MAIN  # keepalived's default: main
    assert entries.routes[2].dst == net("0.0.0.0/0")
    assert entries.routes[2].nexthops == (
        NextHop(ipaddress.ip_address("192.0.2.1"), weight=2), NextHop(dev="eth1", onlink=True))
    assert entries.rules == (
        Rule(4, 100, table=100, src=net("192.0.2.100/32")),
        Rule(6, 101, action="prohibit", dst=net("2001:db8::/32")),
        Rule(4, 102, table=7, iif="eth0", oif="eth1", fwmark=16, fwmask=255))


def test_static_blocks_at_the_top_level():
    config = load(top="""static_ipaddress: [{address: 203.0.113.1/32, dev: eth0, label: "eth0:s"}]
static_routes: [{to: 198.51.100.128/25, dev: eth0}]
static_rules: [{to: 198.51.100.128/25, table: 200, priority: 1200}]
""")
    entries = static_entries(config)
    assert entries.addresses == (Address(ipaddress.ip_interface("203.0.113.1/32"), "eth0",
                                         "eth0:s"),)
    assert entries.routes == (Route(ipaddress.ip_network("198.51.100.128/25"), dev="eth0"),)
    assert [r.priority for r in entries.rules] == [1200]


def test_nothing_configured_means_no_entries():
    config = load()
    assert not instance_entries(config.vrrp_instances[0])
    assert not static_entries(config)


@pytest.mark.parametrize(("instance", "top", "message"), [
    ("    virtual_routes: [{to: 198.51.100.1/24, via: 192.0.2.1}]\n", "",
     "is not a network prefix"),
    ("    virtual_routes: [{to: 198.51.100.0/24}]\n", "",
     "a unicast route needs via, dev or nexthop"),
    ("    virtual_routes: [{to: 198.51.100.0/24, type: blackhole, via: 192.0.2.1}]\n", "",
     "a blackhole route takes no via, dev or nexthop"),
    ("    virtual_routes: [{to: 198.51.100.0/24, via: '2001:db8::1'}]\n", "",
     "IPv6 via for an IPv4 destination"),
    ("    virtual_routes: [{to: 198.51.100.0/24, via: 192.0.2.1, nexthop: [{via: 192.0.2.2}]}]\n",
     "", "either via/dev or nexthop"),
    ("    virtual_routes: [{to: 198.51.100.0/24, via: 192.0.2.1, mtu: 1400}]\n", "", "mtu"),
    ("    virtual_routes: [{to: 198.51.100.0/24, gw: 192.0.2.1}]\n", "", "use via"),
    ("    virtual_rules: [{from: 192.0.2.1, table: 100}]\n", "", "priority"),
    ("    virtual_rules: [{from: 192.0.2.1, priority: 5}]\n", "", "a rule needs a table"),
    ("    virtual_rules: [{from: 192.0.2.1, to: '2001:db8::/32', table: 1, priority: 5}]\n", "",
     "mixes IPv4 and IPv6"),
    ("    virtual_rules: [{fwmask: 255, table: 1, priority: 5}]\n", "", "fwmask needs fwmark"),
    ("", "static_ipaddress: [{address: 203.0.113.1/32}]\n", "dev"),
    ("    virtual_ipaddress_excluded: [{address: 192.0.2.5/24, label: 'eth1:x'}]\n", "",
     "must start with the device name: 'eth0:...'"),
    ("    virtual_ipaddress_excluded: [192.0.2.5/24, 192.0.2.5/32]\n", "",
     "192.0.2.5 is already listed at line"),
    ("", "static_routes: [{to: 198.51.100.0/24, table: 0, dev: eth0}]\n", "table"),
])
def test_refused_with_a_clear_error(instance, top, message):
    error = error_of(instance, top)
    assert "t.yaml:" in error and message in error, error
