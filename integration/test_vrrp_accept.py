"""Acceptance (issue 15, item 1): accept / no_accept (and vrrp_strict, whose default is
no_accept): a client's ping and TCP to the VIP get the same answers from haipvs as from
keepalived 2.2.7, as director in the same topology and config, on a MASTER (non-owner,
priority 100) and on a BACKUP. Also: SIGTERM leaves no haipvs nftables table; SIGKILL and a
restart leave exactly one.

Topology: client c, director d, peer p (keepalived, priority 200, started only for the BACKUP
phase) on one LAN. The client's neighbour entry for the VIP is pinned to d's MAC, so in the
BACKUP phase its packets still reach d (not the peer that holds the VIP).

keepalived's behaviour matched: vrrp.c vrrp_handle_accept_mode() (drop rules for a non-owner
without accept mode), vrrp_state_become_master() (set before the VIPs are added),
vrrp_restore_interface() (removed after them), vrrp_nftables.c (input: `ip daddr @vips drop`,
output: `ip saddr @vips drop`).
"""

from __future__ import annotations

import json
import re
import sys

from integration.harness.proc import Proc
from integration.harness.requirements import keepalived_interop_marks
from integration.harness.servers import tcp_accept_server
from integration.harness.topology import Node
from integration.harness.wait import wait_until
from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    ops_node_fixture,
)

pytestmark = keepalived_interop_marks()

VIP = "192.0.2.100"
VI_1 = FAST.but(name="VI_1", vrid=81, vips=(f"{VIP}/24",), priority=100)
LISTEN, CLOSED = 8081, 8082
MODES = ("accept", "no_accept", "vrrp_strict")

# Ping and two TCP connects at once (1 s each), from the client: "reply"/"none",
# "connected"/"refused"/"timeout".
_PROBE = r"""
import json, socket, struct, sys, threading, time
vip, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
out = {}
def ping():
    # ICMP echo over a raw socket (root; no ping binary needed): an echo reply from the VIP
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(1.0)
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4856, 1) + b"haipvs"
    total = sum(struct.unpack("!%dH" % (len(body) // 2), body))
    total = (total >> 16) + (total & 0xFFFF)
    csum = ~(total + (total >> 16)) & 0xFFFF
    s.sendto(body[:2] + struct.pack("!H", csum) + body[4:], (vip, 0))
    out["ping"] = "none"
    deadline = time.monotonic() + 1.0
    try:
        while time.monotonic() < deadline:
            data, (src, _) = s.recvfrom(2048)
            icmp = data[(data[0] & 0x0F) * 4:]
            if src == vip and icmp[0] == 0 and icmp[4:6] == struct.pack("!H", 0x4856):
                out["ping"] = "reply"
                break
    except TimeoutError:
        pass
    finally:
        s.close()
def tcp(port):
    s = socket.socket()
    s.settimeout(1.0)
    try:
        s.connect((vip, port))
        out[f"tcp {port}"] = "connected"
    except ConnectionRefusedError:
        out[f"tcp {port}"] = "refused"
    except TimeoutError:
        out[f"tcp {port}"] = "timeout"
    except OSError as e:
        out[f"tcp {port}"] = f"errno {e.errno}"
    finally:
        s.close()
threads = [threading.Thread(target=ping)] + [threading.Thread(target=tcp, args=(p,)) for p in ports]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(out, sort_keys=True))
"""

# What RFC 5798 §6.1 Accept_Mode means on the wire (also checked, so that "equal" cannot be
# equally broken): a BACKUP holds no VIP; a non-owner MASTER answers only in accept mode.
EXPECTED = {
    ("MASTER", True): {"ping": "reply", f"tcp {LISTEN}": "connected", f"tcp {CLOSED}": "refused"},
    ("MASTER", False): {"ping": "none", f"tcp {LISTEN}": "timeout", f"tcp {CLOSED}": "timeout"},
    ("BACKUP", True): {"ping": "none", f"tcp {LISTEN}": "timeout", f"tcp {CLOSED}": "timeout"},
    ("BACKUP", False): {"ping": "none", f"tcp {LISTEN}": "timeout", f"tcp {CLOSED}": "timeout"},
}


def probe(client: Node) -> dict[str, str]:
    done = client.netns.run(sys.executable, "-c", _PROBE, VIP, str(LISTEN), str(CLOSED),
                            timeout=10)
    return json.loads(done.stdout)


def haipvs_tables(node: Node) -> list[str]:
    out = node.netns.run("nft", "list", "tables").stdout
    return [line for line in out.splitlines() if re.fullmatch(r"table inet haipvs", line)]


def blocked_set(node: Node) -> str:
    shown = node.netns.run("nft", "list", "set", "inet", "haipvs", "vips4", check=False)
    return shown.stdout if shown.returncode == 0 else ""


def keepalived_conf(text: str, mode: str) -> str:
    if mode == "vrrp_strict":
        return text.replace("global_defs {\n", "global_defs {\n    vrrp_strict\n", 1)
    return text.replace("    virtual_ipaddress {", f"    {mode}\n    virtual_ipaddress {{", 1)


def haipvs_extra(mode: str) -> dict:
    if mode == "vrrp_strict":
        return {"top": {"global": {"vrrp_strict": True}}}
    return {"per_instance": {"VI_1": {"accept": mode == "accept"}}}


def test_accept_modes_answer_as_keepalived_and_the_table_is_owned(
        lan, ops_node, keepalived_node, tmp_path):
    client, director, peer_node = lan.add_node("c"), lan.add_node("d"), lan.add_node("p")
    client.netns.ip("neigh", "replace", VIP, "lladdr", director.mac, "dev", "eth0",
                    "nud", "permanent")
    listener = Proc(director.netns, tcp_accept_server(LISTEN), tmp_path / "listener.log",
                    name="listener")
    peer = keepalived_node(peer_node, VI_1.but(priority=200), start=False)
    answers: dict[tuple[str, str, str], dict[str, str]] = {}
    try:
        wait_until(lambda: "ready" in listener.log_text(), 5, what="the TCP listener")
        for mode in MODES:
            accept = mode == "accept"
            for kind in ("keepalived", "haipvs"):
                if kind == "keepalived":
                    daemon = keepalived_node(director, VI_1, start=False)
                    daemon.conf_path.write_text(keepalived_conf(daemon.conf_path.read_text(),
                                                                mode))
                    daemon.start()
                else:
                    daemon = ops_node(director, VI_1, **haipvs_extra(mode))
                daemon.wait_state("MASTER", 8)
                wait_until(lambda: director.has_address(VIP), 3, what="the VIP on d")
                answers[(mode, kind, "MASTER")] = probe(client)
                if kind == "haipvs" and mode == "accept":
                    reload_switches_accept_mode(daemon, director, client)
                peer.start()
                daemon.wait_state("BACKUP", 5)
                wait_until(lambda: not director.has_address(VIP), 3, what="the VIP off d")
                answers[(mode, kind, "BACKUP")] = probe(client)
                if kind == "haipvs":
                    assert "elements" not in blocked_set(director)  # BACKUP: nothing
                assert peer.stop(timeout=5) == 0
                if kind == "haipvs" and not accept:
                    crash_restart_and_stop(daemon, director)
                else:
                    assert daemon.stop(timeout=5) == 0
                assert haipvs_tables(director) == []
            for state in ("MASTER", "BACKUP"):
                got = answers[(mode, "haipvs", state)]
                assert got == answers[(mode, "keepalived", state)], (mode, state, answers)
                assert got == EXPECTED[(state, accept)], (mode, state, got)
    finally:
        listener.stop()


def crash_restart_and_stop(daemon, director: Node) -> None:
    """MASTER with no_accept again: the table blocks the VIP; SIGKILL leaves it; a restart
    replaces it (exactly one, empty while BACKUP); SIGTERM removes it."""
    daemon.wait_state("MASTER", 5)
    wait_until(lambda: VIP in blocked_set(director), 3, what="the VIP in the drop set")
    assert len(haipvs_tables(director)) == 1
    daemon.kill()
    assert len(haipvs_tables(director)) == 1 and VIP in blocked_set(director)
    daemon.start()
    daemon.wait_ready()
    assert len(haipvs_tables(director)) == 1
    daemon.wait_state("MASTER", 8)
    wait_until(lambda: VIP in blocked_set(director), 3, what="the VIP in the drop set")
    assert len(haipvs_tables(director)) == 1
    assert daemon.stop(timeout=5) == 0


def reload_switches_accept_mode(daemon, director: Node, client: Node) -> None:
    """SIGHUP to accept: false on a MASTER blocks its VIP at once, and back to true opens it
    (keepalived vrrp.c vrrp_complete_init() on reload: "accept mode changing" adds or removes
    the firewall rules); the instance stays MASTER."""
    for accept in (False, True):
        daemon.per_instance = {"VI_1": {"accept": accept}}
        daemon.write_config(list(daemon.instances.values()))
        seen = daemon.count_log("reload_applied")
        daemon.reload()
        daemon.wait_log("reload_applied", 5, since_count=seen)
        wait_until(lambda accept=accept: (VIP in blocked_set(director)) != accept, 3,
                   what=f"the drop set after reloading accept: {accept}")
        assert probe(client) == EXPECTED[("MASTER", accept)]
        assert daemon.state() == "MASTER"


VIP6 = "2001:db8::100"
VI_6 = FAST.but(name="VI_1", vrid=82, vips=(f"{VIP6}/64",), priority=100)

# ICMPv6 echo to the VIP over a raw socket (the kernel fills in the ICMPv6 checksum).
_PROBE6 = r"""
import json, socket, struct, sys, time
vip = sys.argv[1]
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.settimeout(1.5)
s.sendto(struct.pack("!BBHHH", 128, 0, 0, 0x4856, 1) + b"haipvs", (vip, 0))
out = {"ping": "none"}
deadline = time.monotonic() + 1.5
try:
    while time.monotonic() < deadline:
        data, addr = s.recvfrom(2048)
        if addr[0] == vip and data[0] == 129 and data[4:6] == struct.pack("!H", 0x4856):
            out["ping"] = "reply"
            break
except TimeoutError:
    pass
print(json.dumps(out))
"""


def test_ipv6_no_accept_drops_the_vip_but_answers_neighbour_discovery(
        lan, ops_node, keepalived_node):
    """vrrp_nftables.c nft_setup_ipv6_vips(): `icmpv6 type @neighbor-discovery accept` in
    both chains before the drops, so a no_accept MASTER still resolves its IPv6 VIP (its NA
    has the VIP as source) while an echo to it goes unanswered, as with keepalived."""
    client, director = lan.add_node("c6"), lan.add_node("d6")
    client.netns.ip("-6", "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad")
    seen: dict[str, tuple[str, str | None]] = {}
    for kind in ("keepalived", "haipvs"):
        if kind == "keepalived":
            daemon = keepalived_node(director, VI_6, start=False)
            daemon.conf_path.write_text(keepalived_conf(daemon.conf_path.read_text(),
                                                        "no_accept"))
            daemon.start()
        else:
            daemon = ops_node(director, VI_6, per_instance={"VI_1": {"accept": False}})
        daemon.wait_state("MASTER", 10)
        wait_until(lambda: director.has_address(VIP6), 3, what="the IPv6 VIP on d6")
        client.netns.ip("-6", "neigh", "flush", "dev", "eth0")
        ping = json.loads(client.netns.run(sys.executable, "-c", _PROBE6, VIP6,
                                           timeout=10).stdout)["ping"]
        neigh = json.loads(client.netns.ip("-j", "-6", "neigh", "show", VIP6, "dev",
                                           "eth0").stdout or "[]")
        seen[kind] = (ping, neigh[0].get("lladdr") if neigh else None)
        assert daemon.stop(timeout=5) == 0
        assert haipvs_tables(director) == []
    assert seen["haipvs"] == seen["keepalived"] == ("none", director.mac), seen


def test_a_table_of_our_name_that_is_not_ours_is_left_alone(lan, ops_node):
    """haipvs touches nothing it does not own: an `inet haipvs` table without haipvs' comment
    (someone else's) survives start, MASTER and stop unchanged; the error says why."""
    director = lan.add_node("d9")
    director.netns.nft("table inet haipvs { chain keep { type filter hook input priority 0; }; }")
    before = director.netns.run("nft", "list", "table", "inet", "haipvs").stdout
    daemon = ops_node(director, VI_1, per_instance={"VI_1": {"accept": False}})
    daemon.wait_state("MASTER", 8)
    daemon.wait_log("nft_table_not_ours", 3)
    assert director.netns.run("nft", "list", "table", "inet", "haipvs").stdout == before
    assert daemon.stop(timeout=5) == 0
    assert director.netns.run("nft", "list", "table", "inet", "haipvs").stdout == before
