"""keepalived's vrrp_track_process, pure (keepalived/core/track_process.c, vrrp_track.c).

Two rules live here, both driven with plain data so they are unit-tested without /proc:

- `matches(spec, comm, cmdline)`: does a process count for a tracked-process entry
  (track_process.c read_procs()/check_process()/check_params()). Without `full_command`
  the process's comm (its 15-character name) must equal `process`; with it, argv[0] must,
  and `param_match` compares the arguments (exact, partial: the given arguments start the
  process's, initial: the same but the last given one may be a prefix of the process's).
- `ProcessTable.handle(now, event)`: the processes counted for each entry, from the kernel's
  process events (fork, exec, comm change, exit) or a /proc scan, and each entry's quorum
  with keepalived's delays (`Quorum`). Its outputs are `QuorumChanged(name, up)`; the driver
  turns them into a priority contribution with haipvs.policy.priority.weighted, as
  vrrp_track.c process_update_track_process_status() does.

Time is passed in; `ProcessTable.deadline` is when the driver must feed `Tick`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import field

from haipvs.dataclass_lean import dataclass


class ParamMatch(enum.StrEnum):
    NONE = "none"  # only the name (comm, or argv[0] with full_command)
    EXACT = "exact"
    PARTIAL = "partial"
    INITIAL = "initial"


@dataclass(frozen=True)
class ProcessSpec:
    """One vrrp_track_process as the rules need it (built from the config by the driver).

    `quorum_max` None is keepalived's UINT_MAX (no upper bound). keepalived's `delay` sets
    both delays; the config resolves it before this point."""

    name: str
    process: str
    args: tuple[str, ...] = ()
    param_match: ParamMatch = ParamMatch.NONE
    full_command: bool = False
    quorum: int = 1
    quorum_max: int | None = None
    terminate_delay: float = 0.0
    fork_delay: float = 0.0

    def in_quorum(self, count: int) -> bool:
        return count >= self.quorum and (self.quorum_max is None or count <= self.quorum_max)

    @property
    def params(self) -> bytes:
        """keepalived's process_params: each argument NUL-terminated (vrrp_parser.c
        vrrp_tprocess_process_handler)."""
        return b"".join(a.encode() + b"\0" for a in self.args)


def check_params(spec: ProcessSpec, actual: bytes) -> bool:
    """track_process.c check_params(): `actual` is the process's cmdline after argv[0]'s NUL
    (each argument NUL-terminated, as /proc/PID/cmdline has them)."""
    wanted = spec.params
    if spec.param_match is ParamMatch.EXACT and not wanted and not actual:
        return True
    if len(actual) < len(wanted):
        return False
    if spec.param_match is ParamMatch.EXACT:
        return actual == wanted
    if not wanted:
        return True
    if spec.param_match is ParamMatch.PARTIAL:
        return actual.startswith(wanted)
    # INITIAL: the last given argument's NUL is left out of the compare.
    return len(wanted) == 1 or actual.startswith(wanted[:-1])


def matches(spec: ProcessSpec, comm: str | None, cmdline: bytes | None) -> bool:
    """Does this process count for `spec` (track_process.c check_process())? `comm` is
    /proc/PID/comm without its newline, `cmdline` /proc/PID/cmdline; None = not read."""
    if not spec.full_command:
        return comm is not None and comm == spec.process
    if cmdline is None:
        return False
    argv0, _, rest = cmdline.partition(b"\0")
    if argv0 != spec.process.encode():
        return False
    return spec.param_match is ParamMatch.NONE or check_params(spec, rest)


# ---- quorum with keepalived's delays ------------------------------------------------------


@dataclass
class Quorum:
    """One entry's process count and quorum state (track_process.c: num_cur_proc,
    have_quorum, fork_timer_thread, terminate_timer_thread).

    - A process gained by fork that makes the count reach quorum (or go above quorum_max)
      waits `fork_delay` before that is told; one gained by exec or a comm change counts at
      once (check_process_fork() vs check_process()).
    - A process that exits and loses quorum waits `terminate_delay` before quorum is lost;
      one that stops matching (exec of another program, comm change) loses it at once
      (check_process_termination() vs remove_process_from_track()).
    - A change that crosses back while the other timer runs cancels that timer, so a
      process restarted within terminate_delay never loses quorum.
    - A timer's expiry re-evaluates quorum from the count (process_*_quorum_timer_thread()).
    """

    spec: ProcessSpec
    count: int = 0
    up: bool = False
    fork_deadline: float | None = None
    terminate_deadline: float | None = None

    def __post_init__(self) -> None:
        self.up = self.spec.in_quorum(self.count)

    @property
    def deadline(self) -> float | None:
        times = [t for t in (self.fork_deadline, self.terminate_deadline) if t is not None]
        return min(times) if times else None

    def _set(self, up: bool) -> bool:
        """update_process_status(): True when the quorum state changed."""
        if up == self.up:
            return False
        self.up = up
        return True

    def gained(self, now: float, forked: bool) -> bool:
        self.count += 1
        spec = self.spec
        if self.count != spec.quorum and (spec.quorum_max is None
                                          or self.count != spec.quorum_max + 1):
            return False
        if self.terminate_deadline is not None:
            self.terminate_deadline = None  # a restart within terminate_delay
        elif forked and spec.fork_delay:
            self.fork_deadline = now + spec.fork_delay
            return False
        return self._set(self.count == spec.quorum)

    def lost(self, now: float, exited: bool) -> bool:
        before = self.count
        self.count -= 1
        spec = self.spec
        if before != spec.quorum and (spec.quorum_max is None or self.count != spec.quorum_max):
            return False
        if self.fork_deadline is not None:
            self.fork_deadline = None
        elif exited and spec.terminate_delay:
            self.terminate_deadline = now + spec.terminate_delay
            return False
        return self._set(spec.quorum_max is not None and self.count == spec.quorum_max)

    def tick(self, now: float) -> bool:
        changed = False
        for attr in ("fork_deadline", "terminate_deadline"):
            deadline = getattr(self, attr)
            if deadline is not None and now >= deadline:
                setattr(self, attr, None)
                changed |= self._set(self.spec.in_quorum(self.count))
        return changed


# ---- the process table: events in, quorum changes out -------------------------------------


@dataclass(frozen=True)
class ProcInfo:
    """What the driver read of one process (None: not read, or it was gone)."""

    comm: str | None
    cmdline: bytes | None
    ppid: int = 0


@dataclass(frozen=True)
class Fork:
    parent: int
    child: int


@dataclass(frozen=True)
class Exec:
    pid: int
    info: ProcInfo


@dataclass(frozen=True)
class CommChanged:
    pid: int
    comm: str


@dataclass(frozen=True)
class Exit:
    pid: int


@dataclass(frozen=True)
class Scan:
    """Every process now (a /proc walk): the first one sets the counts without outputs;
    later ones (polling, or a resync after lost events) are diffed into events."""

    processes: Mapping[int, ProcInfo]


@dataclass(frozen=True)
class Tick:
    """A delay may have run out (`ProcessTable.deadline`)."""


Event = Fork | Exec | CommChanged | Exit | Scan | Tick


@dataclass(frozen=True)
class QuorumChanged:
    name: str
    up: bool


@dataclass
class ProcessTable:
    specs: tuple[ProcessSpec, ...]
    quorums: dict[str, Quorum] = field(default_factory=dict)
    counted: dict[int, set[str]] = field(default_factory=dict)  # pid -> entries it counts for
    scanned: bool = False

    def __post_init__(self) -> None:
        self.quorums = {s.name: Quorum(s) for s in self.specs}

    @property
    def deadline(self) -> float | None:
        times = [q.deadline for q in self.quorums.values() if q.deadline is not None]
        return min(times) if times else None

    def count(self, name: str) -> int:
        return self.quorums[name].count

    def up(self, name: str) -> bool:
        return self.quorums[name].up

    def handle(self, now: float, event: Event) -> list[QuorumChanged]:
        if isinstance(event, Scan) and not self.scanned:
            self._first_scan(event)
            return []
        before = {n: q.up for n, q in self.quorums.items()}
        if isinstance(event, Fork):
            self._fork(now, event)
        elif isinstance(event, Exec):
            self._check(now, event.pid, event.info, comm_event=False)
        elif isinstance(event, CommChanged):
            self._comm(now, event)
        elif isinstance(event, Exit):
            for name in sorted(self.counted.pop(event.pid, ())):
                self.quorums[name].lost(now, exited=True)
        elif isinstance(event, Scan):
            self._scan(now, event)
        else:
            for quorum in self.quorums.values():
                quorum.tick(now)
        # Told once per event, and only a net change (a scan may cross and cross back).
        return [QuorumChanged(n, q.up) for n, q in self.quorums.items() if q.up != before[n]]

    def _add(self, now: float, pid: int, name: str, forked: bool) -> None:
        self.counted.setdefault(pid, set()).add(name)
        self.quorums[name].gained(now, forked)

    def _remove(self, now: float, pid: int, name: str) -> None:
        names = self.counted.get(pid, set())
        names.discard(name)
        if not names:
            self.counted.pop(pid, None)
        self.quorums[name].lost(now, exited=False)

    def _fork(self, now: float, event: Fork) -> None:
        # check_process_fork(): a child of a counted process counts for the same entries
        # (it has its parent's comm and cmdline until it execs).
        for name in sorted(self.counted.get(event.parent, ())):
            self._add(now, event.child, name, True)

    def _check(self, now: float, pid: int, info: ProcInfo,
               comm_event: bool) -> None:
        """check_process(): an exec (or, with comm_event, a new comm) is matched against
        every entry; a counted process that no longer matches is removed at once.
        (keepalived counts a process that execs the same program twice; haipvs once.)"""
        had = self.counted.get(pid, set())
        for spec in self.specs:
            if comm_event and spec.full_command:
                continue  # a comm change says nothing about the command line
            if matches(spec, info.comm, info.cmdline):
                if spec.name not in had:
                    self._add(now, pid, spec.name, False)
            elif spec.name in had and not comm_event:
                self._remove(now, pid, spec.name)

    def _comm(self, now: float, event: CommChanged) -> None:
        # check_process_comm_change(): the name-matched entries lose it unless the name is
        # still theirs; then the new name is matched.
        for name in sorted(self.counted.get(event.pid, set()).copy()):
            spec = self.quorums[name].spec
            if not spec.full_command and event.comm != spec.process:
                self._remove(now, event.pid, name)
        self._check(now, event.pid, ProcInfo(event.comm, None), comm_event=True)

    def _matching(self, event: Scan) -> dict[int, set[str]]:
        wanted: dict[int, set[str]] = {}
        for pid, info in event.processes.items():
            names = {s.name for s in self.specs if matches(s, info.comm, info.cmdline)}
            if names:
                wanted[pid] = names
        return wanted

    def _first_scan(self, event: Scan) -> None:
        # read_procs() at start: the counts, and quorum as initialise_process_tracking_
        # priorities() sets it, with no change told (the instances start with it).
        self.scanned = True
        self.counted = self._matching(event)
        for quorum in self.quorums.values():
            quorum.count = sum(quorum.spec.name in n for n in self.counted.values())
            quorum.up = quorum.spec.in_quorum(quorum.count)

    def _scan(self, now: float, event: Scan) -> None:
        wanted = self._matching(event)
        for pid in sorted(set(self.counted) - set(wanted)):
            for name in sorted(self.counted.pop(pid)):
                self.quorums[name].lost(now, exited=True)
        for pid in sorted(wanted):
            have = self.counted.get(pid, set())
            for name in sorted(have - wanted[pid]):
                self._remove(now, pid, name)
            parent = self.counted.get(event.processes[pid].ppid, set())
            for name in sorted(wanted[pid] - have):
                # A new process whose parent counts for the entry was forked (fork_delay).
                self._add(now, pid, name, name in parent)


def specs_by_name(specs: Iterable[ProcessSpec]) -> dict[str, ProcessSpec]:
    return {s.name: s for s in specs}
