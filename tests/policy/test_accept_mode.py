"""RFC 5798 §6.1 Accept_Mode as keepalived 2.2.7 implements it with nftables
(keepalived/vrrp/vrrp.c vrrp_handle_accept_mode(), vrrp_state_become_master(),
vrrp_restore_interface(); vrrp_nftables.c nft_update_addresses(), check_and_delete_tables())."""

from __future__ import annotations

import ipaddress

from haipvs.config.strict_mode import accept_mode, strict_mode
from haipvs.drivers.nft_accept import TableSettings, render_setup, render_update
from haipvs.policy.accept_mode import (
    AcceptMode,
    Blocked,
    Guarded,
    Held,
    Reconfigure,
    Setup,
    Start,
    Stop,
    Teardown,
    Update,
    drops,
)

ip = ipaddress.ip_address
VI_1 = Guarded("VI_1", ((ip("192.0.2.10"), "eth0"), (ip("198.51.100.5"), "eth1")))
VI_6 = Guarded("VI_6", ((ip("fe80::10"), "eth0"), (ip("2001:db8::10"), "eth0")))


def test_strict_mode_unset_takes_vrrp_strict():
    assert strict_mode(None, True) is True and strict_mode(None, False) is False
    assert strict_mode(False, True) is False and strict_mode(True, False) is True


def test_accept_default_owner_true_else_not_strict():
    assert accept_mode(None, strict=False, priority=100, version=2) is True
    assert accept_mode(None, strict=True, priority=100, version=3) is False
    assert accept_mode(None, strict=True, priority=255, version=2) is True
    assert accept_mode(False, strict=False, priority=100, version=2) is False
    # "accept mode for VRRP version 2 does not comply with RFC3768 - resetting"
    assert accept_mode(True, strict=True, priority=100, version=2) is False
    assert accept_mode(True, strict=True, priority=100, version=3) is True


def test_owner_or_accept_needs_no_drop_rules():
    # vrrp_handle_accept_mode(): returns if base_priority == VRRP_PRIO_OWNER || accept
    assert drops(accept=False, priority=100) is True
    assert drops(accept=False, priority=255) is False
    assert drops(accept=True, priority=100) is False


def test_start_replaces_any_leftover_table_and_backup_blocks_nothing():
    policy = AcceptMode()
    assert policy.handle(Start((VI_1,))) == [Setup(Blocked())]
    assert policy.handle(Held("other", True)) == []  # an accept-mode instance: nothing


def test_start_without_no_accept_instances_removes_a_leftover_table():
    assert AcceptMode().handle(Start(())) == [Teardown()]


def test_master_blocks_vips_and_excluded_vips_until_it_leaves():
    policy = AcceptMode()
    policy.handle(Start((VI_1, VI_6)))
    assert policy.handle(Held("VI_1", True)) == [
        Update(Blocked(v4=frozenset({ip("192.0.2.10"), ip("198.51.100.5")})))]
    assert policy.handle(Held("VI_1", True)) == []  # no change, no transaction
    assert policy.handle(Held("VI_6", True)) == [Update(Blocked(
        v4=frozenset({ip("192.0.2.10"), ip("198.51.100.5")}),
        v6=frozenset({ip("2001:db8::10")}),
        v6_link_local=frozenset({(ip("fe80::10"), "eth0")})))]
    policy.handle(Held("VI_6", False))
    assert policy.handle(Held("VI_1", False)) == [Update(Blocked())]


def test_reload_to_no_accept_while_master_blocks_at_once():
    policy = AcceptMode()
    policy.handle(Start(()))
    policy.handle(Held("VI_1", True))
    assert policy.handle(Reconfigure((VI_1,))) == [
        Setup(Blocked(v4=frozenset({ip("192.0.2.10"), ip("198.51.100.5")})))]
    assert policy.handle(Reconfigure(())) == [Update(Blocked())]


def test_stop_deletes_the_table_once():
    policy = AcceptMode()
    policy.handle(Start((VI_1,)))
    policy.handle(Held("VI_1", True))
    assert policy.handle(Stop()) == [Teardown()]
    assert policy.handle(Stop()) == []


def test_rendered_table_matches_keepalived_rules_in_one_transaction():
    blocked = Blocked(v4=frozenset({ip("192.0.2.10")}),
                      v6_link_local=frozenset({(ip("fe80::10"), "eth0")}))
    text = render_setup(TableSettings("haipvs", -1, counters=False), blocked)
    # crash-restart: the leftover is replaced in the same transaction, never doubled
    assert text.startswith("add table inet haipvs\ndelete table inet haipvs\ntable inet haipvs {")
    assert 'comment "haipvs-owned' in text
    for rule in ("ip daddr @vips4 drop", "ip saddr @vips4 drop", "ip6 daddr @vips6 drop",
                 "icmpv6 type @nd accept", "ip6 daddr . iif @vips6_ll drop",
                 "type filter hook input priority -1", "type filter hook output priority -1"):
        assert rule in text
    assert "elements = { 192.0.2.10 }" in text and 'fe80::10 . "eth0"' in text
    update = render_update(TableSettings(), Blocked())
    assert update.splitlines() == ["flush set inet haipvs vips4", "flush set inet haipvs vips6",
                                   "flush set inet haipvs vips6_ll"]
    assert "counter drop" in render_setup(TableSettings(counters=True), blocked)
