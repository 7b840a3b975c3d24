"""Acceptance 2 of issue 16: SMTP_CHECK and UDP_CHECK (payload, require_reply HEX) against
real server processes in the real server's namespace: aiosmtpd as the mail server and a UDP
responder. Each goes up -> down -> up as its process is stopped and started again, and a
wrong banner, a 5xx HELO reply or a reply that does not match require_reply's pattern is
down too.

Bound (keepalived 2.2.7 check_smtp.c smtp_final / check_udp.c udp_epilog): once a check
attempt meets the cause, the server changes within connect_timeout + retry *
delay_before_retry (+ 50 ms). The attempt's start is read off the wire (the first SYN or
datagram the checker sends after the cause, kernel-timestamped in the real server's
namespace), so the wait for the next delay_loop tick, and the load on this machine before
the attempt starts, are not counted as the checker's delay.
"""

from __future__ import annotations

import struct
import sys
import time

import pytest
import yaml

from integration.harness.check_timing import CheckWatch
from integration.harness.instance import VrrpInstance
from integration.harness.proc import Proc
from integration.harness.requirements import haipvs_unavailable_reason
from integration.harness.sniffer import Sniffer
from integration.harness.wait import wait_until

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
]

CONNECT_TIMEOUT, RETRY, DELAY_BEFORE_RETRY, DELAY_LOOP = 1.0, 1, 0.5, 1.0
BOUND = CONNECT_TIMEOUT + RETRY * DELAY_BEFORE_RETRY + 0.05
TIMING = {"connect_timeout": CONNECT_TIMEOUT, "retry": RETRY,
          "delay_before_retry": DELAY_BEFORE_RETRY}
SMTP_PORT, UDP_PORT = 2525, 5514
HELO = "director.test"

# aiosmtpd's own SMTP server, in its own process. Control files make it misbehave the way
# keepalived rejects: "banner" -> a 554 greeting, "helo5xx" -> HELO answered 550.
SMTP_SERVER = r"""
import sys, threading
from pathlib import Path
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
control = Path(sys.argv[1])

class Server(SMTP):
    async def push(self, status):
        if status.startswith("220 ") and (control / "banner").exists():
            status = "554 5.3.2 not accepting mail"
        await super().push(status)

class Handler:
    async def handle_HELO(self, server, session, envelope, hostname):
        if (control / "helo5xx").exists():
            return "550 5.7.1 go away"
        session.host_name = hostname
        with open(control / "helo.log", "a") as log:
            log.write(hostname + "\n")
        return "250 " + server.hostname

class Ctl(Controller):
    def factory(self):
        return Server(self.handler, hostname="rs1.test")

Ctl(Handler(), hostname="0.0.0.0", port=int(sys.argv[2])).start()
print("ready", flush=True)
threading.Event().wait()
"""

# Answers "ok " + the datagram, or "no " + it when the "udp_wrong" control file exists.
UDP_SERVER = r"""
import socket, sys
from pathlib import Path
control = Path(sys.argv[1])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, peer = sock.recvfrom(2048)
    word = b"no " if (control / "udp_wrong").exists() else b"ok "
    sock.sendto(word + data, peer)
"""


def probe_frame(port: int, proto: int):
    """keep() for the sniffer: the checker's TCP SYNs / UDP datagrams to `port`."""

    def keep(data: bytes) -> bool:
        if len(data) < 38 or struct.unpack_from("!H", data, 12)[0] != 0x0800:
            return False
        if data[23] != proto:
            return False
        ihl = (data[14] & 0x0F) * 4
        l4 = 14 + ihl
        if struct.unpack_from("!H", data, l4 + 2)[0] != port:
            return False
        return proto == 17 or (data[l4 + 13] & 0x12) == 0x02  # SYN without ACK

    return keep


def test_smtp_and_udp_checks_follow_real_servers_up_down_up(lan, haipvs_node, tmp_path):
    control = tmp_path / "control"
    control.mkdir()
    director, rs = lan.add_node("dir"), lan.add_node("rs1")

    def start_smtp(tag: str) -> Proc:
        log = tmp_path / f"smtp-{tag}.log"
        proc = Proc(rs.netns, [sys.executable, "-c", SMTP_SERVER, str(control),
                               str(SMTP_PORT)], log, name=f"smtp-{tag}")
        wait_until(lambda: "ready" in log.read_text(), 15, what="aiosmtpd ready")
        return proc

    def start_udp(tag: str) -> Proc:
        log = tmp_path / f"udp-{tag}.log"
        proc = Proc(rs.netns, [sys.executable, "-u", "-c", UDP_SERVER, str(control),
                               str(UDP_PORT)], log, name=f"udp-{tag}")
        wait_until(lambda: "ready" in log.read_text(), 15, what="UDP responder ready")
        return proc

    smtp, udp = start_smtp("1"), start_udp("1")
    services = [
        {"address": "192.0.2.100", "port": 25, "protocol": "TCP", "lb_algo": "rr",
         "lb_kind": "NAT", "delay_loop": DELAY_LOOP,
         "real_servers": [{"address": rs.ip, "port": SMTP_PORT, "smtp_check": {
             "helo_name": HELO, **TIMING}}]},
        {"address": "192.0.2.100", "port": 514, "protocol": "UDP", "lb_algo": "rr",
         "lb_kind": "NAT", "delay_loop": DELAY_LOOP,
         "real_servers": [{"address": rs.ip, "port": UDP_PORT, "udp_check": {
             "payload_hex": "68 61 69 70 76 73", "require_reply": True,
             "reply_pattern": "6f 6b 20 68 xx", **TIMING}}]},  # "ok h?"
    ]
    daemon = haipvs_node(director, VrrpInstance(priority=150), start=False)
    config = yaml.safe_load(daemon.conf_path.read_text())
    config["virtual_servers"] = services
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    sniffers = {"smtp": Sniffer(rs.netns.name, rs.iface, keep=probe_frame(SMTP_PORT, 6)),
                "udp": Sniffer(rs.netns.name, rs.iface, keep=probe_frame(UDP_PORT, 17))}
    for sniffer in sniffers.values():
        sniffer.start()
    try:
        daemon.start()
        daemon.wait_state("MASTER", 10)
        keys = {"smtp": "TCP 192.0.2.100:25", "udp": "UDP 192.0.2.100:514"}

        watch = CheckWatch(daemon, keys, sniffers)
        health, is_up = watch.health, watch.is_up

        def transition(names: tuple[str, ...], up: bool, cause_at: float, why: str) -> None:
            watch.transition(names, up, cause_at, why, BOUND, DELAY_LOOP + BOUND + 5)

        wait_until(lambda: is_up("smtp") and is_up("udp"), 15, interval=0.1,
                   what="both servers checked and up")
        assert (control / "helo.log").read_text().splitlines()[0] == HELO

        # up -> down: stop both processes (refused connection, ICMP port unreachable)
        smtp.kill()
        udp.kill()
        cause = time.time()  # both gone: every attempt from now on meets the cause
        transition(("smtp", "udp"), False, cause, "stopped")
        reasons = {n: h["reason"] for n, h in health().items()}
        assert "refused" in reasons["smtp"], reasons
        assert "unreachable" in reasons["udp"] or "refused" in reasons["udp"], reasons

        # down -> up: start them again
        smtp, udp = start_smtp("2"), start_udp("2")
        cause = time.time()  # both listening again
        transition(("smtp", "udp"), True, cause, "restarted")

        # a wrong banner, a 5xx HELO reply, a reply not matching the pattern: down, then up
        for name, flag, words in (("smtp", "banner", "bad greeting banner"),
                                  ("smtp", "helo5xx", "bad HELO response"),
                                  ("udp", "udp_wrong", "reply data mismatch")):
            cause = time.time()
            (control / flag).write_text("")
            transition((name,), False, cause, flag)
            assert words in health()[name]["reason"]
            cause = time.time()
            (control / flag).unlink()
            transition((name,), True, cause, f"{flag} repaired")
    finally:
        for sniffer in sniffers.values():
            sniffer.stop()
        smtp.kill()
        udp.kill()
