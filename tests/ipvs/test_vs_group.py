"""virtual_server_group members and their expansion (haipvs/ipvs/vs_group.py), following
keepalived 2.2.7 check_data.c alloc_vsg_entry, lib/utils.c inet_stor, check_parser.c
vsg_handler and ipvswrapper.c ipvs_group_range_cmd; plus the fake-kernel reconciler: one real
server's death leaves every member in one pass."""

import ipaddress

import pytest

from haipvs.ipvs.model import (
    AF_INET,
    AF_INET6,
    Destination,
    ForwardMethod,
    IpvsTable,
    Service,
    ServiceKey,
)
from haipvs.ipvs.ops import OpKind
from haipvs.ipvs.reconcile import Reconciler
from haipvs.ipvs.vs_group import (
    MAX_GROUP_SERVICES,
    AddressRange,
    FwmarkMember,
    GroupError,
    check_group,
    group_services,
    member_keys,
    parse_member,
)
from tests.ipvs.fake_ipvs_kernel import FakeIpvsKernel

A = ipaddress.ip_address


def test_alloc_vsg_entry_short_range_replaces_last_ipv4_octet_decimal():
    assert parse_member("192.0.2.1-10 80") == AddressRange(A("192.0.2.1"), A("192.0.2.10"), 80)


def test_inet_stor_ipv6_short_range_is_hexadecimal_last_group():
    m = parse_member("2001:db8::1-1a 443")
    assert (m.first, m.last, m.port) == (A("2001:db8::1"), A("2001:db8::1a"), 443)
    assert m.family == AF_INET6 and m.size == 26


def test_alloc_vsg_entry_full_end_address_range_may_cross_octets():
    m = parse_member("192.0.2.250-192.0.3.2 80")
    assert m.size == 9


def test_alloc_vsg_entry_cidr_member_covers_network_and_broadcast():
    m = parse_member("192.0.2.0/29 80")
    assert (m.first, m.last, m.size) == (A("192.0.2.0"), A("192.0.2.7"), 8)


def test_alloc_vsg_entry_port_zero_or_none_means_no_port():
    assert parse_member("192.0.2.1 0").port == 0
    assert parse_member("192.0.2.1").port == 0


@pytest.mark.parametrize("text,needle", [
    ("192.0.2.1/29 80", "invalid CIDR"),  # "Address mask bits not empty"
    ("192.0.2.0/33 80", "invalid CIDR"),  # "Invalid netmask"
    ("0.0.0.0/0 80", "prefix length 0"),
    ("192.0.2.10-5 80", "not greater"),  # "Address range end is not greater than..."
    ("192.0.2.10-10 80", "not greater"),
    ("192.0.2.1-256 80", "too large"),  # inet_stor: > 255
    ("192.0.2.9-192.0.2.1 80", "less than"),
    ("192.0.2.1-2001:db8::1 80", "families do not match"),
    ("192.0.2.300 80", "invalid address"),
    ("192.0.2.1 99999", "invalid port"),
    ("fwmark x", "must be in"),
    ("fwmark 1 ipx", "unknown"),
    ("fwmark 0", "fwmark 0"),
])
def test_bad_members_are_errors_naming_the_problem(text, needle):
    with pytest.raises(GroupError, match=needle):
        parse_member(text)


def test_fwmark_member_with_and_without_family():
    assert parse_member("fwmark 7") == FwmarkMember(7, None)
    assert parse_member("fwmark 7 inet6") == FwmarkMember(7, AF_INET6)


def test_vsg_handler_refuses_an_empty_group():
    with pytest.raises(GroupError, match="no members"):
        check_group([])


def test_vsg_handler_refuses_ipv4_ipv6_and_a_fwmark_without_family():
    members = [parse_member("192.0.2.1 80"), parse_member("2001:db8::1 80"),
               parse_member("fwmark 3")]
    with pytest.raises(GroupError, match="fwmark has no family"):
        check_group(members)
    # keepalived accepts both families when every fwmark names its family
    check_group([*members[:2], parse_member("fwmark 3 inet")])


def test_overlapping_members_are_refused():
    with pytest.raises(GroupError, match=r"overlap: 192\.0\.2\.4 port 80"):
        check_group([parse_member("192.0.2.0/29 80"), parse_member("192.0.2.4-20 80")])
    # the same addresses on another port are other services
    check_group([parse_member("192.0.2.0/29 80"), parse_member("192.0.2.4-20 443")])
    with pytest.raises(GroupError, match="twice"):
        check_group([parse_member("fwmark 5"), parse_member("fwmark 5")])


def test_a_range_too_large_is_refused():
    with pytest.raises(GroupError, match=f"more than {MAX_GROUP_SERVICES}"):
        check_group([parse_member("10.0.0.0/16 80")])


def test_ipvs_group_range_cmd_one_service_per_address_and_per_fwmark():
    members = [parse_member(t) for t in ("192.0.2.1-3 80", "198.51.100.0/30 80", "fwmark 9")]
    check_group(members)
    keys = member_keys(members, protocol=6)
    assert [k.address for k in keys[:7]] == ["192.0.2.1", "192.0.2.2", "192.0.2.3",
                                             "198.51.100.0", "198.51.100.1", "198.51.100.2",
                                             "198.51.100.3"]
    assert all(k.port == 80 and k.protocol == 6 for k in keys[:7])
    assert keys[7] == ServiceKey.mark(9, AF_INET)


def test_fwmark_without_family_takes_the_virtual_servers():
    assert member_keys([FwmarkMember(4)], 6, family=AF_INET6) == [ServiceKey.mark(4, AF_INET6)]


RS1 = Destination("203.0.113.10", 80, weight=1)
RS2 = Destination("203.0.113.11", 80, weight=1)


def _group_table(*dests):
    keys = member_keys([parse_member("192.0.2.1-2 80"), parse_member("fwmark 9")], 6)
    return IpvsTable(group_services(Service(keys[0], "wrr", destinations=dests), keys))


def test_every_member_gets_the_same_real_servers():
    table = _group_table(RS1, RS2)
    assert len(table.services) == 3
    assert {s.destinations for s in table.services} == {(RS1, RS2)}


async def test_one_real_server_death_leaves_every_member_in_one_reconcile():
    fake = FakeIpvsKernel()
    rec = Reconciler(transport_factory=fake.reopen)
    try:
        rec.set_desired(_group_table(RS1, RS2))
        first = await rec.reconcile()
        assert [op.kind for op in first].count(OpKind.ADD_SERVICE) == 3
        assert fake.table() == _group_table(RS1, RS2)
        rec.set_desired(_group_table(RS1))  # RS2 down: health says so once, for the group
        ops = await rec.reconcile()
        assert [op.kind for op in ops] == [OpKind.DEL_DEST] * 3
        assert fake.table() == _group_table(RS1)
        assert not await rec.reconcile()
    finally:
        rec.close()


def test_ipvs_group_cmd_dr_destination_takes_each_members_port_nat_keeps_its_own():
    keys = member_keys([parse_member("192.0.2.1 80"), parse_member("192.0.2.2 8080"),
                        parse_member("fwmark 3")], 6)
    dr = Destination("203.0.113.10", 80, fwd=ForwardMethod.DR)
    nat = Destination("203.0.113.11", 9000, fwd=ForwardMethod.NAT)
    services = group_services(Service(keys[0], "rr", destinations=(dr, nat)), keys)
    assert [[d.port for d in s.destinations] for s in services] == [[80, 9000], [8080, 9000],
                                                                   [0, 9000]]
