"""Sends the e-mail alerts haipvs/policy/smtp_alerts.py decides, from the main trio loop.

Thin: one alert at a time, each in a worker thread (std-lib smtplib, `connect_timeout` on the
connect and on every reply, as keepalived's smtp_connect_timeout), so neither a slow nor an
unreachable server ever delays the main loop, let alone the VRRP thread (which never sees
alerts at all). The dialogue is keepalived's (core/smtp.c): HELO <helo_name>, MAIL FROM,
one RCPT TO per recipient, DATA with its headers, QUIT; one connection per alert.

The queue is bounded (limits.SMTP_QUEUE_MAX). keepalived opens a connection per alert with no
bound; haipvs sends one at a time, so a flapping instance with an unreachable server would
otherwise queue without end. When full, the OLDEST unsent alert is dropped: an operator
reading mail after an outage wants the latest states, and the event log keeps them all.
Failures and drops are logged and counted (metrics `haipvs_smtp_alerts_*_total`).
"""

from __future__ import annotations

import collections
import getpass
import platform
import time

import structlog
import trio

from haipvs import limits
from haipvs.config.smtp import SmtpSettings
from haipvs.policy.smtp_alerts import Alert, message

log = structlog.get_logger("haipvs.smtp_alert")

# At stop, how long the alerts still queued (the "Stopping" ones) may hold the daemon up: long
# enough for a reachable server, short enough that an unreachable one barely delays a
# restart. keepalived's own stop does not wait: its Stopping mails rarely leave.
STOP_DRAIN = 1.0
# keepalived body_cmd: strftime "%a, %d %b %Y %H:%M:%S %z" of localtime at sending time.
RFC822_DATE = "%a, %d %b %Y %H:%M:%S %z"


def default_sender() -> str:
    """global_data.c set_default_email_from: "<daemon user>@<host name>"."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "root"
    return f"{user}@{platform.node() or 'localhost'}"


def default_helo() -> str:
    # global_data.c: smtp_helo_name defaults to the host name; smtp.c helo_cmd "localhost"
    return platform.node() or "localhost"


def send_one(smtp: SmtpSettings, alert: Alert) -> None:
    """Blocking: one alert, one connection (run in a worker thread only). smtplib (and the
    email package) loads on the first alert: a director without smtp_server never needs it."""
    import smtplib

    sender = smtp.notification_email_from or default_sender()
    data = message(alert, smtp, sender, time.strftime(RFC822_DATE, time.localtime()))
    with smtplib.SMTP(timeout=smtp.connect_timeout) as client:
        client.connect(smtp.server, smtp.port)
        code, reply = client.helo(smtp.helo_name or default_helo())
        if code != 250:  # smtp.c: HELO expects 250
            raise smtplib.SMTPHeloError(code, reply)
        # sendmail: MAIL FROM, RCPT TO each, DATA; it dot-stuffs and ends with "\r\n.\r\n".
        client.sendmail(sender, list(smtp.notification_email), data)


class SmtpAlerter:
    """`submit` from the main loop (never blocks); `run` sends, one alert at a time."""

    def __init__(self, queue_max: int = limits.SMTP_QUEUE_MAX) -> None:
        self.smtp: SmtpSettings | None = None
        self._queue: collections.deque[tuple[SmtpSettings, Alert]] = collections.deque()
        self._queue_max = queue_max
        self._wakeup = trio.Event()
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.sending = False

    @property
    def pending(self) -> int:
        return len(self._queue) + (1 if self.sending else 0)

    def submit(self, alert: Alert) -> None:
        if self.smtp is None:
            return
        if len(self._queue) >= self._queue_max:
            old = self._queue.popleft()[1]
            self.dropped += 1
            log.warning("smtp_alert_dropped", subject=old.subject,
                        detail=f"{self._queue_max} alerts waiting: the oldest is dropped")
        # the settings in force when the alert happened (a reload may change them meanwhile)
        self._queue.append((self.smtp, alert))
        self._wakeup.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            if not self._queue:
                self._wakeup = trio.Event()
                await self._wakeup.wait()
                continue
            smtp, alert = self._queue.popleft()
            self.sending = True
            try:
                await self._send(smtp, alert)
            finally:
                self.sending = False

    async def _send(self, smtp: SmtpSettings, alert: Alert) -> None:
        try:
            # abandon_on_cancel: at shutdown the daemon does not wait out a connect timeout
            await trio.to_thread.run_sync(send_one, smtp, alert, abandon_on_cancel=True)
        except OSError as exc:  # smtplib.SMTPException is an OSError
            self.failed += 1
            log.warning("smtp_alert_failed", server=f"{smtp.server}:{smtp.port}",
                        subject=alert.subject, error=str(exc) or type(exc).__name__)
            return
        self.sent += 1
        log.info("smtp_alert_sent", server=f"{smtp.server}:{smtp.port}", subject=alert.subject)

    async def drain(self, limit: float = STOP_DRAIN) -> None:
        """Until every queued alert has been tried, for at most `limit` seconds."""
        with trio.move_on_after(limit):
            while self.pending:
                await trio.sleep(0.01)

    def stats(self) -> dict[str, int]:
        return dict(zip(limits.SMTP_ALERT_COUNTERS, (self.sent, self.failed, self.dropped),
                        strict=True))
