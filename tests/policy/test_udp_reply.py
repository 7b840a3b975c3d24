"""UDP_CHECK hex strings and reply matching, after keepalived 2.2.7 lib/parser.c
read_hex_str() and check/check_udp.c check_udp_reply()."""

from __future__ import annotations

import pytest

from haipvs.policy.udp_reply import (
    HexError,
    HexPattern,
    icmp_down_reason,
    read_hex_str,
    reply_ok,
)


def test_read_hex_str_pairs_with_or_without_blanks():
    assert read_hex_str("0a0bff") == HexPattern(b"\x0a\x0b\xff")
    assert read_hex_str("0a 0b\tff") == HexPattern(b"\x0a\x0b\xff")


def test_read_hex_str_a_lone_digit_is_one_octet():
    assert read_hex_str("1 2 abc") == HexPattern(b"\x01\x02\xab\x0c")


def test_read_hex_str_wildcard_nibbles_only_in_reply_patterns():
    assert read_hex_str("0x Xf", wildcard=True) == HexPattern(b"\x00\x0f", b"\x0f\xf0")
    with pytest.raises(HexError):
        read_hex_str("0x")  # payload: x is invalid (hex_val without allow_wildcard)


@pytest.mark.parametrize("text", ["", "   ", "zz", "0g"])
def test_read_hex_str_invalid_or_empty_is_an_error(text):
    with pytest.raises(HexError):
        read_hex_str(text, wildcard=True)


def test_check_udp_reply_prefix_match_of_the_shorter():
    pattern = read_hex_str("de ad be ef")
    assert reply_ok(b"\xde\xad\xbe\xef", pattern)
    assert reply_ok(b"\xde\xad\xbe\xef trailing", pattern)
    assert reply_ok(b"\xde\xad", pattern)  # only min(len) octets are compared
    assert not reply_ok(b"\xde\xad\xbe\xee", pattern)


def test_check_udp_reply_wildcard_nibbles_match_anything():
    pattern = read_hex_str("4x xx 0X", wildcard=True)
    assert reply_ok(b"\x41\x99\x0f", pattern)
    assert not reply_ok(b"\x51\x99\x0f", pattern)
    assert not reply_ok(b"\x41\x99\x1f", pattern)


def test_check_udp_reply_length_bounds_default_0_to_255():
    pattern = read_hex_str("00", wildcard=True)
    assert reply_ok(b"\x00" * 255, pattern)
    # udp_check_thread receives into max_reply_len + 1 bytes: longer replies fail
    assert not reply_ok(b"\x00" * 256, pattern)
    assert not reply_ok(b"\x00" * 3, pattern, min_length=4)
    assert reply_ok(b"", pattern)  # an empty reply has nothing to compare


def test_udp_socket_error_any_icmp_destination_unreachable_is_down():
    assert icmp_down_reason(2, 3, 3) == "port unreachable"  # ICMP port unreachable
    assert icmp_down_reason(3, 1, 4) == "port unreachable"  # ICMPv6 port unreachable
    assert icmp_down_reason(2, 3, 1) == "ICMP destination unreachable (code 1)"  # host
    assert icmp_down_reason(3, 1, 3) == "ICMP destination unreachable (code 3)"  # address


def test_udp_socket_error_other_queued_errors_leave_the_attempt_a_success():
    assert icmp_down_reason(2, 11, 0) is None  # ICMP time exceeded
    assert icmp_down_reason(3, 3, 0) is None  # ICMPv6 time exceeded
    assert icmp_down_reason(1, 0, 0) is None  # SO_EE_ORIGIN_LOCAL (e.g. EMSGSIZE)
