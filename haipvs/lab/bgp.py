"""`haipvs lab --mode bgp`: the scale-out lab (issue 17). Three active directors behind a router
that spreads the VIP's flows over them by ECMP; each director's haipvs announces the VIP as a
route in kernel table 201, its own BIRD exports it over eBGP with BFD (haipvs/lab/bird.py).

    client 203.0.113.10 ── router 203.0.113.1 (BIRD, merge paths, L4 ECMP hash)
        router d1 198.51.100.1/30 ── d1 198.51.100.2   (haipvs scale_out + BIRD)
        router d2 198.51.100.5/30 ── d2 198.51.100.6
        router d3 198.51.100.9/30 ── d3 198.51.100.10
    back LAN 192.0.2.0/25 (a bridge in the router): router .1, d1 .2, d2 .3, d3 .4,
        rs1 .11, rs2 .12, rs3 .13 (HTTP servers naming themselves and who asked)
    VIP 192.0.2.200/32 on lo of every director.

Where the kernel has no IPVS (like this CI host) each director serves the VIP through an
nftables stand-in: DNAT by a hash of the flow's source (the same real server on every
director, as IPVS's mh scheduler would choose) and masquerade, so the real server's answer
names the director. `status` says which path is used. With the stand-in a flow that the
router moves to another director is reset (the new director has no state for it); with IPVS
mh + sloppy_tcp it would keep going. Recorded state and cleanup are lab.py's (lab.json, PIDs
checked against their start times); namespaces are named PREFIX + "bgp<hex>-<node>".
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from haipvs.lab import bird
from haipvs.lab.flowstats import flow_stats, read_log, render_stats
from haipvs.lab.lab import (
    DAEMON_START_TIMEOUT,
    LIFETIME,
    Lab,
    LabError,
    _catches_sigusr1,
    _run,
    _stop,
    _wait,
    create,
    dump,
)
from haipvs.lab.routemon import nexthops, route_events

VIP = "192.0.2.200"
TABLE = 201
CLIENT = "203.0.113.10"
ROUTER_CLIENT = "203.0.113.1"
DIRECTORS = {  # name: (router side, director side) of its /30 uplink, back-LAN address
    "d1": ("198.51.100.1", "198.51.100.2", "192.0.2.2"),
    "d2": ("198.51.100.5", "198.51.100.6", "192.0.2.3"),
    "d3": ("198.51.100.9", "198.51.100.10", "192.0.2.4"),
}
REALS = {"rs1": "192.0.2.11", "rs2": "192.0.2.12", "rs3": "192.0.2.13"}
BACK_GATEWAY = "192.0.2.1"
FLOWS = 24
ROUTE_TIMEOUT = 60.0  # BGP sessions up and the router's ECMP route complete, at most
REROUTE_TIMEOUT = 10.0
SETTLE = 2.0  # seconds of client traffic counted after a reroute
STATUS_TAIL = 512 * 1024  # bytes of the client's log `status` reads: well over 5 s of it

NFT_STANDIN = """table ip haipvs_lab_standin {{
  chain prerouting {{
    type nat hook prerouting priority dstnat;
    ip daddr {vip} tcp dport 80 dnat to jhash ip saddr . tcp sport mod 3 seed 0x5eed \
map {{ 0 : {rs1}, 1 : {rs2}, 2 : {rs3} }}
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat;
    oifname "eth1" ip daddr {rs1} tcp dport 80 masquerade
    oifname "eth1" ip daddr {rs2} tcp dport 80 masquerade
    oifname "eth1" ip daddr {rs3} tcp dport 80 masquerade
  }}
}}
"""
# A silent hang as the router sees it: nothing in or out of the uplink, no link-down, no
# goodbye. Only BFD can notice it.
NFT_HANG = """table inet haipvs_lab_hang {
  chain in { type filter hook prerouting priority -300; iifname "eth0" drop; }
  chain out { type filter hook postrouting priority 300; oifname "eth0" drop; }
  chain local { type filter hook output priority -300; oifname "eth0" drop; }
}
"""


def _ns_run(lab: Lab, node: str, *argv: str, check: bool = True, input_text: str | None = None):
    return _run(["ip", "netns", "exec", lab.ns(node), *argv], check=check, input_text=input_text)


def director_config(lab: Lab, director: str) -> dict[str, Any]:
    state_dir = lab.node_dir(director)
    return {
        "global": {"router_id": director, "state_dir": str(state_dir),
                   "pid_file": str(state_dir / "haipvs.pid")},
        "virtual_servers": [{
            "address": VIP, "port": 80, "protocol": "TCP", "lb_algo": "mh",
            "sched_flags": ["mh-fallback", "mh-port"], "lb_kind": "DR", "delay_loop": 1,
            # One canonical order on every director: the same Maglev table everywhere.
            "real_servers": [
                {"address": address, "port": 80, "weight": 1,
                 "http_get": {"url": [{"path": "/", "status_code": 200}],
                              "connect_timeout": 1, "retry": 1, "delay_before_retry": 1}}
                for address in REALS.values()],
        }],
        "scale_out": {"table": TABLE, "uplink": "eth0", "rise": 2, "fall": 1,
                      "hold_down": 2.0, "drain_timeout": 3.0, "vips": [{"address": VIP}]},
    }


# ---- up -----------------------------------------------------------------------------------


def up(directory: Path, out: Callable[[str], None] = print) -> Lab:
    for name in ("bird", "birdc"):
        try:
            bird.binary(name)
        except FileNotFoundError as exc:
            raise LabError(str(exc)) from None
    # "bgp" + hex: never a NAT/DR lab's id (4 hex digits), so the two never share a name
    return create(directory, "bgp", "bgp" + secrets.token_hex(2), _build, out)


def _veth(lab: Lab, a: str, a_if: str, b: str, b_if: str) -> None:
    _run(["ip", "-n", lab.ns(a), "link", "add", a_if, "type", "veth", "peer", "name", b_if,
          "netns", lab.ns(b)])
    _run(["ip", "-n", lab.ns(a), "link", "set", a_if, "up"])
    _run(["ip", "-n", lab.ns(b), "link", "set", b_if, "up"])


def _addr(lab: Lab, node: str, address: str, ifname: str) -> None:
    _run(["ip", "-n", lab.ns(node), "addr", "add", address, "dev", ifname])


def _build(lab: Lab, out: Callable[[str], None]) -> None:
    python = sys.executable
    out(f"creating namespaces {lab.ns('*')} (BGP mode: router, 3 directors, 3 real servers, "
        "client)")
    nodes = ("router", "client", *DIRECTORS, *REALS)
    for node in nodes:
        lab.add_netns(node)
    router = lab.ns("router")
    for key, value in (("net.ipv4.ip_forward", "1"),
                       ("net.ipv4.fib_multipath_hash_policy", "1")):  # L4 hash: per flow
        _run(["ip", "netns", "exec", router, "sysctl", "-qw", f"{key}={value}"])
    _run(["ip", "-n", router, "link", "add", "back", "type", "bridge"])
    _run(["ip", "-n", router, "link", "set", "back", "up"])
    _addr(lab, "router", f"{BACK_GATEWAY}/25", "back")
    _veth(lab, "router", "client", "client", "eth0")
    _addr(lab, "router", f"{ROUTER_CLIENT}/24", "client")
    _addr(lab, "client", f"{CLIENT}/24", "eth0")
    _run(["ip", "-n", lab.ns("client"), "route", "add", "default", "via", ROUTER_CLIENT])
    for director, (router_side, own, back) in DIRECTORS.items():
        _veth(lab, "router", director, director, "eth0")
        _addr(lab, "router", f"{router_side}/30", director)
        _addr(lab, director, f"{own}/30", "eth0")
        _veth(lab, "router", f"{director}b", director, "eth1")
        _run(["ip", "-n", router, "link", "set", f"{director}b", "master", "back"])
        _addr(lab, director, f"{back}/25", "eth1")
        _run(["ip", "-n", lab.ns(director), "route", "add", "default", "via", router_side])
        _ns_run(lab, director, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _ns_run(lab, director, python, "-m", "haipvs", "director-setup", "--bgp")
    for node, address in REALS.items():
        _veth(lab, "router", f"{node}b", node, "eth0")
        _run(["ip", "-n", router, "link", "set", f"{node}b", "master", "back"])
        _addr(lab, node, f"{address}/25", "eth0")
        _run(["ip", "-n", lab.ns(node), "route", "add", "default", "via", BACK_GATEWAY])
        lab.spawn(f"http-{node}", node, [python, "-m", "haipvs.lab.httpserver", "--name", node,
                                         "--tell-peer", "--max-seconds", str(LIFETIME)])
    if _has_ipvs(lab):
        for director in DIRECTORS:
            _ns_run(lab, director, "sysctl", "-qw", "net.ipv4.vs.sloppy_tcp=1")
        for node in REALS:  # DR: the real servers hold the VIP and answer the client directly
            _ns_run(lab, node, python, "-m", "haipvs", "realserver", "up", "--vip", VIP,
                    "--state-file", str(lab.node_dir(node) / "rs.json"))
        lab.traffic = "IPVS (kernel), mh scheduler, DR"
    else:
        for director in DIRECTORS:
            _ns_run(lab, director, "nft", "-f", "-",
                    input_text=NFT_STANDIN.format(vip=VIP, **REALS))
        lab.traffic = ("nftables stand-in on each director (this kernel has no IPVS): DNAT by "
                       "a hash of the flow's source, the same real server on every director, "
                       "plus masquerade; a flow moved to another director is reset (IPVS mh + "
                       "sloppy_tcp would keep it)")
    lab.save()
    # The router's FIB, timestamped, for the whole life of the lab: reroute times come from it.
    lab.spawn("route-monitor", "router", ["ip", "-ts", "monitor", "route"])
    for director in DIRECTORS:  # ... and each director's table 201: when haipvs withdrew
        lab.spawn("route-monitor", director, ["ip", "-ts", "monitor", "route"])
    peers = [bird.Peer(d, own, d) for d, (_, own, _) in DIRECTORS.items()]
    _start_bird(lab, "router", bird.router_conf(ROUTER_CLIENT, peers))
    for director, (router_side, own, _) in DIRECTORS.items():
        _start_bird(lab, director, bird.director_conf(own, own, router_side, "eth0", TABLE))
        conf = lab.node_dir(director) / "haipvs.yaml"
        conf.write_text(yaml.safe_dump(director_config(lab, director), sort_keys=False))
        _run([python, "-m", "haipvs", "check", str(conf)])
        lab.spawn(director, director, [python, "-m", "haipvs", "--config", str(conf),
                                       "--log-format", "json"])
    for director in DIRECTORS:
        _wait(lambda d=director: _catches_sigusr1(lab, d), DAEMON_START_TIMEOUT,
              f"{director}'s daemon to start")
    out("waiting for the health checks, the announces and the BGP sessions")
    _wait(lambda: len(nexthops(lab.ns("router"), VIP)) == len(DIRECTORS), ROUTE_TIMEOUT,
          f"the router's route to {VIP} with {len(DIRECTORS)} nexthops", interval=0.3)
    lab.spawn("client", "client", [python, "-m", "haipvs.lab.flows", "--host", VIP,
                                    "--flows", str(FLOWS), "--log", str(_client_log(lab)),
                                    "--max-seconds", str(LIFETIME)])
    _wait(lambda: any(r.ok for r in read_log(_client_log(lab))), 10,
          "the client's first answer")
    out(f"lab is up in {lab.directory}")


def _has_ipvs(lab: Lab) -> bool:
    return _ns_run(lab, "d1", "test", "-d", "/proc/sys/net/ipv4/vs", check=False).returncode == 0


def _start_bird(lab: Lab, node: str, text: str) -> None:
    directory = lab.node_dir(node)
    conf = directory / "bird.conf"
    conf.write_text(text)
    try:
        bird.check_conf(str(conf))
    except ValueError as exc:
        raise LabError(str(exc)) from None
    lab.spawn(f"bird-{node}", node, bird.bird_argv(str(conf), str(directory / "bird.ctl")))


def _client_log(lab: Lab) -> Path:
    return lab.node_dir("client") / "flows.log"


def _birdc(lab: Lab, node: str, *command: str) -> str:
    return bird.birdc(lab.ns(node), str(lab.node_dir(node) / "bird.ctl"), *command)


def director_of(via: str) -> str:
    """The director a real server's answer names (its back-LAN address, behind the stand-in's
    masquerade); "unknown" with IPVS DR, where the real server sees the client itself."""
    return next((d for d, (_, _, back) in DIRECTORS.items() if back == via), "unknown")


# ---- status -------------------------------------------------------------------------------


def status_data(lab: Lab) -> dict[str, Any]:
    router_protocols = _birdc(lab, "router", "show", "protocols")
    directors = {}
    for director in DIRECTORS:
        data = dump(lab, director) if lab.alive(director) else None
        scale_out = (data or {}).get("scale_out") or {}
        routes = _ns_run(lab, director, "ip", "-j", "route", "show", "table", str(TABLE),
                         check=False).stdout
        hung = "haipvs_lab_hang" in _ns_run(lab, director, "nft", "list", "tables",
                                            check=False).stdout
        directors[director] = {
            "haipvs_running": data is not None,
            "vips": {vip: {"phase": s["phase"], "announced": s["announced"], "fit": s["fit"]}
                     for vip, s in scale_out.get("vips", {}).items()},
            "table_routes": [r["dst"] for r in json.loads(routes or "[]")],
            "bird_running": lab.alive(f"bird-{director}"),
            "bgp_from_router": bird.protocol_state(router_protocols, director),
            "bfd": bird.bfd_sessions(_birdc(lab, director, "show", "bfd", "sessions")),
            "uplink_hung": hung,
        }
    # The log grows ~120 lines a second for the lab's life: read only its tail.
    log = _client_log(lab)
    size = log.stat().st_size if log.exists() else 0
    recent = [r for r in read_log(log, max(0, size - STATUS_TAIL)) if r.at >= time.time() - 5]
    served: dict[str, int] = {}
    for record in recent:
        if record.ok:
            served[director_of(record.via)] = served.get(director_of(record.via), 0) + 1
    return {"mode": "bgp", "lab_dir": str(lab.directory), "namespaces": lab.namespaces,
            "traffic": lab.traffic, "vip": VIP, "router_nexthops": nexthops(lab.ns("router"), VIP),
            "directors": directors,
            "client_last_5s": {"requests": len(recent),
                               "errors": sum(1 for r in recent if not r.ok),
                               "served_by": dict(sorted(served.items()))}}


def render_status(data: dict[str, Any]) -> str:
    lines = [f"haipvs lab, BGP mode, in {data['lab_dir']}", f"traffic path: {data['traffic']}",
             "", f"router: route to {data['vip']} has {len(data['router_nexthops'])} nexthops "
             f"(ECMP, L4 hash)"]
    names = {own: d for d, (_, own, _) in DIRECTORS.items()}
    lines += [f"  via {hop} ({names.get(hop, '?')})" for hop in data["router_nexthops"]]
    lines += ["", "directors (haipvs announce state, table 201, BIRD):"]
    for director, info in data["directors"].items():
        vips = ", ".join(f"{vip} {s['phase']} (route "
                         f"{'in the table' if s['announced'] else 'withdrawn'})"
                         for vip, s in info["vips"].items()) or "haipvs not running"
        lines.append(f"  {director}  {vips}; table {TABLE}: "
                     f"{', '.join(info['table_routes']) or 'empty'}; BGP (router's view) "
                     f"{info['bgp_from_router']}; BFD {'; '.join(info['bfd']) or '-'}"
                     + ("; UPLINK HUNG (nftables drop-all)" if info["uplink_hung"] else ""))
    client = data["client_last_5s"]
    lines += ["", f"client {CLIENT}: {FLOWS} flows, last 5 s: {client['requests']} requests, "
              f"{client['errors']} errors, served by "
              + (", ".join(f"{d} {n}" for d, n in client["served_by"].items()) or "nobody")]
    return "\n".join(lines)


# ---- drain and failover --------------------------------------------------------------------


def _measure(lab: Lab, what: str, director: str, expected: int,
             act: Callable[[], None], out: Callable[[str], None]) -> dict[str, Any]:
    """Run `act` and measure: the router's first FIB change for the VIP after it (from the
    timestamped `ip monitor` in the router), the nexthops left, and the client's flows."""
    router = lab.ns("router")
    monitor_log = lab.node_dir("router") / "route-monitor.log"
    log_offset = _client_log(lab).stat().st_size
    time.sleep(1.0)  # every flow answers at least once before the event: its director then
    acted_at = time.time()
    act()
    # The reroute is timed from the command's start; how long the command itself took
    # (a Python CLI start for drain, an `nft` run for the hang, nothing for a signal) is shown.
    act_seconds = time.time() - acted_at

    def rerouted() -> list[tuple[float, list[str]]] | None:
        events = [e for e in route_events(monitor_log.read_text(), VIP) if e[0] >= acted_at]
        return events if events and len(nexthops(router, VIP)) == expected else None

    events = _wait(rerouted, REROUTE_TIMEOUT, f"the router's route to {VIP} to have "
                   f"{expected} nexthops", interval=0.05)
    withdrawn = [e for e in route_events((lab.node_dir(director) / "route-monitor.log")
                                         .read_text(), VIP) if e[0] >= acted_at]
    time.sleep(SETTLE)
    stats = flow_stats(read_log(_client_log(lab), log_offset), acted_at, events[-1][0],
                       director, director_of)
    result = {"what": what, "director": director, "at": acted_at,
              "reroute_seconds": round(events[0][0] - acted_at, 3),
              "settled_seconds": round(events[-1][0] - acted_at, 3),
              "director_route_change_seconds": (round(withdrawn[0][0] - acted_at, 3)
                                                if withdrawn else None),
              "command_seconds": round(act_seconds, 3),
              "nexthops_after": nexthops(router, VIP), "flows": stats}
    out(f"{what}: router's FIB rerouted {result['reroute_seconds'] * 1000:.0f} ms later "
        f"(first route change seen in the router namespace; {expected} nexthop(s) after "
        f"{result['settled_seconds'] * 1000:.0f} ms; timed from the command's start, which "
        f"took {act_seconds * 1000:.0f} ms)")
    if withdrawn:
        changed = (withdrawn[0][0] - acted_at) * 1000
        out(f"  {director}'s table {TABLE} changed {changed:.0f} ms after it; the router "
            f"followed {(events[0][0] - withdrawn[0][0]) * 1000:.1f} ms "
            "later (BIRD -> BGP -> BIRD -> kernel)")
    else:
        out(f"  {director}'s table {TABLE} did not change: only the router noticed")
    out("  " + render_stats(stats, director))
    return result


def _pick(lab: Lab, requested: str | None) -> str:
    """A director whose haipvs and BIRD run and whose path the router uses."""
    hops = nexthops(lab.ns("router"), VIP)
    candidates = [d for d in DIRECTORS if lab.alive(d) and lab.alive(f"bird-{d}")
                  and DIRECTORS[d][1] in hops]
    if requested is not None:
        if requested not in candidates:
            raise LabError(f"{requested} is not an announcing director now (see `haipvs lab "
                           "status`)")
        return requested
    if not candidates:
        raise LabError("no director is announcing the VIP now (see `haipvs lab status`)")
    return candidates[0]


def drain(lab: Lab, director: str | None, out: Callable[[str], None] = print) -> dict[str, Any]:
    """`haipvs drain --all` on one director, then `undrain`: both reroutes measured."""
    chosen = _pick(lab, director)
    hops = len(nexthops(lab.ns("router"), VIP))
    state_dir = str(lab.node_dir(chosen))

    def haipvs(verb: str) -> Callable[[], None]:
        return lambda: _ns_run(lab, chosen, sys.executable, "-m", "haipvs", verb, "--all",
                               "--state-dir", state_dir)

    result = _measure(lab, f"haipvs drain on {chosen}", chosen, hops - 1, haipvs("drain"), out)
    back = _measure(lab, f"haipvs undrain on {chosen}", chosen, hops, haipvs("undrain"), out)
    result = {"drain": result, "undrain": back}
    (lab.directory / "drain.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def failover(lab: Lab, out: Callable[[str], None] = print) -> dict[str, Any]:
    """A silent hang of one director (only BFD notices) and a SIGTERM of another's haipvs
    (it withdraws first, then stops)."""
    hung = _pick(lab, None)
    hops = len(nexthops(lab.ns("router"), VIP))
    if hops < 3:  # one director must be left to serve after both events
        raise LabError(f"the router has {hops} nexthop(s) for {VIP}; failover takes two "
                       "directors away and needs three announcing (`haipvs lab down`, `up`)")

    def hang() -> None:
        _ns_run(lab, hung, "nft", "-f", "-", input_text=NFT_HANG)

    first = _measure(lab, f"{hung} hung (nftables drop-all on its uplink; BFD "
                     f"{bird.BFD_INTERVAL_MS} ms x {bird.BFD_MULTIPLIER})", hung, hops - 1,
                     hang, out)
    stopped = _pick(lab, None)
    entry = lab.process(stopped)
    assert entry is not None

    def sigterm() -> None:
        os.kill(entry["pid"], signal.SIGTERM)

    second = _measure(lab, f"haipvs on {stopped} stopped by SIGTERM (withdraw first)", stopped,
                      hops - 2, sigterm, out)
    _stop(entry, wait=10.0)  # its drain_timeout is 3 s; reaps it
    result = {"hang": first, "sigterm": second}
    out(f"left: {hung} hung, {stopped} stopped; `haipvs lab down` removes the lab")
    (lab.directory / "failover.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def run(args: Any, directory: Path) -> int:
    """lab.py's dispatch for a bgp lab (up --mode bgp, or any action on a bgp lab)."""
    quiet = getattr(args, "json", False)
    out: Callable[[str], None] = (lambda line: None) if quiet else print
    if args.action == "up":
        up(directory, out)
        return 0
    lab = Lab.load(directory)
    assert lab is not None
    if args.action == "status":
        data = status_data(lab)
        print(json.dumps(data, indent=2) if quiet else render_status(data))
        return 0
    if args.action == "drain":
        result = drain(lab, getattr(args, "director", None), out)
    else:
        result = failover(lab, out)
    if quiet:
        print(json.dumps(result, indent=2))
    return 0
