"""Codec: scapy is the oracle for bytes and checksums (RFC 3768 §5, RFC 5798 §5)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.vrrp import VRRP, VRRPv3

from haipvs.vrrp.core import Advert, PacketError, decode_advert, encode_advert
from haipvs.vrrp.packet import internet_checksum, v2_checksum_ok, v3_checksum_ok

from .builders import GROUP_V4, GROUP_V6, OUR_V4, OUR_V6, VIP_V4

FIXED_VECTOR = bytes.fromhex("2133640101015503c00002643131313100000000")

test_net_v4 = st.sampled_from(
    [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
).flatmap(lambda net: st.integers(0, 255).map(lambda i: net[i]))
test_net_v6 = st.integers(0, 2**96 - 1).map(
    lambda i: ipaddress.IPv6Address(int(ipaddress.IPv6Address("2001:db8::")) + i)
)
link_local_v6 = st.integers(1, 2**64 - 1).map(
    lambda i: ipaddress.IPv6Address(int(ipaddress.IPv6Address("fe80::")) + i)
)
vrids = st.integers(0, 255)
priorities = st.integers(0, 255)


def _auth_words(data: bytes) -> tuple[int, int]:
    padded = data.ljust(8, b"\x00")
    return int.from_bytes(padded[:4], "big"), int.from_bytes(padded[4:], "big")


def test_fixed_vector_decodes_as_expected():
    advert = decode_advert(FIXED_VECTOR, 4)
    assert advert == Advert(
        version=2,
        vrid=51,
        priority=100,
        advert_int=1.0,
        addresses=(VIP_V4,),
        auth_type=1,
        auth_data=b"1111\x00\x00\x00\x00",
        checksum=0x5503,
    )


def test_fixed_vector_reencodes_identically():
    advert = decode_advert(FIXED_VECTOR, 4)
    assert encode_advert(advert, OUR_V4, GROUP_V4) == FIXED_VECTOR
    assert v2_checksum_ok(FIXED_VECTOR)


@settings(max_examples=300)
@given(
    vrid=vrids,
    priority=priorities,
    addresses=st.lists(test_net_v4, max_size=20),
    auth_type=st.sampled_from([0, 1]),
    auth_data=st.binary(max_size=8),
    seconds=st.integers(0, 255),
)
def test_v2_ipv4_encoding_matches_scapy(vrid, priority, addresses, auth_type, auth_data, seconds):
    advert = Advert(2, vrid, priority, float(seconds), tuple(addresses), auth_type, auth_data)
    auth1, auth2 = _auth_words(auth_data)
    oracle = VRRP(
        vrid=vrid,
        priority=priority,
        authtype=auth_type,
        adv=seconds,
        addrlist=[str(a) for a in addresses],
        auth1=auth1,
        auth2=auth2,
    )
    ours = encode_advert(advert, OUR_V4, GROUP_V4)
    assert ours == bytes(oracle)
    decoded = decode_advert(bytes(oracle), 4)
    assert decoded.addresses == tuple(addresses)
    assert decoded.auth_data == auth_data.ljust(8, b"\x00")
    assert (decoded.vrid, decoded.priority, decoded.advert_int) == (vrid, priority, seconds)


@settings(max_examples=300)
@given(
    vrid=vrids,
    priority=priorities,
    addresses=st.lists(test_net_v4, max_size=20),
    centis=st.integers(0, 0x0FFF),
    src=test_net_v4,
    dst=st.one_of(st.just(GROUP_V4), test_net_v4),
)
def test_v3_ipv4_encoding_matches_scapy_pseudo_header(vrid, priority, addresses, centis, src, dst):
    advert = Advert(3, vrid, priority, centis / 100, tuple(addresses))
    oracle = IP(src=str(src), dst=str(dst)) / VRRPv3(
        vrid=vrid, priority=priority, adv=centis, addrlist=[str(a) for a in addresses]
    )
    wire = bytes(oracle)[20:]
    assert encode_advert(advert, src, dst) == wire
    decoded = decode_advert(wire, 4)
    assert (decoded.vrid, decoded.priority, decoded.addresses) == (vrid, priority, tuple(addresses))
    assert round(decoded.advert_int * 100) == centis
    assert v3_checksum_ok(wire, src, dst)


@settings(max_examples=300)
@given(
    vrid=vrids,
    priority=priorities,
    addresses=st.lists(test_net_v6, max_size=12),
    centis=st.integers(0, 0x0FFF),
    src=link_local_v6,
    dst=st.one_of(st.just(GROUP_V6), link_local_v6),
)
def test_v3_ipv6_encoding_matches_scapy(vrid, priority, addresses, centis, src, dst):
    advert = Advert(3, vrid, priority, centis / 100, tuple(addresses))
    oracle = IPv6(src=str(src), dst=str(dst)) / VRRPv3(
        vrid=vrid, priority=priority, adv=centis, addrlist=[str(a) for a in addresses]
    )
    wire = bytes(oracle)[40:]
    assert encode_advert(advert, src, dst) == wire
    decoded = decode_advert(wire, 6)
    assert decoded.addresses == tuple(addresses)
    assert v3_checksum_ok(wire, src, dst)


@given(data=st.binary(max_size=64))
def test_internet_checksum_matches_scapy(data):
    from scapy.utils import checksum

    assert internet_checksum(data) == checksum(data)


def test_v3_ipv4_message_only_checksum_is_accepted():
    """RFC 9568 §5.2.8 notes implementations that leave the pseudo-header out."""
    advert = Advert(3, 9, 100, 1.0, (VIP_V4,))
    message = bytearray(encode_advert(advert, OUR_V4, GROUP_V4))
    message[6:8] = b"\x00\x00"
    message[6:8] = internet_checksum(bytes(message)).to_bytes(2, "big")
    assert v3_checksum_ok(bytes(message), OUR_V4, GROUP_V4)


def test_v3_ipv6_message_only_checksum_is_rejected():
    advert = Advert(3, 9, 100, 1.0, (ipaddress.ip_address("2001:db8::1"),))
    message = bytearray(encode_advert(advert, OUR_V6, GROUP_V6))
    message[6:8] = b"\x00\x00"
    message[6:8] = internet_checksum(bytes(message)).to_bytes(2, "big")
    assert not v3_checksum_ok(bytes(message), OUR_V6, GROUP_V6)


def test_v3_interval_is_twelve_bit_centiseconds():
    wire = encode_advert(Advert(3, 1, 100, 40.95, (VIP_V4,)), OUR_V4, GROUP_V4)
    assert wire[4] & 0xF0 == 0 and ((wire[4] & 0x0F) << 8 | wire[5]) == 4095
    with pytest.raises(ValueError, match=r"40\.95"):
        encode_advert(Advert(3, 1, 100, 41.0, (VIP_V4,)), OUR_V4, GROUP_V4)


def test_v2_interval_must_be_whole_seconds():
    with pytest.raises(ValueError, match="whole seconds"):
        encode_advert(Advert(2, 1, 100, 0.5, (VIP_V4,)), OUR_V4, GROUP_V4)


def test_v3_reserved_bits_are_ignored_on_decode():
    wire = bytearray(encode_advert(Advert(3, 1, 100, 1.0, (VIP_V4,)), OUR_V4, GROUP_V4))
    wire[4] |= 0xF0
    assert decode_advert(bytes(wire), 4).advert_int == 1.0


@pytest.mark.parametrize(
    ("message", "family", "reason"),
    [
        (FIXED_VECTOR[:7], 4, "short_packet"),
        (bytes([0x11]) + FIXED_VECTOR[1:], 4, "version"),
        (FIXED_VECTOR, 6, "version"),  # v2 exists only for IPv4
        (bytes([0x22]) + FIXED_VECTOR[1:], 4, "type"),
        (FIXED_VECTOR[:-1], 4, "length"),
    ],
)
def test_decode_rejects_malformed_messages(message, family, reason):
    with pytest.raises(PacketError) as excinfo:
        decode_advert(message, family)
    assert excinfo.value.reason == reason
