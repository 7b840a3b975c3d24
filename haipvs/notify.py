"""Notifications: the ordered event stream (keepalived-format FIFOs, JSON-lines file) and the
notify scripts.

Every event goes through `EventStream.write` on the main loop, one after the other, so the
FIFOs and the JSON file see the same order as the transitions happened. Scripts are queued per
instance (or sync group) and run one at a time for it, in order, each with a timeout, as argv
(never through a shell) and with a clean environment: nothing of the daemon's (in particular
no NOTIFY_SOCKET) leaks into them.

The FIFO lines are keepalived 2.2.7's, byte for byte (its readers parse them):
keepalived/vrrp/vrrp_notify.c notify_fifo for INSTANCE and GROUP, keepalived/check/ipwrapper.c
notify_fifo_rs / notify_fifo_vs for RS and VS, with the address forms of
keepalived/check/check_data.c format_vs / format_rs and lib/utils.c inet_sockaddrtotrio_r.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import signal
import socket
import stat
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import trio

from haipvs.dataclass_lean import dataclass
from haipvs.events import (
    Event,
    GroupTransition,
    InstanceNotice,
    QuorumEvent,
    RealServerChange,
    VirtualService,
    VrrpTransition,
)
from haipvs.policy.notify_scripts import transition_scripts
from haipvs.script_creds import give_to, process_options
from haipvs.vrrp.messages import State

if TYPE_CHECKING:
    from haipvs.config.model import GlobalSettings

__all__ = ["EventStream", "NotifyFifo", "NotifyRunner", "fifo_line", "format_vs",
           "notify_fifos", "run_script", "script_environment", "transition_scripts"]

log = structlog.get_logger("haipvs.notify")

SCRIPT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# lib/utils.c inet_sockaddrtotrio_r: the protocol word of an address; 0 is a fwmark service's.
PROTOCOL_WORDS = {socket.IPPROTO_TCP: "tcp", socket.IPPROTO_UDP: "udp",
                  socket.IPPROTO_SCTP: "sctp", 0: "none"}
# lib/notify.c fifo_open: mkfifo(S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH), then the umask.
FIFO_MODE = 0o644
# lib/notify.c script_killall then child_killed_thread: SIGKILL one second after SIGTERM.
FIFO_SCRIPT_KILL_AFTER = 1.0
# keepalived's fifo script dies with it (PR_SET_PDEATHSIG SIGTERM in system_call_script).
# Python cannot set that between fork and exec without preexec_fn (unsafe with threads), so
# util-linux setpriv does it, then execs the script: same pid, same argv seen by the script.
SETPRIV = shutil.which("setpriv", path=SCRIPT_PATH)


def _inet(address: str) -> str:
    """The address as glibc's inet_ntop writes it (what keepalived prints: an IPv4-mapped
    IPv6 address as ::ffff:192.0.2.1, zero runs compressed as RFC 5952 says)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, address))
    except OSError:  # not an address inet_pton knows (a scoped one): as given, never fatal
        return address


def _trio(address: str, protocol: int, port: int) -> str:
    # lib/utils.c inet_sockaddrtotrio_r: "[%s]:%s:%d" (brackets for IPv4 too)
    return f"[{_inet(address)}]:{PROTOCOL_WORDS.get(protocol, '?')}:{port}"


def format_vs(service: VirtualService) -> str:
    """keepalived/check/check_data.c format_vs: "FWM %u" for a fwmark service, else the
    address trio. (A virtual_server_group service is "[group]:seq" there; haipvs has one
    service per group member, named by its own address.)"""
    if service.fwmark:
        return f"FWM {service.fwmark}"
    return _trio(service.address, service.protocol, service.port)


def fifo_line(event: Event) -> str | None:
    """keepalived's notify FIFO line for an event, without its newline, or None for events
    keepalived writes no line for."""
    if isinstance(event, VrrpTransition):
        if event.new == State.INIT:
            return None  # keepalived never notifies INIT
        # vrrp_notify.c notify_fifo: "%s \"%s\" %s %d\n" (type, name, state, priority)
        return f'INSTANCE "{event.instance}" {event.new} {event.priority}'
    if isinstance(event, InstanceNotice):
        # vrrp_notify.c notify_fifo, the same format: DELETED, MASTER_RX_LOWER_PRI,
        # MASTER_PRIORITY or BACKUP_PRIORITY in the state's place
        return f'INSTANCE "{event.instance}" {event.notice} {event.priority}'
    if isinstance(event, GroupTransition):
        if event.new == State.INIT:
            return None
        # vrrp_notify.c notify_group_fifo: the same format, priority 0
        return f'GROUP "{event.group}" {event.new} 0'
    if isinstance(event, RealServerChange):
        if not event.up_changed:
            return None  # ipwrapper.c update_svr_wgt: a weight change writes nothing
        # ipwrapper.c notify_fifo_rs: "RS %s %s %s\n" (FMT_RS, FMT_VS, UP/DOWN); FMT_RS
        # uses the virtual server's protocol (check_data.c format_rs)
        rs = _trio(event.rs_address, event.virtual.protocol, event.rs_port)
        return f"RS {rs} {format_vs(event.virtual)} {'UP' if event.up else 'DOWN'}"
    if isinstance(event, QuorumEvent):
        # ipwrapper.c notify_fifo_vs: "VS %s %s\n" (FMT_VS, UP/DOWN)
        return f"VS {format_vs(event.virtual)} {'UP' if event.up else 'DOWN'}"
    return None


def _is_vrrp(event: Event) -> bool:
    return isinstance(event, VrrpTransition | GroupTransition | InstanceNotice)


@dataclass(frozen=True)
class NotifyFifo:
    """One FIFO: which lines it carries and the script started to read it."""

    path: str
    script: tuple[str, ...] | None = None
    vrrp: bool = True  # INSTANCE and GROUP lines
    lvs: bool = True  # RS and VS lines
    user: str | None = None  # the default script user (global.script_user); the script's
    # own user, when it has one, comes with `script` (fifo_script_user)
    owner: str | None = None  # `*notify_fifo_owner`: who a FIFO haipvs makes belongs to
    # (keepalived `notify_fifo FIFO USER [GROUP]`); None: `user`


def fifo_script_user(spec: NotifyFifo) -> str | None:
    """The FIFO script's own user (`notify_fifo_script SCRIPT USER [GROUP]`: global_parser.c
    notify_fifo_script -> notify_script_init), else the FIFO's (the default script user)."""
    return getattr(spec.script, "run_as", None) or spec.user


def notify_fifos(settings: GlobalSettings) -> tuple[tuple[NotifyFifo, ...], tuple[str, ...]]:
    """The FIFOs of `global`, and notes on the ones ignored, by keepalived's rules
    (keepalived/core/global_data.c): a vrrp_ or lvs_ FIFO with notify_fifo's path is ignored
    with its script; vrrp_ and lvs_ FIFOs with one path carry both kinds of line, and when
    both have a script only the vrrp_ one runs."""
    fifos: list[NotifyFifo] = []
    notes: list[str] = []
    main = settings.notify_fifo
    user = settings.script_user  # lib/notify.c notify_script_init: the default script user
    if main is not None:
        fifos.append(NotifyFifo(main, settings.notify_fifo_script, user=user,
                                owner=settings.notify_fifo_owner))
    vrrp, lvs = settings.vrrp_notify_fifo, settings.lvs_notify_fifo
    for name, path in (("vrrp", vrrp), ("lvs", lvs)):
        if path is not None and path == main:
            notes.append(f"{name}_notify_fifo {path} is notify_fifo too: ignored, as "
                         f"keepalived does, with its script")
    vrrp = None if vrrp == main else vrrp
    lvs = None if lvs == main else lvs
    vrrp_script, lvs_script = settings.vrrp_notify_fifo_script, settings.lvs_notify_fifo_script
    if vrrp is not None and vrrp == lvs:
        if vrrp_script and lvs_script:
            notes.append(f"vrrp_notify_fifo and lvs_notify_fifo are both {vrrp}: only "
                         f"vrrp_notify_fifo_script runs, as in keepalived")
        # keepalived's VRRP and checker processes each open it; haipvs makes it once, for
        # vrrp_notify_fifo's owner when it has one
        owner = settings.vrrp_notify_fifo_owner or settings.lvs_notify_fifo_owner
        fifos.append(NotifyFifo(vrrp, vrrp_script or lvs_script, user=user, owner=owner))
    else:
        if vrrp is not None:
            fifos.append(NotifyFifo(vrrp, vrrp_script, vrrp=True, lvs=False, user=user,
                                    owner=settings.vrrp_notify_fifo_owner))
        if lvs is not None:
            fifos.append(NotifyFifo(lvs, lvs_script, vrrp=False, lvs=True, user=user,
                                    owner=settings.lvs_notify_fifo_owner))
    return tuple(fifos), tuple(notes)


@dataclass
class _OpenFifo:
    spec: NotifyFifo
    fd: int
    created: bool  # unlinked at close only when we made it (lib/notify.c fifo_close)


class EventStream:
    """Writes events, in call order, to the FIFOs (created if missing) and the JSON file.

    A FIFO is opened read-write and non-blocking, as keepalived does: the daemon never
    waits for a reader, and a line that does not fit into a full pipe is dropped (counted),
    never delaying the daemon. `fifo` is one FIFO for every line (`global.notify_fifo`
    without a script); `fifos` are given as `notify_fifos` makes them.
    """

    def __init__(self, fifo: str | None = None, json_lines: str | None = None, *,
                 fifos: Sequence[NotifyFifo] = ()) -> None:
        self.fifos = (NotifyFifo(fifo),) if fifo is not None else ()
        self.fifos += tuple(fifos)
        self.json_path = json_lines
        self._open: list[_OpenFifo] = []
        self._json_fd: int | None = None
        self._scripts: list[subprocess.Popen] = []  # started, not yet known to be reaped
        self.written = 0
        self.dropped = 0

    def open(self) -> None:
        """Create and open the FIFOs, start their scripts, open the JSON file. On an error
        nothing stays open."""
        try:
            for spec in self.fifos:
                self._open_fifo(spec)
            if self.json_path is not None:
                path = Path(self.json_path)
                path.parent.mkdir(parents=True, exist_ok=True)
                self._json_fd = os.open(
                    path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640
                )
        except BaseException:
            self.close()
            raise

    def _open_fifo(self, spec: NotifyFifo) -> None:
        path = Path(spec.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        created = False
        try:
            os.mkfifo(path, FIFO_MODE)
            created = True
            # lib/notify.c fifo_open: a FIFO it makes belongs to the FIFO's user (its own
            # `USER [GROUP]`, else the default script user), for a reader running as that user
            owner = spec.owner or spec.user
            if not give_to(str(path), owner):
                log.info("notify_fifo_chown_failed", fifo=spec.path, user=owner)
        except FileExistsError:
            if not stat.S_ISFIFO(path.stat().st_mode):
                raise OSError(errno.EEXIST, f"{path} exists and is not a FIFO") from None
        try:
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            if created:
                path.unlink(missing_ok=True)
            raise
        self._open.append(_OpenFifo(spec, fd, created))
        if spec.script:
            self._start_script(spec)

    def _start_script(self, spec: NotifyFifo) -> None:
        """keepalived's argv: the script's, then the FIFO path (check_data.c and vrrp.c
        add_script_param). Never a shell, a clean environment, its own process group, no
        timeout: it runs until the daemon stops (or the FIFO changes on reload)."""
        assert spec.script is not None
        argv = [*spec.script, spec.path]
        if SETPRIV is not None:
            argv = [SETPRIV, "--pdeathsig", "TERM", "--", *argv]
        try:
            process = subprocess.Popen(
                argv, env=script_environment(), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0,
                close_fds=True, **process_options(fifo_script_user(spec)))
        except (OSError, KeyError) as exc:
            log.error("notify_fifo_script_failed", fifo=spec.path, script=spec.script[0],
                      error=str(exc))
            return
        self._scripts.append(process)
        log.info("notify_fifo_script_started", fifo=spec.path, script=spec.script[0],
                 pid=process.pid)
        with contextlib.suppress(RuntimeError):  # outside trio (tools, tests): no watcher
            trio.lowlevel.spawn_system_task(_watch_script, spec.path, process)

    def close(self) -> None:
        """_stop(); scripts that outlive their SIGTERM are killed a second later."""
        running = self._stop()
        if running:
            with contextlib.suppress(RuntimeError):  # outside trio: nothing to wait with
                trio.lowlevel.spawn_system_task(_kill_scripts_later, running)

    async def aclose(self) -> None:
        """_stop(), then wait for the FIFO scripts (SIGKILL after FIFO_SCRIPT_KILL_AFTER
        seconds): the daemon's last step, so none outlives it."""
        running = self._stop()
        with trio.CancelScope(shield=True):
            await _kill_scripts_later(running)

    def _stop(self) -> list[subprocess.Popen]:
        """SIGTERM to the FIFO scripts' process groups, unlink the FIFOs we created, close
        everything; returns the scripts still running. As keepalived at stop and on reload
        (lib/notify.c script_killall, fifo_close), except that the STOP lines are already
        written: a reader that exits on SIGTERM still got them."""
        for process in self._scripts:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        for entry in self._open:
            if entry.created:  # unlinked first, so a looping reader cannot reopen it
                with contextlib.suppress(OSError):
                    os.unlink(entry.spec.path)
            with contextlib.suppress(OSError):
                os.close(entry.fd)
        self._open = []
        if self._json_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._json_fd)
        self._json_fd = None
        running = [p for p in self._scripts if p.poll() is None]
        self._scripts = []
        return running

    def write(self, event: Event) -> None:
        if self._open:
            line = fifo_line(event)
            if line is not None:
                vrrp = _is_vrrp(event)
                data = (line + "\n").encode()
                for entry in self._open:
                    if entry.spec.vrrp if vrrp else entry.spec.lvs:
                        self._write(entry.fd, data)
        if self._json_fd is not None:
            record = event.as_record()
            self._write(self._json_fd,
                        (json.dumps(record, sort_keys=True, default=str) + "\n").encode())

    def _write(self, fd: int, data: bytes) -> None:
        try:
            # One write() per line: below PIPE_BUF it is atomic, so readers never see halves.
            os.write(fd, data)
            self.written += 1
        except BlockingIOError:
            self.dropped += 1
            log.warning("event_dropped", detail="notify FIFO is full: nobody is reading it")
        except OSError as exc:
            self.dropped += 1
            log.warning("event_write_failed", error=str(exc))


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


async def _wait_exit(process: subprocess.Popen) -> int | None:
    """The exit code, once the process has ended (a pidfd becomes readable then)."""
    if process.poll() is not None:
        return process.returncode
    try:
        pidfd = os.pidfd_open(process.pid)
    except ProcessLookupError:
        return process.wait()
    try:
        await trio.lowlevel.wait_readable(pidfd)
    finally:
        os.close(pidfd)
    return process.wait()


async def _watch_script(fifo: str, process: subprocess.Popen) -> None:
    """keepalived logs "notify fifo script terminated" and does not restart it
    (vrrp.c vrrp_notify_fifo_script_exit, check_daemon.c lvs_notify_fifo_script_exit)."""
    code = await _wait_exit(process)
    log.info("notify_fifo_script_terminated", fifo=fifo, pid=process.pid, exit_code=code)


async def _kill_scripts_later(processes: Sequence[subprocess.Popen]) -> None:
    with trio.move_on_after(FIFO_SCRIPT_KILL_AFTER):
        for process in processes:
            await _wait_exit(process)
    for process in processes:
        if process.poll() is None:
            _signal_group(process, signal.SIGKILL)
            await _wait_exit(process)


def script_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for scripts: PATH, LANG and the HAIPVS_* facts, nothing else."""
    env = {"PATH": SCRIPT_PATH, "LANG": "C.UTF-8"}
    env.update(extra or {})
    return env


async def run_script(argv: Sequence[str], timeout: float,
                     env: Mapping[str, str] | None = None,
                     user: str | None = None) -> tuple[int | None, str]:
    """Run argv with a deadline, as `user` ("user[:group]"; None: as the daemon); returns
    (exit code or None on timeout/failure, detail). The script leads its own session so a
    timeout kills the whole group it started."""
    try:
        with trio.move_on_after(timeout) as scope:
            result = await trio.run_process(
                list(argv), check=False, env=script_environment(env),
                stdin=subprocess.DEVNULL, capture_stdout=True, capture_stderr=True,
                start_new_session=True, deliver_cancel=_kill_group,
                **process_options(user),
            )
    except (OSError, KeyError) as exc:  # KeyError: the user was removed since the load
        return None, f"cannot run: {exc}"
    if scope.cancelled_caught:
        return None, f"killed after {timeout:g}s timeout"
    output = (result.stderr or result.stdout or b"").decode(errors="replace").strip()
    return result.returncode, output[-200:]


async def _kill_group(process: trio.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 9)


class NotifyRunner:
    """One queue and one worker per owner (instance or sync group): its scripts run in the
    order the transitions happened and never two at a time."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.user: str | None = None  # global.script_user (keepalived: notify scripts' user)
        self._queues: dict[str, trio.MemorySendChannel] = {}
        self._nursery: trio.Nursery | None = None
        self.runs = 0
        self.failures = 0
        self.pending = 0  # queued or running batches
        self._idle: trio.Event | None = None  # set when pending drops to 0

    async def wait_idle(self) -> None:
        """Until every queued script has run (shutdown lets notify_stop finish)."""
        while self.pending:
            if self._idle is None:
                self._idle = trio.Event()
            await self._idle.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def submit(self, owner: str, scripts: Sequence[Sequence[str]],
               env: Mapping[str, str], users: Sequence[str | None] = ()) -> None:
        """Queue `scripts` (run one after the other) for `owner`; returns at once. Script
        i runs as users[i] when given (its own user), else as `self.user`."""
        if not scripts or self._nursery is None:
            return
        queue = self._queues.get(owner)
        if queue is None:
            send, receive = trio.open_memory_channel[tuple](math.inf)
            self._queues[owner] = queue = send
            self._nursery.start_soon(self._worker, owner, receive)
        self.pending += 1
        queue.send_nowait((scripts, env, tuple(users)))

    async def _worker(self, owner: str, queue: trio.MemoryReceiveChannel) -> None:
        async for scripts, env, users in queue:
            try:
                for index, argv in enumerate(scripts):
                    user = (users[index] if index < len(users) else None) or self.user
                    code, detail = await run_script(argv, self.timeout, env, user)
                    self.runs += 1
                    if code == 0:
                        log.info("notify_script_done", owner=owner, script=argv[0])
                    else:
                        self.failures += 1
                        log.warning("notify_script_failed", owner=owner, script=argv[0],
                                    exit_code=code, detail=detail)
            finally:
                self.pending -= 1
                if not self.pending and self._idle is not None:
                    self._idle.set()
                    self._idle = None

