"""`global.lvs_sync_daemon` as keepalived 2.2.7 reads `lvs_sync_daemon`
(core/global_parser.c lvs_syncd_handler)."""

from __future__ import annotations

import ipaddress
import textwrap

import pytest

from haipvs.config import ConfigError, load_config_text


def load(global_lines: str):
    return load_config_text("global:\n  router_id: lvs01\n"
                            + textwrap.indent(textwrap.dedent(global_lines), "  "), "t.yaml")


def test_lvs_syncd_handler_options_maxlen_port_ttl_group():
    sync = load("""\
        lvs_sync_daemon: {interface: eth1, maxlen: 1400, port: 9000, ttl: 3, group: 239.1.2.3}
        """).global_settings.lvs_sync_daemon
    assert (sync.interface, sync.vrrp_instance, sync.sync_id) == ("eth1", None, None)
    assert (sync.maxlen, sync.port, sync.ttl) == (1400, 9000, 3)
    assert sync.group == ipaddress.ip_address("239.1.2.3")


def test_lvs_syncd_handler_ranges_and_a_group_that_is_not_multicast():
    # maxlen 1 .. 65535 - 20 - 8, ttl 1 .. 255, port 1 .. 65535; "group address %s is not
    # multicast" (keepalived ignores the group, haipvs refuses it).
    with pytest.raises(ConfigError) as caught:
        load("lvs_sync_daemon: {interface: eth1, maxlen: 65508, ttl: 0, port: 0, "
             "group: 192.0.2.1}\n")
    messages = {i.path.rsplit(".", 1)[1]: i.message for i in caught.value.issues}
    assert "out of range 1..65507" in messages["maxlen"]
    assert "out of range 1..255" in messages["ttl"]
    assert "out of range 1..65535" in messages["port"]
    assert messages["group"] == "192.0.2.1 is not a multicast address"


def test_a_named_vrrp_instance_must_exist():
    with pytest.raises(ConfigError) as caught:
        load("lvs_sync_daemon: {interface: eth1, vrrp_instance: VI_9}\n")
    assert [i.message for i in caught.value.issues] == ["no vrrp instance named 'VI_9'"]
