"""The VRRP driver's send socket never queues received packets (a raw socket would otherwise
get a copy of every VRRP packet, and the never-read queue sits full), while the receive
socket still gets them."""

from __future__ import annotations

import socket

import pytest
import trio

from integration.harness.netns import call_in_netns

pytestmark = pytest.mark.netns

ADVERT = bytes.fromhex("21336401000100000000000000000000")


def test_only_the_receive_socket_queues_vrrp_packets(lan):
    from haipvs.drivers.vrrp_socket import VrrpSocket

    node = lan.add_node("d1")

    def probe() -> tuple[list[int], bool]:
        async def main() -> tuple[list[int], bool]:
            vrrp = VrrpSocket("lo", socket.if_nametoindex("lo"), 4)
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_RAW, 112) as sender:
                    for _ in range(3):
                        sender.sendto(ADVERT, ("127.0.0.1", 0))
                # The kernel hands each packet to every raw socket at once, so once the
                # receive socket has all three, the send socket has had its chance too.
                with trio.fail_after(5):
                    sizes = [len(await vrrp._recv.recv(100)) for _ in range(3)]
                try:
                    vrrp._send._sock.recv(100, socket.MSG_DONTWAIT)
                    send_queued = True
                except BlockingIOError:
                    send_queued = False
                return sizes, send_queued
            finally:
                vrrp.close()

        return trio.run(main)

    node.netns.ip("link", "set", "lo", "up")
    received, send_queued = call_in_netns(node.ns, probe)
    assert received == [20 + len(ADVERT)] * 3
    assert not send_queued
