"""A virtual server's `omega`: which scripts run at stop.

keepalived 2.2.7 stops its checker with ipwrapper.c clear_services(): every virtual server
is cleared with `stopping` set (clear_service_vs -> clear_service_rs_list), and
- clear_service_rs: a real server that is in the IPVS table and alive is marked down, then
  `if (!vs->omega && stopping) return;` so only with omega does it run do_rs_notifies: the
  server is no longer alive, so its notify_down (never notify_up);
- update_vs_notifies: `stopping` forces quorum_state_up = false and do_vs_notifies, which
  returns at once without omega ("Only send non SNMP notifies when stopping if omega
  set"); with omega it runs quorum_down, whatever the quorum was.
The real servers' scripts come first, in configuration order, then the service's
quorum_down; services in configuration order (list_for_each_entry over check_data->vs).
clear_services() is not called under `--dont-release-ipvs` (`-I`), so then nothing runs;
the caller (daemon_control.release_ipvs) only asks when it releases the services.

Pure: config and the director's health view in, RunNotify outputs out. keepalived runs
these stop scripts with a 1 s kill timer (system_call_script(..., TIMER_HZ, ...)); haipvs
runs them like every notify script, killed after global.notify_timeout, and the stop waits
for them at most 10 s.
"""

from __future__ import annotations

from collections.abc import Callable

from haipvs.config.model import Config
from haipvs.events import QuorumEvent, VirtualService
from haipvs.ipvs import desired
from haipvs.ipvs.desired import RealServerHealth
from haipvs.ipvs.model import DestKey, ServiceKey
from haipvs.policy.notify_scripts import RunNotify, quorum_notify, run_notify, script_command

REASON = "shutdown"


def stop_notifies(now: float, config: Config,
                  health: Callable[[ServiceKey, DestKey], RealServerHealth]) -> list[RunNotify]:
    """The scripts keepalived runs at stop for the services with `omega`, in its order."""
    out: list[RunNotify] = []
    for vs in config.virtual_servers:
        if not vs.omega:
            continue
        service = desired.service_key(vs)
        for rs in vs.real_servers:
            dest = desired.dest_key(rs)
            if rs.notify_down is None or not health(service, dest).up:
                continue  # clear_service_rs: `if (!rs->alive) return;`
            env = {"HAIPVS_TYPE": "RS", "HAIPVS_SERVICE": str(service),
                   "HAIPVS_REAL_SERVER": str(dest), "HAIPVS_STATE": "DOWN",
                   "HAIPVS_REASON": REASON}
            run = run_notify(f"rs:{service}/{dest}", [script_command(rs.notify_down)], env)
            if run is not None:
                out.append(run)
        # weight 0: every real server was just marked down (weigh_live_realservers)
        event = QuorumEvent(service=str(service), up=False, weight=0, initial=False, at=now,
                            virtual=VirtualService(protocol=service.protocol,
                                                   address=service.address, port=service.port,
                                                   fwmark=service.fwmark))
        if (run := quorum_notify(vs.quorum_down, vs.quorum, vs.hysteresis, event)) is not None:
            out.append(run)
    return out


__all__ = ["stop_notifies"]
