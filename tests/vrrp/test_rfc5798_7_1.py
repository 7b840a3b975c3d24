"""RFC 5798 §7.1 (VRRPv3 receive rules, IPv4 and IPv6), plus keepalived's extra checks:
IP total length, unicast peers and their TTL range, zero interval, empty address list.
Every MUST has an accepted and a dropped case."""

from __future__ import annotations

import dataclasses

from haipvs.vrrp.core import (
    Datagram,
    DropReason,
    Note,
    Startup,
    encode_advert,
    parse_ipv4_datagram,
)
from haipvs.vrrp.packet import internet_checksum

from .builders import (
    GROUP_V4,
    GROUP_V6,
    OUR_V4,
    OUR_V6,
    PEER_V4,
    PEER_V6,
    advert_for,
    datagram_for,
    dispatcher_with,
    ip,
    params,
    params_v6,
    patched,
    v4_datagram,
    v6_datagram,
)

V3 = params(version=3)
V6 = params_v6()


def _setup(p):
    dispatcher, (machine,) = dispatcher_with(p)
    machine.handle(0.0, Startup(primary_address=OUR_V4 if p.family == 4 else OUR_V6))
    return dispatcher, machine


def _receive(p, datagram):
    dispatcher, machine = _setup(p)
    return dispatcher.receive(1.0, datagram), machine, dispatcher


def _dropped(p, datagram, reason):
    verdict, machine, _ = _receive(p, datagram)
    assert verdict.reason == reason
    assert verdict.machine is machine
    assert machine.counters.drops == {reason: 1}
    return machine


def _accepted(p, datagram):
    verdict, machine, _ = _receive(p, datagram)
    assert verdict.reason is None, verdict.reason
    assert machine.counters.adverts_received == 1
    assert not machine.counters.drops
    return verdict, machine


# ---- TTL / Hop Limit ----


def test_7_1_ipv4_ttl_must_be_255():
    _accepted(V3, datagram_for(V3))
    _dropped(V3, datagram_for(V3, ttl=64), DropReason.TTL)


def test_7_1_ipv6_hop_limit_must_be_255():
    _accepted(V6, datagram_for(V6))
    _dropped(V6, datagram_for(V6, ttl=254), DropReason.TTL)


def test_7_1_unknown_ttl_from_the_driver_skips_the_check():
    datagram = dataclasses.replace(datagram_for(V6), ttl=-1)
    _accepted(V6, datagram)


# ---- version, type, length ----


def test_7_1_version_must_be_3():
    verdict, _ = _accepted(V3, datagram_for(V3))
    assert verdict.advert.version == 3
    v2 = encode_advert(advert_for(V3, version=2, advert_int=1.0), PEER_V4, GROUP_V4)
    _dropped(V3, v4_datagram(v2), DropReason.VERSION)


def test_7_1_v2_over_ipv6_is_a_version_error():
    v3_message = encode_advert(advert_for(V6), PEER_V6, GROUP_V6)
    as_v2 = bytes([0x21]) + v3_message[1:]
    _dropped(V6, v6_datagram(as_v2), DropReason.VERSION)


def test_7_1_type_must_be_advertisement():
    message = encode_advert(advert_for(V3), PEER_V4, GROUP_V4)
    _dropped(V3, v4_datagram(patched(message, 0, 0x32)), DropReason.TYPE)


def test_7_1_packet_must_contain_all_addresses():
    message = encode_advert(advert_for(V6), PEER_V6, GROUP_V6)
    _accepted(V6, v6_datagram(message))
    _dropped(V6, v6_datagram(message[:-1]), DropReason.LENGTH)
    _dropped(V6, v6_datagram(message + b"\x00" * 16), DropReason.LENGTH)


def test_shorter_than_the_fixed_header_is_short_packet():
    message = encode_advert(advert_for(V3), PEER_V4, GROUP_V4)
    _dropped(V3, v4_datagram(message[:7]), DropReason.SHORT_PACKET)


def test_ethernet_padding_within_the_minimum_frame_is_tolerated():
    message = encode_advert(advert_for(V3), PEER_V4, GROUP_V4)  # 20 + 12 = 32 octets
    raw = bytes(v4_datagram_raw(message)) + b"\x00" * 14  # padded up to 46
    _accepted(V3, parse_ipv4_datagram(raw))


def test_padding_beyond_the_minimum_frame_is_a_length_error():
    message = encode_advert(advert_for(V3), PEER_V4, GROUP_V4)
    raw = bytes(v4_datagram_raw(message)) + b"\x00" * 16  # 48 octets
    _dropped(V3, parse_ipv4_datagram(raw), DropReason.LENGTH)


def v4_datagram_raw(message: bytes) -> bytes:
    from scapy.layers.inet import IP
    from scapy.packet import Raw

    return bytes(IP(src=str(PEER_V4), dst=str(GROUP_V4), ttl=255, proto=112) / Raw(message))


# ---- checksum ----


def test_7_1_checksum_ipv4_pseudo_header_form_is_accepted():
    _accepted(V3, datagram_for(V3))


def test_7_1_checksum_ipv4_message_only_form_is_accepted():
    message = bytearray(encode_advert(advert_for(V3), PEER_V4, GROUP_V4))
    message[6:8] = b"\x00\x00"
    message[6:8] = internet_checksum(bytes(message)).to_bytes(2, "big")
    _accepted(V3, v4_datagram(bytes(message)))


def test_7_1_checksum_ipv4_wrong_is_dropped():
    message = bytearray(encode_advert(advert_for(V3), PEER_V4, GROUP_V4))
    message[6] ^= 0x80
    _dropped(V3, v4_datagram(bytes(message)), DropReason.CHECKSUM)


def test_7_1_checksum_ipv4_pseudo_header_must_use_the_real_addresses():
    # Computed for another destination: neither accepted form matches.
    message = encode_advert(advert_for(V3), PEER_V4, ip("192.0.2.99"))
    _dropped(V3, v4_datagram(message), DropReason.CHECKSUM)


def test_7_1_checksum_unicast_with_group_pseudo_header_is_accepted_like_keepalived():
    message = encode_advert(advert_for(UNICAST), PEER_V4, GROUP_V4)
    _accepted(UNICAST, v4_datagram(message, dst=OUR_V4))


def test_7_1_checksum_ipv6_needs_the_pseudo_header():
    _accepted(V6, datagram_for(V6))
    message = bytearray(encode_advert(advert_for(V6), PEER_V6, GROUP_V6))
    message[6:8] = b"\x00\x00"
    message[6:8] = internet_checksum(bytes(message)).to_bytes(2, "big")
    _dropped(V6, v6_datagram(bytes(message)), DropReason.CHECKSUM)


# ---- VRID and owner ----


def test_7_1_vrid_must_be_configured():
    message = encode_advert(advert_for(V6, vrid=7), PEER_V6, GROUP_V6)
    verdict, machine, dispatcher = _receive(V6, v6_datagram(message))
    assert verdict.reason == DropReason.UNKNOWN_VRID and verdict.machine is None
    assert dispatcher.counters.drops == {DropReason.UNKNOWN_VRID: 1}
    assert not machine.counters.drops


def test_7_1_address_owner_discards_adverts():
    owner = params_v6(base_priority=255)
    _dropped(owner, datagram_for(owner), DropReason.OWNER_IGNORES)


# ---- interval and addresses ----


def test_7_1_interval_mismatch_is_logged_and_adopted():
    faster = advert_for(V3, advert_int=0.5)
    verdict, machine = _accepted(V3, datagram_for(V3, faster))
    assert verdict.notes == (Note.INTERVAL_ADOPTED,)
    assert machine.counters.notes[Note.INTERVAL_ADOPTED] == 1
    assert machine.master_advert_int == 0.5


def test_zero_max_advert_interval_is_dropped():
    message = encode_advert(advert_for(V3, advert_int=0.0), PEER_V4, GROUP_V4)
    _dropped(V3, v4_datagram(message), DropReason.ZERO_INTERVAL)


def test_zero_address_count_is_dropped():
    message = encode_advert(advert_for(V3, addresses=()), PEER_V4, GROUP_V4)
    _dropped(V3, v4_datagram(message), DropReason.NO_ADDRESSES)


def test_7_1_address_mismatch_is_counted_but_accepted():
    other = advert_for(V6, addresses=(ip("2001:db8::99"),))
    verdict, machine = _accepted(V6, datagram_for(V6, other))
    assert machine.counters.notes[Note.VIP_MISMATCH_ACCEPTED] == 1
    assert verdict.notes == (Note.VIP_MISMATCH_ACCEPTED,)


# ---- family ----


def test_family_must_match_the_instance():
    # VRID 51 is configured for IPv4 only; an IPv6 advert for VRID 51 is charged there.
    dispatcher, (machine,) = dispatcher_with(V3)
    verdict = dispatcher.receive(1.0, datagram_for(V6))
    assert verdict.reason == DropReason.FAMILY and verdict.machine is machine
    assert machine.counters.drops == {DropReason.FAMILY: 1}


def test_broken_ipv4_header_is_charged_to_the_interface():
    dispatcher, (machine,) = dispatcher_with(V3)
    assert dispatcher.receive(1.0, parse_ipv4_datagram(b"\x45\x00")).reason == "short_packet"
    six = bytes([0x65]) + v4_datagram_raw(b"x" * 12)[1:]
    assert dispatcher.receive(1.0, parse_ipv4_datagram(six)).reason == "family"
    assert dispatcher.counters.drops == {"short_packet": 1, "family": 1}
    assert not machine.counters.drops


# ---- unicast ----

UNICAST = params(version=3, unicast_peers=(PEER_V4,))
UNICAST_RANGE = params(
    version=3, unicast_peers=(PEER_V4,), unicast_min_ttl=250, unicast_max_ttl=255
)


def test_unicast_peer_is_accepted_with_any_ttl():
    _accepted(UNICAST, datagram_for(UNICAST, dst=OUR_V4, ttl=60))


def test_unicast_source_must_be_a_configured_peer():
    stranger = ip("192.0.2.77")
    _dropped(UNICAST, datagram_for(UNICAST, src=stranger, dst=OUR_V4), DropReason.UNKNOWN_PEER)


def test_unicast_ttl_range_is_enforced_for_peers():
    _accepted(UNICAST_RANGE, datagram_for(UNICAST_RANGE, dst=OUR_V4, ttl=252))
    _dropped(UNICAST_RANGE, datagram_for(UNICAST_RANGE, dst=OUR_V4, ttl=249), DropReason.TTL)


# ---- attribution (integration tests read these counters) ----


def test_early_drops_are_charged_to_the_instance_named_by_the_vrid():
    bad_ttl = datagram_for(V3, ttl=1)
    machine = _dropped(V3, bad_ttl, DropReason.TTL)
    assert machine.counters.as_dict()["drops"] == {"ttl": 1}
    message = bytearray(encode_advert(advert_for(V3), PEER_V4, GROUP_V4))
    message[7] ^= 0xFF
    _dropped(V3, v4_datagram(bytes(message)), DropReason.CHECKSUM)


def test_drops_for_unconfigured_vrids_are_charged_to_the_interface():
    dispatcher, (machine,) = dispatcher_with(V3)
    stray = encode_advert(advert_for(V3, vrid=99), PEER_V4, GROUP_V4)
    assert dispatcher.receive(1.0, v4_datagram(stray, ttl=3)).reason == DropReason.TTL
    assert dispatcher.counters.as_dict()["drops"] == {"ttl": 1}
    assert not machine.counters.drops


def test_two_instances_share_a_dispatcher_by_vrid():
    first, second = V3, dataclasses.replace(V3, name="vi_second", vrid=52)
    dispatcher, (m1, m2) = dispatcher_with(first, second)
    verdict = dispatcher.receive(1.0, datagram_for(second))
    assert verdict.machine is m2 and verdict.reason is None
    assert m2.counters.adverts_received == 1 and m1.counters.adverts_received == 0


def test_datagram_field_names_are_what_the_driver_builds():
    datagram = Datagram(
        family=6, src=PEER_V6, dst=GROUP_V6, ttl=255, payload=b"", ip_total_length=None
    )
    assert datagram.header_error is None
