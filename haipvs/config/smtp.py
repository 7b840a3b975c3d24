"""`global.smtp`: e-mail alerts, keepalived's notification_email, notification_email_from,
smtp_server, smtp_helo_name, smtp_connect_timeout, smtp_alert, smtp_alert_vrrp and
smtp_alert_checker (keepalived/core/global_parser.c, global_data.c).

One nested section rather than nine keys in `global`: the keys only mean something together
(keepalived sends nothing without both a server and a recipient, core/smtp.c smtp_alert).
Which events send a mail, and their text: haipvs/policy/smtp_alerts.py; the sending:
haipvs/drivers/smtp_alert.py.
"""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.

from __future__ import annotations

from haipvs import limits
from haipvs.config.common import HOSTNAME, PORT
from haipvs.config.compound import ListOf
from haipvs.config.kinds import Bool, Int, Text
from haipvs.config.settings import model_section, setting
from haipvs.dataclass_lean import dataclass

# keepalived takes any word (a local mailbox such as `root` too) and sends it in <...>.
EMAIL = Text(254, r"[^\s<>]+", "an e-mail address: no spaces, no < or >")


@dataclass(frozen=True)
class SmtpSettings:
    # keepalived smtp_server "address [port]" or a name (resolved by the sender, never in
    # the VRRP thread).
    server: str = setting(HOSTNAME, doc="SMTP server: an address or a host name")
    port: int = setting(PORT, limits.SMTP_PORT_DEFAULT, "SMTP server port")
    notification_email: tuple[str, ...] = setting(
        ListOf(EMAIL), (), "recipients; no mail is sent without one (keepalived's rule)")
    # global_data.c set_default_email_from: "<daemon user>@<host name>".
    notification_email_from: str | None = setting(
        EMAIL, None, "From: and MAIL FROM: address", doc_default="root@HOSTNAME (the daemon's "
        "user at the host name)")
    # global_data.c: the host name; smtp.c helo_cmd: "localhost" if there is none.
    helo_name: str | None = setting(HOSTNAME, None, "name sent with HELO",
                                    doc_default="the host name")
    # global_data.h DEFAULT_SMTP_CONNECTION_TIMEOUT: 30 s; global_parser.c: at least 1.
    connect_timeout: int = setting(Int(1, 3600), limits.SMTP_CONNECT_TIMEOUT_DEFAULT,
                                   "seconds to connect and for each reply")
    # keepalived global smtp_alert / smtp_alert_vrrp / smtp_alert_checker: the default of the
    # per-instance, per-group, per-virtual/real-server `smtp_alert` (vrrp.c, check_data.c).
    alert: bool | None = setting(Bool(), None, "default `smtp_alert` of instances, sync "
                                 "groups, virtual and real servers", doc_default="unset")
    alert_vrrp: bool | None = setting(Bool(), None, "default `smtp_alert` of VRRP instances "
                                      "and sync groups; overrides `alert`",
                                      doc_default="unset: `alert`, else off")
    alert_checker: bool | None = setting(
        Bool(), None, "default `smtp_alert` of virtual and real servers; overrides `alert`",
        doc_default="unset: `alert`, else off for virtual servers and on for real servers "
        "(keepalived's defaults)")
    # keepalived global no_email_faults (global_parser.c no_email_faults_handler): no mail
    # for an instance or sync group entering FAULT (vrrp_notify.c vrrp_smtp_notifier,
    # vrrp_sync_smtp_notifier); a checker's mails are not affected.
    no_email_faults: bool = setting(Bool(), False, "send no mail when a VRRP instance or "
                                    "sync group enters FAULT")


SMTP = model_section(
    SmtpSettings,
    "smtp",
    "E-mail alerts",
    "keepalived's e-mail alerts: one mail per VRRP instance or sync group state change and "
    "per real server or quorum change, where `smtp_alert` is on. Sent from the main loop, "
    "one at a time, never delaying VRRP; a bounded queue drops the oldest unsent alert when "
    "full (counted as `haipvs_smtp_alerts_dropped_total`).",
)
