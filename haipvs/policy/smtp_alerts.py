"""Which events send an e-mail alert, and its exact text, as keepalived 2.2.7.

Pure: events (haipvs/events.py) and the config in, typed `Alert`s out; `message()` makes the
bytes sent after DATA. The sender (haipvs/drivers/smtp_alert.py) only connects and sends.

keepalived's rules, each quoted where it is used:
- core/smtp.c smtp_alert: nothing is sent without a server and at least one recipient; the
  Subject is "[<router_id>] VRRP Instance <name> - <subject>" (and the Group, Realserver,
  Virtualserver forms); the body is a one-line "=> ... <=" text;
- vrrp/vrrp_notify.c vrrp_smtp_notifier / vrrp_sync_smtp_notifier: one mail per state
  entered (MASTER, BACKUP, FAULT, STOP, DELETED), not twice for one state in a row
  (`last_email_state`), none for FAULT with global `no_email_faults` (and that FAULT is not
  remembered as the last state mailed);
- the defaults of the per-entity `smtp_alert` (vrrp.c vrrp_complete_instance and
  vrrp_complete_init, check/check_data.c validate_check_config);
- check/ipwrapper.c do_vs_notifies: the quorum mail; check/check_*.c: a real server's mail
  when its checker changes state.
"""

from __future__ import annotations

from collections.abc import Mapping

from haipvs.config.model import Config, RealServer, SmtpCheck, SmtpSettings, VirtualServer
from haipvs.dataclass_lean import dataclass
from haipvs.events import (
    Event,
    GroupTransition,
    InstanceNotice,
    QuorumEvent,
    RealServerChange,
    VirtualService,
    VrrpTransition,
)
from haipvs.policy.smtp_check import keepalived_failure_text

# core/smtp.h MAX_HEADERS_LENGTH, MAX_BODY_LENGTH: keepalived cuts longer texts there (the
# terminating NUL included).
MAX_SUBJECT = 255
MAX_BODY = 511


@dataclass(frozen=True)
class Alert:
    """One e-mail: `owner` is what it is about (`instance:VI_1`, `rs:...`), for logs."""

    owner: str
    subject: str
    body: str
    at: float


# vrrp_notify.c vrrp_smtp_notifier: the (subject, body) of each state an instance enters.
INSTANCE_TEXTS: Mapping[str, tuple[str, str]] = {
    "MASTER": ("Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="),
    "BACKUP": ("Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "FAULT": ("Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "STOP": ("Stopping", "=> VRRP Instance stopping <="),
    "DELETED": ("Deleted", "=> VRRP Deleted at reload <="),
}
# vrrp_notify.c vrrp_sync_smtp_notifier: a sync group's.
GROUP_TEXTS: Mapping[str, tuple[str, str]] = {
    "MASTER": ("Entering MASTER state",
               "=> All VRRP group instances are now in MASTER state <="),
    "BACKUP": ("Entering BACKUP state",
               "=> All VRRP group instances are now in BACKUP state <="),
    "FAULT": ("Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="),
    "STOP": ("Stopping", "=> All VRRP group instances are now stopping <="),
}
# The body of a real server's mail, per checker class (check_tcp.c tcp_epilog, check_http.c
# http_handle_response, check_misc.c misc_check_child_thread ("MISC CHECK %s on service",
# succeeded/failed), check_udp.c udp_epilog, check_dns.c dns_final): (up, down).
CHECKER_BODIES: Mapping[str, tuple[str, str]] = {
    "TcpCheck": ("=> TCP CHECK succeed on service <=", "=> TCP CHECK failed on service <="),
    "HttpGet": ("=> CHECK succeed on service <=",
                "=> CHECK failed on service : HTTP request failed <="),
    "SslGet": ("=> CHECK succeed on service <=",
               "=> CHECK failed on service : HTTP request failed <="),
    "MiscCheck": ("=> MISC CHECK succeeded on service <=",
                  "=> MISC CHECK failed on service <="),
    "UdpCheck": ("=> UDP CHECK succeed on service <=", "=> UDP CHECK failed on service <="),
    "DnsCheck": ("=> DNS_CHECK: succeed on service <=", "=> DNS_CHECK: failed on service <="),
    # check_ping.c icmp_epilog
    "PingCheck": ("=> ICMP CHECK succeed on service <=", "=> ICMP CHECK failed on service <="),
    # check_smtp.c smtp_final: the down body names the failure (smtp_down_body)
    "SmtpCheck": ("=> CHECK succeed on service <=", "=> CHECK failed on service <="),
}
# Checkers that never mail: FILE_CHECK changes a server through track_file.c
# process_update_checker_track_file_status -> update_svr_checker_state, no smtp_alert.
SILENT_CHECKERS = frozenset({"FileCheck"})
# In a MISC_CHECK's down reason when its program was killed at its timeout
# (haipvs/health/state.py "<checker>: " + haipvs/health/net.py timeout_reason, "timeout
# after <N>s (killed)").
MISC_TIMEOUT_REASON = "timeout after "
# A real server without a checker or with several (haipvs sends one mail per server change,
# see docs/migration.md): the generic words of check_smtp.c / check_http.c.
GENERIC_BODIES = ("=> CHECK succeed on service <=", "=> CHECK failed on service <=")

PROTOCOL_WORDS = {6: "tcp", 17: "udp", 132: "sctp", 0: "none"}


def smtp_down_body(checker: SmtpCheck, rs: RealServer, reason: str) -> str | None:
    """check_smtp.c smtp_final: "=> CHECK failed on service : <text> <=", the text naming
    the failure and the checked "[address]:port" (FMT_SMTP_RS, connect_ip/connect_port)."""
    address = checker.connect_ip if checker.connect_ip is not None else rs.address
    port = checker.connect_port if checker.connect_port is not None else rs.port
    own = reason.split(": ", 1)[1] if reason.startswith("smtp_check: ") else reason
    text = keepalived_failure_text(own, f"[{address}]:{port}")
    return None if text is None else f"=> CHECK failed on service : {text} <="


def vrrp_alert_enabled(own: bool | None, smtp: SmtpSettings | None) -> bool:
    """vrrp.c vrrp_complete_instance (and vrrp_complete_init for groups): the entity's own
    smtp_alert, else global smtp_alert_vrrp, else global smtp_alert, else off."""
    for value in (own, smtp and smtp.alert_vrrp, smtp and smtp.alert):
        if value is not None:
            return bool(value)
    return False


def checker_alert_enabled(own: bool | None, smtp: SmtpSettings | None, *,
                          real_server: bool) -> bool:
    """check_data.c validate_check_config: own, else smtp_alert_checker, else smtp_alert,
    else off for a virtual server and ON for a real server ("inconsistent ... to maintain
    backwards compatibility")."""
    for value in (own, smtp and smtp.alert_checker, smtp and smtp.alert):
        if value is not None:
            return bool(value)
    return real_server


def _addr(address: str) -> str:
    return f"[{address}]"


def format_vs(service: VirtualService) -> str:
    """check_data.c format_vs: "FWM <mark>" or "[address]:proto:port" (lib/utils.c
    inet_sockaddrtotrio_r; the notify FIFO's form, haipvs/notify.py, minus inet_ntop)."""
    if service.fwmark:
        return f"FWM {service.fwmark}"
    return f"{_addr(service.address)}:{PROTOCOL_WORDS.get(service.protocol, '?')}:{service.port}"


def format_rs(address: str, port: int, service: VirtualService) -> str:
    # check_data.c format_rs: the real server with the virtual server's protocol.
    return f"{_addr(address)}:{PROTOCOL_WORDS.get(service.protocol, '?')}:{port}"


class SmtpAlertPolicy:
    """Feed every event, in order (as the notify FIFO sees them), with the config in force,
    to `handle`; it returns the alerts to send, stamped with the event's time."""

    config: Config  # the one of the event being handled

    def __init__(self) -> None:
        self.last_state: dict[str, str] = {}  # keepalived's last_email_state, per owner

    def handle(self, config: Config, event: Event) -> list[Alert]:
        self.config = config
        smtp = config.global_settings.smtp
        # core/smtp.c smtp_alert: "Only send mail if email specified" (and a server).
        if smtp is None or not smtp.notification_email:
            return []
        now = event.at
        match event:
            case VrrpTransition():
                return self._instance(now, event)
            case InstanceNotice(notice="DELETED"):  # notify_deleted: "Deleted" (DELETED state)
                own = next((i.smtp_alert for i in config.vrrp_instances
                            if i.name == event.instance), None)
                return self._vrrp(now, f"instance:{event.instance}", "VRRP Instance",
                                  event.instance, "DELETED", INSTANCE_TEXTS, own)
            case GroupTransition():
                return self._group(now, event)
            case RealServerChange():
                return self._real_server(now, event)
            case QuorumEvent():
                return self._quorum(now, event)
        return []

    def _subject(self, text: str) -> str:
        return text[:MAX_SUBJECT]

    def _vrrp(self, now: float, owner: str, kind: str, name: str, state: str,
              texts: Mapping[str, tuple[str, str]], own: bool | None) -> list[Alert]:
        smtp = self.config.global_settings.smtp
        if not vrrp_alert_enabled(own, smtp) or state not in texts:
            return []
        if state == "FAULT" and smtp is not None and smtp.no_email_faults:
            # vrrp_notify.c vrrp_smtp_notifier: the suppressed FAULT does not become the
            # last_email_state, so a return to the state mailed before sends nothing either
            return []
        if self.last_state.get(owner) == state:
            return []  # last_email_state: one mail per state entered
        self.last_state[owner] = state
        subject, body = texts[state]
        router_id = self.config.global_settings.router_id
        return [Alert(owner, self._subject(f"[{router_id}] {kind} {name} - {subject}"),
                      body[:MAX_BODY], now)]

    def _instance(self, now: float, event: VrrpTransition) -> list[Alert]:
        own = next((i.smtp_alert for i in self.config.vrrp_instances
                    if i.name == event.instance), None)
        # A removed instance's last event (FAULT, as vrrp_notify.c send_instance_notifies
        # tells DELETED without notify_deleted) may arrive after the reload: its own setting
        # is gone then, the global default decides.
        return self._vrrp(now, f"instance:{event.instance}", "VRRP Instance", event.instance,
                          str(event.new), INSTANCE_TEXTS, own)

    def _group(self, now: float, event: GroupTransition) -> list[Alert]:
        own = next((g.smtp_alert for g in self.config.vrrp_sync_groups
                    if g.name == event.group), None)
        return self._vrrp(now, f"group:{event.group}", "VRRP Group", event.group,
                          str(event.new), GROUP_TEXTS, own)

    def _real_server(self, now: float, event: RealServerChange) -> list[Alert]:
        if not event.up_changed or event.initial:
            # a weight change: keepalived's checkers mail on up/down only; a server starting
            # up (rs_init_notifies): do_rs_notifies sends no mail, the checkers do
            return []
        smtp = self.config.global_settings.smtp
        rs = self._find_rs(event)
        if rs is None:
            # removed by a reload (ipwrapper.c clear_service_rs: "=> Removing <=" mail when
            # its smtp_alert was on; the config is gone, the global default decides)
            if not checker_alert_enabled(None, smtp, real_server=True):
                return []
            body = "=> Removing <="
            word = "DOWN"
        else:
            if not checker_alert_enabled(rs.smtp_alert, smtp, real_server=True):
                return []
            names = [type(c).__name__ for c in rs.checkers]
            if names and set(names) <= SILENT_CHECKERS:
                return []
            up_body, down_body = (CHECKER_BODIES.get(names[0], GENERIC_BODIES)
                                  if len(names) == 1 else GENERIC_BODIES)
            body = up_body if event.up else down_body
            if names == ["MiscCheck"] and not event.up and MISC_TIMEOUT_REASON in event.reason:
                # check_misc.c misc_check_child_thread: a script killed at its timeout is
                # script_exit_type "timed out" (haipvs/health/misc.py's timeout_reason)
                body = "=> MISC CHECK timed out on service <="
            if names == ["SmtpCheck"] and not event.up:
                body = smtp_down_body(rs.checkers[0], rs, event.reason) or body
            word = "UP" if event.up else "DOWN"
        # core/smtp.c smtp_alert SMTP_MSG_RS: "[%s] Realserver %s of virtual server %s - %s"
        subject = (f"[{self.config.global_settings.router_id}] Realserver "
                   f"{format_rs(event.rs_address, event.rs_port, event.virtual)} of virtual "
                   f"server {format_vs(event.virtual)} - {word}")
        return [Alert(f"rs:{event.real_server}", self._subject(subject), body[:MAX_BODY], now)]

    def _find_rs(self, event: RealServerChange) -> RealServer | None:
        for vs in self.config.virtual_servers:
            if _same_service(vs, event.virtual):
                for rs in vs.real_servers:
                    if str(rs.address) == event.rs_address and (rs.port or 0) == event.rs_port:
                        return rs
        return None

    def _quorum(self, now: float, event: QuorumEvent) -> list[Alert]:
        vs = next((v for v in self.config.virtual_servers
                   if _same_service(v, event.virtual)), None)
        if vs is None or not checker_alert_enabled(vs.smtp_alert,
                                                   self.config.global_settings.smtp,
                                                   real_server=False):
            return []
        # ipwrapper.c update_quorum_state: threshold = quorum + (was up ? -1 : 1) * hysteresis
        threshold = vs.quorum + (1 if event.up else -1) * vs.hysteresis
        if event.up:
            what = "Starting with quorum up" if event.initial else "Gained quorum"
        else:
            what = "Starting with quorum down" if event.initial else "Lost quorum"
        # ipwrapper.c do_vs_notifies: "=> %s %u+%u=%ld <= %ld <=", subject "UP"/"DOWN"
        body = f"=> {what} {vs.quorum}+{vs.hysteresis}={threshold} <= {event.weight} <="
        word = "UP" if event.up else "DOWN"
        subject = (f"[{self.config.global_settings.router_id}] Virtualserver "
                   f"{format_vs(event.virtual)} - {word}")
        return [Alert(f"vs:{event.service}", self._subject(subject), body[:MAX_BODY], now)]


def _same_service(vs: VirtualServer, service: VirtualService) -> bool:
    if service.fwmark:
        return vs.fwmark == service.fwmark
    return (str(vs.address) == service.address and (vs.port or 0) == service.port)


def recipients_header(smtp: SmtpSettings) -> str:
    # core/smtp.c build_to_header_rcpt_addrs: the addresses joined with ", "
    return ", ".join(smtp.notification_email)


def message(alert: Alert, smtp: SmtpSettings, sender: str, date: str) -> bytes:
    """What follows DATA, as core/smtp.c body_cmd sends it (SMTP_HEADERS_CMD, SMTP_BODY_CMD;
    smtplib adds the final "." line). `date` is RFC 822 local time, made by the sender at
    sending time as keepalived does ("%a, %d %b %Y %H:%M:%S %z")."""
    text = (f"Date: {date}\r\nFrom: {sender}\r\nSubject: {alert.subject}\r\n"
            f"X-Mailer: Keepalived\r\nTo: {recipients_header(smtp)}\r\n\r\n{alert.body}\r\n")
    return text.encode()
