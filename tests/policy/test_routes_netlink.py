"""haipvs.policy.routes' outputs carried out by haipvs/drivers/routes.py against a real kernel,
in a throwaway network namespace: every supported route and rule option lands as `ip`
shows it, marked protocol 75; adds after a crash adopt, never double; deletes never touch an
entry haipvs did not add, even one that differs only by its protocol."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator

import pytest

from haipvs.drivers.routes import describe, sync_apply
from haipvs.policy.routes import Address, Apply, Entries, NextHop, Route, Rule
from tests.scratch_netns import run, scratch_netns

pytestmark = pytest.mark.netns

ip = ipaddress.ip_address
net = ipaddress.ip_network


@pytest.fixture
def netns() -> Iterator[str]:
    with scratch_netns("hrt") as name:
        for argv in (("link", "add", "eth0", "type", "veth", "peer", "name", "eth1"),
                     ("link", "set", "eth0", "up"), ("link", "set", "eth1", "up"),
                     ("addr", "add", "192.0.2.1/24", "dev", "eth0"),
                     ("addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad")):
            run("ip", "-n", name, *argv)
        yield name


@pytest.fixture
def ipr(netns):
    """The rtnetlink owner's object as the daemon makes it (drivers/rtnl_socket.py): its own
    socket opened inside the namespace, its IPRoute (routes, rules) a NetNS there."""
    from pyroute2 import NetNS

    from haipvs.drivers.rtnl_socket import RtnlSocket
    from integration.harness.netns import call_in_netns

    handle = call_in_netns(netns, lambda: RtnlSocket(lambda: NetNS(netns)))
    try:
        yield handle
    finally:
        handle.close()


def shown(ns: str, *what: str) -> list[dict]:
    return json.loads(run("ip", "-n", ns, "-j", *what).stdout or "[]")


ROUTES = (
    Route(net("198.51.100.0/24"), via=ip("192.0.2.254"), src=ip("192.0.2.1"), dev="eth0",
          table=100, metric=5),
    Route(net("203.0.113.0/24"), type="blackhole"),
    Route(net("203.0.113.64/26"), type="unreachable", table=100),
    Route(net("198.51.100.128/25"), dev="eth0", scope="link"),
    Route(net("10.9.0.0/16"), via=ip("10.255.0.1"), dev="eth0", onlink=True),
    Route(net("10.8.0.0/16"), nexthops=(NextHop(ip("192.0.2.10"), "eth0", weight=3),
                                         NextHop(ip("192.0.2.11"), "eth0"))),
    Route(net("2001:db8:5::/64"), via=ip("2001:db8::fe"), dev="eth0", metric=10),
    Route(net("2001:db8:6::/64"), nexthops=(NextHop(ip("2001:db8::fa"), "eth0"),
                                             NextHop(ip("2001:db8::fb"), "eth0"))),
    Route(net("0.0.0.0/0"), via=ip("192.0.2.254"), table=101),
)
RULES = (
    Rule(4, 100, table=100, src=net("192.0.2.100/32")),
    Rule(4, 101, table=100, iif="eth0", fwmark=5, fwmask=0xFF),
    Rule(4, 102, action="prohibit", dst=net("203.0.113.0/24")),
    Rule(6, 100, table=100, src=net("2001:db8::100/128"), oif="eth0"),
)
ADDRESSES = (Address(ipaddress.ip_interface("192.0.2.200/24"), "eth0", "eth0:x"),
             Address(ipaddress.ip_interface("2001:db8::200/64"), "eth0"))
ALL = Entries(ADDRESSES, ROUTES, RULES)


def ours(ns: str) -> tuple[list[dict], list[dict]]:
    routes = [r for fam in ("-4", "-6") for r in shown(ns, fam, "route", "show", "table", "all")
              if r.get("protocol") == "75"]
    rules = [r for fam in ("-4", "-6") for r in shown(ns, fam, "rule", "show")
             if r.get("protocol") == "75"]
    return routes, rules


def test_every_option_lands_marked_and_a_second_add_adopts(netns, ipr):
    changes = sync_apply(ipr, Apply(install=ALL))
    assert [c.action for c in changes] == ["add"] * len(ALL.items()), [
        (c.action, describe(c.entry), c.detail) for c in changes]
    routes, rules = ours(netns)
    assert len(routes) == len(ROUTES) and len(rules) == len(RULES)
    by_dst = {(r["dst"], r.get("table", "main")): r for r in routes}
    first = by_dst[("198.51.100.0/24", "100")]
    assert (first["gateway"], first["dev"], first["prefsrc"], first["metric"]) == (
        "192.0.2.254", "eth0", "192.0.2.1", 5)
    assert by_dst[("203.0.113.0/24", "main")]["type"] == "blackhole"
    assert by_dst[("203.0.113.64/26", "100")]["type"] == "unreachable"
    assert by_dst[("198.51.100.128/25", "main")]["scope"] == "link"
    assert "onlink" in by_dst[("10.9.0.0/16", "main")]["flags"]
    hops = by_dst[("10.8.0.0/16", "main")]["nexthops"]
    assert [(h["gateway"], h["weight"]) for h in hops] == [("192.0.2.10", 3), ("192.0.2.11", 1)]
    assert by_dst[("default", "101")]["gateway"] == "192.0.2.254"
    assert by_dst[("2001:db8:5::/64", "main")]["metric"] == 10
    fwmark = next(r for r in rules if r["priority"] == 101)
    assert (fwmark["fwmark"], fwmark["fwmask"], fwmark["iif"]) == ("0x5", "0xff", "eth0")
    assert next(r for r in rules if r["priority"] == 102)["action"] == "prohibit"
    addresses = [a["local"] for link in shown(netns, "addr", "show", "dev", "eth0")
                 for a in link["addr_info"]]
    assert "192.0.2.200" in addresses and "2001:db8::200" in addresses

    # A restarted haipvs adds again (a crash left everything): adopted, nothing doubled.
    again = sync_apply(ipr, Apply(install=ALL))
    assert {c.action for c in again} == {"adopted"}
    assert len(again) == len(ROUTES) + len(RULES)  # addresses: already ours, no news
    assert tuple(map(len, ours(netns))) == (len(ROUTES), len(RULES))

    sync_apply(ipr, Apply(withdraw=ALL))
    assert ours(netns) == ([], [])


def test_entries_someone_else_added_are_never_removed(netns, ipr):
    # The same route and rule as ours, but not marked (an operator's, or keepalived's 18).
    run("ip", "-n", netns, "route", "add", "198.51.100.0/24", "via", "192.0.2.254",
        "table", "100", "metric", "5", "proto", "18")
    run("ip", "-n", netns, "rule", "add", "from", "192.0.2.100", "table", "100", "pref", "100")
    mine = Entries(routes=(ROUTES[0],), rules=(RULES[0],))
    changes = sync_apply(ipr, Apply(install=mine))
    assert [c.action for c in changes] == ["kept-foreign", "add"]  # rules differ by protocol
    assert sync_apply(ipr, Apply(withdraw=mine))[0].action == "remove"  # only our rule
    route = shown(netns, "route", "show", "table", "100")
    assert [(r["dst"], r["protocol"]) for r in route] == [("198.51.100.0/24", "keepalived")]
    rules = [r for r in shown(netns, "rule", "show") if r["priority"] == 100]
    assert len(rules) == 1 and "protocol" not in rules[0]
    assert sync_apply(ipr, Apply(withdraw=mine)) == []  # nothing of ours left to remove
