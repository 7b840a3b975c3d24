"""haipvs.vrrp.garp_extra_if follows keepalived 2.2.7 vrrp.c vrrp_complete_instance(),
vrrp_state_become_master(), vrrp_state_master_tx() and vrrp_send_vmac_update()."""

from ipaddress import ip_address

from haipvs.vrrp.garp_extra_if import ExtraIf, ExtraIfTimer, effective, round_addresses

A, B, C, E = (ip_address(a) for a in ("192.0.2.1", "198.51.100.1", "198.51.100.2",
                                      "203.0.113.1"))
OFF = ExtraIf(0)


def test_vrrp_complete_instance_instance_setting_wins_over_global():
    got = effective(ExtraIf(10), ExtraIf(100, True), "eth0", ["eth0", "vrrp.5"],
                    frozenset({"vrrp.5"}))
    assert got == ExtraIf(10)


def test_vrrp_complete_instance_global_default_with_all():
    got = effective(None, ExtraIf(100, True), "eth0", ["eth0", "eth1"], frozenset())
    assert got == ExtraIf(100, True)


def test_vrrp_complete_instance_off_without_extra_interfaces():
    assert effective(ExtraIf(10, True), OFF, "eth0", ["eth0"], frozenset()).delay == 0


def test_vrrp_complete_instance_plain_interfaces_need_all():
    assert effective(ExtraIf(10), OFF, "eth0", ["eth0", "eth1"], frozenset()).delay == 0
    assert effective(ExtraIf(10, True), OFF, "eth0", ["eth0", "eth1"], frozenset()).delay == 10


def test_vrrp_send_vmac_update_one_per_interface_ours_only_by_default():
    pairs = [("vrrp.5", A), ("eth1", B), ("vrrp.5", C), ("eth0", E)]
    assert round_addresses(pairs, "eth0", frozenset({"vrrp.5"}), all_if=False) == [
        ("vrrp.5", A)]


def test_vrrp_send_vmac_update_all_skips_own_interface_unless_xmit_base():
    pairs = [("eth0", A), ("eth1", B), ("eth1", C), ("eth2", E)]
    assert round_addresses(pairs, "eth0", frozenset(), all_if=True) == [
        ("eth1", B), ("eth2", E)]
    assert round_addresses(pairs, "eth0", frozenset(), all_if=True, xmit_base=True) == [
        ("eth0", A), ("eth1", B), ("eth2", E)]


def test_vrrp_state_master_tx_round_at_first_advert_after_delay():
    timer = ExtraIfTimer(10)
    timer.became_master(100.0)
    assert not timer.advert_sent(101.0)
    assert not timer.advert_sent(110.0)  # strictly after (timercmp >)
    assert timer.advert_sent(110.5)
    assert not timer.advert_sent(111.5)
    assert timer.advert_sent(121.0)


def test_timer_off_and_after_leaving_master():
    off = ExtraIfTimer(0)
    off.became_master(0.0)
    assert not off.advert_sent(1e6)
    timer = ExtraIfTimer(1)
    timer.became_master(0.0)
    timer.left_master()
    assert not timer.advert_sent(5.0)
