"""Global `no_email_faults` (keepalived 2.2.7 core/global_parser.c no_email_faults_handler):
vrrp/vrrp_notify.c vrrp_smtp_notifier and vrrp_sync_smtp_notifier send no mail for an
instance or a sync group entering FAULT, and do not record that FAULT as `last_email_state`;
the checkers' and the quorum's mails (check_*.c, ipwrapper.c) do not look at it."""

from __future__ import annotations

from haipvs.events import GroupTransition, QuorumEvent
from haipvs.policy.smtp_alerts import SmtpAlertPolicy
from haipvs.vrrp.messages import State
from tests.ops.test_smtp_alert_policy import VS, config, rs_change
from tests.policy.director_support import transition

NO_FAULTS = "    no_email_faults: true"


def subjects(policy, cfg, *events):
    return [a.subject for e in events for a in policy.handle(cfg, e)]


def test_vrrp_smtp_notifier_no_email_faults_sends_no_fault_mail():
    cfg = config(smtp_extra=NO_FAULTS, instance_extra="    smtp_alert: true")
    assert subjects(SmtpAlertPolicy(), cfg,
                    transition("VI_1", State.MASTER, State.FAULT)) == []


def test_vrrp_smtp_notifier_without_no_email_faults_mails_fault():
    cfg = config(instance_extra="    smtp_alert: true")
    assert subjects(SmtpAlertPolicy(), cfg, transition("VI_1", State.MASTER, State.FAULT)) == [
        "[lvs01] VRRP Instance VI_1 - Entering FAULT state"]


def test_vrrp_smtp_notifier_suppressed_fault_is_not_last_email_state():
    # MASTER (mailed) -> FAULT (not mailed, last_email_state stays MASTER) -> MASTER: the
    # condition `last_email_state != state` is false, so keepalived sends no second MASTER mail;
    # BACKUP then is a new state and is mailed.
    cfg = config(smtp_extra=NO_FAULTS, instance_extra="    smtp_alert: true")
    assert subjects(SmtpAlertPolicy(), cfg,
                    transition("VI_1", State.BACKUP, State.MASTER),
                    transition("VI_1", State.MASTER, State.FAULT),
                    transition("VI_1", State.FAULT, State.MASTER),
                    transition("VI_1", State.MASTER, State.BACKUP)) == [
        "[lvs01] VRRP Instance VI_1 - Entering MASTER state",
        "[lvs01] VRRP Instance VI_1 - Entering BACKUP state"]


def test_vrrp_smtp_notifier_no_email_faults_keeps_stop_mail():
    cfg = config(smtp_extra=NO_FAULTS, instance_extra="    smtp_alert: true")
    assert subjects(SmtpAlertPolicy(), cfg, transition("VI_1", State.MASTER, State.STOP)) == [
        "[lvs01] VRRP Instance VI_1 - Stopping"]


def test_vrrp_sync_smtp_notifier_no_email_faults_sends_no_group_fault_mail():
    cfg = config(smtp_extra=NO_FAULTS, group_extra="    smtp_alert: true")
    policy = SmtpAlertPolicy()
    fault = GroupTransition(group="G1", old=State.MASTER, new=State.FAULT, at=3.0)
    back = GroupTransition(group="G1", old=State.FAULT, new=State.BACKUP, at=4.0)
    assert subjects(policy, cfg, fault, back) == [
        "[lvs01] VRRP Group G1 - Entering BACKUP state"]


def test_checker_and_quorum_mails_ignore_no_email_faults():
    # check_tcp.c tcp_epilog and ipwrapper.c do_vs_notifies test only smtp_alert
    cfg = config(smtp_extra=NO_FAULTS, vs_extra="    smtp_alert: true")
    quorum = QuorumEvent(service="TCP 192.0.2.100:80", up=False, weight=1, initial=False,
                         at=6.0, virtual=VS)
    assert subjects(SmtpAlertPolicy(), cfg, rs_change("198.51.100.10", False), quorum) == [
        "[lvs01] Realserver [198.51.100.10]:tcp:8080 of virtual server "
        "[192.0.2.100]:tcp:80 - DOWN",
        "[lvs01] Virtualserver [192.0.2.100]:tcp:80 - DOWN"]


def test_importer_translates_no_email_faults(tmp_path):
    # global_parser.c no_email_faults_handler: the keyword alone sets it; absent, it is off
    from haipvs.config import load_config_text
    from haipvs.importer import import_keepalived
    from tests.ops.test_smtp_alert_import import CONF

    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF.replace("  router_id lvs01\n", "  router_id lvs01\n  no_email_faults\n"))
    result = import_keepalived(conf)
    smtp = load_config_text(result.yaml, "out.yaml").global_settings.smtp
    assert smtp.no_email_faults is True
    assert not [n for n in result.notes if n.line == 14]
    conf.write_text(CONF)
    smtp = load_config_text(import_keepalived(conf).yaml, "out.yaml").global_settings.smtp
    assert smtp.no_email_faults is False
