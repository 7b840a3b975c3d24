"""haipvs.policy.routes: which excluded/static addresses, routes and rules are held, after
keepalived 2.2.7 (vrrp.c vrrp_state_become_master() / vrrp_restore_interface(),
vrrp_daemon.c start_vrrp() / stop_vrrp())."""

import ipaddress

from haipvs.policy.routes import (
    NO_ENTRIES,
    Address,
    Apply,
    Entries,
    Held,
    Reassert,
    Route,
    RouteOwner,
    Rule,
    SetStatic,
    Start,
    Stop,
)

net = ipaddress.ip_network
EVIP = Address(ipaddress.ip_interface("192.0.2.200/24"), "eth0")
ROUTE = Route(net("198.51.100.0/24"), via=ipaddress.ip_address("192.0.2.1"), table=100)
RULE = Rule(4, 100, table=100, src=net("192.0.2.100/32"))
VI_1 = Entries((EVIP,), (ROUTE,), (RULE,))
STATIC_ROUTE = Route(net("203.0.113.0/24"), type="blackhole")
STATIC = Entries(routes=(STATIC_ROUTE,))


def test_start_clears_leftover_virtual_entries_and_adds_the_static_ones_vrrp_daemon_start_vrrp():
    owner = RouteOwner(STATIC)
    out = owner.handle(0.0, Start((VI_1,)))
    # A crashed MASTER may have left them; every instance starts as not MASTER.
    assert out == [Apply(withdraw=VI_1), Apply(install=STATIC)]


def test_start_without_anything_configured_does_nothing():
    assert RouteOwner().handle(0.0, Start(())) == []


def test_becoming_master_installs_then_leaving_withdraws_vrrp_state_become_master():
    owner = RouteOwner()
    assert owner.handle(1.0, Held("VI_1", VI_1, True)) == [Apply(install=VI_1)]
    assert owner.held("VI_1") == VI_1
    assert owner.handle(2.0, Held("VI_1", VI_1, False)) == [Apply(withdraw=VI_1)]
    assert owner.held("VI_1") == NO_ENTRIES


def test_a_repeated_hold_changes_nothing():
    owner = RouteOwner()
    owner.handle(1.0, Held("VI_1", VI_1, True))
    assert owner.handle(1.5, Held("VI_1", VI_1, True)) == []
    assert RouteOwner().handle(1.0, Held("VI_1", VI_1, False)) == []


def test_an_entry_two_owners_want_stays_until_the_last_lets_go():
    owner = RouteOwner(Entries(routes=(ROUTE,)))
    owner.handle(0.0, Start(()))
    both = Entries(routes=(ROUTE,))
    assert owner.handle(1.0, Held("VI_1", VI_1, True)) == [
        Apply(install=Entries((EVIP,), (), (RULE,)))]
    owner.handle(1.0, Held("VI_2", both, True))
    # VI_1 leaves MASTER: its route is still wanted by the static block and by VI_2.
    assert owner.handle(2.0, Held("VI_1", VI_1, False)) == [
        Apply(withdraw=Entries((EVIP,), (), (RULE,)))]
    assert owner.handle(3.0, Held("VI_2", both, False)) == []


def test_static_entries_are_not_withdrawn_as_leftovers_at_start():
    owner = RouteOwner(Entries(routes=(ROUTE,)))
    out = owner.handle(0.0, Start((VI_1,)))
    assert out[0] == Apply(withdraw=Entries((EVIP,), (), (RULE,)))


def test_a_reload_while_master_applies_only_the_difference():
    owner = RouteOwner()
    owner.handle(1.0, Held("VI_1", VI_1, True))
    changed = Entries((EVIP,), (STATIC_ROUTE,), (RULE,))
    assert owner.handle(2.0, Held("VI_1", changed, True)) == [
        Apply(withdraw=Entries(routes=(ROUTE,)), install=Entries(routes=(STATIC_ROUTE,)))]


def test_stop_withdraws_everything_held_static_included_vrrp_daemon_stop_vrrp():
    owner = RouteOwner(STATIC)
    owner.handle(0.0, Start(()))
    owner.handle(1.0, Held("VI_1", VI_1, True))
    (out,) = owner.handle(2.0, Stop())
    assert set(out.withdraw.items()) == set(VI_1.items()) | set(STATIC.items())
    assert out.install == NO_ENTRIES
    assert owner.handle(3.0, Stop()) == []


def test_a_reload_changes_only_the_static_difference_vrrp_daemon_clear_diff_static():
    owner = RouteOwner(STATIC)
    owner.handle(0.0, Start(()))
    both = Entries(routes=(STATIC_ROUTE, ROUTE))
    assert owner.handle(1.0, SetStatic(both)) == [Apply(install=Entries(routes=(ROUTE,)))]
    assert owner.handle(2.0, SetStatic(Entries(routes=(ROUTE,)))) == [
        Apply(withdraw=STATIC)]
    (out,) = owner.handle(3.0, Stop())
    assert out.withdraw == Entries(routes=(ROUTE,))


def test_a_deletion_reasserts_the_static_entries_keepalived_reinstate_static():
    owner = RouteOwner(STATIC)
    assert owner.handle(0.0, Reassert()) == []  # not started: nothing held yet
    owner.handle(0.0, Start(()))
    owner.handle(1.0, Held("VI_1", VI_1, True))
    # Only the static ones: a deleted virtual entry is not re-added (see docs/migration.md).
    assert owner.handle(2.0, Reassert()) == [Apply(install=STATIC, reassert=True)]
    owner.handle(3.0, Stop())
    assert owner.handle(4.0, Reassert()) == []


def test_a_no_track_static_entry_is_not_reinstated_keepalived_dont_track():
    untracked = Route(net("198.51.100.0/25"), dev="eth0", no_track=True)
    owner = RouteOwner(Entries(routes=(STATIC_ROUTE, untracked)))
    owner.handle(0.0, Start(()))
    assert owner.handle(1.0, Reassert()) == [Apply(install=STATIC, reassert=True)]
