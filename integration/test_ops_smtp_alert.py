"""Acceptance: e-mail alerts reach a real SMTP server (aiosmtpd, in its own namespace on
the TEST-NET LAN) with keepalived 2.2.7's dialogue and fields, compared with the mails
keepalived itself sends to the same server (core/smtp.c, vrrp/vrrp_notify.c
vrrp_smtp_notifier); a real server's checker failure mails as check_tcp.c does. An
unreachable SMTP server (SYNs dropped by nftables) delays no advert: the lateness measured
on the wire with alerts firing is the lateness without them."""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from integration.harness.proc import Proc
from integration.harness.servers import tcp_accept_server
from integration.harness.sniffer import Sniffer
from integration.harness.wait import wait_until
from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    ops_node_fixture,
)

pytestmark = pytest.mark.netns

SMTP_PORT = 2525
VI_1 = FAST.but(name="VI_1", vrid=71, vips=("192.0.2.120/24",))
VI_2 = FAST.but(name="VI_2", vrid=72, vips=("192.0.2.121/24",))
RECIPIENTS = ["ops@example.com", "oncall@example.com"]

# A real SMTP server: every mail as one JSON line (HELO name, envelope, raw DATA).
SINK = """
import json, sys, time
from aiosmtpd.controller import Controller

class Recorder:
    async def handle_DATA(self, server, session, envelope):
        with open(sys.argv[3], "a") as out:
            out.write(json.dumps({"helo": session.host_name, "from": envelope.mail_from,
                                  "to": envelope.rcpt_tos,
                                  "data": envelope.content.decode()}) + "\\n")
        return "250 OK"

controller = Controller(Recorder(), hostname=sys.argv[1], port=int(sys.argv[2]))
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


LAN_PREFIX = "em"  # this module's own namespaces (the harness's lan fixture)


def smtp_sink(node, tmp_path: Path) -> tuple[Proc, Path]:
    pytest.importorskip("aiosmtpd")
    script, mails, log = tmp_path / "sink.py", tmp_path / "mails.jsonl", tmp_path / "sink.log"
    script.write_text(SINK)
    mails.touch()
    proc = Proc(node.netns, [sys.executable, str(script), node.ip, str(SMTP_PORT), str(mails)],
                log, name="smtp-sink")
    wait_until(lambda: "ready" in log.read_text(), 15, what="the SMTP server")
    return proc, mails


def read_mails(path: Path) -> list[dict]:
    mails = [json.loads(line) for line in path.read_text().splitlines() if line]
    for mail in mails:
        head, _, body = mail["data"].partition("\r\n\r\n")
        if not body:  # aiosmtpd may hand LF line ends
            head, _, body = mail["data"].partition("\n\n")
        mail["headers"] = [tuple(line.split(": ", 1)) for line in head.splitlines()]
        mail["subject"] = dict(mail["headers"])["Subject"]
        mail["body"] = body.strip()
    return mails


def smtp_global(server_ip: str, **extra) -> dict:
    return {"smtp": {"server": server_ip, "port": SMTP_PORT, "notification_email": RECIPIENTS,
                     "notification_email_from": "lvs@example.com",
                     "helo_name": "lvs.example.com", "connect_timeout": 5, **extra}}


def keepalived_smtp(conf: str, server_ip: str) -> str:
    lines = "\n".join(["    notification_email {", *(f"        {r}" for r in RECIPIENTS),
                       "    }", "    notification_email_from lvs@example.com",
                       f"    smtp_server {server_ip} {SMTP_PORT}",
                       "    smtp_helo_name lvs.example.com", "    smtp_connect_timeout 5"])
    conf = conf.replace("global_defs {", "global_defs {\n" + lines, 1)
    return conf.replace("vrrp_instance VI_1 {", "vrrp_instance VI_1 {\n    smtp_alert", 1)


CHECK = {"connect_timeout": 1, "retry": 0, "delay_before_retry": 0.2}


def test_failover_and_real_server_down_mail_as_keepalived(lan, ops_node, keepalived_node,
                                                          tmp_path):
    h1, k1, m1, rs1 = (lan.add_node(n) for n in ("h1", "k1", "m1", "rs1"))
    sink, mails_path = smtp_sink(m1, tmp_path)
    server_log = tmp_path / "tcp.log"
    server = Proc(rs1.netns, tcp_accept_server(8081), server_log, name="tcp")
    try:
        wait_until(lambda: "ready" in server_log.read_text(), 10, what="the TCP server")
        service = {"address": "192.0.2.120", "port": 80, "protocol": "TCP", "delay_loop": 0.5,
                   "real_servers": [{"address": rs1.ip, "port": 8081, "tcp_check": CHECK}]}
        haipvs = ops_node(h1, VI_1.but(priority=150),
                          top={"global": smtp_global(m1.ip), "virtual_servers": [service]},
                          per_instance={"VI_1": {"smtp_alert": True}})
        haipvs.wait_state("MASTER", 10)
        # keepalived, with the same alerts, takes over (priority 200), then stops.
        keepalived = keepalived_node(k1, VI_1.but(priority=200), start=False)
        keepalived.conf_path.write_text(keepalived_smtp(keepalived.conf_path.read_text(),
                                                        m1.ip))
        keepalived.start()
        keepalived.wait_state("MASTER", 10)
        haipvs.wait_state("BACKUP", 5)
        assert keepalived.proc.stop(5) is not None
        haipvs.wait_state("MASTER", 5)
        server.stop(3)  # the real server goes down: its TCP_CHECK fails
        wait_until(lambda: any("Realserver" in m["subject"] for m in read_mails(mails_path)),
                   15, what="the real server's mail", describe=haipvs.describe)
        wait_until(lambda: sum("[h1] VRRP" in m["subject"] for m in read_mails(mails_path))
                   >= 4, 10, what="haipvs' four VRRP mails", describe=haipvs.describe)
        assert haipvs.stop() == 0
    finally:
        server.stop(3)
        sink.stop(3)

    mails = read_mails(mails_path)
    print("mails:", *(f"{m['subject']} | {m['body']}" for m in mails), sep="\n  ")
    ours = [m for m in mails if m["subject"].startswith("[h1]")]
    theirs = [m for m in mails if m["subject"].startswith("[k1]")]
    states = ["Entering BACKUP state", "Entering MASTER state"] * 2 + ["Stopping"]
    vrrp = [m for m in ours if "VRRP" in m["subject"]]
    assert [m["subject"] for m in vrrp] == [f"[h1] VRRP Instance VI_1 - {s}" for s in states]
    assert [m["body"] for m in vrrp] == [
        "=> VRRP Instance is no longer owning VRRP VIPs <=",
        "=> VRRP Instance is now owning VRRP VIPs <="] * 2 + ["=> VRRP Instance stopping <="]
    # keepalived's own mails (BACKUP at start, MASTER; its STOP mail may not leave before it
    # exits): the same dialogue, header names in the same order, the same texts.
    assert theirs, "keepalived sent no mail"
    for mail in theirs:  # (a "Stopping" one from keepalived has its twin too)
        twin = next(m for m in ours if m["subject"] == mail["subject"].replace("[k1]", "[h1]"))
        assert [name for name, _ in twin["headers"]] == [name for name, _ in mail["headers"]]
        assert twin["body"] == mail["body"]
        for field in ("helo", "from", "to"):
            assert twin[field] == mail[field]
        same = {"From", "To", "X-Mailer"}
        assert ({k: v for k, v in twin["headers"] if k in same}
                == {k: v for k, v in mail["headers"] if k in same})
    assert [name for name, _ in ours[0]["headers"]] == ["Date", "From", "Subject", "X-Mailer",
                                                       "To"]
    assert ours[0]["helo"] == "lvs.example.com" and ours[0]["to"] == RECIPIENTS
    [rs_mail] = [m for m in ours if "Realserver" in m["subject"]]
    # core/smtp.c SMTP_MSG_RS subject, check_tcp.c tcp_epilog body; the real server's
    # smtp_alert defaults to on (check_data.c), the virtual server's to off: no quorum mail
    assert rs_mail["subject"] == (f"[h1] Realserver [{rs1.ip}]:tcp:8081 of virtual server "
                                  "[192.0.2.120]:tcp:80 - DOWN")
    assert rs_mail["body"] == "=> TCP CHECK failed on service <="
    assert not [m for m in ours if "Virtualserver" in m["subject"]]


# ---- an unreachable server delays no advert -------------------------------------------------

WINDOW = 6.0  # seconds of flapping per run
FLIP = 0.25  # VI_2's track file changes this often: an alert each time


def lateness_run(lan, ops_node, node, tmp_path: Path, smtp: dict | None) -> list[float]:
    """VI_1 MASTER alone while VI_2 flaps through its track file (each change an alert when
    `smtp` is set): VI_1's advert intervals minus advert_int, seen on the bridge."""
    fault = tmp_path / f"fault-{node.name}"
    fault.write_text("0")
    top = {"global": smtp or {},
           "vrrp_track_files": [{"name": "fault", "file": str(fault), "weight": 0}]}
    daemon = ops_node(node, VI_1.but(priority=150), VI_2.but(priority=150), top=top,
                      per_instance={"VI_1": {"smtp_alert": True},
                                    "VI_2": {"smtp_alert": True, "track_file": ["fault"]}})
    daemon.wait_state("MASTER", 10)
    daemon.wait_state("MASTER", 10, name="VI_2")
    stop = threading.Event()

    def flap() -> None:
        for n in itertools.count():
            if stop.wait(FLIP):
                return
            fault.write_text("1" if n % 2 == 0 else "0")

    with Sniffer(lan.bridge_ns.name, lan.bridge) as sniffer:
        flapper = threading.Thread(target=flap, daemon=True)
        start = time.time()
        flapper.start()
        time.sleep(WINDOW)
        stop.set()
        flapper.join(2)
        times = [a.ts for a in sniffer.adverts(since=start, vrid=VI_1.vrid)
                 if a.ts <= start + WINDOW]
    failed = daemon.count_log("smtp_alert_failed")
    assert daemon.stop() == 0
    if smtp:
        # the alerts really were firing and failing (connect timeouts) during the window
        assert failed >= 1, daemon.describe()
    assert len(times) >= WINDOW / VI_1.advert_int * 0.8, f"{len(times)} adverts"
    return [b - a - VI_1.advert_int for a, b in itertools.pairwise(times)]


def test_unreachable_smtp_server_delays_no_advert(lan, ops_node, tmp_path):
    h1, h2, m1 = lan.add_node("h1"), lan.add_node("h2"), lan.add_node("m1")
    # m1 owns the server's address but drops every SYN to the port: each connect hangs
    # until connect_timeout, as with a firewalled mail relay.
    m1.netns.nft(f"""
table inet emsmtp {{
    chain input {{
        type filter hook input priority 0; policy accept;
        tcp dport {SMTP_PORT} drop
    }}
}}
""")
    without = lateness_run(lan, ops_node, h1, tmp_path, None)
    with_alerts = lateness_run(lan, ops_node, h2, tmp_path,
                               smtp_global(m1.ip, connect_timeout=2))
    worst_without, worst_with = max(without), max(with_alerts)
    mean_without = sum(without) / len(without)
    mean_with = sum(with_alerts) / len(with_alerts)
    print(f"advert lateness (s): without alerts max {worst_without:.4f} mean "
          f"{mean_without:.4f}; with alerts to an unreachable server max {worst_with:.4f} "
          f"mean {mean_with:.4f}")
    # 2 shared cores under load: a 50 ms allowance over the run without alerts, far below
    # the 2 s connect timeout a blocking send would add.
    assert worst_with <= worst_without + 0.05
    assert mean_with <= mean_without + 0.01
