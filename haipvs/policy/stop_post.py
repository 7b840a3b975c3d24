"""What the systemd unit's ExecStopPost / OnFailure do with the scale-out routes. Pure.

systemd runs ExecStopPost after every stop of the service, with SERVICE_RESULT saying why
(systemd.exec(5), "Environment variables in spawned processes"). The routes in
`scale_out.table` are the BGP announcements; each case is weighed:

- "success": a graceful stop; haipvs drained and withdrew first (or kept the routes on
  purpose under --dont-release-ipvs, for a restart). Nothing to do.
- "watchdog": haipvs hung (no WATCHDOG=1 within WatchdogSec). Its VIPs are still announced
  though nothing vouches for them any more: withdraw, so the routers send their flows to the
  other directors while systemd restarts it. (issue 17: "A watchdog failure (a hung haipvs)
  withdraws".)
- anything else ("signal", "core-dump", "exit-code", "timeout", ...): a crash. systemd
  restarts the service (Restart=on-failure) and the new daemon adopts the routes as they are,
  so the crash causes no BGP update at all (a SIGKILL changes no route). If the restarts give
  up (StartLimitBurst), the unit fails and OnFailure= runs `haipvs withdraw-routes`
  unconditionally (systemd/haipvs-withdraw.service).
"""

from __future__ import annotations

WITHDRAW_RESULTS = frozenset({"watchdog"})


def withdraw_on_stop(service_result: str | None) -> bool:
    """ExecStopPost: withdraw every announced VIP for this SERVICE_RESULT?"""
    return service_result in WITHDRAW_RESULTS
