"""The `global` section: settings of the director as a whole (keepalived's `global_defs`)."""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.

from __future__ import annotations

import platform
from typing import Any

from haipvs import limits
from haipvs.config import process
from haipvs.config.common import ABS_PATH
from haipvs.config.compound import Nested
from haipvs.config.kinds import Bool, Float, Int, Text
from haipvs.config.notify_script import NotifyScript, ScriptCommand
from haipvs.config.settings import model_section, setting
from haipvs.config.smtp import SMTP, SmtpSettings
from haipvs.config.spec import REQUIRED, Values
from haipvs.config.sync_daemon import LVS_SYNC_DAEMON, LvsSyncDaemon
from haipvs.config.users import USER, check_user_exists
from haipvs.dataclass_lean import dataclass

LVS_TIMEOUT = Int(1, limits.LVS_MAX_TIMEOUT)
NICE = Int(limits.NICE_MIN, limits.NICE_MAX)


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
class GlobalSettings:
    # Absent in the file: the host name (see _derive_global).
    router_id: str = setting(Text(64), None, "name of this director in logs and dumps",
                             doc_default="the host name", model_default=REQUIRED)
    # Absent: derived from `instance` / `net_namespace` (haipvs/config/process.py).
    state_dir: str = setting(ABS_PATH, None, "SIGUSR1 writes haipvs.json and haipvs.data "
                             "here; also the IPVS ownership ledger",
                             doc_default="/run/haipvs[/netns/NET_NAMESPACE][/INSTANCE]",
                             model_default=process.DEFAULT_STATE_DIR)
    pid_file: str = setting(ABS_PATH, None, "pid file of the daemon",
                            doc_default="STATE_DIR/haipvs.pid",
                            model_default=process.runtime_paths(None, None)[1])
    lvs_timeouts: LvsTimeouts | None = setting(Nested(LVS_TIMEOUTS), None,
                                               "IPVS connection timeouts")
    lvs_sync_daemon: LvsSyncDaemon | None = setting(Nested(LVS_SYNC_DAEMON), None,
                                                    "IPVS connection sync daemon")
    # keepalived lvs_flush (check_daemon.c start_check: once at start, not on reload); haipvs
    # flushes only the services of its ownership ledger (haipvs/ipvs/flush.py).
    lvs_flush: bool = setting(Bool(), False, "at start (not on reload), delete the IPVS "
                              "services haipvs owns so each is re-created afresh; services "
                              "haipvs does not own are never touched")
    notify_fifo: str | None = setting(ABS_PATH, None, "FIFO for keepalived-format event lines "
                                      "(`INSTANCE \"VI_1\" MASTER 150`); created if missing")
    # keepalived's notify_fifo_script, vrrp_notify_fifo[_script], lvs_notify_fifo[_script]
    # (keepalived/core/global_parser.c; lib/notify.c fifo_open runs the script).
    notify_fifo_script: ScriptCommand | None = setting(
        NotifyScript(), None,
        "started with the FIFO path appended; SIGTERM at stop (needs notify_fifo)")
    # keepalived `notify_fifo FIFO [USER [GROUP]]` (global_parser.c notify_fifo): the owner a
    # FIFO the daemon makes is given (lib/notify.c fifo_open chown); not the script's user.
    notify_fifo_owner: str | None = setting(
        USER, None, "owner (`user` or `user:group`) of notify_fifo when haipvs makes it",
        doc_default="global.script_user")
    vrrp_notify_fifo: str | None = setting(ABS_PATH, None,
                                           "FIFO for the VRRP lines only (INSTANCE, GROUP)")
    vrrp_notify_fifo_script: ScriptCommand | None = setting(
        NotifyScript(), None, "like notify_fifo_script, for vrrp_notify_fifo")
    vrrp_notify_fifo_owner: str | None = setting(
        USER, None, "like notify_fifo_owner, for vrrp_notify_fifo",
        doc_default="global.script_user")
    lvs_notify_fifo: str | None = setting(ABS_PATH, None,
                                          "FIFO for the real-server and quorum lines only (RS, VS)")
    lvs_notify_fifo_script: ScriptCommand | None = setting(
        NotifyScript(), None, "like notify_fifo_script, for lvs_notify_fifo")
    lvs_notify_fifo_owner: str | None = setting(
        USER, None, "like notify_fifo_owner, for lvs_notify_fifo",
        doc_default="global.script_user")
    event_log: str | None = setting(ABS_PATH, None,
                                    "append every event as one JSON line to this file")
    notify_timeout: float = setting(Float(0.1, 3600), 10.0,
                                    "seconds before a notify script is killed")
    # keepalived global_defs rs_init_notifies (global_parser.c; ipwrapper.c init_service_rs)
    rs_init_notifies: bool = setting(
        Bool(), False, "a real server that starts up (at start, or added by a reload) is "
        "notified UP: its RS line and its notify_up")
    metrics_listen: str | None = setting(
        Text(300, r"(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):[0-9]{1,5}", "host:port or [v6]:port"),
        None,
        "Prometheus endpoint address; off if unset",
    )
    # keepalived global_defs script_user / enable_script_security (lib/notify.c
    # get_default_script_user, check_script_secure; haipvs/policy/script_security.py).
    script_user: str | None = setting(
        USER, None, "user (`user:group`) of scripts without their own `user`: notify, FIFO, "
        "vrrp_script, misc_check", doc_default="keepalived_script if that user exists, else "
        "the daemon's user (root)")
    enable_script_security: bool = setting(
        Bool(), False, "refuse scripts run as root that a non-root user could modify (the "
        "file or a directory above it); without it they run, with a warning")
    # keepalived global_defs vrrp_strict (core/global_parser.c; vrrp.c vrrp_complete_instance;
    # rules in haipvs/config/strict_mode.py).
    vrrp_strict: bool = setting(
        Bool(), False, "strict RFC compliance for every instance without its own `strict_mode`"
        ": refuses unicast peers, authentication, preempt_delay, accept with version 2, "
        "state MASTER without priority 255; no_accept is the default (see docs/migration.md)")
    # keepalived global_defs nftables / nftables_priority / nftables_counters
    # (vrrp/vrrp_nftables.c): where the no_accept drop rules go (haipvs/drivers/nft_accept.py).
    nftables: str = setting(
        Text(64, r"[A-Za-z0-9_]+", "letters, digits, '_'"), limits.NFT_TABLE_DEFAULT,
        "name of haipvs' own `inet` nftables table for the no_accept drop rules; give each "
        "haipvs on a host its own (the nftables_* settings are read at start, not on reload)",
        doc_default=f"{limits.NFT_TABLE_DEFAULT}, or {limits.NFT_TABLE_DEFAULT}_INSTANCE with "
        "`instance`")
    nftables_priority: int = setting(Int(-400, 400), limits.NFT_CHAIN_PRIORITY_DEFAULT,
                                     "priority of the table's input and output chains")
    nftables_counters: bool = setting(Bool(), False, "add a counter to each rule")
    # keepalived `instance`, `net_namespace`, `startup_script[_timeout]`,
    # `shutdown_script[_timeout]` (core/main.c, global_parser.c; haipvs/config/process.py,
    # haipvs/process_options.py).
    instance: str | None = setting(
        process.INSTANCE_NAME, None, "name of this haipvs among several on one host: the "
        "default state_dir (pid file, dumps, IPVS ownership ledger) is /run/haipvs/INSTANCE; "
        "not changed by a reload")
    net_namespace: str | None = setting(
        process.NETNS_NAME, None, "run in the network namespace /run/netns/NAME (entered at "
        "start, before any socket or thread); not changed by a reload")
    startup_script: ScriptCommand | None = setting(
        NotifyScript(), None, "run (as its user, else script_user) at start, before VRRP and "
        "the checkers; its exit status is logged, start-up goes on either way")
    startup_script_timeout: int = setting(
        process.SCRIPT_TIMEOUT, process.SCRIPT_TIMEOUT_DEFAULT, "seconds before the startup "
        "script is killed (SIGTERM to its process group, SIGKILL 2 s later)")
    shutdown_script: ScriptCommand | None = setting(
        NotifyScript(), None,
        "run at stop, after VRRP has stopped and the IPVS services are released")
    shutdown_script_timeout: int = setting(
        process.SCRIPT_TIMEOUT, process.SCRIPT_TIMEOUT_DEFAULT, "seconds before the shutdown "
        "script is killed, like startup_script_timeout")
    # keepalived global_defs vrrp_priority / checker_priority (global_parser.c: the nice of
    # its VRRP and checker processes); haipvs/thread_priority.py, limits.VRRP_PRIORITY_DEFAULT
    vrrp_priority: int = setting(
        NICE, limits.VRRP_PRIORITY_DEFAULT, "nice value of the VRRP thread (adverts, timers, "
        "VIPs); below the checkers' so that their load never makes an advert late (needs "
        "CAP_SYS_NICE; without it the thread keeps the daemon's nice and a note is logged)")
    checker_priority: int = setting(
        NICE, limits.CHECKER_PRIORITY_DEFAULT, "nice value of the main thread (health "
        "checks, IPVS, scripts, control socket)")
    # keepalived global_defs vrrp_notify_priority_changes (global_parser.c)
    vrrp_notify_priority_changes: bool = setting(
        Bool(), False, "default notify_priority_changes of every VRRP instance")
    # keepalived notification_email, smtp_server, smtp_alert, ... (haipvs/config/smtp.py).
    smtp: SmtpSettings | None = setting(Nested(SMTP), None, "e-mail alerts")


def default_router_id() -> str:
    return platform.node() or "haipvs"


def _check_fifo_scripts(v: Values) -> None:
    """A FIFO script needs its FIFO: keepalived silently never runs one without it; so does
    a FIFO owner, which must exist (keepalived: "Invalid user/group for fifo - ignoring")."""
    for fifo in ("notify_fifo", "vrrp_notify_fifo", "lvs_notify_fifo"):
        script = f"{fifo}_script"
        if v.ok(fifo, script) and v[script] is not None and v[fifo] is None:
            v.error(script, f"{script} is run with the path of {fifo}, which is not set")
        owner = f"{fifo}_owner"
        check_user_exists(v, owner)
        if v.ok(fifo, owner) and v[owner] is not None and v[fifo] is None:
            v.error(owner, f"{owner} is the owner of {fifo}, which is not set")


def _derive_global(v: Values) -> dict[str, Any]:
    state_dir, pid_file = process.runtime_paths(
        v["instance"], v["net_namespace"], v["state_dir"], v["pid_file"])
    derived = {"router_id": v["router_id"] if v["router_id"] is not None else default_router_id(),
               "state_dir": state_dir, "pid_file": pid_file}
    if not v.given("nftables"):
        derived["nftables"] = process.nft_table(v["instance"])
    return derived


def _check_global(v: Values) -> None:
    _check_fifo_scripts(v)
    if v.ok("instance") and v["instance"] == process.NETNS_DIR:
        v.error("instance", f"{process.NETNS_DIR!r} is the directory of the namespaces' "
                "state dirs; choose another name")
    check_user_exists(v, "script_user")


GLOBAL = model_section(
    GlobalSettings,
    "global",
    "Global settings",
    "Settings of the director as a whole (keepalived's `global_defs`).",
    derive=_derive_global,
    check=_check_global,
    rules=("`notify_fifo_script` needs `notify_fifo` (`vrrp_`, `lvs_` likewise).",
           "`script_user` (and the group after `:`) must exist on this host."),
    renamed={"lvs_sync_daemon_interface": "use lvs_sync_daemon: {interface: ...}"},
)


def global_defaults() -> GlobalSettings:
    """The settings of a file without a `global` section."""
    defaults = {f.name: f.default for f in GLOBAL.fields if f.name != "router_id"}
    defaults["state_dir"], defaults["pid_file"] = process.runtime_paths(None, None)
    return GlobalSettings(router_id=default_router_id(), **defaults)
