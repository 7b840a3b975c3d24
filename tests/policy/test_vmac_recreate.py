"""keepalived_netlink.c netlink_link_filter() RTM_DELLINK, vrrp_if.c recreate_vmac_thread():
which lost vmacs are made again (haipvs.policy.vmac.recreate_lost)."""

from __future__ import annotations

from haipvs.policy.vmac import VmacSpec, recreate_lost, virtual_mac

SPEC = VmacSpec("VI_1", "vrrp.51", "eth0", virtual_mac(51, 4), 4)


def test_a_vmac_haipvs_made_and_lost_is_made_again():
    assert recreate_lost(SPEC, None, 2, stopping=False)


def test_not_while_haipvs_deletes_it_itself():  # keepalived's ifp->deleting
    assert not recreate_lost(SPEC, None, 2, stopping=True)


def test_not_without_the_configured_interface():  # recreate_vmac_thread(): no ifindex
    assert not recreate_lost(SPEC, None, None, stopping=False)


def test_not_when_it_is_there_or_not_a_vmac():
    assert not recreate_lost(SPEC, 7, 2, stopping=False)
    assert not recreate_lost(None, None, 2, stopping=False)
