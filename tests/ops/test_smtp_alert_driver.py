"""The alert sender (haipvs/drivers/smtp_alert.py) against a real SMTP server (aiosmtpd) on
loopback: keepalived's dialogue (core/smtp.c: HELO <smtp_helo_name>, MAIL FROM, one RCPT TO
per recipient, DATA), failures counted, the bounded queue dropping the oldest alert."""

from __future__ import annotations

import socket

import pytest
import trio

from haipvs.config.smtp import SmtpSettings
from haipvs.drivers.smtp_alert import SmtpAlerter, default_sender
from haipvs.policy.smtp_alerts import Alert

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


class Recorder:
    def __init__(self) -> None:
        self.mails: list[dict] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        self.mails.append({"helo": session.host_name, "from": envelope.mail_from,
                           "to": list(envelope.rcpt_tos), "data": envelope.content})
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    recorder = Recorder()
    controller = aiosmtpd_controller.Controller(recorder, hostname="127.0.0.1",
                                                port=free_port())
    controller.start()
    try:
        yield recorder, controller.port
    finally:
        controller.stop()


def settings(port: int, **extra) -> SmtpSettings:
    values = {"server": "127.0.0.1", "port": port, "helo_name": "lvs01.example.com",
              "notification_email": ("ops@example.com", "oncall@example.com"),
              "notification_email_from": "lvs01@example.com", "connect_timeout": 5}
    values.update(extra)
    return SmtpSettings(**values)


async def drain(alerter: SmtpAlerter, limit: float = 20.0) -> None:
    with trio.fail_after(limit):
        while alerter.pending:
            await trio.sleep(0.02)


def alert(n: int) -> Alert:
    return Alert("instance:VI_1", f"[lvs01] VRRP Instance VI_1 - test {n}",
                 "=> VRRP Instance is now owning VRRP VIPs <=", float(n))


def test_alert_is_sent_with_keepalived_dialogue_and_headers(smtp_server):
    recorder, port = smtp_server
    alerter = SmtpAlerter()
    alerter.smtp = settings(port)

    async def main():
        async with trio.open_nursery() as nursery:
            await nursery.start(alerter.run)
            alerter.submit(alert(1))
            await drain(alerter)
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert alerter.stats() == {"smtp_alerts_sent_total": 1, "smtp_alerts_failed_total": 0,
                               "smtp_alerts_dropped_total": 0}
    [mail] = recorder.mails
    assert mail["helo"] == "lvs01.example.com"
    assert mail["from"] == "lvs01@example.com"
    assert mail["to"] == ["ops@example.com", "oncall@example.com"]
    lines = mail["data"].decode().split("\r\n")
    assert lines[0].startswith("Date: ")
    assert lines[1:6] == ["From: lvs01@example.com",
                          "Subject: [lvs01] VRRP Instance VI_1 - test 1",
                          "X-Mailer: Keepalived", "To: ops@example.com, oncall@example.com", ""]
    assert lines[6] == "=> VRRP Instance is now owning VRRP VIPs <="


def test_unreachable_server_is_logged_and_counted_not_raised():
    alerter = SmtpAlerter()
    alerter.smtp = settings(free_port(), connect_timeout=2)  # nothing listens: refused

    async def main():
        async with trio.open_nursery() as nursery:
            await nursery.start(alerter.run)
            alerter.submit(alert(1))
            await drain(alerter)
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert (alerter.sent, alerter.failed) == (0, 1)


def test_full_queue_drops_the_oldest_alert(smtp_server):
    recorder, port = smtp_server
    alerter = SmtpAlerter(queue_max=2)
    alerter.smtp = settings(port)
    for n in range(1, 5):  # before the sender runs: 1 and 2 are dropped
        alerter.submit(alert(n))
    assert alerter.dropped == 2

    async def main():
        async with trio.open_nursery() as nursery:
            await nursery.start(alerter.run)
            await drain(alerter)
            nursery.cancel_scope.cancel()

    trio.run(main)
    subjects = [m["data"].decode().split("\r\n")[2] for m in recorder.mails]
    assert subjects == ["Subject: [lvs01] VRRP Instance VI_1 - test 3",
                        "Subject: [lvs01] VRRP Instance VI_1 - test 4"]


def test_no_smtp_settings_nothing_is_queued():
    alerter = SmtpAlerter()
    alerter.submit(alert(1))
    assert alerter.pending == 0


def test_default_sender_is_user_at_host_name():
    # global_data.c set_default_email_from: "%s@%s" (pw_name, local_name)
    user, _, host = default_sender().partition("@")
    assert user and host
