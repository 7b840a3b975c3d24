"""haipvs.vrrp.garp_ifaces: each address's GARP/NA goes out on its own interface
(keepalived vrrp.c vrrp_send_link_update() / vrrp_send_update(): `ipaddress->ifp`)."""

from ipaddress import ip_address

from haipvs.vrrp.garp_ifaces import by_interface, extra_interfaces
from haipvs.vrrp.garp_pacing import Announce, GarpPacer, Send

V1, V2, V3 = ip_address("192.0.2.1"), ip_address("198.51.100.1"), ip_address("192.0.2.2")
E1 = ip_address("203.0.113.9")


def test_vrrp_send_update_uses_each_vips_own_ifp():
    pairs = [("eth0", V1), ("eth1", V2), ("eth0", V3), ("eth1", E1)]
    assert by_interface(pairs) == [("eth0", (V1, V3)), ("eth1", (V2, E1))]


def test_vrrp_send_link_update_vips_then_excluded_in_list_order():
    # the VIP list comes first, then the excluded list: eth2's order follows it
    pairs = [("eth2", V2), ("eth0", V1), ("eth2", E1)]
    assert by_interface(pairs) == [("eth2", (V2, E1)), ("eth0", (V1,))]


def test_address_listed_twice_on_one_interface_announced_once_per_round():
    assert by_interface([("eth0", V1), ("eth0", V1)]) == [("eth0", (V1,))]


def test_no_addresses_no_announcement():
    assert by_interface([]) == []


def test_extra_interfaces_exclude_the_instances_own_ifp():
    # use_vmac: VIPs without dev are on the vmac (the instance's ifp); a dev on the parent
    # is an extra interface with the parent's MAC (vrrp.c vrrp_complete_instance())
    assert extra_interfaces("vrrp.51", ["vrrp.51", "eth0", "eth1", "eth0"]) == ("eth0", "eth1")
    assert extra_interfaces("eth0", ["eth0"]) == ()


def test_pacing_is_per_vip_interface_as_ifp_garp_next_time():
    # vrrp_arp.c send_gratuitous_arp(): the gap is kept per ifp, so a busy eth0 does not
    # delay eth1's GARP
    pacer = GarpPacer()
    lines = by_interface([("eth0", V1), ("eth0", V3), ("eth1", V2)])
    sends = []
    for ifname, addrs in lines:
        sends += [o for o in pacer.handle(0.0, Announce("vi", ifname, addrs, 1, 1.0, 0.0))
                  if isinstance(o, Send)]
    assert sends == [Send("vi", "eth0", V1), Send("vi", "eth1", V2)]
    assert pacer.pending() == 1  # V3 waits for eth0's next time only
