"""The sync-group rules (keepalived/vrrp/vrrp_sync.c) as the VRRP runtime drives them: one
input queue, followers fed right after their leader, the fault pull through link changes
and tracker updates. Sockets, GARP, netlink and the link monitor are fakes; time is trio's
MockClock (autojump), so the timers fire at their exact deadlines."""

from __future__ import annotations

import ipaddress
import math
from typing import ClassVar

import pytest
import trio

from haipvs.drivers import addresses, vmac, vrrp_actions, vrrp_runtime
from haipvs.drivers.vrrp_instance import InstanceBinding
from haipvs.drivers.vrrp_runtime import VrrpRuntime
from haipvs.events import VrrpTransition
from haipvs.policy.priority import Kind, Source
from haipvs.vrrp import core
from haipvs.vrrp.core import State

ip = ipaddress.ip_address
INDEX = {"eth0": 2, "eth1": 3}


def link(ifname: str, up: bool = True) -> addresses.LinkState:
    return addresses.LinkState(ifname, INDEX[ifname], up, b"\x02\x00\x00\x00\x00\x01",
                               ip(f"192.0.2.{INDEX[ifname]}"), None)


class FakeRtnl:
    def __init__(self) -> None:
        self.links = {name: link(name) for name in INDEX}
        self.vip_ops: list[tuple[str, str]] = []

    async def call(self, fn, *args):
        await trio.sleep(0.001)  # a netlink round trip
        if fn in (addresses.sync_link_state, vmac.sync_link_state):  # no vmac here
            return self.links[args[0]]
        if fn in (addresses.sync_add, addresses.sync_remove):
            op = "add" if fn is addresses.sync_add else "remove"
            self.vip_ops += [(op, str(vip.interface)) for vip in args[0]]
        return []


class FakeSocket:
    sent: ClassVar[list[tuple[float, str, int]]] = []

    def __init__(self, ifname: str, ifindex: int, family: int) -> None:
        self.ifname = ifname
        self.multicast_group = ip("224.0.0.18")

    async def send(self, message: bytes, src, dst, ttl=None) -> None:
        FakeSocket.sent.append((trio.current_time(), self.ifname, message[2]))

    async def receive(self):
        await trio.sleep_forever()

    def close(self) -> None:
        pass


class DeferringFastVips:
    """The VRRP thread's own VIP add (vip_fastpath) leaves every VIP to the rtnetlink path,
    which FakeRtnl records: this process's real interfaces are never touched."""

    def prepare(self, vips) -> None:
        pass

    def add(self, vips):
        return [], list(vips)

    def links_changed(self, indexes) -> None:
        pass

    def close(self) -> None:
        pass


class FakeAnnouncer:
    def __init__(self, ifname: str, ifindex: int, mac: bytes) -> None:
        self.ifname = ifname  # the GARP pacing keys its interfaces by it (garp_sender.py)
        self.sent = 0

    def announce(self, vips) -> int:
        self.sent += len(vips)
        return len(vips)

    def prebuild(self, vips) -> None:
        pass

    def close(self) -> None:
        pass


class FakeMonitor:
    changes: trio.MemorySendChannel | None = None

    def __init__(self) -> None:
        FakeMonitor.changes, self._changes = trio.open_memory_channel[set[int]](math.inf)

    async def bind(self) -> None:
        pass

    async def next_change(self) -> set[int]:
        return await self._changes.receive()

    def close(self) -> None:
        pass


def binding(name: str, vrid: int, ifname: str, priority: int = 100,
            track: tuple[tuple[str, int], ...] = ()) -> InstanceBinding:
    vip = ipaddress.ip_interface(f"192.0.2.{100 + vrid}/32")
    params = core.InstanceParams(name=name, vrid=vrid, vips=(vip.ip,), base_priority=priority,
                                 garp=core.GarpParams(master_delay=0, master_refresh=0))
    return InstanceBinding(params=params, ifname=ifname,
                           vips=(addresses.Vip(vip, ifname),), track_interfaces=track,
                           sync_group="G")


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.setattr(vrrp_runtime, "VrrpSocket", FakeSocket)
    monkeypatch.setattr(vrrp_runtime, "Announcer", FakeAnnouncer)
    monkeypatch.setattr(vrrp_actions, "FastVipAdder", DeferringFastVips)
    monkeypatch.setattr(vrrp_runtime, "LinkMonitor", FakeMonitor)
    FakeSocket.sent = []
    return FakeRtnl()


class Running:
    def __init__(self, runtime: VrrpRuntime, events: list[VrrpTransition]) -> None:
        self.runtime = runtime
        self.events = events

    def moves(self) -> list[tuple[str, str, str, str]]:
        # transitions only: the runtime also hands over priority notices (InstanceNotice)
        return [(e.instance, str(e.old), str(e.new), e.reason) for e in self.events
                if isinstance(e, VrrpTransition)]

    def states(self) -> dict[str, str]:
        return {name: i["state"] for name, i in self.runtime.snapshot()["instances"].items()}


async def run(nursery, rtnl, bindings) -> Running:
    events: list[VrrpTransition] = []
    runtime = VrrpRuntime(bindings, rtnl, events.append)  # type: ignore[arg-type]
    nursery.start_soon(runtime._main)
    await trio.sleep(0.05)  # startup (autojump: instant)
    assert set(Running(runtime, events).states().values()) == {"BACKUP"}
    return Running(runtime, events)


async def test_vrrp_sync_master_down_of_one_member_takes_the_other_along(
        nursery, autojump_clock, fakes):
    """VI_1's Master_Down timer fires first (priority 100: 3.609 s); VI_2 (priority 50,
    3.805 s) is taken to MASTER in the same instant, before any other input."""
    running = await run(nursery, fakes, [binding("VI_1", 1, "eth0"),
                                         binding("VI_2", 2, "eth1", priority=50)])
    await trio.sleep(3.7)
    assert running.moves()[-2:] == [
        ("VI_1", "BACKUP", "MASTER", "master_down_timer"),
        ("VI_2", "BACKUP", "MASTER", "sync group G: VI_1 became MASTER"),
    ]
    (leader_at, leader_if, _), (follower_at, follower_if, _) = FakeSocket.sent[:2]
    assert (leader_if, follower_if) == ("eth0", "eth1")
    # Right after the leader's VIP add (one fake netlink round trip), not at its own 3.805 s.
    assert follower_at - leader_at == pytest.approx(0.001)
    assert list(running.runtime.timer_lateness) == [("master_down", 0.0)]  # exactly on time
    assert fakes.vip_ops == [("add", "192.0.2.101/32"), ("add", "192.0.2.102/32")]


async def test_vrrp_sync_one_member_fault_pulls_group_and_both_return(
        nursery, autojump_clock, fakes):
    running = await run(nursery, fakes, [binding("VI_1", 1, "eth0"),
                                         binding("VI_2", 2, "eth1")])
    await trio.sleep(5)
    assert running.states() == {"VI_1": "MASTER", "VI_2": "MASTER"}
    fakes.links["eth1"] = link("eth1", up=False)
    FakeMonitor.changes.send_nowait({INDEX["eth1"]})
    await trio.sleep(0.1)
    assert running.states() == {"VI_1": "FAULT", "VI_2": "FAULT"}
    dump = running.runtime.snapshot()["instances"]
    assert dump["VI_1"]["fault_reasons"] == {"sync_group": "sync group G: VI_2 is in FAULT"}
    assert dump["VI_2"]["fault_reasons"] == {"link": "interface eth1 is down"}
    assert ("VI_1", "MASTER", "FAULT", "fault: sync group G: VI_2 is in FAULT") in \
        running.moves()

    fakes.links["eth1"] = link("eth1")
    FakeMonitor.changes.send_nowait({INDEX["eth1"]})
    await trio.sleep(0.1)
    assert running.states() == {"VI_1": "BACKUP", "VI_2": "BACKUP"}
    await trio.sleep(5)
    assert running.states() == {"VI_1": "MASTER", "VI_2": "MASTER"}


async def test_vrrp_track_script_weight_zero_fault_pulls_the_group_and_weights_add_up(
        nursery, autojump_clock, fakes):
    running = await run(nursery, fakes, [
        binding("VI_1", 1, "eth0", track=(("eth1", -30),)), binding("VI_2", 2, "eth1")])
    runtime = running.runtime
    chk = Source(Kind.TRACK_SCRIPT, "chk")
    runtime.set_tracker("VI_1", chk, delta=20)
    await trio.sleep(0.01)
    fakes.links["eth1"] = link("eth1", up=False)  # VI_1 tracks it with -30; VI_2 faults
    FakeMonitor.changes.send_nowait({INDEX["eth1"]})
    await trio.sleep(0.1)
    dump = runtime.snapshot()["instances"]["VI_1"]
    assert dump["priority_parts"] == {"track_interface:eth1": -30, "track_script:chk": 20}
    assert dump["effective_priority"] == 90
    assert dump["state"] == "FAULT"  # pulled by VI_2

    fakes.links["eth1"] = link("eth1")
    FakeMonitor.changes.send_nowait({INDEX["eth1"]})
    await trio.sleep(0.1)
    runtime.set_tracker("VI_2", chk, fault="track_script chk failed")
    await trio.sleep(0.01)
    assert running.states() == {"VI_1": "FAULT", "VI_2": "FAULT"}
    runtime.set_tracker("VI_2", chk)
    await trio.sleep(0.01)
    assert running.states() == {"VI_1": "BACKUP", "VI_2": "BACKUP"}
    assert runtime.snapshot()["instances"]["VI_1"]["effective_priority"] == 120


async def test_reload_retunes_in_queue_order_and_stops_removed_members(
        nursery, autojump_clock, fakes):
    running = await run(nursery, fakes, [binding("VI_1", 1, "eth0"),
                                         binding("VI_2", 2, "eth1")])
    runtime = running.runtime
    await trio.sleep(5)
    await runtime._reconfigure([binding("VI_1", 1, "eth0", priority=120)], [], ["VI_2"])
    assert running.states() == {"VI_1": "MASTER"}
    assert runtime.snapshot()["instances"]["VI_1"]["effective_priority"] == 120
    assert running.moves()[-1] == ("VI_2", "MASTER", "STOP", "shutdown")
    assert fakes.vip_ops[-1] == ("remove", "192.0.2.102/32")
    assert all(isinstance(e.new, State) for e in running.events
               if isinstance(e, VrrpTransition))
