"""GARP / NA pacing per interface, as keepalived 2.2.7's vrrp_arp.c send_gratuitous_arp(),
vrrp_ndisc.c and vrrp_scheduler.c vrrp_arp_thread() do it (haipvs.vrrp.garp_pacing)."""

from __future__ import annotations

import ipaddress

from haipvs.vrrp.garp_pacing import Announce, GarpPacer, Send, Tick, Wake

V1, V2, V3 = (ipaddress.ip_address(f"192.0.2.{i}") for i in (1, 2, 3))
N1 = ipaddress.ip_address("2001:db8::1")
HOLDING = frozenset({"vi1", "vi2"})


def sends(outputs):
    return [(o.instance, o.address) for o in outputs if isinstance(o, Send)]


def wake(outputs):
    (w,) = [o for o in outputs if isinstance(o, Wake)]
    return w.at


def run_until_idle(pacer, now, holding=HOLDING, limit=100):
    """Feed Ticks at each Wake; return [(time, address)] sent."""
    out = []
    at = pacer.next_wake()
    for _ in range(limit):
        if at is None:
            return out
        outputs = pacer.handle(at, Tick(holding))
        out += [(at, o.address) for o in outputs if isinstance(o, Send)]
        at = wake(outputs)
    raise AssertionError("did not go idle")


def test_no_interval_sends_every_repeat_back_to_back():
    """keepalived vrrp_send_link_update(): `rep` rounds over the VIPs; without an interval
    (global_data.c default 0) every GARP goes out at once."""
    pacer = GarpPacer()
    out = pacer.handle(10.0, Announce("vi1", "eth0", (V1, V2), repeat=3))
    assert sends(out) == [("vi1", V1), ("vi1", V2)] * 3
    assert wake(out) is None


def test_interval_paces_per_interface_and_pending_flag_collapses_repeats():
    """send_gratuitous_arp(): the first GARP goes at once and sets garp_next_time; the others
    are marked garp_gna_pending (one flag per address, so repeats add nothing) and
    vrrp_arp_thread() sends one per interval, walking the VIP list in order (the sniffer
    sees keepalived 2.2.7 send V1, then V1 V2 V3 paced)."""
    pacer = GarpPacer()
    out = pacer.handle(10.0, Announce("vi1", "eth0", (V1, V2, V3), repeat=5, garp_interval=0.5))
    assert sends(out) == [("vi1", V1)]
    assert wake(out) == 10.5
    later = run_until_idle(pacer, 10.0)
    assert later == [(10.5, V1), (11.0, V2), (11.5, V3)]


def test_a_single_repeat_sends_each_address_once_paced():
    pacer = GarpPacer()
    pacer.handle(0.0, Announce("vi1", "eth0", (V1, V2), repeat=1, garp_interval=0.2))
    assert run_until_idle(pacer, 0.0) == [(0.2, V2)]


def test_the_gap_holds_across_instances_on_one_interface():
    """The next time belongs to the interface (ifp->garp_delay), not to the instance."""
    pacer = GarpPacer()
    pacer.handle(0.0, Announce("vi1", "eth0", (V1,), repeat=1, garp_interval=1.0))
    out = pacer.handle(0.3, Announce("vi2", "eth0", (V2,), repeat=1, garp_interval=1.0))
    assert sends(out) == []
    assert wake(out) == 1.0
    assert run_until_idle(pacer, 0.3) == [(1.0, V2)]


def test_other_interfaces_are_not_held_back():
    pacer = GarpPacer()
    pacer.handle(0.0, Announce("vi1", "eth0", (V1,), repeat=1, garp_interval=1.0))
    out = pacer.handle(0.1, Announce("vi2", "eth1", (V2,), repeat=1, garp_interval=1.0))
    assert sends(out) == [("vi2", V2)]


def test_garp_and_na_have_separate_next_times_and_intervals():
    """vrrp_ndisc.c keeps gna_next_time apart from garp_next_time, with gna_interval."""
    pacer = GarpPacer()
    out = pacer.handle(0.0, Announce("vi1", "eth0", (V1, N1, V2), repeat=1,
                                     garp_interval=1.0, gna_interval=0.1))
    assert sends(out) == [("vi1", V1), ("vi1", N1)]
    assert run_until_idle(pacer, 0.0) == [(1.0, V2)]


def test_pending_dropped_once_the_instance_is_no_longer_master():
    """vrrp_arp_thread(): `if (vrrp->state != VRRP_STATE_MAST || !vrrp->vipset) continue`."""
    pacer = GarpPacer()
    pacer.handle(0.0, Announce("vi1", "eth0", (V1, V2, V3), repeat=1, garp_interval=0.5))
    out = pacer.handle(0.5, Tick(frozenset()))
    assert sends(out) == [] and wake(out) is None and pacer.pending() == 0


def test_after_the_gap_a_new_burst_starts_at_once():
    pacer = GarpPacer()
    pacer.handle(0.0, Announce("vi1", "eth0", (V1,), repeat=1, garp_interval=0.5))
    out = pacer.handle(0.6, Announce("vi1", "eth0", (V2,), repeat=1, garp_interval=0.5))
    assert sends(out) == [("vi1", V2)]
