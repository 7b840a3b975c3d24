"""The order of a MASTER transition's I/O (haipvs/drivers/vrrp_actions.py): keepalived
vrrp_state_become_master() drops the accept rules before the VIPs, adds the VIPs, then
sends the GARPs (vrrp_send_link_update()). What the first GARP does not depend on (the
accept and routes policies' bookkeeping when there is nothing to install, garp_extra_if's
timer, the log lines) comes after it: that path runs on cold caches once per takeover."""

from __future__ import annotations

import ipaddress
from types import SimpleNamespace

from haipvs.drivers import addresses
from haipvs.drivers.vrrp_actions import ActionRunner
from haipvs.drivers.vrrp_instance import Instance, InstanceBinding
from haipvs.vrrp import core

VIP = ipaddress.ip_interface("192.0.2.100/24")


class FakeAccept:
    def __init__(self, calls: list[str], rules_in_use: bool) -> None:
        self.calls = calls
        self.rules_in_use = rules_in_use

    async def handle(self, event) -> None:
        self.calls.append(f"accept held={event.held}")


class FakeRoutes:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    async def handle(self, event, name, wait) -> None:
        self.calls.append(f"routes held={event.held}")


class FakeGarp:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def announce(self, instance, announcer, addresses_, repeat, garp_interval, gna_interval):
        self.calls.append(f"garp {','.join(map(str, addresses_))} x{repeat}")


class FakeFastVips:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def add(self, vips):
        self.calls.append("vip add")
        return list(vips), []


def takeover(rules_in_use: bool) -> list[str]:
    import trio

    calls: list[str] = []
    runner = ActionRunner(rtnl=None, on_transition=lambda *a: calls.append("notify"),
                          routes=FakeRoutes(calls), accept=FakeAccept(calls, rules_in_use),
                          garp=FakeGarp(calls))
    runner.fast_vips = FakeFastVips(calls)
    params = core.InstanceParams(name="VI_1", vrid=51, vips=(VIP.ip,))
    binding = InstanceBinding(params=params, ifname="eth0",
                              vips=(addresses.Vip(VIP, "eth0"),))
    instance = Instance(binding=binding, machine=SimpleNamespace(state=core.State.MASTER),
                        group=SimpleNamespace(announcer=object()), policy=None)
    actions = [core.AddVips(), core.SendGratuitous(5),
               core.NotifyTransition(core.State.BACKUP, core.State.MASTER, "test")]
    trio.run(runner.execute, instance, actions)
    return calls


def test_without_drop_rules_only_the_vip_add_stands_before_the_first_garp():
    assert takeover(rules_in_use=False) == [
        "vip add", "garp 192.0.2.100 x5", "notify", "accept held=True", "routes held=True"]


def test_drop_rules_still_go_before_the_vips():
    assert takeover(rules_in_use=True) == [
        "accept held=True", "vip add", "garp 192.0.2.100 x5", "notify", "routes held=True"]


class FakeRtnl:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    async def call(self, change, vips):
        self.calls.append(f"rtnl {change.__name__}")
        return []


def test_a_release_in_the_same_list_still_finds_the_held_bookkeeping_done_first():
    # The core never puts AddVips and RemoveVips in one list today; if it did, the deferred
    # bookkeeping of taking the VIPs must run before they are released, not after.
    import trio

    calls: list[str] = []
    runner = ActionRunner(rtnl=FakeRtnl(calls), on_transition=lambda *a: None,
                          routes=FakeRoutes(calls), accept=FakeAccept(calls, False),
                          garp=FakeGarp(calls))
    runner.fast_vips = FakeFastVips(calls)
    params = core.InstanceParams(name="VI_1", vrid=51, vips=(VIP.ip,))
    binding = InstanceBinding(params=params, ifname="eth0", vips=(addresses.Vip(VIP, "eth0"),))
    instance = Instance(binding=binding, machine=SimpleNamespace(state=core.State.BACKUP),
                        group=SimpleNamespace(announcer=object()), policy=None)
    trio.run(runner.execute, instance, [core.AddVips(), core.SendGratuitous(1), core.RemoveVips()])
    assert calls == ["vip add", "garp 192.0.2.100 x1", "accept held=True", "routes held=True",
                     "routes held=False", "rtnl sync_remove", "accept held=False"]
