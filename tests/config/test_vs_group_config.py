"""`virtual_servers[].group`: keepalived's `virtual_server group NAME` with the members of
`virtual_server_group NAME` (check_data.c alloc_vsg_entry, check_parser.c vsg_handler), and the
desired table it gives (ipvswrapper.c ipvs_group_range_cmd: one service per member address)."""

from __future__ import annotations

import pytest

from haipvs.config import ConfigError, load_config_text
from haipvs.ipvs.desired import (
    RealServerHealth,
    StaticHealth,
    desired_table,
    dest_key,
    owned_keys,
    service_key,
)
from haipvs.ipvs.model import AF_INET, DestKey, ServiceKey

GROUP = """\
global: {router_id: lvs01}
virtual_servers:
  - group:
      name: web
      members: ["192.0.2.1-3 80", "198.51.100.0/31 80", "fwmark 7"]
    protocol: TCP
    quorum: 2
    sorry_server: {address: 203.0.113.99, port: 80}
    real_servers:
      - {address: 203.0.113.10, port: 80, tcp_check: {}}
      - {address: 203.0.113.11, port: 80, tcp_check: {}}
"""


def test_group_virtual_server_is_its_first_member_and_keeps_the_members():
    vs = load_config_text(GROUP, "t.yaml").virtual_servers[0]
    assert (str(vs.address), vs.port, vs.fwmark, vs.ip_family) == ("192.0.2.1", 80, None, 4)
    assert vs.group.name == "web" and len(vs.group.members) == 3


def test_ipvs_group_range_cmd_every_member_gets_the_real_servers():
    config = load_config_text(GROUP, "t.yaml")
    table = desired_table(config)
    keys = [s.key for s in table.services]
    assert [k.address for k in keys[:5]] == ["192.0.2.1", "192.0.2.2", "192.0.2.3",
                                             "198.51.100.0", "198.51.100.1"]
    assert keys[5] == ServiceKey.mark(7, AF_INET)
    assert {tuple(d.address for d in s.destinations) for s in table.services} == {
        ("203.0.113.10", "203.0.113.11")}
    assert owned_keys([config]) == set(keys)  # the ledger owns every member's service


def test_quorum_counts_the_real_servers_once_over_the_group():
    # keepalived keeps one virtual_server_t (one quorum, one real_server_t per server)
    # whatever the group's size: one server down of two with quorum 2 loses the quorum of
    # every member, and the sorry server stands in everywhere.
    config = load_config_text(GROUP, "t.yaml")
    vs = config.virtual_servers[0]
    rs = vs.real_servers[1]
    health = StaticHealth({(service_key(vs), dest_key(rs)): RealServerHealth(False)})
    table = desired_table(config, health)
    assert {s.destinations[0].key for s in table.services} == {DestKey("203.0.113.99", 80)}
    assert all(len(s.destinations) == 1 for s in table.services)
    # with quorum up, the dead server leaves every member at once
    table = desired_table(config, health, {service_key(vs): True})
    assert {tuple(d.address for d in s.destinations) for s in table.services} == {
        ("203.0.113.10",)}


@pytest.mark.parametrize("members,needle", [
    ('["192.0.2.1/29 80"]', "invalid CIDR"),
    ('["192.0.2.0/29 80", "192.0.2.5 80"]', "overlap"),
    ('["10.0.0.0/16 80"]', "more than 4096"),
    ('["192.0.2.1 80", "2001:db8::1 80", "fwmark 3"]', "fwmark has no family"),
    ("[]", "no members"),
])
def test_bad_groups_name_file_line_and_path(members, needle):
    text = GROUP.replace('["192.0.2.1-3 80", "198.51.100.0/31 80", "fwmark 7"]', members)
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "t.yaml")
    assert needle in str(caught.value)
    assert "t.yaml:" in str(caught.value) and "virtual_servers[0].group" in str(caught.value)


def test_group_and_address_are_exclusive():
    text = GROUP.replace("    protocol: TCP\n", "    protocol: TCP\n    address: 192.0.2.9\n")
    with pytest.raises(ConfigError, match="give group or address"):
        load_config_text(text, "t.yaml")


async def test_reload_changing_members_adds_new_removes_old_keeps_the_rest():
    # keepalived reload (ipwrapper.c clear_diff_vsge / the vsg_entry `reloaded` flag): a kept
    # member is not touched, a dropped one is removed, a new one added with the real servers.
    from haipvs.ipvs.ops import OpKind
    from haipvs.ipvs.reconcile import Reconciler
    from tests.ipvs.fake_ipvs_kernel import FakeIpvsKernel

    old = load_config_text(GROUP, "t.yaml")
    new = load_config_text(GROUP.replace('"192.0.2.1-3 80"', '"192.0.2.2-4 80"'), "t.yaml")
    fake = FakeIpvsKernel()
    rec = Reconciler(transport_factory=fake.reopen)
    try:
        rec.set_desired(desired_table(old), owned=owned_keys([old]))
        await rec.reconcile()
        rec.set_desired(desired_table(new), owned=owned_keys([old, new]))
        ops = await rec.reconcile()
        touched = {(op.kind, op.service.key.address) for op in ops if op.service.key.address}
        assert {(OpKind.DEL_SERVICE, "192.0.2.1"), (OpKind.ADD_SERVICE, "192.0.2.4")} <= touched
        assert all(address in ("192.0.2.1", "192.0.2.4") for _, address in touched), ops
        assert fake.table() == desired_table(new)
    finally:
        rec.close()


OVERLAP = """\
virtual_servers:
  - group: {name: A, members: ["192.0.2.10-12 80"]}
    protocol: TCP
    real_servers: [{address: 198.51.100.1, port: 80}]
  - address: 192.0.2.11
    port: 80
    protocol: TCP
    real_servers: [{address: 198.51.100.1, port: 80}]
  - group: {name: B, members: ["192.0.2.20 80", "fwmark 5"]}
    real_servers: [{address: 198.51.100.1, port: 80}]
  - group: {name: C, members: ["192.0.2.30 80", "fwmark 5"]}
    real_servers: [{address: 198.51.100.1, port: 80}]
"""


def test_two_virtual_servers_may_not_program_one_service_even_through_a_later_member():
    """IPVS holds one service per address/port or fwmark, so two virtual servers cannot both
    own one: haipvs refuses the config (instead of letting the two fight over the entry in the
    reconciler), naming the service and the virtual server that has it."""
    with pytest.raises(ConfigError) as err:
        load_config_text(OVERLAP, "t.yaml")
    text = str(err.value)
    assert ("t.yaml:5: virtual_servers[1]: TCP 192.0.2.11 port 80 is already programmed by "
            "the virtual server at line 2 (a group member)") in text
    assert ("t.yaml:11: virtual_servers[3]: fwmark 5 (IPv4) is already programmed by the "
            "virtual server at line 9 (a group member)") in text
