"""Acceptance 2 of issue 16 for PING_CHECK: the real server's own kernel answers the echo
requests, IPv4 and IPv6; an nftables drop of ICMP / ICMPv6 echo requests in the real server's
namespace takes both down, deleting it brings them back up. Run with the unprivileged ICMP
socket (net.ipv4.ping_group_range opened in the director's namespace) and with the raw one
(the kernel's default range "1 0" refuses the unprivileged socket): the daemon logs which
(`icmp_socket`).

Timing (keepalived 2.2.7 check_ping.c icmp_epilog, as check_tcp.c tcp_epilog): an attempt
waits connect_timeout for its reply; after a failure while up, `retry` more attempts follow,
each delay_before_retry after the previous one failed. Up: the first attempt after the cause
succeeds, so the server is up within connect_timeout + retry * delay_before_retry + 50 ms of
it. Down by a firewall's reject (an ICMP administratively-prohibited error for the echo):
each attempt fails at once (haipvs.policy.ping_echo; keepalived would wait out
connect_timeout), so the server is down within connect_timeout + retry * delay_before_retry
+ 50 ms of the first failed attempt, the issue's bound. Down by a silent drop: every attempt
runs its whole connect_timeout, so the last of the retry + 1 attempts ends the wait: down
within connect_timeout + 50 ms of that last attempt, i.e. (retry + 1) * connect_timeout +
retry * delay_before_retry + 50 ms of the first one (keepalived takes the same: a dropped echo
is only seen as a timeout; nothing can see it sooner). Attempts are read off the wire
(kernel-timestamped echo requests in the real server's namespace).
"""

from __future__ import annotations

import struct
import time

import pytest
import yaml

from integration.harness.check_timing import CheckWatch, by_address
from integration.harness.instance import VrrpInstance
from integration.harness.requirements import haipvs_unavailable_reason
from integration.harness.sniffer import Sniffer
from integration.harness.wait import wait_until

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
]
LAN_PREFIX = "pg"

CONNECT_TIMEOUT, RETRY, DELAY_BEFORE_RETRY, DELAY_LOOP = 0.5, 1, 0.5, 1.0
SLACK = 0.05
UP_BOUND = CONNECT_TIMEOUT + RETRY * DELAY_BEFORE_RETRY + SLACK
REJECT_DOWN_BOUND = UP_BOUND  # each attempt fails at once: the bound
DOWN_BOUND = (RETRY + 1) * CONNECT_TIMEOUT + RETRY * DELAY_BEFORE_RETRY + SLACK
TIMING = {"connect_timeout": CONNECT_TIMEOUT, "retry": RETRY,
          "delay_before_retry": DELAY_BEFORE_RETRY}
DIRECTOR6, RS6, VIP6 = "2001:db8::1", "2001:db8::2", "2001:db8::100"
DROP = """table inet haipvs_test_ping {
    chain input {
        type filter hook input priority 0; policy accept;
        icmp type echo-request drop
        icmpv6 type echo-request drop
    }
}
"""
REJECT = """table inet haipvs_test_ping {
    chain input {
        type filter hook input priority 0; policy accept;
        icmp type echo-request reject with icmp type admin-prohibited
        icmpv6 type echo-request reject with icmpv6 type admin-prohibited
    }
}
"""


def echo_request(ipv6: bool):
    """keep() for the sniffer: echo requests (ICMP type 8 / ICMPv6 type 128)."""

    def keep(data: bytes) -> bool:
        ethertype = struct.unpack_from("!H", data, 12)[0] if len(data) >= 14 else 0
        if ipv6:
            return ethertype == 0x86DD and len(data) > 54 and data[20] == 58 and data[54] == 128
        if ethertype != 0x0800 or len(data) < 35 or data[23] != 1:
            return False
        return data[14 + (data[14] & 0x0F) * 4] == 8

    return keep


@pytest.mark.parametrize("socket_kind", ["unprivileged", "raw"])
def test_ping_check_follows_the_real_servers_kernel_up_down_up(lan, haipvs_node, socket_kind):
    director, rs = lan.add_node("dir"), lan.add_node("rs1")
    director.netns.ip("-6", "addr", "add", f"{DIRECTOR6}/64", "dev", "eth0", "nodad")
    rs.netns.ip("-6", "addr", "add", f"{RS6}/64", "dev", "eth0", "nodad")
    # ping_group_range is per network namespace; the daemon runs as root (gid 0)
    director.netns.sysctl("net.ipv4.ping_group_range",
                          "0 0" if socket_kind == "unprivileged" else "1 0")
    services = [
        {"address": "192.0.2.100", "port": 80, "protocol": "TCP", "lb_algo": "rr",
         "lb_kind": "NAT", "delay_loop": DELAY_LOOP,
         "real_servers": [{"address": rs.ip, "port": 80, "ping_check": dict(TIMING)}]},
        {"address": VIP6, "port": 80, "protocol": "TCP", "lb_algo": "rr",
         "lb_kind": "NAT", "delay_loop": DELAY_LOOP,
         "real_servers": [{"address": RS6, "port": 80, "ping_check": dict(TIMING)}]},
    ]
    daemon = haipvs_node(director, VrrpInstance(priority=150), start=False)
    config = yaml.safe_load(daemon.conf_path.read_text())
    config["virtual_servers"] = services
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    sniffers = {"v4": Sniffer(rs.netns.name, rs.iface, keep=echo_request(False)),
                "v6": Sniffer(rs.netns.name, rs.iface, keep=echo_request(True))}
    for sniffer in sniffers.values():
        sniffer.start()
    try:
        daemon.start()
        daemon.wait_state("MASTER", 10)
        addresses = {"v4": rs.ip, "v6": RS6}

        watch = CheckWatch(daemon, addresses, sniffers, key=by_address)
        health, is_up = watch.health, watch.is_up

        def transition(up: bool, cause_at: float, why: str, silent: bool = True) -> None:
            bound = UP_BOUND if up else DOWN_BOUND if silent else REJECT_DOWN_BOUND
            seen = watch.transition(sniffers, up, cause_at, f"{socket_kind} {why}", bound,
                                    DELAY_LOOP + DOWN_BOUND + 5)
            if up:
                return
            now = health()
            for name, attempts in seen.items():
                # the first attempt, then `retry` retries, the last one failing
                assert len(attempts) == RETRY + 1, attempts
                waited = CONNECT_TIMEOUT if silent else 0.0  # a reject ends it at once
                assert now[name]["since"] - attempts[-1] <= waited + SLACK
                gap = attempts[1] - attempts[0]
                assert waited + DELAY_BEFORE_RETRY - SLACK <= gap <= (
                    waited + DELAY_BEFORE_RETRY + SLACK), attempts

        wait_until(lambda: is_up("v4") and is_up("v6"), 15, interval=0.1,
                   what="both real servers pinged and up")
        modes = {e.get("family"): e.get("icmp_socket") for e in daemon.log_events()
                 if e.get("event") == "ping_check socket"}
        assert modes == {"IPv4": socket_kind, "IPv6": socket_kind}, modes

        for round_ in (1, 2):
            cause = time.time()
            rs.netns.nft(DROP)
            transition(False, cause, f"echo dropped ({round_})")
            assert all("no echo reply" in h["reason"] for h in health().values()), health()
            cause = time.time()
            rs.netns.run("nft", "delete", "table", "inet", "haipvs_test_ping")
            transition(True, cause, f"drop removed ({round_})")
            assert all(h["reason"].endswith("echo reply") for h in health().values()), health()
        cause = time.time()
        rs.netns.nft(REJECT)
        transition(False, cause, "echo rejected", silent=False)
        # raw: the error packet is matched; unprivileged: the kernel's IP_RECVERR errno
        expected = "unreachable" if socket_kind == "raw" else "receive:"
        assert all(expected in h["reason"] for h in health().values()), health()
        cause = time.time()
        rs.netns.run("nft", "delete", "table", "inet", "haipvs_test_ping")
        transition(True, cause, "reject removed")
    finally:
        for sniffer in sniffers.values():
            sniffer.stop()
