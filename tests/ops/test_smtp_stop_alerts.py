"""The mails of keepalived 2.2.7's checker at stop (haipvs/policy/smtp_stop.py):
ipwrapper.c clear_services -> clear_service_rs (SMTP_MSG_RS_SHUT "DOWN",
"=> Shutting down <=" for each alive real server, only with omega) then update_vs_notifies ->
do_vs_notifies (SMTP_MSG_VS "DOWN", "=> Shutting down <=", only with omega); core/smtp.c
smtp_alert subjects."""

from __future__ import annotations

from haipvs.ipvs.desired import RealServerHealth
from haipvs.policy.smtp_stop import SHUTTING_DOWN, stop_alerts
from tests.ops.test_smtp_alert_policy import config

RS10 = "[lvs01] Realserver [198.51.100.10]:tcp:8080 of virtual server [192.0.2.100]:tcp:80 - DOWN"
RS11 = "[lvs01] Realserver [198.51.100.11]:tcp:8080 of virtual server [192.0.2.100]:tcp:80 - DOWN"
VS = "[lvs01] Virtualserver [192.0.2.100]:tcp:80 - DOWN"


def all_up(service, dest):
    return RealServerHealth(True)


def mails(cfg, health=all_up):
    return [(a.subject, a.body) for a in stop_alerts(7.0, cfg, health)]


def test_clear_service_rs_without_omega_mails_nothing():
    # `if (!vs->omega && stopping) return;` and do_vs_notifies "Only send non SNMP notifies
    # when stopping if omega set"
    assert mails(config(vs_extra="    smtp_alert: true")) == []


def test_clear_services_with_omega_mails_each_alive_real_server_then_the_service():
    cfg = config(vs_extra="    omega: true\n    smtp_alert: true")
    assert mails(cfg) == [(RS10, SHUTTING_DOWN), (RS11, SHUTTING_DOWN), (VS, SHUTTING_DOWN)]
    assert SHUTTING_DOWN == "=> Shutting down <="
    assert {a.at for a in stop_alerts(7.0, cfg, all_up)} == {7.0}


def test_clear_service_rs_skips_a_real_server_that_is_not_alive():
    def health(service, dest):
        return RealServerHealth(dest.address != "198.51.100.10")

    cfg = config(vs_extra="    omega: true\n    smtp_alert: true")
    assert mails(cfg, health) == [(RS11, SHUTTING_DOWN), (VS, SHUTTING_DOWN)]


def test_smtp_alert_defaults_at_stop_as_validate_check_config():
    # real servers default to on, the virtual server to off (check_data.c); a real server's
    # own `smtp_alert: false` is kept
    cfg = config(vs_extra="    omega: true", rs_extra="        smtp_alert: false")
    assert mails(cfg) == [(RS11, SHUTTING_DOWN)]
    cfg = config(smtp_extra="    alert_checker: false", vs_extra="    omega: true")
    assert mails(cfg) == []

