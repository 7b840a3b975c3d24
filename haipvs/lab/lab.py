"""`haipvs lab up|status|failover|down`: the seed tutorials' lab on this machine.

Five network namespaces joined by bridges in a sixth ("switch") namespace, TEST-NET only,
nothing in the host's own namespace:

    NAT (seed 000 section 2, made highly available):
      client 203.0.113.10 ── front ── lvs1 203.0.113.2 / lvs2 203.0.113.3  (VIP 203.0.113.100)
                                      lvs1 198.51.100.2 / lvs2 198.51.100.3
                                      ── back ── rs1 198.51.100.11, rs2 198.51.100.12
      The real servers' gateway is a second VIP, 198.51.100.1, held with the front VIP (sync
      group), so replies go back through whichever director is MASTER.
    DR (seed 000 section 3): everyone on 203.0.113.0/24; the real servers hold the VIP on lo
      (`haipvs realserver up`).

Both directors run the real haipvs daemon (priority 150 and 100) on a generated config. Each
real server runs a tiny HTTP server whose page is its name; the client GETs the VIP five times
a second and logs every answer. Where the kernel has no IPVS (like this CI host), NAT traffic
goes through an nftables DNAT stand-in on each director, and `status` says so; the VRRP
failover is real either way.

Everything the lab creates is recorded in LAB_DIR/lab.json as it is created, so `down` removes
every namespace and process (by PID, checked against its start time) even after a failed `up`.
"""

from __future__ import annotations

import argparse
import contextlib
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

from haipvs.lab.state import (  # noqa: F401 - also the names haipvs/lab/bgp.py and tests use
    DAEMON_START_TIMEOUT,
    ELECTION_TIMEOUT,
    PREFIX,
    Lab,
    LabError,
    _is_ours,
    _reap,
    _run,
    _start_time,
    _stop,
    _wait,
    create,
    down,
)

DEFAULT_LAB_DIR = "/run/haipvs-lab"
VIP = "203.0.113.100"
BACK_VIP = "198.51.100.1"
ADVERT_INT = 1
PRIORITIES = {"lvs1": 150, "lvs2": 100}
LIFETIME = 4 * 3600  # helper processes exit by themselves after this many seconds


# ---- configs ------------------------------------------------------------------------------


def director_config(lab: Lab, director: str) -> dict[str, Any]:
    state_dir = lab.node_dir(director)
    priority = PRIORITIES[director]
    common = {"state": "MASTER" if priority == max(PRIORITIES.values()) else "BACKUP",
              "priority": priority, "advert_int": ADVERT_INT}
    if lab.mode == "nat":
        instances = [
            {"name": "VI_FRONT", "interface": "eth0", "virtual_router_id": 50, **common,
             "virtual_ipaddress": [f"{VIP}/24"]},
            {"name": "VI_BACK", "interface": "eth1", "virtual_router_id": 51, **common,
             "virtual_ipaddress": [f"{BACK_VIP}/24"]},
        ]
        reals = ["198.51.100.11", "198.51.100.12"]
    else:
        instances = [{"name": "VI_DR", "interface": "eth0", "virtual_router_id": 52, **common,
                      "virtual_ipaddress": [f"{VIP}/24"]}]
        reals = ["203.0.113.11", "203.0.113.12"]
    config: dict[str, Any] = {
        "global": {"router_id": director, "state_dir": str(state_dir),
                   "pid_file": str(state_dir / "haipvs.pid")},
        "vrrp_instances": instances,
        "virtual_servers": [{
            "address": VIP, "port": 80, "protocol": "TCP", "lb_algo": "rr",
            "lb_kind": lab.mode.upper(), "delay_loop": 2,
            "real_servers": [
                {"address": rs, "port": 80, "weight": 1,
                 "http_get": {"url": [{"path": "/", "status_code": 200}],
                              "connect_timeout": 1, "retry": 1, "delay_before_retry": 1}}
                for rs in reals],
        }],
    }
    if lab.mode == "nat":
        config["vrrp_sync_groups"] = [{"name": "VG_LAB", "group": ["VI_FRONT", "VI_BACK"]}]
    return config


def real_servers(lab: Lab) -> dict[str, str]:
    net = "198.51.100" if lab.mode == "nat" else "203.0.113"
    return {"rs1": f"{net}.11", "rs2": f"{net}.12"}


def kernel_has_ipvs(lab: Lab) -> bool:
    """IPVS is per namespace once the module is loaded; its sysctls show it."""
    proc = _run(["ip", "netns", "exec", lab.ns("lvs1"), "test", "-d", "/proc/sys/net/ipv4/vs"],
                check=False)
    return proc.returncode == 0


NFT_STANDIN = """table ip haipvs_lab_standin {{
  chain prerouting {{
    type nat hook prerouting priority dstnat;
    ip daddr {vip} tcp dport 80 dnat to numgen inc mod 2 map {{ 0 : {rs1}, 1 : {rs2} }}
  }}
}}
"""


# ---- up -----------------------------------------------------------------------------------


def up(directory: Path, mode: str, out: Callable[[str], None] = print) -> Lab:
    return create(directory, mode, secrets.token_hex(2), _build, out)


def _build(lab: Lab, out: Callable[[str], None]) -> None:
    python = sys.executable
    out(f"creating namespaces {lab.ns('*')} ({lab.mode.upper()} mode)")
    for node in ("sw", "client", "lvs1", "lvs2", "rs1", "rs2"):
        lab.add_netns(node)
    switch = lab.ns("sw")
    bridges = ("front", "back") if lab.mode == "nat" else ("front",)
    for bridge in bridges:
        _run(["ip", "-n", switch, "link", "add", bridge, "type", "bridge"])
        _run(["ip", "-n", switch, "link", "set", bridge, "up"])
    lab.wire("client", "eth0", "front", "203.0.113.10/24")
    lab.wire("lvs1", "eth0", "front", "203.0.113.2/24")
    lab.wire("lvs2", "eth0", "front", "203.0.113.3/24")
    reals = real_servers(lab)
    if lab.mode == "nat":
        lab.wire("lvs1", "eth1", "back", "198.51.100.2/24")
        lab.wire("lvs2", "eth1", "back", "198.51.100.3/24")
        for node, address in reals.items():
            lab.wire(node, "eth0", "back", f"{address}/24")
            _run(["ip", "-n", lab.ns(node), "route", "add", "default", "via", BACK_VIP])
        for director in ("lvs1", "lvs2"):
            _run(["ip", "netns", "exec", lab.ns(director), python, "-m", "haipvs",
                  "director-setup", "--nat"])
    else:
        for node, address in reals.items():
            lab.wire(node, "eth0", "front", f"{address}/24")
            _run(["ip", "netns", "exec", lab.ns(node), python, "-m", "haipvs", "realserver",
                  "up", "--vip", VIP, "--state-file", str(lab.node_dir(node) / "rs.json")])
    for node in reals:
        lab.spawn(f"http-{node}", node, [python, "-m", "haipvs.lab.httpserver", "--name", node,
                                         "--address", "0.0.0.0", "--port", "80",
                                         "--max-seconds", str(LIFETIME)])
    if kernel_has_ipvs(lab):
        lab.traffic = "IPVS (kernel)"
    elif lab.mode == "nat":
        for director in ("lvs1", "lvs2"):
            _run(["ip", "netns", "exec", lab.ns(director), "nft", "-f", "-"],
                 input_text=NFT_STANDIN.format(vip=VIP, **reals))
        lab.traffic = ("nftables DNAT stand-in on each director (this kernel has no IPVS; "
                       "health checks do not steer it; `make lab VM=1` runs the lab in a qemu "
                       "guest with real IPVS)")
    else:
        lab.traffic = ("none: DR needs IPVS and this kernel has none (VRRP failover still works;"
                       " `make lab VM=1 MODE=dr` runs the lab in a qemu guest with real IPVS)")
    lab.save()
    for director in ("lvs1", "lvs2"):
        conf = lab.node_dir(director) / "haipvs.yaml"
        conf.write_text(yaml.safe_dump(director_config(lab, director), sort_keys=False))
        _run([python, "-m", "haipvs", "check", str(conf)])
        lab.spawn(director, director, [python, "-m", "haipvs", "--config", str(conf),
                                       "--log-format", "json"])
    for director in ("lvs1", "lvs2"):
        _wait(lambda d=director: _catches_sigusr1(lab, d), DAEMON_START_TIMEOUT,
              f"{director}'s daemon to start")
    out("waiting for the VRRP election (Master_Down_Interval, about 3.6 s)")
    _wait(lambda: master_of(lab), ELECTION_TIMEOUT, "a MASTER", interval=0.3)
    lab.spawn("client", "client", [python, "-m", "haipvs.lab.client", "--host", VIP,
                                    "--log", str(lab.node_dir("client") / "responses.log"),
                                    "--max-seconds", str(LIFETIME)])
    _wait(lambda: responses(lab, 1), 10, "the client's first request")
    out(f"lab is up in {lab.directory}")


def _catches_sigusr1(lab: Lab, director: str) -> bool:
    entry = lab.process(director)
    if entry is None or not _is_ours(entry):
        log = lab.node_dir(director) / f"{director}.log"
        raise LabError(f"{director}'s daemon exited:\n{log.read_text()[-2000:]}")
    for line in Path(f"/proc/{entry['pid']}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGUSR1 - 1)))
    return False


def dump(lab: Lab, director: str, timeout: float = 3.0) -> dict[str, Any] | None:
    """A fresh SIGUSR1 state dump of `director`'s daemon; None when it is not running."""
    entry = lab.process(director)
    if entry is None or not _is_ours(entry):
        return None
    path = lab.node_dir(director) / "haipvs.json"
    asked = time.time()
    os.kill(entry["pid"], signal.SIGUSR1)

    def fresh() -> dict[str, Any] | None:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
            if data.get("generated_at", 0) >= asked - 0.001:
                return data
        return None

    return _wait(fresh, timeout, f"{director}'s state dump", interval=0.05)


def master_of(lab: Lab) -> str | None:
    first = "VI_FRONT" if lab.mode == "nat" else "VI_DR"
    for director in ("lvs1", "lvs2"):
        data = dump(lab, director)
        if data and data["instances"].get(first, {}).get("state") == "MASTER":
            return director
    return None


# ---- status -------------------------------------------------------------------------------


def responses(lab: Lab, count: int) -> list[tuple[float, str]]:
    path = lab.directory / "client" / "responses.log"
    if not path.exists():
        return []
    lines = path.read_text().splitlines()[-count:]
    result = []
    for line in lines:
        stamp, _, text = line.partition(" ")
        with contextlib.suppress(ValueError):
            result.append((float(stamp), text))
    return result


def probe(lab: Lab, director: str, address: str) -> str:
    script = ("import http.client,sys\n"
              "c=http.client.HTTPConnection(sys.argv[1],80,timeout=1)\n"
              "try:\n c.request('GET','/');r=c.getresponse()\n"
              " print('up', r.status, r.read(100).decode().strip())\n"
              "except OSError as e: print('down', e)\n")
    proc = _run(["ip", "netns", "exec", lab.ns(director), sys.executable, "-c", script, address],
                check=False)
    return (proc.stdout or proc.stderr).strip()


def status_data(lab: Lab, count: int) -> dict[str, Any]:
    directors = {}
    for director in ("lvs1", "lvs2"):
        data = dump(lab, director)
        entry = lab.process(director)
        if data is None:
            directors[director] = {"running": False, "pid": entry and entry["pid"]}
            continue
        directors[director] = {
            "running": True, "pid": data["pid"],
            "instances": {name: {"state": i["state"], "priority": i["effective_priority"],
                                 "vips": i["vips_held"], "transitions": i["last_transitions"]}
                          for name, i in data["instances"].items()},
            "ipvs": data.get("ipvs", {}),
        }
    master = next((d for d, v in directors.items() if v.get("running") and any(
        i["state"] == "MASTER" for i in v["instances"].values())), None)
    table = ""
    shown_on = master or next((d for d, v in directors.items() if v.get("running")), None)
    if shown_on is not None:
        node = lab.node_dir(shown_on)
        proc = _run(["ip", "netns", "exec", lab.ns(shown_on), sys.executable, "-m", "haipvs",
                     "status", "--state-dir", str(node), "--pid-file",
                     str(node / "haipvs.pid")], check=False)
        table = (proc.stdout + proc.stderr).rstrip()
    health = {}
    if shown_on is not None:
        for name, address in real_servers(lab).items():
            health[name] = {"address": address, "probe": probe(lab, shown_on, address)}
    return {"mode": lab.mode, "lab_dir": str(lab.directory), "namespaces": lab.namespaces,
            "traffic": lab.traffic, "master": master, "directors": directors,
            "ipvs_table_from": shown_on, "ipvs_table": table, "real_servers": health,
            "responses": responses(lab, count)}


def render_status(data: dict[str, Any]) -> str:
    lines = [f"haipvs lab, {data['mode'].upper()} mode, in {data['lab_dir']}",
             f"traffic path: {data['traffic']}", "", "directors (from each daemon's dump):"]
    for director, info in data["directors"].items():
        if not info["running"]:
            lines.append(f"  {director}  not running (pid {info['pid']})")
            continue
        for name, inst in info["instances"].items():
            lines.append(f"  {director}  {name:<9} {inst['state']:<7} priority "
                         f"{inst['priority']:<4} VIPs {', '.join(inst['vips']) or '-'}")
    lines.append(f"MASTER: {data['master'] or 'none'}")
    if data["ipvs_table"]:
        lines += ["", f"IPVS on {data['ipvs_table_from']} (`haipvs status`):"]
        lines += [f"  {line}" for line in data["ipvs_table"].splitlines()]
    lines += ["", f"real servers (HTTP GET from {data['ipvs_table_from']}):"]
    for name, info in data["real_servers"].items():
        lines.append(f"  {name} {info['address']}:80  {info['probe']}")
    lines += ["", f"client 203.0.113.10 -> http://{VIP}/, last {len(data['responses'])}:"]
    for stamp, text in data["responses"]:
        clock = time.strftime("%H:%M:%S", time.localtime(stamp)) + f".{int(stamp % 1 * 1000):03d}"
        lines.append(f"  {clock}  {text}")
    return "\n".join(lines)


# ---- failover -----------------------------------------------------------------------------


def master_down_interval(priority: int, advert_int: float = ADVERT_INT) -> float:
    """RFC 3768/5798: 3 x advert interval + skew time ((256 - priority) / 256 x advert)."""
    return 3 * advert_int + (256 - priority) / 256 * advert_int


def failover(lab: Lab, out: Callable[[str], None] = print) -> dict[str, Any]:
    master = master_of(lab)
    if master is None:
        raise LabError("no director is MASTER right now; see `haipvs lab status`")
    backup = "lvs2" if master == "lvs1" else "lvs1"
    if not lab.alive(backup):
        raise LabError(f"{backup}'s daemon is not running: nothing could take over")
    entry = lab.process(master)
    assert entry is not None
    instance = "VI_FRONT" if lab.mode == "nat" else "VI_DR"
    killed_at = time.time()
    # Like the seed's `reboot` of lvs01: no goodbye advert, and the VIP it held stops
    # answering, so the backup must time out and take over.
    os.kill(entry["pid"], signal.SIGKILL)
    for ifname in ("eth0", "eth1") if lab.mode == "nat" else ("eth0",):
        _run(["ip", "-n", lab.ns(master), "link", "set", ifname, "down"], check=False)
    out(f"killed {master}'s daemon (MASTER, pid {entry['pid']}) with SIGKILL and took its "
        "links down, as if the machine had died")
    limit = master_down_interval(PRIORITIES[backup])

    def took_over() -> dict[str, Any] | None:
        data = dump(lab, backup)
        inst = data["instances"][instance] if data else {}
        if inst.get("state") != "MASTER":
            return None
        became = [t for t in inst["last_transitions"] if t["to"] == "MASTER"
                  and t["at"] >= killed_at]
        return became[-1] if became else None

    transition = _wait(took_over, limit + 5, f"{backup} to become MASTER", interval=0.2)
    _stop(entry, wait=1.0)  # reap it
    takeover = transition["at"] - killed_at
    time.sleep(0.6)  # let the client log a few answers from the new MASTER
    before = [r for r in responses(lab, 400) if r[0] < killed_at]
    after = [r for r in responses(lab, 400) if r[0] >= killed_at]
    first_ok = next((r for r in after if r[1].startswith("ok")), None)
    result = {"killed": master, "new_master": backup, "killed_at": killed_at,
              "takeover_seconds": round(takeover, 3), "reason": transition["reason"],
              "master_down_interval": round(limit, 3),
              "last_response_before": before[-1] if before else None,
              "first_ok_after": first_ok}
    out(f"{backup} became MASTER {takeover:.3f} s later ({transition['reason']}; from its "
        f"transition timestamp); Master_Down_Interval for priority {PRIORITIES[backup]}, "
        f"advert {ADVERT_INT} s = {limit:.3f} s")
    if first_ok is not None:
        out(f"client: first good answer {first_ok[0] - killed_at:.3f} s after the kill: "
            f"{first_ok[1]}")
    (lab.directory / "failover.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


# ---- command line -------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("up", "status", "failover", "drain", "down", "demo"),
                        help="demo: up, answers, failover, answers, down in one run "
                        "(haipvs/lab/demo.py; `make lab VM=1` runs it in the qemu guest)")
    parser.add_argument("--mode", choices=("nat", "dr", "bgp"), default="nat",
                        help="NAT (two networks), DR (one network, VIP on the real "
                        "servers' lo) or bgp (three active directors behind a BIRD router, "
                        "ECMP; haipvs/lab/bgp.py); for up (default nat)")
    parser.add_argument("--director", default=None,
                        help="drain (bgp lab): which director (default: the first announcing)")
    parser.add_argument("--lab-dir", default=DEFAULT_LAB_DIR,
                        help=f"where the lab keeps its state (default {DEFAULT_LAB_DIR})")
    parser.add_argument("--responses", type=int, default=10, metavar="N",
                        help="status: show the last N client responses")
    parser.add_argument("--json", action="store_true", help="status/failover: JSON output")


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("haipvs lab: needs root (network namespaces)", file=sys.stderr)
        return 1
    directory = Path(args.lab_dir)
    try:
        loaded = Lab.load(directory) if args.action not in ("up", "down") else None
        if (args.action == "up" and args.mode == "bgp") or (loaded and loaded.mode == "bgp"):
            from haipvs.lab import bgp

            return bgp.run(args, directory)
        if args.action == "drain":
            print("haipvs lab drain: only a bgp lab drains (`haipvs lab up --mode bgp`)",
                  file=sys.stderr)
            return 1
        if args.action == "up":
            up(directory, args.mode)
            return 0
        if args.action == "demo":
            from haipvs.lab.demo import demo

            return demo(directory, args.mode)
        if args.action == "down":
            down(directory)
            return 0
        lab = Lab.load(directory)
        if lab is None:
            print(f"haipvs lab: no lab in {directory}; run `haipvs lab up`", file=sys.stderr)
            return 1
        if args.action == "status":
            data = status_data(lab, args.responses)
            print(json.dumps(data, indent=2) if args.json else render_status(data))
            return 0
        result = failover(lab, out=(lambda line: None) if args.json else print)
        if args.json:
            print(json.dumps(result, indent=2))
        return 0
    except LabError as exc:
        print(f"haipvs lab {args.action}: {exc}", file=sys.stderr)
        return 1
