"""UDP_CHECK require_reply HEX, min/max_reply_length and the default payload, against a real
UDP echo server on 127.0.0.1 (keepalived 2.2.7 check_udp.c udp_check_thread and
check_udp_reply, layer4.c udp_bind_connect / set_buf)."""

from __future__ import annotations

import socket

import trio

from haipvs import limits
from haipvs.health.spec import Endpoint, UdpProbe
from haipvs.health.udp import probe_udp
from haipvs.policy.udp_reply import read_hex_str
from tests.health.servers import udp_server


def local(port: int) -> Endpoint:
    return Endpoint("127.0.0.1", port)


async def test_udp_check_reply_matching_the_pattern_is_up(nursery):
    port = await nursery.start(udp_server, True)  # echoes the payload
    pattern = read_hex_str("70 69 6e xx", wildcard=True)  # "pin?"
    result = await probe_udp(UdpProbe(local(port), b"ping", True, 2.0, pattern))
    assert result.ok and result.reason == "reply"


async def test_udp_check_reply_data_mismatch_is_down(nursery):
    port = await nursery.start(udp_server, True)
    pattern = read_hex_str("70 6f", wildcard=True)  # "po"
    result = await probe_udp(UdpProbe(local(port), b"ping", True, 2.0, pattern))
    assert not result.ok and "reply data mismatch" in result.reason


async def test_udp_check_reply_longer_than_max_reply_length_is_down(nursery):
    port = await nursery.start(udp_server, True)
    pattern = read_hex_str("70", wildcard=True)
    long_payload = b"p" * 300  # above the default max_reply_length 255
    result = await probe_udp(UdpProbe(local(port), long_payload, True, 2.0, pattern))
    assert not result.ok and "mismatch (256 bytes)" in result.reason
    ok = await probe_udp(UdpProbe(local(port), long_payload, True, 2.0, pattern,
                                  max_reply_length=300))
    assert ok.ok


async def test_udp_check_without_pattern_the_lengths_are_not_checked(nursery):
    # udp_check_thread calls check_udp_reply only when reply_data is set
    port = await nursery.start(udp_server, True)
    result = await probe_udp(UdpProbe(local(port), b"p" * 300, True, 2.0,
                                      min_reply_length=1000))
    assert result.ok


async def test_udp_bind_connect_default_payload_is_set_buf_32_bytes():
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        await server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        result = await probe_udp(UdpProbe(local(port), connect_timeout=0.2))
        data = await server.recv(100)
    assert result.ok and result.reason == "no ICMP error"
    assert data == limits.UDP_DEFAULT_PAYLOAD == b"keepalived check - keepalived ch"
