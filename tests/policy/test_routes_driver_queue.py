"""haipvs/drivers/routes.py's RouteDriver: the policy's outputs are applied in order by the
driver's own task, a MASTER's adds are not waited for (the VRRP input queue and its advert
timers go on), withdrawals are (keepalived removes routes and rules before the VIPs)."""

from __future__ import annotations

import ipaddress

import trio

from haipvs.drivers.routes import RouteDriver, sync_apply
from haipvs.policy.routes import Entries, Held, Route, Start, Stop

ROUTE = Route(ipaddress.ip_network("198.51.100.0/24"), dev="eth0")
STATIC = Route(ipaddress.ip_network("203.0.113.0/24"), type="blackhole")
VI_1 = Entries(routes=(ROUTE,))


class SlowRtnl:
    """Stands for the rtnetlink owner thread: each request takes 50 ms."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, tuple[str, ...]]] = []

    async def call(self, fn, output):
        assert fn is sync_apply
        await trio.sleep(0.05)
        if output.withdraw:
            self.applied.append(("withdraw", tuple(str(r.dst) for r in output.withdraw.routes)))
        if output.install:
            self.applied.append(("install", tuple(str(r.dst) for r in output.install.routes)))
        return []


async def idle(_fn):
    """The runtime's queue: a deletion elsewhere on this host would reassert; not here."""


async def test_adds_are_not_waited_for_withdrawals_are_and_order_holds(nursery, autojump_clock):
    rtnl = SlowRtnl()
    driver = RouteDriver(rtnl, Entries(routes=(STATIC,)))  # type: ignore[arg-type]
    nursery.start_soon(driver.run, idle)
    start = trio.current_time()
    await driver.handle(Start(()))  # waited for: statics are in before any instance starts
    assert rtnl.applied == [("install", ("203.0.113.0/24",))]
    assert trio.current_time() - start == 0.05

    became_master = trio.current_time()
    await driver.handle(Held("VI_1", VI_1, True), "VI_1", wait=False)
    assert trio.current_time() == became_master  # the VRRP input queue goes on at once
    await driver.handle(Held("VI_1", VI_1, False), "VI_1")  # leaving MASTER: waited for
    assert rtnl.applied[1:] == [("install", ("198.51.100.0/24",)),
                                ("withdraw", ("198.51.100.0/24",))]
    await driver.handle(Stop())
    assert rtnl.applied[-1] == ("withdraw", ("203.0.113.0/24",))
    await driver.flush()  # nothing pending: returns at once
