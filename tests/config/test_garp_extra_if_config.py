"""keepalived's `garp_extra_if <delay> [all]` as `garp.extra_if` / `garp.extra_if_all`:
the config's range (vrrp_parser.c vrrp_garp_extra_if_handler(): 0..86400 whole seconds)
and the binding's effective setting (vrrp.c vrrp_complete_instance(): off unless a VIP
lives on another interface that is a vmac haipvs makes, or on any other with `all`)."""

from __future__ import annotations

import pytest

from haipvs.config import ConfigError, load_config_text
from haipvs.vrrp.garp_extra_if import ExtraIf
from haipvs.vrrp_binding import bindings_from_config

ONE = """vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
{extra}    virtual_ipaddress: [192.0.2.10/24{more}]
"""
# VI_2's vmac vrrp.52 holds one of VI_1's VIPs: a vmac haipvs makes (keepalived is_ours)
TWO = ONE.format(extra="{extra}", more=", {{address: 192.0.2.12/24, dev: vrrp.52}}") + """\
  - name: VI_2
    interface: eth0
    virtual_router_id: 52
    use_vmac: true
    virtual_ipaddress: [192.0.2.20/24]
"""


def binding(text: str):
    return bindings_from_config(load_config_text(text, "g.yaml"))[0]


def test_garp_extra_if_defaults_off_as_keepalived():
    assert binding(ONE.format(extra="", more="")).extra_if == ExtraIf(0)


def test_garp_extra_if_range_is_keepalived_0_to_86400():
    with pytest.raises(ConfigError, match="extra_if"):
        load_config_text(ONE.format(extra="    garp: {extra_if: 86401}\n", more=""), "g.yaml")
    with pytest.raises(ConfigError, match="extra_if"):
        load_config_text(ONE.format(extra="    garp: {extra_if: 1.5}\n", more=""), "g.yaml")


def test_vrrp_complete_instance_drops_it_without_another_interface():
    assert binding(ONE.format(extra="    garp: {extra_if: 5, extra_if_all: true}\n",
                              more="")).extra_if.delay == 0


def test_vrrp_complete_instance_drops_it_for_plain_interfaces_without_all():
    more = ", {address: 198.51.100.1/24, dev: eth1}"
    assert binding(ONE.format(extra="    garp: {extra_if: 5}\n", more=more)).extra_if.delay == 0
    kept = binding(ONE.format(extra="    garp: {extra_if: 5, extra_if_all: true}\n", more=more))
    assert kept.extra_if == ExtraIf(5, True)


def test_a_vip_on_a_vmac_haipvs_makes_keeps_it_without_all():
    b = binding(TWO.format(extra="    garp: {extra_if: 5}\n"))
    assert b.extra_if == ExtraIf(5, False)
    assert b.vmacs_ours == frozenset({"vrrp.52"})
