"""keepalived 2.2.7 strict mode (global_defs `vrrp_strict`, vrrp_instance `strict_mode`) and
accept mode defaults, as haipvs' config applies them.

Source: keepalived/vrrp/vrrp.c vrrp_complete_instance(); vrrp_parser.c
vrrp_strict_mode_handler() (`strict_mode` with no argument is on); the man page's
"vrrp_strict" list. haipvs refuses what keepalived reports as a config error in strict mode."""

from __future__ import annotations

import textwrap

import pytest

from haipvs.config import ConfigError, load_config_text
from haipvs.vrrp_binding import bindings_from_config


def load(instance_extra: str = "", top: str = "", vip: str = "192.0.2.10"):
    body = textwrap.indent(textwrap.dedent(instance_extra), "    ")
    text = (f"{top}vrrp_instances:\n  - name: VI_1\n    interface: eth0\n"
            f"    virtual_router_id: 51\n    virtual_ipaddress: ['{vip}']\n{body}")
    return load_config_text(text, "lvs.yaml")


def errors(instance_extra: str = "", top: str = "global: {vrrp_strict: true}\n",
           vip: str = "192.0.2.10") -> str:
    with pytest.raises(ConfigError) as info:
        load(instance_extra, top, vip)
    return str(info.value)


def test_strict_mode_is_off_by_default_and_strict_mode_follows_vrrp_strict():
    config = load()
    assert config.global_settings.vrrp_strict is False
    assert config.vrrp_instances[0].strict_mode is None
    # strict_mode: false on the instance overrides vrrp_strict (vrrp.c: only UNSET inherits)
    load("strict_mode: false\nunicast_src_ip: 192.0.2.1\nunicast_peers: [192.0.2.2]\n",
         "global: {vrrp_strict: true}\n")


def test_strict_refuses_unicast_peers_naming_instance_and_key():
    # vrrp.c: "Unicast peers are not supported in strict mode" (instance refused)
    text = errors("unicast_src_ip: 192.0.2.1\nunicast_peers: [192.0.2.2]\n")
    assert "lvs.yaml:" in text and "vrrp_instances[0].unicast_peers" in text
    assert "(VI_1)" in text and "strict mode" in text


def test_instance_strict_mode_alone_refuses_authentication():
    # vrrp.c: "Strict mode does not support authentication"
    text = errors("strict_mode: true\nauthentication: {password: secret}\n", top="")
    assert "vrrp_instances[0].authentication" in text


def test_strict_state_master_must_match_address_owner():
    # vrrp.c: "State MASTER must match being address owner"
    assert "vrrp_instances[0].state" in errors("state: MASTER\npriority: 100\n")
    load("state: MASTER\npriority: 255\n", "global: {vrrp_strict: true}\n")


def test_strict_refuses_preempt_delay():
    # vrrp.c: "preempt_delay is incompatible with strict mode"
    assert "vrrp_instances[0].preempt_delay" in errors("preempt_delay: 5\n")


def test_strict_refuses_accept_with_version_2_for_a_non_owner():
    # vrrp.c: "accept mode for VRRP version 2 does not comply with RFC3768"
    assert "vrrp_instances[0].accept" in errors("accept: true\n")
    load("accept: true\nversion: 3\n", "global: {vrrp_strict: true}\n")
    load("accept: true\npriority: 255\n", "global: {vrrp_strict: true}\n")


def test_strict_first_ipv6_vip_must_be_link_local():
    # vrrp.c: "the first IPv6 VIP address must be link local"
    assert "vrrp_instances[0].virtual_ipaddress[0]" in errors(vip="2001:db8::10")
    load(top="global: {vrrp_strict: true}\n", vip="fe80::10")
    load(vip="2001:db8::10")  # not strict: keepalived only logs it


def test_accept_default_is_on_unless_strict_and_not_owner():
    # vrrp.c: accept = (priority == 255) ? true : !strict_mode
    def accept(extra: str = "", top: str = "") -> bool:
        return bindings_from_config(load(extra, top))[0].accept

    assert accept() is True
    assert accept(top="global: {vrrp_strict: true}\n") is False
    assert accept("priority: 255\n", "global: {vrrp_strict: true}\n") is True
    assert accept("accept: false\n") is False
    assert accept("accept: true\nversion: 3\n", "global: {vrrp_strict: true}\n") is True


def test_strict_mode_forces_no_lower_priority_garp_repeats():
    # vrrp.c: garp_lower_prio_rep = strict_mode ? 0 : ...; "Strict mode requires no repeat garps"
    garp = bindings_from_config(load(top="global: {vrrp_strict: true}\n"))[0].params.garp
    assert (garp.lower_prio_repeat, garp.lower_prio_delay) == (0, 0)
    garp = bindings_from_config(load())[0].params.garp
    assert garp.lower_prio_repeat > 0


def test_nftables_table_settings_defaults_follow_keepalived_priority():
    # keepalived: nftables [TABLENAME], default priority -1 (vrrp_nftables.c); haipvs' own name
    settings = load().global_settings
    assert (settings.nftables, settings.nftables_priority, settings.nftables_counters) == (
        "haipvs", -1, False)
    with pytest.raises(ConfigError, match="nftables"):
        load(top="global: {nftables: 'bad name'}\n")


def test_no_accept_on_a_virtual_server_vip_is_a_warning():
    # The drop (input hook, priority -1) runs before IPVS (LOCAL_IN, 98): keepalived's
    # vrrp_strict on an LVS director makes the service unreachable; haipvs check says so.
    from haipvs.config.warnings import config_warnings

    vs = ("virtual_servers:\n  - address: 192.0.2.10\n    port: 80\n"
          "    real_servers: [{address: 198.51.100.1, port: 80}]\n")
    warned = [str(w) for w in config_warnings(load(top="global: {vrrp_strict: true}\n" + vs))]
    assert any("vrrp_instances[VI_1].accept" in w and "before IPVS" in w for w in warned)
    assert not any("before IPVS" in str(w) for w in config_warnings(load(top=vs)))
