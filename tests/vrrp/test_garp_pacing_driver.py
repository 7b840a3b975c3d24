"""haipvs/drivers/garp_sender.py carries out the pacing on a trio loop: the first GARP at
once (keepalived send_gratuitous_arp()), the pending ones one interval apart from its one
timer task (vrrp_arp_thread()), nothing for an instance no longer holding its VIPs."""

from __future__ import annotations

import ipaddress

import trio
import trio.testing

from haipvs.drivers.garp_sender import GarpSender

V1, V2 = ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.2")


class RecordingAnnouncer:
    """Stands in for Announcer's sockets: records (time, address)."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        self.sent: list[tuple[float, object]] = []

    def announce(self, vips):
        self.sent += [(trio.current_time(), vip) for vip in vips]
        return len(vips)


def run_with_clock(body):
    clock = trio.testing.MockClock(autojump_threshold=0)
    trio.run(body, clock=clock)


def test_paced_garps_go_out_one_interval_apart_without_blocking_the_caller():
    announcer = RecordingAnnouncer("eth0")
    holding = {"vi1"}

    async def body():
        sender = GarpSender(lambda: frozenset(holding))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.run)
            start = trio.current_time()
            sender.announce("vi1", announcer, [V1, V2], 2, 0.5, 0.0)
            assert trio.current_time() == start  # announce() returned at once
            assert announcer.sent == [(start, V1)]
            await trio.sleep(2)
            assert announcer.sent == [(start, V1), (start + 0.5, V1), (start + 1.0, V2)]
            nursery.cancel_scope.cancel()

    run_with_clock(body)


def test_pending_garps_are_dropped_when_the_instance_lets_go_of_its_vips():
    announcer = RecordingAnnouncer("eth0")
    holding = {"vi1"}

    async def body():
        sender = GarpSender(lambda: frozenset(holding))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.run)
            sender.announce("vi1", announcer, [V1, V2], 1, 0.5, 0.0)
            holding.clear()
            await trio.sleep(2)
            assert [address for _, address in announcer.sent] == [V1]
            nursery.cancel_scope.cancel()

    run_with_clock(body)
