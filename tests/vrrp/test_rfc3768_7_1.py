"""RFC 3768 §7.1 (VRRPv2 receive rules): for every MUST, an accepted and a dropped case.

Every drop is checked by reason and on the instance's counters, since the VRID octet in
these datagrams names a configured instance.
"""

from __future__ import annotations

from dataclasses import replace

from haipvs.vrrp.core import DropReason, Note, Startup, encode_advert

from .builders import (
    GROUP_V4,
    OUR_V4,
    PEER_V4,
    advert_for,
    datagram_for,
    dispatcher_with,
    ip,
    params,
    patched,
    v4_datagram,
    with_checksum,
)

AUTH = params(auth_pass=b"1111")


def _setup(p=AUTH):
    dispatcher, (machine,) = dispatcher_with(p)
    machine.handle(0.0, Startup(primary_address=OUR_V4))
    return dispatcher, machine


def _valid_message(p=AUTH, **overrides) -> bytes:
    return encode_advert(advert_for(p, **overrides), PEER_V4, GROUP_V4)


def _assert_dropped(dispatcher, machine, datagram, reason):
    verdict = dispatcher.receive(1.0, datagram)
    assert verdict.reason == reason
    assert verdict.machine is machine
    assert verdict.actions == []
    assert machine.counters.drops[reason] == 1
    assert machine.counters.adverts_received == 0


def _assert_accepted(dispatcher, machine, datagram):
    verdict = dispatcher.receive(1.0, datagram)
    assert verdict.reason is None, verdict.reason
    assert verdict.machine is machine
    assert machine.counters.adverts_received == 1
    assert not machine.counters.drops
    return verdict


def test_7_1_ttl_must_be_255():
    dispatcher, machine = _setup()
    _assert_accepted(dispatcher, machine, datagram_for(AUTH, ttl=255))


def test_7_1_ttl_other_than_255_is_dropped():
    for ttl in (254, 1, 0):
        dispatcher, machine = _setup()
        _assert_dropped(dispatcher, machine, datagram_for(AUTH, ttl=ttl), DropReason.TTL)


def test_7_1_version_must_be_2():
    dispatcher, machine = _setup()
    verdict = _assert_accepted(dispatcher, machine, v4_datagram(_valid_message()))
    assert verdict.advert.version == 2


def test_7_1_version_other_than_configured_is_dropped():
    dispatcher, machine = _setup()
    v3_message = encode_advert(
        advert_for(AUTH, version=3, auth_type=0, auth_data=b""), PEER_V4, GROUP_V4
    )
    _assert_dropped(dispatcher, machine, v4_datagram(v3_message), DropReason.VERSION)
    dispatcher, machine = _setup()
    version_1 = patched(_valid_message(), 0, 0x11)
    _assert_dropped(dispatcher, machine, v4_datagram(version_1), DropReason.VERSION)


def test_7_1_type_must_be_advertisement():
    dispatcher, machine = _setup()
    _assert_dropped(
        dispatcher, machine, v4_datagram(patched(_valid_message(), 0, 0x22)), DropReason.TYPE
    )


def test_7_1_packet_must_be_complete():
    dispatcher, machine = _setup()
    _assert_dropped(dispatcher, machine, v4_datagram(_valid_message()[:-1]), DropReason.LENGTH)


def test_7_1_count_must_match_the_addresses_present():
    dispatcher, machine = _setup()
    too_many = patched(_valid_message(), 3, 2)
    _assert_dropped(dispatcher, machine, v4_datagram(too_many), DropReason.LENGTH)
    dispatcher, machine = _setup()
    trailing = with_checksum(_valid_message() + b"\x00\x00\x00\x00")
    _assert_dropped(dispatcher, machine, v4_datagram(trailing), DropReason.LENGTH)


def test_7_1_ip_total_length_must_match_what_was_received():
    dispatcher, machine = _setup()
    datagram = datagram_for(AUTH)
    longer = replace(datagram, ip_total_length=datagram.received_length + 4)
    _assert_dropped(dispatcher, machine, longer, DropReason.LENGTH)


def test_7_1_checksum_must_verify():
    dispatcher, machine = _setup()
    message = bytearray(_valid_message())
    message[7] ^= 0x01
    _assert_dropped(dispatcher, machine, v4_datagram(bytes(message)), DropReason.CHECKSUM)


def test_7_1_vrid_must_be_configured():
    dispatcher, machine = _setup()
    message = _valid_message(vrid=52)
    verdict = dispatcher.receive(1.0, v4_datagram(message))
    assert verdict.reason == DropReason.UNKNOWN_VRID
    assert verdict.machine is None
    assert dispatcher.counters.drops[DropReason.UNKNOWN_VRID] == 1
    assert not machine.counters.drops


def test_7_1_address_owner_discards_adverts():
    owner = params(auth_pass=b"1111", base_priority=255)
    dispatcher, machine = _setup(owner)
    _assert_dropped(dispatcher, machine, datagram_for(owner), DropReason.OWNER_IGNORES)


def test_7_1_owner_check_can_be_relaxed_like_keepalived():
    owner = params(auth_pass=b"1111", base_priority=255, owner_ignore_adverts=False)
    dispatcher, machine = _setup(owner)
    _assert_accepted(dispatcher, machine, datagram_for(owner))


def test_7_1_auth_type_must_match():
    dispatcher, machine = _setup()
    no_auth = _valid_message(auth_type=0, auth_data=b"")
    _assert_dropped(dispatcher, machine, v4_datagram(no_auth), DropReason.AUTH_TYPE)
    dispatcher, machine = _setup()
    ah = patched(_valid_message(), 4, 2)  # IPsec AH is not supported
    _assert_dropped(dispatcher, machine, v4_datagram(ah), DropReason.AUTH_TYPE)


def test_7_1_no_auth_accepts_auth_type_0():
    plain = params()
    dispatcher, machine = _setup(plain)
    _assert_accepted(dispatcher, machine, datagram_for(plain))


def test_7_1_pass_authentication_must_match():
    dispatcher, machine = _setup()
    _assert_dropped(
        dispatcher,
        machine,
        v4_datagram(_valid_message(auth_data=b"1112")),
        DropReason.AUTH_MISMATCH,
    )


def test_7_1_pass_is_compared_on_all_eight_octets():
    eight = params(auth_pass=b"12345678")
    dispatcher, machine = _setup(eight)
    _assert_accepted(dispatcher, machine, datagram_for(eight))
    dispatcher, machine = _setup(eight)
    _assert_dropped(
        dispatcher,
        machine,
        v4_datagram(_valid_message(eight, auth_data=b"1234567")),
        DropReason.AUTH_MISMATCH,
    )


def test_7_1_advert_interval_must_match():
    dispatcher, machine = _setup()
    _assert_dropped(
        dispatcher,
        machine,
        v4_datagram(_valid_message(advert_int=2.0)),
        DropReason.INTERVAL_MISMATCH,
    )


def test_7_1_address_list_must_match_unless_sender_is_owner():
    dispatcher, machine = _setup()
    other = (ip("192.0.2.101"),)
    _assert_dropped(
        dispatcher, machine, v4_datagram(_valid_message(addresses=other)), DropReason.VIP_MISMATCH
    )
    dispatcher, machine = _setup()
    _assert_accepted(
        dispatcher, machine, v4_datagram(_valid_message(addresses=other, priority=255))
    )
    assert machine.counters.notes[Note.VIP_MISMATCH_ACCEPTED] == 1


def test_7_1_address_order_does_not_matter():
    two = params(vips=(ip("192.0.2.100"), ip("192.0.2.101")))
    dispatcher, machine = _setup(two)
    reversed_list = tuple(reversed(two.vips))
    _assert_accepted(dispatcher, machine, v4_datagram(_valid_message(two, addresses=reversed_list)))


def test_7_1_missing_address_is_a_mismatch():
    two = params(vips=(ip("192.0.2.100"), ip("192.0.2.101")))
    dispatcher, machine = _setup(two)
    one = (ip("192.0.2.100"),)
    _assert_dropped(
        dispatcher,
        machine,
        v4_datagram(_valid_message(two, addresses=one)),
        DropReason.VIP_MISMATCH,
    )
