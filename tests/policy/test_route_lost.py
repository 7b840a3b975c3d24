"""keepalived_netlink.c netlink_route_filter() / netlink_rule_filter(): which instances step
down (set_vrrp_backup()) when a virtual route or rule they hold disappears; `no_track`
ones are not watched (route->dont_track, rule->dont_track)."""

from __future__ import annotations

import ipaddress

from haipvs.policy.routes import Entries, Held, Route, RouteOwner, Rule, lost, tracked

R1 = Route(ipaddress.ip_network("198.51.100.0/25"), table=100)
R2 = Route(ipaddress.ip_network("198.51.100.128/25"), table=100, no_track=True)
RULE = Rule(4, 1100, table=100)


def test_no_track_entries_are_not_watched():
    assert tracked(Entries(routes=(R1, R2), rules=(RULE,))) == (R1, RULE)


def test_an_instance_holding_a_deleted_tracked_route_steps_down():
    held = {"VI_1": (R1, RULE), "VI_2": (RULE,)}
    assert lost(held, frozenset({R1})) == [
        ("VI_1", "virtual route deleted: 198.51.100.0/25 table 100")]
    assert [name for name, _ in lost(held, frozenset({RULE}))] == ["VI_1", "VI_2"]
    assert lost(held, frozenset()) == []


def test_only_instances_holding_their_entries_are_watched_not_the_static_block():
    owner = RouteOwner(static=Entries(routes=(R1,)))
    owner.handle(0.0, Held("VI_1", Entries(routes=(R1, R2)), held=True))
    owner.handle(0.0, Held("VI_2", Entries(routes=(R2,)), held=True))
    assert owner.instances_tracked() == {"VI_1": (R1,)}
    owner.handle(1.0, Held("VI_1", Entries(routes=(R1, R2)), held=False))  # left MASTER
    assert owner.instances_tracked() == {}
