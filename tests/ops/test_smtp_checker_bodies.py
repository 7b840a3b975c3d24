"""A real server's mail body per checker outcome (haipvs/policy/smtp_alerts.py), as
keepalived 2.2.7's checkers write it."""

from __future__ import annotations


def test_misc_check_child_thread_timed_out_body():
    # check_misc.c misc_check_child_thread: killed at its timeout -> "timed out"; an exit
    # status -> "failed"; success -> "succeeded"
    from haipvs.config import load_config_text
    from haipvs.events import RealServerChange, VirtualService
    from haipvs.policy.smtp_alerts import SmtpAlertPolicy

    cfg = load_config_text("""
global:
  router_id: lvs01
  smtp: {server: 192.0.2.25, notification_email: [ops@example.com]}
virtual_servers:
  - address: 192.0.2.100
    port: 80
    real_servers:
      - address: 198.51.100.10
        port: 8080
        misc_check: {path: /bin/true, timeout: 2}
""", "misc.yaml")
    virtual = VirtualService(protocol=6, address="192.0.2.100", port=80)

    def body(up: bool, reason: str) -> str:
        event = RealServerChange(service="TCP 192.0.2.100:80", real_server="198.51.100.10:8080",
                                 up=up, weight=None, reason=reason, at=1.0, virtual=virtual,
                                 rs_address="198.51.100.10", rs_port=8080, up_changed=True)
        [alert] = SmtpAlertPolicy().handle(cfg, event)
        return alert.body

    assert body(False, "misc_check: timeout after 2s (killed)") == (
        "=> MISC CHECK timed out on service <=")
    assert body(False, "misc_check: exit status 1") == "=> MISC CHECK failed on service <="
    assert body(True, "misc_check: exit status 0") == "=> MISC CHECK succeeded on service <="


def _policy_body(checker_yaml: str, up: bool, reason: str) -> list[str]:
    from haipvs.config import load_config_text
    from haipvs.events import RealServerChange, VirtualService
    from haipvs.policy.smtp_alerts import SmtpAlertPolicy

    cfg = load_config_text(f"""
global:
  router_id: lvs01
  smtp: {{server: 192.0.2.25, notification_email: [ops@example.com]}}
virtual_servers:
  - address: 192.0.2.100
    port: 25
    real_servers:
      - address: 198.51.100.10
        port: 25
        {checker_yaml}
""", "checker.yaml")
    event = RealServerChange(service="TCP 192.0.2.100:25", real_server="198.51.100.10:25",
                             up=up, weight=None, reason=reason, at=1.0,
                             virtual=VirtualService(protocol=6, address="192.0.2.100", port=25),
                             rs_address="198.51.100.10", rs_port=25, up_changed=True)
    return [alert.body for alert in SmtpAlertPolicy().handle(cfg, event)]


def test_smtp_final_body_names_the_failure_and_the_checked_server():
    # check_smtp.c smtp_final: "=> CHECK failed on service : %s <=" with the smtp_final
    # format and FMT_SMTP_RS (inet_sockaddrtopair of the checked address); success:
    # "=> CHECK succeed on service <="
    smtp = "smtp_check: {}"
    assert _policy_body(smtp, False, "smtp_check: bad greeting banner from server: '554 no'") == [
        "=> CHECK failed on service : Bad greeting banner from server [198.51.100.10]:25 <="]
    assert _policy_body(smtp, False, "smtp_check: bad HELO response from server: '501'") == [
        "=> CHECK failed on service : Bad HELO response from server [198.51.100.10]:25 <="]
    assert _policy_body(smtp, False, "smtp_check: connection refused") == [
        "=> CHECK failed on service : Error connecting to server [198.51.100.10]:25 <="]
    assert _policy_body(smtp, False, "smtp_check: timeout after 5s") == [
        "=> CHECK failed on service : Connection timeout to server [198.51.100.10]:25 <="]
    assert _policy_body(smtp, False, "smtp_check: read timeout after 5s (banner)") == [
        "=> CHECK failed on service : Read timeout from server [198.51.100.10]:25 <="]
    assert _policy_body(smtp, False, "smtp_check: connection reset (HELO response)") == [
        "=> CHECK failed on service : Read failure from server [198.51.100.10]:25 <="]
    # connect_ip / connect_port are the checked server (co->dst)
    assert _policy_body("smtp_check: {connect_ip: 203.0.113.5, connect_port: 2525}", False,
                        "smtp_check: connection refused") == [
        "=> CHECK failed on service : Error connecting to server [203.0.113.5]:2525 <="]
    assert _policy_body(smtp, True, "smtp_check: SMTP dialogue ok") == [
        "=> CHECK succeed on service <="]


def test_icmp_epilog_body_and_file_check_sends_none():
    # check_ping.c icmp_epilog; FILE_CHECK: track_file.c calls update_svr_checker_state, no
    # smtp_alert
    assert _policy_body("ping_check: {}", False, "ping_check: no echo reply") == [
        "=> ICMP CHECK failed on service <="]
    assert _policy_body("ping_check: {}", True, "ping_check: echo reply") == [
        "=> ICMP CHECK succeed on service <="]
    assert _policy_body("file_check: {file: /run/rs.state}", False, "file_check: 1") == []
