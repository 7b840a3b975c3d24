"""garp.interval / gna_interval, unicast_ttl, mcast_dst_ip, dont_track_primary and
track_interface `reverse` in the config and the runtime binding (keepalived vrrp_parser.c
vrrp_ttl_handler(), vrrp_mcast_dstip_handler(), vrrp_end_handler(); core/global_parser.c
vrrp_garp_interval_handler(); vrrp_track.c alloc_track_if())."""

from __future__ import annotations

import ipaddress

import pytest

from haipvs.config import ConfigError, load_config_text
from haipvs.vrrp_binding import bindings_from_config

BASE = """vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
{extra}    virtual_ipaddress: [{vip}]
"""
UNICAST = "    unicast_src_ip: 192.0.2.1\n    unicast_peers: [192.0.2.2]\n"


def load(extra: str = "", vip: str = "192.0.2.10/24"):
    return load_config_text(BASE.format(extra=extra, vip=vip), "k.yaml")


def error_of(extra: str, vip: str = "192.0.2.10/24") -> str:
    with pytest.raises(ConfigError) as info:
        load(extra, vip)
    return str(info.value)


def test_defaults_are_keepalived_s():
    (binding,) = bindings_from_config(load())
    assert binding.garp_interval == binding.gna_interval == 0.0  # global_data.c: back to back
    assert binding.unicast_ttl is None and binding.mcast_group is None
    assert not binding.dont_track_primary and binding.track_reverse == frozenset()


def test_knobs_reach_the_binding():
    extra = ("    garp: {interval: 0.05, gna_interval: 0.2}\n    dont_track_primary: true\n"
             "    track_interface: [eth1, {name: eth2, weight: 30, reverse: true}]\n"
             + UNICAST + "    unicast_ttl: 10\n")
    (binding,) = bindings_from_config(load(extra))
    assert (binding.garp_interval, binding.gna_interval) == (0.05, 0.2)
    assert binding.dont_track_primary and binding.unicast_ttl == 10
    assert binding.track_reverse == frozenset({"eth2"})
    assert binding.track_interfaces == (("eth1", 0), ("eth2", 30))


def test_mcast_dst_ip_reaches_the_binding():
    (binding,) = bindings_from_config(load("    mcast_dst_ip: 224.0.0.19\n"))
    assert binding.mcast_group == ipaddress.ip_address("224.0.0.19")


def test_unicast_ttl_needs_unicast_peers():
    """vrrp_end_handler(): "Cannot use unicast_ttl without unicast peers"."""
    assert "unicast_ttl applies only with unicast_peers" in error_of("    unicast_ttl: 10\n")


def test_unicast_ttl_range_is_0_to_255():
    assert "unicast_ttl" in error_of(UNICAST + "    unicast_ttl: 256\n")


def test_mcast_dst_ip_must_be_multicast():
    """vrrp_mcast_dstip_handler(): "mcast_dst_ip %s not multicast. Skipping"."""
    assert "not a multicast address" in error_of("    mcast_dst_ip: 192.0.2.9\n")


def test_mcast_dst_ip_family_follows_the_vips():
    assert "IPv6 group for an IPv4 instance" in error_of("    mcast_dst_ip: ff02::13\n")


def test_mcast_dst_ip_not_with_unicast_peers():
    assert "only without unicast_peers" in error_of(UNICAST + "    mcast_dst_ip: 224.0.0.19\n")
