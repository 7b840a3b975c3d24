"""UDP_CHECK and ICMP errors other than port unreachable (keepalived 2.2.7 core/layer4.c
udp_bind_connect sets IP_RECVERR; udp_socket_error fails the check on any ICMP destination
unreachable). The real server's namespace rejects the check's datagrams with nftables:
ICMP host unreachable, which a connected UDP socket without IP_RECVERR never reports, and
port unreachable. The probe runs in the director's namespace.
"""

from __future__ import annotations

import socket
import time

import pytest
import trio

from haipvs.health.spec import Endpoint, UdpProbe
from haipvs.health.udp import probe_udp
from integration.harness.netns import call_in_netns

pytestmark = pytest.mark.netns

HOST_UNREACH_PORT, PORT_UNREACH_PORT = 5515, 5516


def _reject(rs) -> None:
    rs.netns.run("nft", "add", "table", "ip", "haipvs_f_test")
    rs.netns.run("nft", "add", "chain", "ip", "haipvs_f_test", "input",
                 "{ type filter hook input priority 0; }")
    rs.netns.run("nft", "add", "rule", "ip", "haipvs_f_test", "input", "udp", "dport",
                 str(HOST_UNREACH_PORT), "reject", "with", "icmp", "type", "host-unreachable")


def _plain_socket_sees(address: str) -> str:
    """What a connected UDP socket without IP_RECVERR reports for host unreachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((address, HOST_UNREACH_PORT))
        sock.send(b"x")
        time.sleep(0.3)
        sock.setblocking(False)
        try:
            sock.recv(16)
        except BlockingIOError:
            return "nothing"
        except OSError as exc:
            return f"error {exc.errno}"
        return "a reply"


def test_udp_socket_error_icmp_host_unreachable_is_down(lan):
    director, rs = lan.add_node("dir"), lan.add_node("rs1")
    _reject(rs)

    def probe(port: int, require_reply: bool):
        return trio.run(probe_udp, UdpProbe(Endpoint(rs.ip, port), b"ping", require_reply,
                                            1.0))

    # The kernel alone says nothing: host unreachable is not a "hard" error for a UDP
    # socket, so without IP_RECVERR silence looks like a healthy server.
    assert call_in_netns(director.netns.name, lambda: _plain_socket_sees(rs.ip)) == "nothing"
    for require_reply in (False, True):
        result = call_in_netns(director.netns.name,
                               lambda r=require_reply: probe(HOST_UNREACH_PORT, r))
        assert not result.ok
        assert result.reason == "ICMP destination unreachable (code 1)", result.reason
        assert result.latency < 0.5  # the error, not the timeout, decided
        closed = call_in_netns(director.netns.name,
                               lambda r=require_reply: probe(PORT_UNREACH_PORT, r))
        assert not closed.ok and closed.reason == "port unreachable", closed.reason
