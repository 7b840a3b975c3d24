"""Desired-vs-kernel IPVS reconciliation.

`plan()` is pure: it compares a desired table with a dumped one and returns the smallest list
of ops that makes the owned part of the kernel table equal to the desired one. `Reconciler`
owns the IPVS netlink thread and runs dump -> plan -> apply whenever asked, retrying with
back-off while IPVS is unavailable.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog
import trio
from pyroute2.netlink.exceptions import NetlinkError

from haipvs.drivers.netlink_thread import NetlinkThread
from haipvs.ipvs import kernel, wire
from haipvs.ipvs.errors import IpvsError, IpvsExists, IpvsMissing, IpvsUnavailable
from haipvs.ipvs.kernel import Op, OpKind
from haipvs.ipvs.model import IpvsTable, ServiceKey, SyncDaemonConfig, Timeouts
from haipvs.ipvs.ownership import OwnershipLedger

log = structlog.get_logger("haipvs.ipvs")

# Traffic-safe order: new capacity is in place before old capacity is removed, services
# exist before their destinations, and a service's removal (which drops its destinations in
# the kernel) comes last.
_ORDER = {
    OpKind.ADD_SERVICE: 0,
    OpKind.SET_SERVICE: 1,
    OpKind.ADD_DEST: 2,
    OpKind.SET_DEST: 3,
    OpKind.DEL_DEST: 4,
    OpKind.DEL_SERVICE: 5,
}


@dataclass
class Plan:
    ops: list[Op] = field(default_factory=list)
    # Services in the kernel that haipvs does not own: reported, never touched.
    foreign: list[ServiceKey] = field(default_factory=list)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    def __bool__(self) -> bool:
        return bool(self.ops)


def plan(desired: IpvsTable, actual: IpvsTable, owned: Iterable[ServiceKey]) -> Plan:
    """Ops turning `actual` into `desired` for owned services (desired services are always
    owned). Settings changes use SET, never delete and re-add."""
    owned_keys = set(owned) | desired.keys()
    ops: list[Op] = []
    for want in desired:
        have = actual.get(want.key)
        bare = want.without_destinations()
        if have is None:
            ops.append(Op(OpKind.ADD_SERVICE, bare))
            ops.extend(Op(OpKind.ADD_DEST, bare, d) for d in want.destinations)
            continue
        if have.settings != want.settings:
            ops.append(Op(OpKind.SET_SERVICE, bare))
        for dest in want.destinations:
            current = have.dest_map.get(dest.key)
            if current is None:
                ops.append(Op(OpKind.ADD_DEST, bare, dest))
            elif current != dest:
                ops.append(Op(OpKind.SET_DEST, bare, dest))
        ops.extend(
            Op(OpKind.DEL_DEST, bare, d)
            for d in have.destinations
            if d.key not in want.dest_map
        )
    foreign = []
    for have in actual:
        if have.key in desired.by_key:
            continue
        if have.key in owned_keys:
            ops.append(Op(OpKind.DEL_SERVICE, have.without_destinations()))
        else:
            foreign.append(have.key)
    ops.sort(key=lambda op: _ORDER[op.kind])  # stable: keeps per-service order
    return Plan(ops, foreign)


@dataclass(frozen=True)
class OpRecord:
    at: float  # time.time()
    op: Op
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "op": str(self.op), "kind": str(self.op.kind),
                "error": self.error}


def _apply_all(sock: kernel.IpvsSocket, ops: list[Op]) -> list[IpvsError | None]:
    """Owner-thread job: apply every op, collecting errors instead of stopping, so one bad
    service does not hold back the others."""
    results: list[IpvsError | None] = []
    for op in ops:
        try:
            kernel.apply(sock, op)
        except IpvsError as exc:
            results.append(exc)
        else:
            results.append(None)
    return results


class IpvsFamilyProbe:
    """Asks the kernel whether the IPVS family exists, over one netlink socket kept open
    between calls, so retrying on a kernel without IPVS allocates nothing per attempt."""

    def __init__(self, netns: str | None = None) -> None:
        self._netns = netns
        self._sock: Any = None
        self._seq = 0
        self._lock = threading.Lock()  # worker threads may ask concurrently

    def available(self) -> bool:
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = wire.open_socket(self._netns)
                self._seq = self._seq % 0x7FFFFFFF + 1
                return wire.lookup_family(self._sock, "IPVS", self._seq) is not None
            except (OSError, NetlinkError) as exc:
                self._close_locked()
                raise IpvsError(f"cannot ask the kernel for the IPVS family: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Reconciler:
    """Keeps the kernel IPVS table equal to the desired table for the services it owns.

    States: "starting" (nothing tried yet), "ok" (last reconcile converged), "error" (some op
    was refused; the message says which), "unavailable" (no IPVS in the kernel; the desired
    table is kept and retried with back-off, or at once on `request()`).

    `socket_factory` builds the IPVS socket inside the owner thread (tests pass a fake kernel).
    `probe` says whether opening it can succeed; the default asks the kernel for the family.
    """

    def __init__(
        self,
        *,
        netns: str | None = None,
        socket_factory: Callable[[], Any] | None = None,
        probe: Callable[[], bool] | None = None,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        ops_log_size: int = 1000,
        batch_threshold: int = 200,
        recheck_interval: float | None = None,
        ownership: OwnershipLedger | None = None,
    ) -> None:
        self._factory = socket_factory or (lambda: kernel.IpvsSocket(netns=netns))
        self._family_probe: IpvsFamilyProbe | None = None
        if probe is None and socket_factory is None:
            self._family_probe = IpvsFamilyProbe(netns)
            probe = self._family_probe.available
        self._probe = probe
        self._thread: NetlinkThread | None = None
        self._thread_lock = threading.Lock()  # status queries may race the run loop here
        self.desired = IpvsTable()
        self.timeouts: Timeouts | None = None
        self.sync_daemons: tuple[SyncDaemonConfig, ...] | None = None
        # Every service key this process was ever told to manage, so a service removed from
        # the config is deleted rather than left behind as foreign.
        self.owned: set[ServiceKey] = set()
        # On disk too, so a restart after a crash still knows what it added.
        self._ledger = ownership
        self._ledger_loaded = ownership is None
        self.state = "starting"
        self.error: str | None = None
        self.foreign: list[ServiceKey] = []
        self.observed: IpvsTable | None = None
        self.ops_log: deque[OpRecord] = deque(maxlen=ops_log_size)
        self.reconcile_count = 0
        self.last_reconcile_at: float | None = None
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._retry_delay = retry_initial
        self._batch_threshold = batch_threshold
        self._recheck_interval = recheck_interval
        self._wakeup = trio.Event()
        self._lock = trio.Lock()
        # Set once the first pass finished (converged or not) or IPVS was reported
        # unavailable: readiness (sd_notify READY=1) waits for it.
        self._first_pass = trio.Event()

    # -- desired state ---------------------------------------------------------------

    def set_desired(
        self,
        table: IpvsTable,
        *,
        timeouts: Timeouts | None = None,
        sync_daemons: Iterable[SyncDaemonConfig] | None = None,
        owned: Iterable[ServiceKey] = (),
    ) -> None:
        """Replace the desired state and wake the run loop. `timeouts` None leaves kernel
        timeouts alone; `sync_daemons` None leaves sync daemons alone, () stops them."""
        self.desired = table
        self.timeouts = timeouts
        self.sync_daemons = tuple(sync_daemons) if sync_daemons is not None else None
        self.owned |= table.keys() | set(owned)
        self.request()

    async def wait_first_pass(self) -> None:
        """Return once the first reconcile pass finished or IPVS was reported unavailable."""
        await self._first_pass.wait()

    def request(self) -> None:
        """Ask the run loop to reconcile now (also cuts an unavailable back-off short)."""
        self._wakeup.set()

    # -- netlink thread --------------------------------------------------------------

    def _ensure_thread(self) -> NetlinkThread:
        with self._thread_lock:
            if self._thread is None:
                # Cheap check first: no thread or pyroute2 object per retry without IPVS.
                if self._probe is not None and not self._probe():
                    raise IpvsUnavailable()
                thread = NetlinkThread(self._factory, name="ipvs-netlink")
                thread.start()  # raises IpvsUnavailable when the family is missing
                self._thread = thread
                if self._family_probe is not None:
                    self._family_probe.close()  # reopened only if IPVS goes away again
            return self._thread

    def _close_thread(self) -> None:
        with self._thread_lock:
            if self._thread is not None:
                self._thread.close()
                self._thread = None

    def close(self) -> None:
        self._close_thread()
        if self._family_probe is not None:
            self._family_probe.close()

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(sock, *args)` in the IPVS owner thread (status queries, tests)."""
        thread = await trio.to_thread.run_sync(self._ensure_thread)
        return await thread.call(fn, *args)

    # -- reconcile -------------------------------------------------------------------

    async def reconcile(self) -> Plan:
        """One dump -> plan -> apply pass. EEXIST/ENOENT races re-dump and retry once.
        Raises IpvsUnavailable (state "unavailable"); other kernel refusals set "error"."""
        async with self._lock:
            try:
                return await self._reconcile_locked()
            except IpvsUnavailable as exc:
                self._mark_unavailable(exc)
                raise
            finally:
                if self.state != "starting":
                    self._first_pass.set()

    def _mark_unavailable(self, exc: IpvsError) -> None:
        if self.state != "unavailable":
            log.error("ipvs_unavailable", error=str(exc))
        self.state = "unavailable"
        self.error = str(exc)
        self._close_thread()  # the probe's socket stays open for the retries

    async def _reconcile_locked(self) -> Plan:
        desired = self.desired
        if not self._ledger_loaded:
            assert self._ledger is not None
            self.owned |= await trio.to_thread.run_sync(self._ledger.load)
            self._ledger_loaded = True
        first_plan: Plan | None = None
        errors: list[IpvsError] = []
        for attempt in range(2):
            actual = await self.call(kernel.dump_table)
            current = plan(desired, actual, self.owned)
            if first_plan is None:
                first_plan = current
            self._report_foreign(current.foreign)
            if not current:
                self.observed = actual
                errors = []
                break
            await self._save_ownership()  # before any op can add a service
            errors = await self._apply(current.ops)
            races = [e for e in errors if isinstance(e, IpvsExists | IpvsMissing)]
            if not races or attempt == 1:
                break
            log.info("ipvs_race_retry", races=len(races))
        if errors:
            self.observed = await self.call(kernel.dump_table)
        elif first_plan:
            # Every op succeeded, so the kernel now holds the desired services plus the
            # foreign ones (connection counters of changed services are not refreshed).
            foreign = [s for s in actual if s.key in set(current.foreign)]
            self.observed = IpvsTable(desired.services + tuple(foreign))
        side_errors = await self._reconcile_side_state()
        self.owned -= {k for k in self.owned if k not in desired.by_key
                       and k not in self.observed.by_key}
        await self._save_ownership()
        self.reconcile_count += 1
        self.last_reconcile_at = time.time()
        messages = [str(e) for e in errors] + side_errors
        if messages:
            self.state = "error"
            self.error = "; ".join(dict.fromkeys(messages))
        else:
            self.state = "ok"
            self.error = None
        assert first_plan is not None
        return first_plan

    async def _save_ownership(self) -> None:
        if self._ledger is None:
            return
        try:
            await trio.to_thread.run_sync(self._ledger.save, set(self.owned))
        except OSError as exc:
            # Programming the kernel matters more than the ledger; a later pass retries.
            log.error("ipvs_ownership_ledger_write_failed", path=str(self._ledger.path),
                      error=str(exc))

    async def _apply(self, ops: list[Op]) -> list[IpvsError]:
        job = kernel.apply_batch if len(ops) >= self._batch_threshold else _apply_all
        results = await self.call(job, ops)
        now = time.time()
        errors = []
        for op, err in zip(ops, results, strict=True):
            self.ops_log.append(OpRecord(now, op, None if err is None else str(err)))
            fields = {"service": str(op.service.key)}
            if op.dest is not None:
                fields.update(dest=str(op.dest.key), weight=op.dest.weight,
                              fwd=op.dest.fwd.name)
            if err is None:
                log.info("ipvs_" + str(op.kind), **fields)
            else:
                log.warning("ipvs_" + str(op.kind) + "_failed", error=str(err), **fields)
                errors.append(err)
        return errors

    async def _reconcile_side_state(self) -> list[str]:
        errors: list[str] = []
        if self.timeouts is not None:
            try:
                errors += await self._reconcile_timeouts(self.timeouts)
            except IpvsUnavailable:
                raise
            except IpvsError as exc:
                errors.append(str(exc))
        if self.sync_daemons is not None:
            try:
                errors += await self._reconcile_sync(self.sync_daemons)
            except IpvsUnavailable:
                raise
            except IpvsError as exc:
                errors.append(str(exc))
        return errors

    async def _reconcile_timeouts(self, want: Timeouts) -> list[str]:
        have = await self.call(kernel.get_timeouts)
        differs = any(
            getattr(want, name) and getattr(want, name) != getattr(have, name)
            for name in ("tcp", "tcpfin", "udp")
        )
        if differs:
            await self.call(kernel.set_timeouts, want)
            log.info("ipvs_set_timeouts", tcp=want.tcp, tcpfin=want.tcpfin, udp=want.udp)
        return []

    async def _reconcile_sync(self, want: tuple[SyncDaemonConfig, ...]) -> list[str]:
        have = await self.call(kernel.get_sync_daemons)
        wanted = {d.state: d for d in want}
        running = {d.state: d for d in have}
        for state, daemon in running.items():
            target = wanted.get(state)
            if target is None or (target.interface, target.syncid) != (
                daemon.interface, daemon.syncid
            ):
                await self.call(kernel.stop_sync_daemon, state)
                log.info("ipvs_sync_daemon_stopped", state=state.name.lower())
        for state, daemon in wanted.items():
            current = running.get(state)
            if current is not None and (current.interface, current.syncid) == (
                daemon.interface, daemon.syncid
            ):
                continue
            await self.call(kernel.start_sync_daemon, daemon)
            log.info("ipvs_sync_daemon_started", state=state.name.lower(),
                     interface=daemon.interface, syncid=daemon.syncid)
        return []

    def _report_foreign(self, foreign: list[ServiceKey]) -> None:
        if foreign != self.foreign:
            for key in set(foreign) - set(self.foreign):
                log.info("ipvs_foreign_service", service=str(key),
                         detail="not in the config; left untouched")
        self.foreign = foreign

    # -- run loop --------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Reconcile on every request; while IPVS is unavailable, retry with exponential
        back-off (a request retries at once). With `recheck_interval`, also re-check
        periodically so manual edits of owned services are undone."""
        task_status.started()
        try:
            while True:
                self._wakeup = trio.Event()
                delay = self._recheck_interval or math.inf
                try:
                    await self.reconcile()
                    self._retry_delay = self._retry_initial
                except IpvsUnavailable:
                    delay = self._retry_delay
                    self._retry_delay = min(self._retry_delay * 2, self._retry_max)
                except IpvsError as exc:  # a dump failed: try again later
                    self.state = "error"
                    self.error = str(exc)
                    log.warning("ipvs_reconcile_failed", error=str(exc))
                    delay = self._retry_delay
                    self._retry_delay = min(self._retry_delay * 2, self._retry_max)
                    self._first_pass.set()
                with trio.move_on_after(delay):
                    await self._wakeup.wait()
        finally:
            self.close()

    # -- reporting -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The `ipvs` section of the daemon's state dump."""
        return {
            "status": self.state,
            "error": self.error,
            "desired_services": [str(s.key) for s in self.desired],
            "foreign_services": [str(k) for k in self.foreign],
            "reconciles": self.reconcile_count,
            "last_reconcile_at": self.last_reconcile_at,
            "recent_ops": [r.as_dict() for r in list(self.ops_log)[-20:]],
        }
