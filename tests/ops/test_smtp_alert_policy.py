"""E-mail alert decisions and texts (haipvs/policy/smtp_alerts.py), each quoted from
keepalived 2.2.7: core/smtp.c smtp_alert (subjects), vrrp/vrrp_notify.c vrrp_smtp_notifier
and vrrp_sync_smtp_notifier (bodies, last_email_state), vrrp.c vrrp_complete_instance and
check/check_data.c validate_check_config (defaults), check/ipwrapper.c do_vs_notifies
(quorum), check/check_tcp.c tcp_epilog (a real server's mail)."""

from __future__ import annotations

import pytest

from haipvs.config import load_config_text
from haipvs.events import GroupTransition, QuorumEvent, RealServerChange, VirtualService
from haipvs.policy.smtp_alerts import (
    SmtpAlertPolicy,
    checker_alert_enabled,
    message,
    vrrp_alert_enabled,
)
from haipvs.vrrp.messages import State
from tests.policy.director_support import transition

VS = VirtualService(protocol=6, address="192.0.2.100", port=80)

BASE = """
global:
  router_id: lvs01
  smtp:
    server: 192.0.2.25
    notification_email: [ops@example.com, oncall@example.com]
    notification_email_from: lvs01@example.com
{smtp_extra}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    priority: 150
    virtual_ipaddress: [192.0.2.100/24]
{instance_extra}
vrrp_sync_groups:
  - name: G1
    group: [VI_1]
{group_extra}
virtual_servers:
  - address: 192.0.2.100
    port: 80
    quorum: 2
    hysteresis: 1
{vs_extra}
    real_servers:
      - address: 198.51.100.10
        port: 8080
        tcp_check: {{connect_timeout: 3}}
{rs_extra}
      - address: 198.51.100.11
        port: 8080
        http_get: {{url: [{{path: /, status_code: 200}}]}}
"""


def config(smtp_extra="", instance_extra="", group_extra="", vs_extra="", rs_extra=""):
    return load_config_text(BASE.format(smtp_extra=smtp_extra, instance_extra=instance_extra,
                                        group_extra=group_extra, vs_extra=vs_extra,
                                        rs_extra=rs_extra), "smtp-test.yaml")


def rs_change(address: str, up: bool, *, up_changed: bool = True) -> RealServerChange:
    return RealServerChange(service="TCP 192.0.2.100:80", real_server=f"{address}:8080",
                            up=up, weight=None, reason="test", at=5.0, virtual=VS,
                            rs_address=address, rs_port=8080, up_changed=up_changed)


def test_vrrp_instance_master_subject_and_body_as_vrrp_smtp_notifier():
    cfg = config(instance_extra="    smtp_alert: true")
    alerts = SmtpAlertPolicy().handle(cfg, transition("VI_1", State.BACKUP, State.MASTER))
    assert [(a.subject, a.body) for a in alerts] == [
        ("[lvs01] VRRP Instance VI_1 - Entering MASTER state",
         "=> VRRP Instance is now owning VRRP VIPs <=")]
    assert alerts[0].at == 100.0


@pytest.mark.parametrize(("state", "subject", "body"), [
    (State.BACKUP, "Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    (State.FAULT, "Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    (State.STOP, "Stopping", "=> VRRP Instance stopping <="),
])
def test_vrrp_instance_other_states_as_vrrp_smtp_notifier(state, subject, body):
    cfg = config(instance_extra="    smtp_alert: true")
    alerts = SmtpAlertPolicy().handle(cfg, transition("VI_1", State.MASTER, state))
    assert [(a.subject, a.body) for a in alerts] == [(f"[lvs01] VRRP Instance VI_1 - {subject}",
                                                      body)]


def test_last_email_state_one_mail_per_state_entered():
    cfg = config(instance_extra="    smtp_alert: true")
    policy = SmtpAlertPolicy()
    assert policy.handle(cfg, transition("VI_1", State.INIT, State.BACKUP))
    assert policy.handle(cfg, transition("VI_1", State.BACKUP, State.BACKUP)) == []
    assert policy.handle(cfg, transition("VI_1", State.BACKUP, State.MASTER))


def test_init_is_never_mailed():
    cfg = config(instance_extra="    smtp_alert: true")
    assert SmtpAlertPolicy().handle(cfg, transition("VI_1", State.BACKUP, State.INIT)) == []


def test_sync_group_subject_and_body_as_vrrp_sync_smtp_notifier():
    cfg = config(group_extra="    smtp_alert: true")
    event = GroupTransition(group="G1", old=State.BACKUP, new=State.MASTER, at=7.0)
    alerts = SmtpAlertPolicy().handle(cfg, event)
    assert [(a.subject, a.body) for a in alerts] == [
        ("[lvs01] VRRP Group G1 - Entering MASTER state",
         "=> All VRRP group instances are now in MASTER state <=")]
    # the instance of the group has no smtp_alert of its own and no global default: off
    assert SmtpAlertPolicy().handle(cfg, transition("VI_1", State.BACKUP, State.MASTER)) == []


def test_vrrp_defaults_own_then_alert_vrrp_then_alert_then_off():
    # vrrp.c vrrp_complete_instance
    assert vrrp_alert_enabled(None, None) is False
    smtp = config(smtp_extra="    alert: true").global_settings.smtp
    assert vrrp_alert_enabled(None, smtp) is True
    smtp = config(smtp_extra="    alert: true\n    alert_vrrp: false").global_settings.smtp
    assert vrrp_alert_enabled(None, smtp) is False
    assert vrrp_alert_enabled(True, smtp) is True


def test_checker_defaults_real_server_on_virtual_server_off():
    # check_data.c validate_check_config: a real server defaults to ON ("backwards
    # compatibility"), a virtual server to off
    assert checker_alert_enabled(None, None, real_server=True) is True
    assert checker_alert_enabled(None, None, real_server=False) is False
    smtp = config(smtp_extra="    alert: false").global_settings.smtp
    assert checker_alert_enabled(None, smtp, real_server=True) is False
    smtp = config(smtp_extra="    alert: false\n    alert_checker: true").global_settings.smtp
    assert checker_alert_enabled(None, smtp, real_server=False) is True


def test_real_server_down_subject_as_smtp_alert_rs_body_as_tcp_epilog():
    alerts = SmtpAlertPolicy().handle(config(), rs_change("198.51.100.10", False))
    assert [(a.subject, a.body) for a in alerts] == [
        ("[lvs01] Realserver [198.51.100.10]:tcp:8080 of virtual server "
         "[192.0.2.100]:tcp:80 - DOWN", "=> TCP CHECK failed on service <=")]
    alerts = SmtpAlertPolicy().handle(config(), rs_change("198.51.100.10", True))
    assert alerts[0].body == "=> TCP CHECK succeed on service <="
    assert alerts[0].subject.endswith(" - UP")


def test_real_server_http_get_body_and_weight_change_sends_nothing():
    alerts = SmtpAlertPolicy().handle(config(), rs_change("198.51.100.11", False))
    assert alerts[0].body == "=> CHECK failed on service : HTTP request failed <="
    assert SmtpAlertPolicy().handle(
        config(), rs_change("198.51.100.11", True, up_changed=False)) == []


def test_real_server_smtp_alert_false_sends_nothing():
    cfg = config(rs_extra="        smtp_alert: false")
    assert SmtpAlertPolicy().handle(cfg, rs_change("198.51.100.10", False)) == []


def test_quorum_mail_as_do_vs_notifies():
    cfg = config(vs_extra="    smtp_alert: true")
    event = QuorumEvent(service="TCP 192.0.2.100:80", up=False, weight=1, initial=False,
                        at=9.0, virtual=VS)
    alerts = SmtpAlertPolicy().handle(cfg, event)
    # "=> %s %u+%u=%ld <= %ld <=", threshold = quorum - hysteresis when it was up
    assert [(a.subject, a.body) for a in alerts] == [
        ("[lvs01] Virtualserver [192.0.2.100]:tcp:80 - DOWN", "=> Lost quorum 2+1=1 <= 1 <=")]
    gained = QuorumEvent(service="TCP 192.0.2.100:80", up=True, weight=3, initial=True,
                         at=9.0, virtual=VS)
    assert SmtpAlertPolicy().handle(cfg, gained)[0].body == (
        "=> Starting with quorum up 2+1=3 <= 3 <=")
    # no smtp_alert on the virtual server: keepalived's default is off
    assert SmtpAlertPolicy().handle(config(), event) == []


def test_no_recipient_no_mail():
    # core/smtp.c smtp_alert: "Only send mail if email specified"
    cfg = load_config_text(BASE.format(smtp_extra="", instance_extra="    smtp_alert: true",
                                       group_extra="", vs_extra="", rs_extra="")
                           .replace("    notification_email: [ops@example.com, "
                                    "oncall@example.com]\n", ""), "x.yaml")
    assert SmtpAlertPolicy().handle(cfg, transition("VI_1", State.BACKUP, State.MASTER)) == []


def test_message_headers_as_smtp_headers_cmd():
    cfg = config(instance_extra="    smtp_alert: true")
    smtp = cfg.global_settings.smtp
    alert = SmtpAlertPolicy().handle(cfg, transition("VI_1", State.BACKUP, State.MASTER))[0]
    data = message(alert, smtp, "lvs01@example.com", "Fri, 04 Dec 2026 16:12:46 +0000")
    # core/smtp.h SMTP_HEADERS_CMD and SMTP_BODY_CMD; To: as build_to_header_rcpt_addrs
    assert data == (b"Date: Fri, 04 Dec 2026 16:12:46 +0000\r\n"
                    b"From: lvs01@example.com\r\n"
                    b"Subject: [lvs01] VRRP Instance VI_1 - Entering MASTER state\r\n"
                    b"X-Mailer: Keepalived\r\n"
                    b"To: ops@example.com, oncall@example.com\r\n\r\n"
                    b"=> VRRP Instance is now owning VRRP VIPs <=\r\n")


def test_smtp_settings_defaults_as_keepalived():
    smtp = config().global_settings.smtp
    assert (smtp.port, smtp.connect_timeout, smtp.helo_name) == (25, 30, None)
    assert (smtp.alert, smtp.alert_vrrp, smtp.alert_checker) == (None, None, None)
