"""The e-mails keepalived 2.2.7's checker process sends at stop, for virtual servers with
`omega` (the VRRP "Stopping" mails are haipvs/policy/smtp_alerts.py's).

ipwrapper.c clear_services(stopping) -> clear_service_vs -> clear_service_rs_list:
- clear_service_rs, for each real server in configuration order: one that is alive is marked
  down, then `if (!vs->omega && stopping) return;`; with omega, when the server's
  smtp_alert is on, smtp_alert(SMTP_MSG_RS_SHUT, ..., "DOWN", "=> Shutting down <=");
- then update_vs_notifies(vs, stopping): `stopping` forces do_vs_notifies, which returns at
  once without omega; with omega and the virtual server's smtp_alert on,
  smtp_alert(SMTP_MSG_VS, vs, "DOWN", "=> Shutting down <=") (quorum_state_up was just set
  false).
core/smtp.c smtp_alert: SMTP_MSG_RS_SHUT's subject is the SMTP_MSG_RS form with the given
word, "[router_id] Realserver <rs> of virtual server <vs> - DOWN"; SMTP_MSG_VS's is
"[router_id] Virtualserver <vs> - DOWN". Like omega's scripts (haipvs/policy/omega.py), this
happens only when haipvs releases its services (not under `--dont-release-ipvs`, where
keepalived does not call clear_services either).

Pure: config and the director's health view in, `Alert`s out; the caller
(daemon_control.release_ipvs) hands them to the sender.
"""

from __future__ import annotations

from collections.abc import Callable

from haipvs.config.model import Config
from haipvs.events import VirtualService
from haipvs.ipvs import desired
from haipvs.ipvs.desired import RealServerHealth
from haipvs.ipvs.model import DestKey, ServiceKey
from haipvs.policy.smtp_alerts import (
    MAX_BODY,
    MAX_SUBJECT,
    Alert,
    checker_alert_enabled,
    format_rs,
    format_vs,
)

SHUTTING_DOWN = "=> Shutting down <="


def stop_alerts(now: float, config: Config,
                health: Callable[[ServiceKey, DestKey], RealServerHealth]) -> list[Alert]:
    """The mails of clear_services(stopping=true), in keepalived's order."""
    smtp = config.global_settings.smtp
    # core/smtp.c smtp_alert: "Only send mail if email specified" (and a server).
    if smtp is None or not smtp.notification_email:
        return []
    router_id = config.global_settings.router_id
    out: list[Alert] = []
    for vs in config.virtual_servers:
        if not vs.omega:
            continue
        service = desired.service_key(vs)
        virtual = VirtualService(protocol=service.protocol, address=service.address,
                                 port=service.port, fwmark=service.fwmark)
        for rs in vs.real_servers:
            dest = desired.dest_key(rs)
            if not health(service, dest).up:
                continue  # clear_service_rs: `if (!rs->alive) return;`
            if not checker_alert_enabled(rs.smtp_alert, smtp, real_server=True):
                continue
            subject = (f"[{router_id}] Realserver {format_rs(dest.address, dest.port, virtual)}"
                       f" of virtual server {format_vs(virtual)} - DOWN")
            out.append(Alert(f"rs:{service}/{dest}", subject[:MAX_SUBJECT],
                             SHUTTING_DOWN[:MAX_BODY], now))
        if checker_alert_enabled(vs.smtp_alert, smtp, real_server=False):
            subject = f"[{router_id}] Virtualserver {format_vs(virtual)} - DOWN"
            out.append(Alert(f"vs:{service}", subject[:MAX_SUBJECT], SHUTTING_DOWN, now))
    return out


__all__ = ["SHUTTING_DOWN", "stop_alerts"]
