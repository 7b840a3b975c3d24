"""Real-server notify_up / notify_down: which script a real server's change runs.

keepalived (check_parser.c notify_up_handler / notify_down_handler: notify_script_init(0),
so the argv is the configured command with nothing appended, and the script's own
`USER [GROUP]`) runs them from ipwrapper.c do_rs_notifies, together with the server's RS
FIFO line, so haipvs runs them exactly when it writes that line (a RealServerChange with
`up_changed`):
- perform_svr_state: the server's state changes (up once every checker is up, down when
  one fails): notify_up or notify_down;
- clear_service_rs (not stopping), from clear_diff_rs / clear_service_vs on reload: a
  server the reload removes (or whose service it removes) while alive: notify_down, with
  the script of the config it was removed from;
- a server a reload keeps keeps its state and runs nothing (init_service_rs: "Do not
  re-add failed RS instantly on reload");
- at stop nothing runs: keepalived runs them then only with the virtual server's `omega`
  (clear_service_rs: `!vs->omega && stopping` returns before do_rs_notifies);
- at start a server is added alive without a script (init_service_rs), unless global
  rs_init_notifies: then each server that starts up (not down with an alpha checker) is
  notified UP, RS line and notify_up, before its service's quorum line; so is a server a
  reload adds (init_service_rs runs for it too; `initial`).

One difference, on purpose: keepalived forks each script and forgets it (notify_exec: no
timeout, two transitions' scripts may overlap); haipvs queues them per real server (owner
`rs:<service>/<server>`: one transition's script ends before the next one's starts) and
kills one after global.notify_timeout, as its other notify scripts.
Pure: the director (haipvs/policy/director.py) calls `RealServerNotifier.add_scripts` on its
outputs; the notify runner (haipvs/notify.py) runs the RunNotify outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from haipvs.config.model import Config, RealServer, ScriptCommand
from haipvs.dataclass_lean import dataclass
from haipvs.events import RealServerChange, VirtualService
from haipvs.ipvs import desired
from haipvs.policy.notify_scripts import RunNotify, run_notify, script_command


@dataclass(frozen=True)
class ServerScripts:
    up: ScriptCommand | None
    down: ScriptCommand | None


def _scripts(rs: RealServer) -> ServerScripts | None:
    up, down = getattr(rs, "notify_up", None), getattr(rs, "notify_down", None)
    if up is None and down is None:
        return None
    return ServerScripts(None if up is None else script_command(up),
                         None if down is None else script_command(down))


def server_scripts(config: Config) -> dict[tuple[str, str], ServerScripts]:
    """(service, real server), as RealServerChange names them -> the server's scripts;
    servers without either script are left out."""
    out: dict[tuple[str, str], ServerScripts] = {}
    for vs in config.virtual_servers:
        service = str(desired.service_key(vs))
        for rs in vs.real_servers:
            scripts = _scripts(rs)
            if scripts is not None:
                out[(service, str(desired.dest_key(rs)))] = scripts
    return out


def rs_notify(scripts: ServerScripts | None, event: RealServerChange) -> RunNotify | None:
    """ipwrapper.c do_rs_notifies: `rs->alive ? rs->notify_up : rs->notify_down`, only when
    the server went up or down (a weight change runs nothing, as it writes no RS line)."""
    if scripts is None or not event.up_changed:
        return None
    script = scripts.up if event.up else scripts.down
    if script is None:
        return None
    env = {"HAIPVS_TYPE": "RS", "HAIPVS_SERVICE": event.service,
           "HAIPVS_REAL_SERVER": event.real_server, "HAIPVS_STATE": "UP" if event.up else "DOWN",
           "HAIPVS_REASON": event.reason}
    return run_notify(f"rs:{event.service}/{event.real_server}", [script], env)


class RealServerNotifier:
    """The scripts of the config the director runs. A reload's outputs name servers it
    removed (notified with the scripts of the config they were removed from) and servers it
    added (with the new config's): `configure` keeps the removed ones' scripts for the next
    `add_scripts`, the reload's."""

    def __init__(self, config: Config) -> None:
        self.scripts = server_scripts(config)
        self._gone: dict[tuple[str, str], ServerScripts] = {}
        # The config `initial` last saw: its servers are "seen". Kept as the config, not a
        # set of names, since the director holds it anyway (a set was ~175 bytes per real
        # server, issue 18); the set is built only when a reload adds servers to notify.
        self._seen: Config | None = None

    def initial(self, now: float, config: Config,
                health: Callable[[Any, Any], Any]) -> list[RealServerChange]:
        """global rs_init_notifies (ipwrapper.c init_service_rs: SET_ALIVE, then
        do_rs_notifies): an UP change for each server not seen before (all of them at
        Start, the added ones after a reload) whose start health (`health(service, dest)`,
        the director's) is up; nothing without rs_init_notifies."""
        out: list[RealServerChange] = []
        seen, self._seen = self._seen, config
        if not config.global_settings.rs_init_notifies:
            return out
        known: set[tuple[Any, Any]] = set()
        if seen is not None:
            known = {key for vs in seen.virtual_servers for key in desired.server_keys(vs)}
        for vs in config.virtual_servers:
            service_text = ""  # one string per service, not per server
            for service, dest in desired.server_keys(vs):
                if (service, dest) in known or not health(service, dest).up:
                    continue
                service_text = service_text or str(service)
                out.append(RealServerChange(
                    service=service_text, real_server=str(dest), up=True, weight=None,
                    reason="rs_init_notifies", at=now, virtual=VirtualService(
                        protocol=service.protocol, address=service.address,
                        port=service.port, fwmark=service.fwmark),
                    rs_address=dest.address, rs_port=dest.port, up_changed=True,
                    initial=True))
        return out

    def configure(self, config: Config) -> None:
        new = server_scripts(config)
        self._gone = {key: value for key, value in self.scripts.items() if key not in new}
        self.scripts = new

    def add_scripts(self, outputs: Sequence[Any]) -> list[Any]:
        """`outputs` with each real server change's RunNotify right after its event, so the
        script is queued in the order the changes happened."""
        out: list[Any] = []
        for output in outputs:
            out.append(output)
            event = getattr(output, "event", None)
            if isinstance(event, RealServerChange):
                key = (event.service, event.real_server)
                scripts = self.scripts.get(key) or self._gone.get(key)
                if (run := rs_notify(scripts, event)) is not None:
                    out.append(run)
        self._gone = {}
        return out


__all__ = ["RealServerNotifier", "ServerScripts", "rs_notify", "server_scripts"]
