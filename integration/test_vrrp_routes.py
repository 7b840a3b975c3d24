"""Acceptance (issue 15, item 3): virtual routes, rules and excluded addresses move with the
VIP between haipvs and a keepalived 2.2.7 peer; static ones stay on both; nothing
haipvs-owned is left after SIGTERM; after SIGKILL and a restart there is exactly one of each.

keepalived's behaviour matched: keepalived_netlink.c re-adds a deleted static entry;
vrrp.c vrrp_state_become_master() adds eVIPs, virtual routes
and rules after the VIPs, vrrp_restore_interface() removes them; vrrp_daemon.c start_vrrp()
clears leftover static entries and sets them, stop_vrrp() clears them (so a stopped director
keeps no static address, route or rule either).
"""

from __future__ import annotations

import json

from haipvs.limits import HAIPVS_RT_PROTO
from integration.harness.requirements import keepalived_interop_marks
from integration.harness.topology import Node
from integration.harness.wait import wait_until
from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    ops_node_fixture,
)

pytestmark = keepalived_interop_marks()

VI_1 = FAST.but(name="VI_1", vrid=71, vips=("192.0.2.100/24",))
EVIP = "192.0.2.200/24"
VROUTE = "198.51.100.0/24"  # via 192.0.2.254 table 100 metric 5
VRULE_PREF = 1100  # from 192.0.2.100 lookup 100
SROUTE = "198.51.100.128/25"  # static: via 192.0.2.254 table 200
SROUTE2 = "198.51.100.64/26"  # static, after a reload
SRULE_PREF = 1200  # static: to 198.51.100.128/25 lookup 200


def static_address(node: Node) -> str:
    return f"203.0.113.{node.index}/32"


def haipvs_extras(node: Node) -> tuple[dict, dict]:
    top = {
        "static_ipaddress": [{"address": static_address(node), "dev": "eth0"}],
        "static_routes": [{"to": SROUTE, "via": "192.0.2.254", "dev": "eth0", "table": 200}],
        "static_rules": [{"to": SROUTE, "table": 200, "priority": SRULE_PREF}],
    }
    per_instance = {"VI_1": {
        "virtual_ipaddress_excluded": [EVIP],
        "virtual_routes": [{"to": VROUTE, "via": "192.0.2.254", "dev": "eth0", "table": 100,
                            "metric": 5}],
        "virtual_rules": [{"from": "192.0.2.100", "table": 100, "priority": VRULE_PREF}],
    }}
    return top, per_instance


def keepalived_extras(conf: str, node: Node) -> str:
    """The same entries in keepalived.conf's one-line syntax."""
    static = (
        f"static_ipaddress {{\n    {static_address(node)} dev eth0\n}}\n"
        f"static_routes {{\n    {SROUTE} via 192.0.2.254 dev eth0 table 200\n}}\n"
        f"static_rules {{\n    to {SROUTE} table 200 priority {SRULE_PREF}\n}}\n"
    )
    virtual = (
        f"    virtual_ipaddress_excluded {{\n        {EVIP} dev eth0\n    }}\n"
        f"    virtual_routes {{\n        {VROUTE} via 192.0.2.254 dev eth0 table 100 metric 5\n"
        "    }\n"
        f"    virtual_rules {{\n        from 192.0.2.100 table 100 priority {VRULE_PREF}\n"
        "    }\n"
    )
    conf = conf.replace("    virtual_ipaddress {", virtual + "    virtual_ipaddress {", 1)
    return static + conf


def routes(node: Node, dst: str, table: int) -> list[dict]:
    # An empty table does not exist ("FIB table does not exist"): no routes.
    shown = node.netns.ip("-j", "route", "show", "table", str(table), check=False)
    out = shown.stdout if shown.returncode == 0 else ""
    return [r for r in json.loads(out or "[]") if r.get("dst") == dst]


def rules(node: Node, pref: int) -> list[dict]:
    out = node.netns.ip("-j", "rule", "show").stdout
    return [r for r in json.loads(out or "[]") if r.get("priority") == pref]


def addresses(node: Node, address: str) -> int:
    out = node.netns.ip("-j", "addr", "show", "dev", "eth0").stdout
    ip, prefix = address.split("/")
    return sum(1 for link in json.loads(out) for a in link.get("addr_info", [])
               if a["local"] == ip and a["prefixlen"] == int(prefix))


def virtual_count(node: Node) -> tuple[int, int, int]:
    return (len(routes(node, VROUTE, 100)), len(rules(node, VRULE_PREF)), addresses(node, EVIP))


def static_count(node: Node) -> tuple[int, int, int]:
    return (len(routes(node, SROUTE, 200)), len(rules(node, SRULE_PREF)),
            addresses(node, static_address(node)))


def owned(node: Node) -> list[str]:
    """Every route and rule on the node carrying haipvs' protocol number."""
    found = [json.dumps(r) for r in json.loads(
        node.netns.ip("-j", "route", "show", "table", "all").stdout or "[]")
        if r.get("protocol") in (str(HAIPVS_RT_PROTO), HAIPVS_RT_PROTO)]
    found += [json.dumps(r) for r in json.loads(node.netns.ip("-j", "rule", "show").stdout)
              if r.get("protocol") in (str(HAIPVS_RT_PROTO), HAIPVS_RT_PROTO)]
    return found


def wait_counts(what, node: Node, expected: tuple[int, int, int], timeout: float = 3.0):
    wait_until(lambda: what(node) == expected, timeout,
               what=f"{what.__name__} on {node.name} to be {expected} (is {what(node)})")


def test_routes_rules_and_excluded_addresses_move_with_the_vip_and_leave_nothing_behind(
        lan, ops_node, keepalived_node):
    node_d, node_k = lan.add_node("d1"), lan.add_node("k1")
    # Someone else's route and rule next to ours: same destination and table (another
    # metric), same preference (another selector). haipvs must never touch them.
    node_d.netns.ip("route", "add", VROUTE, "via", "192.0.2.253", "table", "100",
                    "metric", "50")
    node_d.netns.ip("rule", "add", "from", "192.0.2.99", "table", "100", "pref",
                    str(VRULE_PREF))

    top, per_instance = haipvs_extras(node_d)
    haipvs = ops_node(node_d, VI_1.but(priority=150), top=top, per_instance=per_instance)
    haipvs.wait_state("MASTER", 8)
    keepalived = keepalived_node(node_k, VI_1.but(priority=100), start=False)
    keepalived.conf_path.write_text(keepalived_extras(keepalived.conf_path.read_text(), node_k))
    keepalived.start()
    keepalived.wait_state("BACKUP", 5)

    # MASTER haipvs: one of each virtual entry (plus the foreign ones), marked proto 75.
    wait_counts(virtual_count, node_d, (2, 2, 1))
    assert [r["protocol"] for r in routes(node_d, VROUTE, 100) if r.get("metric") == 5] \
        in (["75"], [75])
    assert any(r.get("protocol") in ("75", 75) and r.get("src") == "192.0.2.100"
               for r in rules(node_d, VRULE_PREF))
    assert virtual_count(node_k) == (0, 0, 0)
    wait_counts(static_count, node_d, (1, 1, 1))
    wait_counts(static_count, node_k, (1, 1, 1))

    # A static entry deleted by hand comes back (keepalived_netlink.c reinstate_static_*()).
    node_d.netns.ip("route", "del", SROUTE, "table", "200")
    node_d.netns.ip("rule", "del", "pref", str(SRULE_PREF))
    node_d.netns.ip("addr", "del", static_address(node_d), "dev", "eth0")
    wait_counts(static_count, node_d, (1, 1, 1))
    assert virtual_count(node_d) == (2, 2, 1)

    # SIGTERM: keepalived takes them; haipvs leaves nothing of its own, statics included
    # (stop_vrrp() "Clear static entries"); the foreign route and rule stay.
    assert haipvs.stop(timeout=5) == 0
    keepalived.wait_state("MASTER", 3)
    wait_counts(virtual_count, node_k, (1, 1, 1))
    assert owned(node_d) == []
    assert virtual_count(node_d) == (1, 1, 0)
    assert static_count(node_d) == (0, 0, 0)

    # Back: haipvs preempts, keepalived gives them up.
    haipvs.start()
    haipvs.wait_state("MASTER", 8)
    keepalived.wait_state("BACKUP", 3)
    wait_counts(virtual_count, node_d, (2, 2, 1))
    wait_counts(virtual_count, node_k, (0, 0, 0))
    wait_counts(static_count, node_d, (1, 1, 1))

    # SIGKILL: everything stays behind on d1 while keepalived takes over ...
    haipvs.kill()
    keepalived.wait_state("MASTER", 3)
    wait_counts(virtual_count, node_k, (1, 1, 1))
    assert virtual_count(node_d) == (2, 2, 1) and static_count(node_d) == (1, 1, 1)
    # ... and a restart adopts the leftovers: exactly one of each, before and after it is
    # MASTER again.
    haipvs.start()
    haipvs.wait_ready()
    wait_counts(virtual_count, node_d, (1, 1, 0))  # BACKUP first: the leftovers go
    assert static_count(node_d) == (1, 1, 1)
    haipvs.wait_state("MASTER", 8)
    wait_counts(virtual_count, node_d, (2, 2, 1))
    assert static_count(node_d) == (1, 1, 1)
    assert len(owned(node_d)) == 4, owned(node_d)  # virtual and static: a route, a rule
    wait_counts(virtual_count, node_k, (0, 0, 0))
    assert static_count(node_k) == (1, 1, 1)

    # SIGHUP with another static route: only the difference changes (keepalived's
    # clear_diff_static_routes()), the MASTER keeps its virtual ones.
    # A virtual route changed (metric 5 -> 6) moves on the MASTER at once.
    haipvs.top = {**top, "static_routes": [{"to": SROUTE2, "dev": "eth0", "table": 200}]}
    haipvs.per_instance["VI_1"]["virtual_routes"][0]["metric"] = 6
    haipvs.write_config(list(haipvs.instances.values()))
    haipvs.reload()
    haipvs.wait_log("reload_applied", 5)
    wait_until(lambda: len(routes(node_d, SROUTE2, 200)) == 1, 3, what="the new static route")
    assert routes(node_d, SROUTE, 200) == []
    assert sorted(r.get("metric") for r in routes(node_d, VROUTE, 100)) == [6, 50]
    assert virtual_count(node_d) == (2, 2, 1) and haipvs.state() == "MASTER"

    assert haipvs.stop(timeout=5) == 0
    assert owned(node_d) == []
    assert virtual_count(node_d) == (1, 1, 0) and static_count(node_d) == (0, 0, 0)
    assert routes(node_d, SROUTE2, 200) == []
    keepalived.wait_state("MASTER", 3)


# ---- keepalived as the oracle: the same keepalived.conf lines, the same kernel state ----

ORACLE_VIRTUAL = """    virtual_ipaddress_excluded {
        192.0.2.201/24 dev eth0 label eth0:ex
        2001:db8::201/64 dev eth0
    }
    virtual_routes {
        198.51.100.0/24 via 192.0.2.254 dev eth0 table 100 metric 5
        src 192.0.2.100 203.0.113.0/25 via 192.0.2.253 dev eth0
        blackhole 203.0.113.128/26
        unreachable 203.0.113.192/26 table 101
        10.7.0.0/16 dev eth0 scope link
        10.8.0.0/16 nexthop via 192.0.2.250 dev eth0 weight 2 nexthop via 192.0.2.251 dev eth0
        10.9.0.0/16 via 10.255.0.1 dev eth0 onlink
        2001:db8:7::/64 via 2001:db8::fe dev eth0 metric 20
        default via 192.0.2.254 dev eth0 table 102
    }
    virtual_rules {
        from 192.0.2.100 table 100 priority 1100
        fwmark 0x10/0xff table 101 priority 1101 iif eth0
        to 203.0.113.0/24 prohibit priority 1102
        from 2001:db8::100/128 table 100 priority 1103
    }
"""


def kernel_state(node: Node, protocol: str) -> tuple[list[str], list[str]]:
    """The node's routes and rules of one protocol, as comparable text without it."""
    routes = []
    for family in ("-4", "-6"):
        for r in json.loads(node.netns.ip(family, "-j", "route", "show", "table", "all").stdout):
            if r.get("protocol") == protocol:
                routes.append(json.dumps({k: v for k, v in r.items() if k != "protocol"},
                                         sort_keys=True))
    rules = []
    for family in ("-4", "-6"):
        for r in json.loads(node.netns.ip(family, "-j", "rule", "show").stdout):
            if r.get("protocol") == protocol:
                rules.append(json.dumps({k: v for k, v in r.items() if k != "protocol"},
                                        sort_keys=True))
    return sorted(routes), sorted(rules)


def test_the_imported_config_programs_what_keepalived_programs(
        lan, ops_node, keepalived_node, tmp_path):
    """keepalived 2.2.7 (MASTER alone) and haipvs running `haipvs import-keepalived`'s
    translation of the same lines (MASTER alone) leave the same routes, rules and excluded
    addresses; only the protocol differs (keepalived 18, haipvs 75)."""
    from haipvs.importer import import_keepalived

    node_k = lan.add_node("k1")
    keepalived = keepalived_node(node_k, VI_1.but(priority=100, state="MASTER"), start=False)
    conf = keepalived.conf_path.read_text().replace(
        "    virtual_ipaddress {", ORACLE_VIRTUAL + "    virtual_ipaddress {", 1)
    keepalived.conf_path.write_text(conf)
    keepalived.start()
    keepalived.wait_state("MASTER", 5)
    wait_until(lambda: len(kernel_state(node_k, "keepalived")[1]) == 4, 3,
               what="keepalived's rules", describe=keepalived.describe)
    expected = kernel_state(node_k, "keepalived")
    assert (len(expected[0]), len(expected[1])) == (9, 4), expected
    expected_addresses = (addresses(node_k, "192.0.2.201/24"),
                          addresses(node_k, "2001:db8::201/64"))
    keepalived.stop()

    translated = import_keepalived(keepalived.conf_path, display="keepalived.conf")
    assert not [n for n in translated.notes if n.line > 10], translated.notes
    (instance,) = translated.document["vrrp_instances"]
    extra = {key: instance[key] for key in
             ("virtual_ipaddress_excluded", "virtual_routes", "virtual_rules")}
    node_d = lan.add_node("d1")
    haipvs = ops_node(node_d, VI_1.but(priority=100), per_instance={"VI_1": extra})
    haipvs.wait_state("MASTER", 8)
    wait_until(lambda: len(kernel_state(node_d, "75")[1]) == 4, 3, what="haipvs' rules",
               describe=haipvs.describe)
    assert kernel_state(node_d, "75") == expected
    assert (addresses(node_d, "192.0.2.201/24"), addresses(node_d, "2001:db8::201/64")) == \
        expected_addresses == (1, 1)
    assert haipvs.stop(timeout=5) == 0
    assert kernel_state(node_d, "75") == ([], [])
