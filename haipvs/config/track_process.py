"""keepalived's `vrrp_track_process` (top-level `vrrp_track_processes`) and an instance's
`track_process` reference (keepalived/vrrp/vrrp_parser.c vrrp_tprocess_*_handler,
vrrp_track.c alloc_track_process). The rules are in haipvs/policy/process_track.py, the
watcher in haipvs/drivers/proc_watch.py."""

from __future__ import annotations

from haipvs.config.common import SCRIPT_NAME, TRACKER_WEIGHT
from haipvs.config.compound import ListOf
from haipvs.config.kinds import Bool, Choice, Float, Int, Text
from haipvs.config.settings import model_section, setting
from haipvs.config.spec import Values
from haipvs.dataclass_lean import dataclass

# vrrp_parser.c: quorum 1..65535, quorum_max 0..65535, delays up to 3600 s.
QUORUM_MAX = 65535
DELAY_MAX = 3600.0
PARAM_MATCHES = ("exact", "partial", "initial")


@dataclass(frozen=True)
class TrackProcess:
    """Processes that must be running: quorum is held while the number of matching
    processes is in quorum..quorum_max. weight 0: no quorum = FAULT; negative: subtracted
    without quorum; positive: added with quorum (`reverse` swaps them)."""

    name: str = setting(SCRIPT_NAME, doc="unique name, used in `track_process`")
    process: str = setting(
        Text(4096, r"\S.*", "a process name or path"),
        doc="the process name (its comm, at most 15 characters, as `ps -o comm` shows) or, "
        "with `full_command` or `args`, the command line's first word (e.g. a full path)")
    args: tuple[str, ...] = setting(
        ListOf(Text(4096)), (), "arguments compared by `param_match` (keepalived's words "
        "after the process); giving them implies `full_command`")
    param_match: str | None = setting(
        Choice(PARAM_MATCHES), None, "`exact`: the same arguments; `partial`: the "
        "process's arguments start with `args`; `initial`: as partial, but the last of "
        "`args` may be the start of the process's argument; implies `full_command`",
        doc_default="exact with `args`, else only the name is compared")
    full_command: bool = setting(Bool(), False, "compare the command line (argv[0]) instead "
                                 "of the process name", doc_default="false (true with `args` "
                                 "or `param_match`)")
    weight: int = setting(TRACKER_WEIGHT, 0, "0: no quorum = FAULT; negative: subtracted "
                          "without quorum; positive: added with quorum")
    reverse: bool = setting(Bool(), False, "apply the weight the other way: positive is "
                            "subtracted with quorum, negative added without, 0: quorum = FAULT")
    quorum: int = setting(Int(1, QUORUM_MAX), 1, "fewest matching processes for quorum")
    quorum_max: int | None = setting(
        Int(0, QUORUM_MAX), None, "most matching processes for quorum; 0 (with quorum 1) "
        "means quorum while no such process runs", doc_default="no limit")
    delay: float | None = setting(Float(0, DELAY_MAX), None, "sets both `terminate_delay` "
                                  "and `fork_delay`", doc_default="none")
    terminate_delay: float | None = setting(
        Float(0, DELAY_MAX), None, "seconds an exit that loses quorum waits before it is "
        "told (a restart in time cancels it)", doc_default="`delay`, else 0")
    fork_delay: float | None = setting(
        Float(0, DELAY_MAX), None, "seconds a fork that gains quorum waits before it is "
        "told", doc_default="`delay`, else 0")

    @property
    def uses_command_line(self) -> bool:
        """vrrp_parser.c: `process` with arguments or `param_match` sets full_command."""
        return self.full_command or bool(self.args) or self.param_match is not None

    @property
    def match(self) -> str:
        if self.param_match is not None:
            return self.param_match
        return "exact" if self.args else "none"

    @property
    def min_processes(self) -> int:
        """vrrp_parser.c vrrp_tprocess_quorum_max_handler(): quorum_max 0 sets quorum 0."""
        return 0 if self.quorum_max == 0 else self.quorum

    @property
    def terminate_seconds(self) -> float:
        return next((d for d in (self.terminate_delay, self.delay) if d is not None), 0.0)

    @property
    def fork_seconds(self) -> float:
        return next((d for d in (self.fork_delay, self.delay) if d is not None), 0.0)


def _check_track_process(v: Values) -> None:
    if not v.ok("quorum", "quorum_max") or v["quorum_max"] is None:
        return
    # vrrp_parser.c: "quorum_max is less than quorum"; 0 is allowed with quorum 1.
    if v["quorum_max"] < v["quorum"] and not (v["quorum_max"] == 0 and v["quorum"] == 1):
        v.error("quorum_max", f"{v['quorum_max']} is less than quorum {v['quorum']}")


TRACK_PROCESS = model_section(
    TrackProcess,
    "vrrp_track_process",
    "Tracked process",
    "keepalived's `vrrp_track_process`: processes watched through the kernel's process "
    "events (see docs/operations.md, Tracking processes).",
    check=_check_track_process,
    rules=("`quorum_max` is at least `quorum` (or 0 with `quorum` 1).",),
)


@dataclass(frozen=True)
class ProcessRef:
    """An instance's use of a `vrrp_track_processes` entry; None means the entry's own."""

    name: str = setting(SCRIPT_NAME, doc="name of the `vrrp_track_processes` entry")
    weight: int | None = setting(TRACKER_WEIGHT, None, "overrides the entry's weight",
                                 doc_default="the entry's weight")
    reverse: bool | None = setting(Bool(), None, "overrides the entry's `reverse`",
                                   doc_default="the entry's reverse")


PROCESS_REF = model_section(
    ProcessRef,
    "track_process_ref",
    "Tracked process reference",
    "An instance's use of a tracked process, by name (keepalived `track_process NAME "
    "[weight W [reverse|noreverse]]`); `nginx` or the mapping form.",
)
