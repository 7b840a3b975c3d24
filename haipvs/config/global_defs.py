"""The `global` section: settings of the director as a whole (keepalived's `global_defs`)."""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.
# ruff: noqa: RUF009

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any

from haipvs import limits
from haipvs.config.common import ABS_PATH, IFNAME
from haipvs.config.compound import Nested
from haipvs.config.kinds import Argv, Float, Int, Text
from haipvs.config.settings import model_section, setting
from haipvs.config.spec import REQUIRED, Values

LVS_TIMEOUT = Int(1, limits.LVS_MAX_TIMEOUT)


@dataclass(frozen=True)
class LvsTimeouts:
    """Kernel IPVS connection timeouts in seconds, like `ipvsadm --set tcp tcpfin udp`.
    None leaves that timeout as the kernel has it."""

    tcp: int | None = setting(LVS_TIMEOUT, None, "established TCP connections, seconds")
    tcpfin: int | None = setting(LVS_TIMEOUT, None, "TCP connections after FIN, seconds")
    udp: int | None = setting(LVS_TIMEOUT, None, "UDP 'connections', seconds")


LVS_TIMEOUTS = model_section(
    LvsTimeouts,
    "lvs_timeouts",
    "IPVS timeouts",
    "Kernel IPVS connection timeouts, like `ipvsadm --set`. Unset ones are left as they are.",
)


@dataclass(frozen=True)
class LvsSyncDaemon:
    """IPVS connection synchronisation daemon, run as master/backup following `vrrp_instance`."""

    interface: str = setting(IFNAME, doc="interface the sync daemon multicasts on")
    vrrp_instance: str = setting(
        Text(64), doc="the sync daemon is master while this instance is MASTER, backup otherwise"
    )
    # keepalived vrrp.c vrrp_complete_init(): "If no syncid configured, use vrid".
    sync_id: int | None = setting(Int(0, 255), None,
                                  "sync id shared by the pair (ipvsadm --syncid)",
                                  doc_default="the instance's virtual_router_id")


LVS_SYNC_DAEMON = model_section(
    LvsSyncDaemon,
    "lvs_sync_daemon",
    "IPVS connection sync daemon",
    "Synchronises IPVS connection state to the backup director, following a VRRP instance.",
    rules=("`vrrp_instance` must name an instance in `vrrp_instances`.",),
)


@dataclass(frozen=True)
class GlobalSettings:
    # Absent in the file: the host name (see _derive_global).
    router_id: str = setting(Text(64), None, "name of this director in logs and dumps",
                             doc_default="the host name", model_default=REQUIRED)
    state_dir: str = setting(ABS_PATH, "/run/haipvs",
                             "SIGUSR1 writes haipvs.json and haipvs.data here")
    pid_file: str = setting(ABS_PATH, "/run/haipvs/haipvs.pid", "pid file of the daemon")
    lvs_timeouts: LvsTimeouts | None = setting(Nested(LVS_TIMEOUTS), None,
                                               "IPVS connection timeouts")
    lvs_sync_daemon: LvsSyncDaemon | None = setting(Nested(LVS_SYNC_DAEMON), None,
                                                    "IPVS connection sync daemon")
    notify_fifo: str | None = setting(ABS_PATH, None, "FIFO for keepalived-format event lines "
                                      "(`INSTANCE \"VI_1\" MASTER 150`); created if missing")
    # keepalived's notify_fifo_script, vrrp_notify_fifo[_script], lvs_notify_fifo[_script]
    # (keepalived/core/global_parser.c; lib/notify.c fifo_open runs the script).
    notify_fifo_script: tuple[str, ...] | None = setting(
        Argv(), None, "started with the FIFO path appended; SIGTERM at stop (needs notify_fifo)")
    vrrp_notify_fifo: str | None = setting(ABS_PATH, None,
                                           "FIFO for the VRRP lines only (INSTANCE, GROUP)")
    vrrp_notify_fifo_script: tuple[str, ...] | None = setting(
        Argv(), None, "like notify_fifo_script, for vrrp_notify_fifo")
    lvs_notify_fifo: str | None = setting(ABS_PATH, None,
                                          "FIFO for the real-server and quorum lines only (RS, VS)")
    lvs_notify_fifo_script: tuple[str, ...] | None = setting(
        Argv(), None, "like notify_fifo_script, for lvs_notify_fifo")
    event_log: str | None = setting(ABS_PATH, None,
                                    "append every event as one JSON line to this file")
    notify_timeout: float = setting(Float(0.1, 3600), 10.0,
                                    "seconds before a notify script is killed")
    metrics_listen: str | None = setting(
        Text(300, r"(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):[0-9]{1,5}", "host:port or [v6]:port"),
        None,
        "Prometheus endpoint address; off if unset",
    )


def default_router_id() -> str:
    return platform.node() or "haipvs"


def _check_fifo_scripts(v: Values) -> None:
    """A FIFO script needs its FIFO: keepalived silently never runs one without it."""
    for fifo in ("notify_fifo", "vrrp_notify_fifo", "lvs_notify_fifo"):
        script = f"{fifo}_script"
        if v.ok(fifo, script) and v[script] is not None and v[fifo] is None:
            v.error(script, f"{script} is run with the path of {fifo}, which is not set")


def _derive_global(v: Values) -> dict[str, Any]:
    return {"router_id": v["router_id"] if v["router_id"] is not None else default_router_id()}


GLOBAL = model_section(
    GlobalSettings,
    "global",
    "Global settings",
    "Settings of the director as a whole (keepalived's `global_defs`).",
    derive=_derive_global,
    check=_check_fifo_scripts,
    rules=("`notify_fifo_script` needs `notify_fifo` (`vrrp_`, `lvs_` likewise).",),
    renamed={"lvs_sync_daemon_interface": "use lvs_sync_daemon: {interface: ...}"},
)


def global_defaults() -> GlobalSettings:
    """The settings of a file without a `global` section."""
    defaults = {f.name: f.default for f in GLOBAL.fields if f.name != "router_id"}
    return GlobalSettings(router_id=default_router_id(), **defaults)
