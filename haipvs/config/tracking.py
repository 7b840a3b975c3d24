"""Tracking scripts and files, and VRRP sync groups: the top-level lists that VRRP instances
refer to by name (keepalived's `vrrp_script`, `vrrp_track_file`, `vrrp_sync_group`)."""


from __future__ import annotations

from haipvs.config.common import ABS_PATH, SCRIPT_NAME, TRACKER_WEIGHT
from haipvs.config.compound import ListOf
from haipvs.config.kinds import Argv, Bool, Float, Int, Text
from haipvs.config.notify_script import NotifyScript, ScriptCommand
from haipvs.config.settings import model_section, setting
from haipvs.config.users import USER, check_user_exists
from haipvs.dataclass_lean import dataclass


@dataclass(frozen=True)
class VrrpScript:
    """A tracking script (argv, no shell), run every `interval` seconds on the main loop.
    Exit 0 is success. `fall` failures in a row make it failed, `rise` successes make it OK
    again. weight 0: failed puts the instance into FAULT; negative: subtracted while failed;
    positive: added while OK. `timeout` None means `interval`."""

    name: str = setting(SCRIPT_NAME, doc="unique script name, used in `track_script`")
    script: tuple[str, ...] = setting(
        Argv(), doc="program and arguments; run directly, never by a shell"
    )
    interval: float = setting(Float(0.1, 86400), 1.0, "seconds between runs")
    timeout: float | None = setting(Float(0.1, 86400), None,
                                    "kill the script after this many seconds",
                                    doc_default="interval")
    rise: int = setting(Int(1, 1000), 1, "successes in a row before a failed script is OK again")
    fall: int = setting(Int(1, 1000), 1, "failures in a row before an OK script is failed")
    weight: int = setting(
        TRACKER_WEIGHT, 0,
        "0: failed = FAULT; negative: subtracted while failed; positive: added while OK",
    )
    # keepalived vrrp_parser.c vrrp_vscript_user_handler: `user USERNAME [GROUPNAME]`.
    user: str | None = setting(USER, None, "run as this user (`user:group`; default the "
                               "user's login group)", doc_default="global script_user")


VRRP_SCRIPT = model_section(
    VrrpScript,
    "vrrp_script",
    "Tracking script",
    "keepalived's `vrrp_script`: run on the main loop; exit 0 is success.",
    check=lambda v: check_user_exists(v, "user"),
    rules=("`user` (and the group after `:`) must exist on this host.",),
)


@dataclass(frozen=True)
class TrackFile:
    """A file holding an integer, keepalived's vrrp_track_file. value x weight is added to the
    priority; with weight 0 a non-zero value is a fault; a result <= -254 is a fault too."""

    name: str = setting(SCRIPT_NAME, doc="unique name, used in `track_file`")
    file: str = setting(ABS_PATH, doc="file holding an integer (missing or unreadable = 0)")
    weight: int = setting(
        TRACKER_WEIGHT, 1,
        "value x weight is added to the priority; 0: a non-zero value is a fault",
    )


TRACK_FILE = model_section(
    TrackFile,
    "vrrp_track_file",
    "Tracking file",
    "keepalived's `vrrp_track_file`: read every 0.5 s; value x weight <= -254 is a fault.",
)


@dataclass(frozen=True)
class SyncGroup:
    """Instances that change state together: one in FAULT pulls the group into FAULT; one
    becoming MASTER makes the others MASTER, one becoming BACKUP makes the others BACKUP."""

    name: str = setting(SCRIPT_NAME, doc="unique group name")
    group: tuple[str, ...] = setting(ListOf(Text(64), 1), doc="member instance names")
    notify_master: ScriptCommand | None = setting(NotifyScript(), None,
                                                    "run when the group becomes MASTER")
    notify_backup: ScriptCommand | None = setting(NotifyScript(), None,
                                                    "run when the group becomes BACKUP")
    notify_fault: ScriptCommand | None = setting(NotifyScript(), None,
                                                   "run when the group enters FAULT")
    notify_stop: ScriptCommand | None = setting(NotifyScript(), None,
                                                "run when the group stops")
    notify: ScriptCommand | None = setting(
        NotifyScript(), None, "run on every group transition with `GROUP <name> <state> 0` "
        "appended"
    )
    # keepalived vrrp_sync_group notify_priority_changes (vrrp_parser.c): its members' default
    notify_priority_changes: bool | None = setting(
        Bool(), None, "default notify_priority_changes of its instances",
        doc_default="global.vrrp_notify_priority_changes")
    # keepalived vrrp_sync_group smtp_alert (vrrp_parser.c; default vrrp.c vrrp_complete_init)
    smtp_alert: bool | None = setting(Bool(), None, "send an e-mail on each group state "
                                      "change (global.smtp)", doc_default="global.smtp."
                                      "alert_vrrp, else global.smtp.alert, else off")


SYNC_GROUP = model_section(
    SyncGroup,
    "vrrp_sync_group",
    "VRRP sync group",
    "Instances that change state together (keepalived `vrrp_sync_group`).",
)
