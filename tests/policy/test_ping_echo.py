"""PING_CHECK's request and reply rules, following keepalived 2.2.7 check/check_ping.c
(ping_it, ping6_it, recv_it, recv6_it) and core/layer4.c set_buf()."""

from __future__ import annotations

import struct

from haipvs.policy.ping_echo import (
    ECHO_PAYLOAD,
    EchoSequence,
    PingProbe,
    Sent,
    checksum,
    echo_request,
    is_our_reply,
    keepalived_fill,
)


def test_layer4_set_buf_fills_128_bytes_with_keepalived_check():
    assert len(ECHO_PAYLOAD) == 128  # check_ping.c ICMP_BUFSIZE
    assert ECHO_PAYLOAD.startswith(b"keepalived check - keepalived check - ")
    assert ECHO_PAYLOAD.endswith(b"keepalived che")  # 6 * 19 + 14
    # the same fill as UDP_CHECK's default 32-byte payload
    assert keepalived_fill(32) == b"keepalived check - keepalived ch"


def test_ping_it_echo_request_type_8_code_0_valid_checksum_and_payload():
    request = echo_request(False, 0x1234, 7)
    assert request[:2] == b"\x08\x00"
    assert checksum(request) == 0  # a correct checksum sums to zero
    assert request[4:6] == b"\x12\x34"  # the id in network order
    assert request[8:] == ECHO_PAYLOAD and len(request) == 8 + 128


def test_ping_it_sequence_is_written_in_host_byte_order_as_keepalived_does():
    # `icmp_hdr->un.echo.sequence = seq_no++` without htons
    assert echo_request(False, 0, 1)[6:8] == struct.pack("=H", 1)


def test_ping6_it_echo_request_type_128_kernel_fills_the_checksum():
    request = echo_request(True, 0, 3)
    assert request[:4] == b"\x80\x00\x00\x00"
    assert request[8:] == ECHO_PAYLOAD


def test_seq_no_is_one_process_wide_counter_wrapping_at_16_bits():
    sequence = EchoSequence(0xFFFE)
    assert [sequence.take() for _ in range(3)] == [0xFFFE, 0xFFFF, 0]


def reply(request: bytes, ipv6: bool = False) -> bytes:
    """What the peer's kernel sends back: the request with the echo reply type."""
    kind = 129 if ipv6 else 0
    body = bytes([kind, 0, 0, 0]) + request[4:]
    return body if ipv6 else body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def ip_header(source: str) -> bytes:
    return bytes([0x45, 0, 0, 164, 0, 0, 0, 0, 64, 1, 0, 0]) + bytes(
        int(x) for x in source.split(".")) + bytes([192, 0, 2, 1])


def test_recv_it_echo_reply_from_the_target_with_our_id_and_sequence_is_up():
    sent = Sent("198.51.100.2", False, 0x4242, 9, raw=False)
    assert is_our_reply(sent, reply(echo_request(False, 0x4242, 9)), "198.51.100.2")


def test_raw_ipv4_socket_delivers_the_ip_header_first():
    sent = Sent("198.51.100.2", False, 0x4242, 9, raw=True)
    data = ip_header("198.51.100.2") + reply(echo_request(False, 0x4242, 9))
    assert is_our_reply(sent, data, "198.51.100.2")


def test_recv6_it_echo_reply_type_129():
    sent = Sent("2001:db8::2", True, 77, 1, raw=True)
    assert is_our_reply(sent, reply(echo_request(True, 77, 1), ipv6=True), "2001:db8::2")
    # an ICMPv4 echo reply type (0) is not an ICMPv6 echo reply
    assert not is_our_reply(sent, reply(echo_request(False, 77, 1)), "2001:db8::2")


def test_a_reply_to_another_request_or_from_another_host_is_not_ours():
    sent = Sent("198.51.100.2", False, 0x4242, 9, raw=False)
    assert not is_our_reply(sent, reply(echo_request(False, 0x4242, 10)), "198.51.100.2")
    assert not is_our_reply(sent, reply(echo_request(False, 0x4243, 9)), "198.51.100.2")
    assert not is_our_reply(sent, reply(echo_request(False, 0x4242, 9)), "198.51.100.3")


def test_recv_it_not_an_echo_reply_is_not_up():
    sent = Sent("198.51.100.2", False, 1, 1, raw=True)
    unreachable = ip_header("198.51.100.2") + b"\x03\x01\x00\x00" + bytes(4) + ip_header(
        "192.0.2.1")
    assert not is_our_reply(sent, unreachable, "198.51.100.2")
    # our own request, seen by a raw socket pinging a local address
    assert not is_our_reply(sent, ip_header("198.51.100.2") + echo_request(False, 1, 1),
                            "198.51.100.2")


def test_recv_it_short_packet_is_not_up():
    sent = Sent("198.51.100.2", False, 1, 1, raw=False)
    assert not is_our_reply(sent, b"\x00\x00\x00", "198.51.100.2")
    assert not is_our_reply(Sent("198.51.100.2", False, 1, 1, raw=True), b"\x45" * 10,
                            "198.51.100.2")


def test_icmp_connect_thread_timeout_is_connect_timeout():
    probe = PingProbe("2001:db8::2", connect_timeout=1.5)
    assert probe.timeout == 1.5 and probe.ipv6 and probe.kind == "ping_check"
    assert PingProbe("198.51.100.2").timeout == 5.0  # keepalived's default connection_to


# ICMP errors about the request (haipvs.policy.ping_echo: an attempt fails at once, as a TCP
# reset fails TCP_CHECK; keepalived's unconnected ping socket never sees them). scapy forges
# what the router or the real server's firewall sends back.

def _error_v4(request: bytes, target: str, icmp_type: int = 3, code: int = 13) -> bytes:
    from scapy.layers.inet import ICMP, IP  # the test oracle, not the hot path

    quoted = bytes(IP(src="192.0.2.1", dst=target, proto=1)) + request[:8]
    return bytes(IP(src="192.0.2.254", dst="192.0.2.1") / ICMP(type=icmp_type, code=code)
                 / quoted)


def _error_v6(request: bytes, target: str, icmp_type: int = 1, code: int = 1) -> bytes:
    from scapy.layers.inet6 import IPv6

    quoted = bytes(IPv6(src="2001:db8::1", dst=target, nh=58, plen=len(request))) + request
    body = bytes([icmp_type, code, 0, 0, 0, 0, 0, 0]) + quoted
    return body  # a raw ICMPv6 socket delivers the message without the IPv6 header


def test_rfc792_destination_unreachable_quoting_our_request_fails_the_attempt():
    from haipvs.policy.ping_echo import error_for

    sent = Sent("198.51.100.10", False, 0x4321, 9, raw=True)
    request = echo_request(False, 0x4321, 9)
    reason = error_for(sent, _error_v4(request, "198.51.100.10"))
    assert reason == "destination unreachable (ICMP type 3 code 13)"
    assert error_for(sent, _error_v4(request, "198.51.100.10", 11, 0)).startswith(
        "time exceeded")


def test_an_icmp_error_about_another_request_or_address_is_not_ours():
    from haipvs.policy.ping_echo import error_for

    sent = Sent("198.51.100.10", False, 0x4321, 9, raw=True)
    assert error_for(sent, _error_v4(echo_request(False, 0x4321, 10), "198.51.100.10")) is None
    assert error_for(sent, _error_v4(echo_request(False, 0x1111, 9), "198.51.100.10")) is None
    assert error_for(sent, _error_v4(echo_request(False, 0x4321, 9), "198.51.100.11")) is None
    # redirects, source quench and echo replies are not errors that end an attempt
    assert error_for(sent, _error_v4(echo_request(False, 0x4321, 9), "198.51.100.10", 5)) is None
    assert error_for(sent, reply(echo_request(False, 0x4321, 9))) is None


def test_rfc4443_destination_unreachable_quoting_our_request_fails_the_attempt():
    from haipvs.policy.ping_echo import error_for

    sent = Sent("2001:db8::2", True, 0x0102, 5, raw=True)
    request = echo_request(True, 0x0102, 5)
    assert error_for(sent, _error_v6(request, "2001:db8::2")) == (
        "destination unreachable (ICMPv6 type 1 code 1)")
    assert error_for(sent, _error_v6(request, "2001:db8::3")) is None
    assert error_for(sent, _error_v6(echo_request(True, 0x0102, 6), "2001:db8::2")) is None
