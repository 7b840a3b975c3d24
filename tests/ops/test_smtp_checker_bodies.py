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
