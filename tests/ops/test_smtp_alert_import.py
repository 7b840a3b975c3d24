"""`haipvs import-keepalived` translates keepalived's e-mail keywords (global_parser.c
email_handler, emailfrom_handler, smtpserver_handler, smtphelo_handler, smtpto_handler,
smtp_alert*_handler; vrrp_parser.c and check_parser.c smtp_alert handlers)."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.importer.notes import CHANGED

CONF = """\
global_defs {
  notification_email {
    ops@example.com
    root
  }
  notification_email_from lvs01@example.com
  smtp_server 192.0.2.25 2525
  smtp_helo_name lvs01.example.com
  smtp_connect_timeout 0
  smtp_alert
  smtp_alert_vrrp off
  smtp_alert_checker yes
  router_id lvs01
}
vrrp_sync_group G1 {
  group {
    VI_1
  }
  smtp_alert
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 100
  smtp_alert no
  virtual_ipaddress {
    192.0.2.100/24
  }
}
virtual_server 192.0.2.100 80 {
  protocol TCP
  smtp_alert
  real_server 198.51.100.10 80 {
    smtp_alert false
    TCP_CHECK {
    }
  }
}
"""


def test_every_mail_keyword_is_translated(tmp_path: Path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    result = import_keepalived(conf)
    config = load_config_text(result.yaml, "out.yaml")
    smtp = config.global_settings.smtp
    assert (smtp.server, smtp.port, smtp.helo_name) == ("192.0.2.25", 2525, "lvs01.example.com")
    assert smtp.notification_email == ("ops@example.com", "root")
    assert smtp.notification_email_from == "lvs01@example.com"
    # smtpto_handler: "smtp_conect_timeout must be greater than 0, setting to 1"
    assert smtp.connect_timeout == 1
    assert (smtp.alert, smtp.alert_vrrp, smtp.alert_checker) == (True, False, True)
    assert config.vrrp_sync_groups[0].smtp_alert is True
    assert config.vrrp_instances[0].smtp_alert is False
    vs = config.virtual_servers[0]
    assert vs.smtp_alert is True and vs.real_servers[0].smtp_alert is False
    assert [(n.line, n.kind) for n in result.notes] == [(9, CHANGED)]


def test_without_smtp_server_nothing_is_sent_and_each_line_is_noted(tmp_path: Path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF.replace("  smtp_server 192.0.2.25 2525\n", ""))
    result = import_keepalived(conf)
    config = load_config_text(result.yaml, "out.yaml")
    assert config.global_settings.smtp is None
    noted = {n.line for n in result.notes if "no smtp_server" in n.why}
    assert noted == {2, 6, 7, 8, 9, 10, 11}
