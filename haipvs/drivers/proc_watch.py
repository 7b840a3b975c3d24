"""track_process's watcher, on the MAIN trio loop (never the VRRP thread): the kernel's
process events (netlink connector, CN_IDX_PROC, as keepalived core/track_process.c), or
polling /proc where the connector cannot be had. It reads /proc, decodes the events into
haipvs.policy.process_track's typed events, feeds `ProcessTable` and publishes each using
instance's contribution with `VrrpRuntime.set_tracker` (the weight rule is
haipvs.policy.priority.weighted, as vrrp_track.c process_update_track_process_status()).

Why the connector (docs/operations.md "Tracking processes", numbers in docs/benchmarks.md):
an exit is seen within about a millisecond and costs nothing while nothing forks, where a
/proc walk costs milliseconds per poll and sees an exit half a poll interval late on average.

The connector exists only in the initial network namespace. With `global.net_namespace`
haipvs keeps a handle on the namespace it started in (`remember_start_netns`, called before
it enters the other), as keepalived opens the socket before it enters its net_namespace.
Started inside another one (`ip netns exec`), it tries PID 1's namespace and then its
ancestors' (root only). The socket is opened from a short-lived thread that joins that
namespace (setns changes only the calling thread; a socket keeps the namespace it was made
in). Failing all of that, it polls /proc every POLL_INTERVAL seconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterable

import structlog
import trio

from haipvs.config.model import Config
from haipvs.config.track_process import TrackProcess
from haipvs.dataclass_lean import dataclass
from haipvs.policy.priority import Contribution, Kind, Source, weighted
from haipvs.policy.process_track import (
    CommChanged,
    Event,
    Exec,
    Exit,
    Fork,
    ParamMatch,
    ProcessSpec,
    ProcessTable,
    ProcInfo,
    QuorumChanged,
    Scan,
    Tick,
)

log = structlog.get_logger("haipvs.track_process")

Publish = Callable[..., None]  # set_tracker(instance, source, delta=..., fault=...)

POLL_INTERVAL = 1.0  # the fallback's period (seconds)
RESYNC_DELAY = 1.0  # keepalived: reinitialise 1 s (TIMER_HZ) after lost events (ENOBUFS)
RCVBUF = 1 << 20

# linux/netlink.h, connector.h, cn_proc.h
NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
NLMSG_DONE = 3
PROC_CN_MCAST_LISTEN, PROC_CN_MCAST_IGNORE = 1, 2
PROC_EVENT_NONE, PROC_EVENT_FORK, PROC_EVENT_EXEC = 0, 1, 2
PROC_EVENT_COMM, PROC_EVENT_EXIT = 0x200, 0x80000000
_NLMSG = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_CN_MSG = struct.Struct("=IIIIHH")  # idx, val, seq, ack, len, flags
_EVENT = struct.Struct("=IIQ")  # what, cpu, timestamp_ns
_DATA = _NLMSG.size + _CN_MSG.size + _EVENT.size  # event_data offset: 52
CLONE_NEWNET = 0x40000000


# ---- config -> policy -------------------------------------------------------------------


def process_spec(entry: TrackProcess) -> ProcessSpec:
    full = entry.uses_command_line
    return ProcessSpec(
        name=entry.name, process=entry.process, args=tuple(entry.args),
        param_match=ParamMatch(entry.match) if full else ParamMatch.NONE,
        full_command=full, quorum=entry.min_processes, quorum_max=entry.quorum_max,
        terminate_delay=entry.terminate_seconds, fork_delay=entry.fork_seconds)


@dataclass(frozen=True)
class Use:
    """One instance's use of a tracked process: vrrp_track.c alloc_track_process() (the
    reference's weight and reverse, else the entry's)."""

    weight: int
    reverse: bool


def uses(config: Config) -> dict[str, dict[str, Use]]:
    entries = {e.name: e for e in config.vrrp_track_processes}
    out: dict[str, dict[str, Use]] = {name: {} for name in entries}
    for instance in config.vrrp_instances:
        for ref in instance.track_process:
            entry = entries[ref.name]
            out[ref.name][instance.name] = Use(
                entry.weight if ref.weight is None else ref.weight,
                entry.reverse if ref.reverse is None else ref.reverse)
    return out


def contribution(name: str, up: bool, use: Use) -> Contribution:
    failure = (f"track_process {name} has quorum (reverse)" if use.reverse
               else f"track_process {name}: quorum lost")
    return weighted(use.weight, up, failure, use.reverse)


# ---- /proc --------------------------------------------------------------------------------


def _read(path: str, size: int = 65536) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return None


def read_info(pid: int, cmdline: bool) -> ProcInfo | None:
    """comm, state and ppid from /proc/PID/stat (zombies skipped, as read_procs()); the
    command line only when an entry compares it (reading it can swap the process in)."""
    stat = _read(f"/proc/{pid}/stat", 512)
    if not stat:
        return None
    open_at, close_at = stat.find(b"("), stat.rfind(b")")
    if open_at < 0 or close_at < 0:
        return None
    fields = stat[close_at + 2:].split()
    if not fields or fields[0] == b"Z":
        return None
    comm = stat[open_at + 1:close_at].decode(errors="replace")
    ppid = int(fields[1]) if len(fields) > 1 else 0
    return ProcInfo(comm, _read(f"/proc/{pid}/cmdline") if cmdline else None, ppid)


def scan_proc(cmdline: bool) -> dict[int, ProcInfo]:
    out: dict[int, ProcInfo] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            info = read_info(int(name), cmdline)
            if info is not None:
                out[int(name)] = info
    return out


# ---- the proc connector -------------------------------------------------------------------


def _subscribe(sock: socket.socket, op: int) -> None:
    payload = struct.pack("=I", op)
    cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(payload), 0) + payload
    sock.send(_NLMSG.pack(_NLMSG.size + len(cn), NLMSG_DONE, 0, 0, 0) + cn)


def _open_here() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC,
                         NETLINK_CONNECTOR)
    try:
        sock.bind((0, CN_IDX_PROC))
        for opt in (33, socket.SO_RCVBUF):  # SO_RCVBUFFORCE (root), else what is allowed
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, opt, RCVBUF)
                break
        _subscribe(sock, PROC_CN_MCAST_LISTEN)  # ECONNREFUSED outside the initial netns
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


_start_netns: int | None = None  # an fd of the namespace haipvs started in


def remember_start_netns() -> None:
    """Before the daemon enters global.net_namespace: keep its starting namespace."""
    global _start_netns
    if _start_netns is None:
        with contextlib.suppress(OSError):
            _start_netns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def _netns_candidates() -> list[str]:
    """Where the initial network namespace may be: the one haipvs started in, PID 1's, then
    its ancestors' (a daemon run with `ip netns exec` from a shell or a test)."""
    out = [f"/proc/self/fd/{_start_netns}"] if _start_netns is not None else []
    out.append("/proc/1/ns/net")
    pid = os.getpid()
    for _ in range(32):  # bounded: a parent chain is short
        info = read_info(pid, cmdline=False)
        if info is None or info.ppid <= 1:
            break
        pid = info.ppid
        out.append(f"/proc/{pid}/ns/net")
    return out


def _open_in(netns: str) -> socket.socket:
    """Open the socket from a thread that joins `netns`."""
    result: list[socket.socket | BaseException] = []

    def opener() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, os.strerror(code))
            finally:
                os.close(fd)
            result.append(_open_here())
        except BaseException as exc:  # handed to the caller
            result.append(exc)

    thread = threading.Thread(target=opener, name="proc-connector-open")
    thread.start()
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def open_connector() -> socket.socket:
    try:
        return _open_here()
    except OSError as exc:
        if exc.errno not in (errno.ECONNREFUSED, errno.EPROTONOSUPPORT):
            raise
        error = exc
    for netns in _netns_candidates():
        try:
            return _open_in(netns)
        except OSError as exc:
            error = exc
    raise error


def decode(data: bytes, cmdline: bool) -> Event | None:
    """One proc connector message into a policy event (threads' events ignored, as
    track_process.c handle_proc_ev()); None for what the rules do not use."""
    if len(data) < _DATA:
        return None
    idx, val = _CN_MSG.unpack_from(data, _NLMSG.size)[:2]
    if (idx, val) != (CN_IDX_PROC, CN_VAL_PROC):
        return None
    what = _EVENT.unpack_from(data, _NLMSG.size + _CN_MSG.size)[0]
    if what == PROC_EVENT_FORK:
        _, parent_tgid, child_pid, child_tgid = struct.unpack_from("=iiii", data, _DATA)
        return Fork(parent_tgid, child_tgid) if child_pid == child_tgid else None
    if what in (PROC_EVENT_EXEC, PROC_EVENT_EXIT, PROC_EVENT_COMM):
        pid, tgid = struct.unpack_from("=ii", data, _DATA)
        if pid != tgid:
            return None
        if what == PROC_EVENT_EXIT:
            return Exit(tgid)
        if what == PROC_EVENT_COMM:
            comm = data[_DATA + 8:_DATA + 24].split(b"\0", 1)[0].decode(errors="replace")
            return CommChanged(tgid, comm)
        info = read_info(tgid, cmdline)
        return Exec(tgid, info) if info is not None else None
    return None


# ---- the watcher --------------------------------------------------------------------------


class ProcWatch:
    """The tracked processes of a config: one `ProcessTable`, fed by the connector (or by
    /proc polls), publishing each instance's contribution when an entry's quorum changes."""

    def __init__(self, config: Config, publish: Publish) -> None:
        self._publish = publish
        self._config = config
        self.table = ProcessTable(tuple(process_spec(e) for e in config.vrrp_track_processes))
        self.users = uses(config)
        self.mode = "off"
        self.lost_events = 0
        self._scope: trio.CancelScope | None = None
        self._resync_at: float | None = None

    @property
    def _cmdline(self) -> bool:
        return any(s.full_command for s in self.table.specs)

    def preset(self, publish: Publish, config: Config | None = None,
               instances: frozenset[str] | None = None) -> None:
        """Before instances start (blocking, a /proc walk): their contributions from the
        processes running now, as keepalived's init_track_processes() reads them before
        initialise_tracking_priorities() (a weight-0 entry without quorum starts FAULT)."""
        config = config if config is not None else self._config
        if not config.vrrp_track_processes:
            return
        table = ProcessTable(tuple(process_spec(e) for e in config.vrrp_track_processes))
        table.handle(0.0, Scan(scan_proc(any(s.full_command for s in table.specs))))
        if config is self._config and not self.table.scanned:
            self.table = table  # the running watcher starts from this walk
        for name, users in uses(config).items():
            for instance, use in users.items():
                if instances is None or instance in instances:
                    c = contribution(name, table.up(name), use)
                    publish(instance, Source(Kind.TRACK_PROCESS, name), delta=c.delta,
                            fault=c.fault)
            log.info("track_process_read", process=name, count=table.count(name),
                     quorum=table.up(name))

    def update(self, config: Config) -> None:
        """Reload: new entries rescan from /proc; unchanged ones keep their state; every
        using instance is told its contribution again (removed ones are cleared)."""
        old_users = self.users
        self._config = config
        specs = tuple(process_spec(e) for e in config.vrrp_track_processes)
        if specs != self.table.specs:
            table = ProcessTable(specs)
            table.handle(0.0, Scan(scan_proc(any(s.full_command for s in specs))))
            self.table = table
        self.users = uses(config)
        for name, users in old_users.items():
            for instance in set(users) - set(self.users.get(name, {})):
                self._publish(instance, Source(Kind.TRACK_PROCESS, name), delta=0, fault=None)
        for name in self.users:
            self._tell(name)
        if self._scope is not None:
            self._scope.cancel()  # the run loop restarts the watch with the new table

    def _tell(self, name: str) -> None:
        for instance, use in self.users.get(name, {}).items():
            c = contribution(name, self.table.up(name), use)
            self._publish(instance, Source(Kind.TRACK_PROCESS, name), delta=c.delta,
                          fault=c.fault)

    def _feed(self, event: Event) -> None:
        for change in self.table.handle(trio.current_time(), event):
            self._told(change)

    def _told(self, change: QuorumChanged) -> None:
        # keepalived logs "Quorum gained/lost for tracked process NAME"
        log.info("track_process_quorum_" + ("gained" if change.up else "lost"),
                 process=change.name, count=self.table.count(change.name))
        self._tell(change.name)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        while True:
            if not self.table.specs:
                self.mode = "off"
                await self._idle()
                continue
            try:
                sock = open_connector()
            except OSError as exc:
                if self.mode != "poll":
                    log.warning("track_process_polling", reason=str(exc),
                                interval=POLL_INTERVAL)
                self.mode = "poll"
                await self._watch(self._poll)
                continue
            self.mode = "events"
            # Walked after subscribing, as init_track_processes() does, so no process
            # that starts or exits in between is missed (a diff with the preset's walk).
            try:
                await self._rescan()
                await self._watch(functools.partial(self._events, sock))
            except OSError as exc:
                # A socket error must not take the trackers down: reopen a second later
                # and walk /proc again then (what was missed is diffed in).
                log.warning("track_process_socket_error", error=str(exc), retry_in=RESYNC_DELAY)
                await trio.sleep(RESYNC_DELAY)
            finally:
                with contextlib.suppress(OSError):
                    _subscribe(sock, PROC_CN_MCAST_IGNORE)
                sock.close()

    async def _rescan(self) -> None:
        first = not self.table.scanned
        self._feed(Scan(await trio.to_thread.run_sync(scan_proc, self._cmdline)))
        if first:  # no preset walk (a first scan tells nothing): tell every user now
            for name in self.users:
                self._tell(name)

    async def _idle(self) -> None:
        with trio.CancelScope() as self._scope:
            await trio.sleep_forever()

    async def _watch(self, body: Callable[[], Awaitable[None]]) -> None:
        with trio.CancelScope() as self._scope:
            await body()

    def _next_wake(self, extra: Iterable[float | None]) -> float:
        times = [t for t in (self.table.deadline, self._resync_at, *extra) if t is not None]
        return min(times) if times else float("inf")

    async def _due(self) -> None:
        now = trio.current_time()
        if self.table.deadline is not None and now >= self.table.deadline:
            self._feed(Tick())
        if self._resync_at is not None and now >= self._resync_at:
            self._resync_at = None
            await self._rescan()

    async def _poll(self) -> None:
        next_poll = trio.current_time()
        while True:
            await trio.sleep_until(self._next_wake((next_poll,)))
            if trio.current_time() >= next_poll:
                next_poll = trio.current_time() + POLL_INTERVAL
                await self._rescan()
            await self._due()

    async def _events(self, sock: socket.socket) -> None:
        cmdline = self._cmdline
        while True:
            with trio.move_on_at(self._next_wake(())):
                await trio.lowlevel.wait_readable(sock)
            while True:
                try:
                    data = sock.recv(1024)
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno != errno.ENOBUFS:
                        raise
                    # Lost events: walk /proc again a second later (keepalived
                    # reinitialise_track_processes()).
                    self.lost_events += 1
                    log.warning("track_process_events_lost", resync_in=RESYNC_DELAY)
                    self._resync_at = trio.current_time() + RESYNC_DELAY
                    continue
                event = decode(data, cmdline)
                if event is not None:
                    self._feed(event)
            await self._due()

    def snapshot(self) -> dict:
        return {"mode": self.mode, "lost_events": self.lost_events,
                "processes": {s.name: {"count": self.table.count(s.name),
                                       "quorum": self.table.up(s.name),
                                       "users": {i: u.weight for i, u in
                                                 self.users.get(s.name, {}).items()}}
                              for s in self.table.specs}}
