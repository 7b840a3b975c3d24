"""SMTP_CHECK probe: the thin trio driver of haipvs.policy.smtp_check.SmtpDialogue.

As keepalived's check_smtp.c, every step (the connect, each read of a line, each write) gets
its own connect_timeout; the dialogue decides everything else.
"""

from __future__ import annotations

import trio

from haipvs.health.net import ProbeFailure, connect_stream, os_error_reason, timeout_reason
from haipvs.health.spec import SmtpProbe
from haipvs.health.state import CheckResult
from haipvs.policy.smtp_check import Send, SmtpDialogue, Verdict

_READ_SIZE = 511  # keepalived reads at most SMTP_BUFF_MAX - 1 bytes at a time


async def probe_smtp(probe: SmtpProbe) -> CheckResult:
    started = trio.current_time()

    def result(ok: bool, reason: str) -> CheckResult:
        return CheckResult(ok, reason, trio.current_time() - started)

    step_timeout = probe.connect_timeout
    with trio.move_on_after(step_timeout) as connecting:
        try:
            stream = await connect_stream(probe.endpoint)
        except ProbeFailure as exc:
            return result(False, str(exc))
    if connecting.cancelled_caught:
        return result(False, timeout_reason(step_timeout))
    dialogue = SmtpDialogue(probe.helo_name)
    async with stream:
        try:
            while True:
                data = None
                with trio.move_on_after(step_timeout):
                    data = await stream.receive_some(_READ_SIZE)
                if data is None:
                    return result(False, f"read {timeout_reason(step_timeout)} "
                                         f"({dialogue.stage.value})")
                step = dialogue.feed(data) if data else dialogue.closed()
                if isinstance(step, Verdict):
                    return result(step.up, step.reason)
                if isinstance(step, Send):
                    sent = False
                    with trio.move_on_after(step_timeout):
                        await stream.send_all(step.data)
                        sent = True
                    if not sent:
                        return result(False, f"write {timeout_reason(step_timeout)} "
                                             f"({dialogue.stage.value})")
        except (OSError, trio.BrokenResourceError) as exc:
            cause = exc.__cause__ if isinstance(exc, trio.BrokenResourceError) else exc
            reason = os_error_reason(cause) if isinstance(cause, OSError) else "connection lost"
            return result(False, f"{reason} ({dialogue.stage.value})")
