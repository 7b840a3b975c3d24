"""Acceptance (issue 15, per-checker smtp_alert): a real server (a TCP server process in its
own namespace) goes down and comes back; haipvs mails an aiosmtpd server (in another
namespace) what keepalived 2.2.7's checker process mails for the same events.

keepalived's checker process cannot be the oracle on this host: `keepalived -C` exits at
start with "IPVS: Can't initialize ipvs" (check_daemon.c start_check -> ipvs_start; the host
kernel has no ip_vs module), before any checker runs. The expected texts are therefore
keepalived's source-given ones, cited at each assertion:
- subjects: core/smtp.c smtp_alert, SMTP_MSG_RS "[%s] Realserver %s of virtual server %s - %s"
  (rs->alive ? "UP" : "DOWN") and SMTP_MSG_VS "[%s] Virtualserver %s - %s";
- real-server bodies: check_tcp.c tcp_epilog "=> TCP CHECK failed on service <=" and
  "=> TCP CHECK succeed on service <=";
- quorum bodies: ipwrapper.c do_vs_notifies "=> %s %u+%u=%ld <= %ld <=" with "Lost quorum"
  and "Gained quorum", threshold from update_quorum_state; at start the service counts as
  down (check_data.c set_quorum_states runs before init_service_rs marks the server alive),
  so init_service_vs -> update_quorum_state(vs, true) mails "Starting with quorum up".
With `omega`, the stop mails: ipwrapper.c clear_service_rs and update_vs_notifies,
"=> Shutting down <=" (haipvs/policy/smtp_stop.py).
The VRRP mails' dialogue and headers are compared with keepalived's own mails in
integration/test_ops_smtp_alert.py; the same sink and reader are used here."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.harness.proc import Proc
from integration.harness.servers import tcp_accept_server
from integration.harness.wait import wait_until
from integration.test_ops_smtp_alert import read_mails, smtp_global, smtp_sink
from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    ops_node_fixture,
)

pytestmark = pytest.mark.netns

VI_1 = FAST.but(name="VI_1", vrid=73, vips=("192.0.2.122/24",))
CHECK = {"connect_timeout": 1, "retry": 0, "delay_before_retry": 0.2}


LAN_PREFIX = "ec"  # this module's own namespaces (the harness's lan fixture)


def checker_mails(path: Path) -> list[tuple[str, str]]:
    return [(m["subject"], m["body"]) for m in read_mails(path)
            if "Realserver" in m["subject"] or "Virtualserver" in m["subject"]]


def start_server(rs, log: Path) -> Proc:
    log.write_text("")
    server = Proc(rs.netns, tcp_accept_server(8081), log, name="tcp")
    wait_until(lambda: "ready" in log.read_text(), 10, what="the TCP server")
    return server


def test_real_server_down_and_up_mails_as_keepalived_checkers(lan, ops_node, tmp_path):
    h1, m1, rs1 = (lan.add_node(n) for n in ("h1", "m1", "rs1"))
    sink, mails_path = smtp_sink(m1, tmp_path)
    server = start_server(rs1, tmp_path / "tcp1.log")
    try:
        service = {"address": "192.0.2.122", "port": 80, "protocol": "TCP", "delay_loop": 0.5,
                   "quorum": 1, "smtp_alert": True, "omega": True,
                   "real_servers": [{"address": rs1.ip, "port": 8081, "tcp_check": CHECK}]}
        # no smtp_alert on the real server: check_data.c validate_check_config turns it on
        haipvs = ops_node(h1, VI_1.but(priority=150),
                          top={"global": smtp_global(m1.ip), "virtual_servers": [service]})
        haipvs.wait_state("MASTER", 10)
        wait_until(lambda: len(checker_mails(mails_path)) >= 1, 15,
                   what="the quorum's mail at start", describe=haipvs.describe)
        server.stop(3)  # down: the TCP_CHECK's connect is refused
        wait_until(lambda: len(checker_mails(mails_path)) >= 3, 15,
                   what="the real server's and the quorum's DOWN mails",
                   describe=haipvs.describe)
        server = start_server(rs1, tmp_path / "tcp2.log")  # and up again
        wait_until(lambda: len(checker_mails(mails_path)) >= 5, 15,
                   what="the real server's and the quorum's UP mails",
                   describe=haipvs.describe)
        assert haipvs.stop() == 0
        # with omega, clear_services' mails at stop are sent before the daemon exits
        assert len(checker_mails(mails_path)) == 7
    finally:
        server.stop(3)
        sink.stop(3)

    mails = checker_mails(mails_path)
    print("mails:", *(f"{s} | {b}" for s, b in mails), sep="\n  ")
    rs_subject = f"[h1] Realserver [{rs1.ip}]:tcp:8081 of virtual server [192.0.2.122]:tcp:80"
    vs_subject = "[h1] Virtualserver [192.0.2.122]:tcp:80"
    # keepalived sends the quorum mail from inside update_svr_checker_state, before the
    # checker's own; each is a separate connection, so only the phases are ordered.
    assert mails[0] == (f"{vs_subject} - UP", "=> Starting with quorum up 1+0=1 <= 1 <=")
    down, up = set(mails[1:3]), set(mails[3:5])
    assert down == {(f"{rs_subject} - DOWN", "=> TCP CHECK failed on service <="),
                    (f"{vs_subject} - DOWN", "=> Lost quorum 1+0=1 <= 0 <=")}
    assert up == {(f"{rs_subject} - UP", "=> TCP CHECK succeed on service <="),
                  (f"{vs_subject} - UP", "=> Gained quorum 1+0=1 <= 1 <=")}
    # at stop, omega: ipwrapper.c clear_service_rs (SMTP_MSG_RS_SHUT) then update_vs_notifies
    assert mails[5:] == [(f"{rs_subject} - DOWN", "=> Shutting down <="),
                         (f"{vs_subject} - DOWN", "=> Shutting down <=")]
    # no real-server mail at start (rs_init_notifies unset: do_rs_notifies mails nothing and
    # the checker's first success finds it up already) and nothing more
    assert len(mails) == 7
