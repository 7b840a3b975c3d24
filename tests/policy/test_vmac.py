"""haipvs.policy.vmac: keepalived 2.2.7's use_vmac rules (keepalived/vrrp/vrrp_vmac.c,
vrrp.c create_vmac_name(), vrrp_parser.c vrrp_vmac_handler(), vrrp_if_config.c)."""

from __future__ import annotations

from haipvs.policy import vmac
from haipvs.policy.vmac import (
    Conflict,
    Create,
    Delete,
    ObservedLink,
    Reuse,
    Update,
    VmacRequest,
    VmacSpec,
)


def spec(instance="VI_1", name="vrrp.51", parent="eth0", vrid=51, family=4) -> VmacSpec:
    return VmacSpec(instance, name, parent, vmac.virtual_mac(vrid, family), family)


def link(name="vrrp.51", index=7, kind="macvlan", parent="eth0", mac=None,
         mode=vmac.MACVLAN_MODE_PRIVATE, alias="haipvs:vmac VI_1 arp_filter=0 arp_ignore=0"
         ) -> ObservedLink:
    return ObservedLink(name, index, kind, parent, mac or vmac.virtual_mac(51, 4), mode, alias)


# ---- RFC 5798 section 7.3 / vrrp_vmac.c ll_addr ----

def test_rfc5798_7_3_virtual_mac_ipv4_is_00_00_5e_00_01_vrid():
    assert vmac.mac_text(vmac.virtual_mac(51, 4)) == "00:00:5e:00:01:33"
    assert vmac.mac_text(vmac.virtual_mac(255, 4)) == "00:00:5e:00:01:ff"


def test_rfc5798_7_3_virtual_mac_ipv6_is_00_00_5e_00_02_vrid():
    assert vmac.mac_text(vmac.virtual_mac(1, 6)) == "00:00:5e:00:02:01"


# ---- vrrp.c create_vmac_name() ----

def test_create_vmac_name_default_is_vrrp_dot_vrid():
    (only,) = vmac.resolve([VmacRequest("VI_1", 51, 4, "eth0")])
    assert only.name == "vrrp.51"
    assert only.mac == vmac.virtual_mac(51, 4)


def test_create_vmac_name_same_vrid_ipv4_takes_next_number():
    specs = vmac.resolve([VmacRequest("A", 51, 4, "eth0"), VmacRequest("B", 51, 4, "eth1"),
                          VmacRequest("C", 51, 4, "eth2")])
    assert [s.name for s in specs] == ["vrrp.51", "vrrp1.51", "vrrp2.51"]


def test_create_vmac_name_ipv6_tries_vrrp6_then_1_2_skipping_6():
    taken = {"vrrp.9"}
    assert vmac.default_name("vrrp", 9, 6, taken) == "vrrp6.9"
    taken |= {"vrrp6.9"}
    assert vmac.default_name("vrrp", 9, 6, taken) == "vrrp1.9"
    taken |= {f"vrrp{n}.9" for n in range(1, 6)}
    assert vmac.default_name("vrrp", 9, 6, taken) == "vrrp7.9"


def test_create_vmac_name_ipv4_and_ipv6_of_one_vrid():
    specs = vmac.resolve([VmacRequest("V4", 9, 4, "eth0"), VmacRequest("V6", 9, 6, "eth0")])
    assert [(s.name, vmac.mac_text(s.mac)) for s in specs] == [
        ("vrrp.9", "00:00:5e:00:01:09"), ("vrrp6.9", "00:00:5e:00:02:09")]


def test_create_vmac_name_shortens_the_prefix_to_ifnamsiz():
    name = vmac.default_name("averyveryverylongprefix", 200, 4, set())
    assert len(name) == vmac.IFNAMSIZ - 1 and name.endswith(".200")


def test_vrrp_vmac_handler_configured_name_used_twice_falls_back_to_default():
    specs = vmac.resolve([VmacRequest("A", 1, 4, "eth0", "vm0"),
                          VmacRequest("B", 2, 4, "eth0", "vm0")])
    assert [s.name for s in specs] == ["vm0", "vrrp.2"]


def test_configured_names_are_taken_before_defaults_are_generated():
    specs = vmac.resolve([VmacRequest("A", 1, 4, "eth0"),
                          VmacRequest("B", 2, 4, "eth0", "vrrp.1")])
    assert [s.name for s in specs] == ["vrrp1.1", "vrrp.1"]


# ---- netlink_link_add_vmac(): what to do about existing links ----

def test_netlink_link_add_vmac_creates_a_missing_link():
    assert vmac.plan([spec()], []) == [Create(spec())]


def test_netlink_link_add_vmac_reuses_a_matching_link_after_a_crash():
    assert vmac.plan([spec()], [link()]) == [Reuse(spec(), 7)]


def test_netlink_link_add_vmac_updates_wrong_mac_or_mode_in_place():
    assert vmac.plan([spec()], [link(mac=vmac.virtual_mac(52, 4))]) == [Update(spec(), 7)]
    assert vmac.plan([spec()], [link(mode=-1)]) == [Update(spec(), 7)]


def test_netlink_link_add_vmac_recreates_a_link_on_another_parent():
    ops = vmac.plan([spec()], [link(parent="eth1")])
    assert ops == [Delete("vrrp.51", 7, "on eth1, not eth0"), Create(spec())]


def test_a_link_haipvs_does_not_own_is_never_touched():
    (op,) = vmac.plan([spec()], [link(alias=None)])
    assert isinstance(op, Conflict) and "did not create" in op.reason
    (op,) = vmac.plan([spec()], [link(kind="veth", alias=None)])
    assert isinstance(op, Conflict) and "veth" in op.reason
    # An operator's alias that merely starts like ours is not our mark.
    assert not vmac.is_owned("haipvs:vmacfoo")


def test_an_owned_link_no_instance_wants_is_deleted_first():
    ops = vmac.plan([spec(name="vrrp.52", vrid=52)], [link()])
    assert ops[0] == Delete("vrrp.51", 7, "no instance uses it")
    assert isinstance(ops[1], Create)


def test_netlink_link_del_vmac_on_stop_only_our_instances_links():
    other = link(name="vrrp.9", index=9, alias="haipvs:vmac OTHER")
    foreign = link(name="vrrp.51", index=7, alias="operator's")
    assert vmac.teardown([spec()], [link(), other]) == [Delete("vrrp.51", 7, "stopping")]
    assert vmac.teardown([spec()], [foreign]) == []


# ---- vrrp_if_config.c: parent sysctls saved, set, put back ----

def test_set_interface_parameters_first_vmac_saves_and_sets_parent_arp_settings():
    saved, to_set = vmac.parent_sysctls("eth0", {"arp_ignore": 0, "arp_filter": 0}, [])
    assert saved == {"arp_ignore": 0, "arp_filter": 0}
    assert to_set == {"arp_ignore": 1, "arp_filter": 1}


def test_set_interface_parameters_later_vmac_keeps_the_first_ones_saved_values():
    first = link(alias=vmac.owner_alias("VI_1", {"arp_ignore": 2, "arp_filter": 0}))
    saved, to_set = vmac.parent_sysctls("eth0", {"arp_ignore": 1, "arp_filter": 1}, [first])
    assert saved == {"arp_ignore": 2, "arp_filter": 0} and to_set == {}


def test_reset_interface_parameters_only_when_the_parents_last_vmac_goes():
    one = link(alias=vmac.owner_alias("A", {"arp_ignore": 0, "arp_filter": 0}))
    two = link(name="vrrp.52", index=8, alias=vmac.owner_alias("B", {"arp_ignore": 0,
                                                                     "arp_filter": 0}))
    assert vmac.parent_sysctls_to_restore(one, [one, two]) == {}
    assert vmac.parent_sysctls_to_restore(one, [one]) == {"arp_ignore": 0, "arp_filter": 0}


def test_owner_alias_round_trip():
    alias = vmac.owner_alias("VI_1", {"arp_ignore": 0, "arp_filter": 1})
    assert vmac.is_owned(alias)
    assert vmac.alias_instance(alias) == "VI_1"
    assert vmac.saved_sysctls(alias) == {"arp_ignore": 0, "arp_filter": 1}
    assert vmac.saved_sysctls("haipvs:vmac VI_1 rp_filter=1 junk") == {}


def test_vmac_sysctls_are_keepalived_s():
    assert dict(vmac.VMAC_SYSCTLS) == {"arp_ignore": 1, "accept_local": 1, "rp_filter": 0,
                                       "promote_secondaries": 1}
    assert dict(vmac.PARENT_SYSCTLS) == {"arp_ignore": 1, "arp_filter": 1}
