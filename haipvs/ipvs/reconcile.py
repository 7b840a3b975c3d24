"""Desired-vs-kernel IPVS reconciliation: the driver.

`Reconciler` owns the IPVS owner thread and its one backend (haipvs/ipvs/netlink.py, behind
haipvs/ipvs/backend.py's IpvsBackend) and runs dump -> plan -> apply whenever asked,
retrying with back-off while IPVS is unavailable. What to change is decided by the pure
`plan` (haipvs/ipvs/planner.py); this module only does the I/O and the logging.
"""

from __future__ import annotations

import math
import operator
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import structlog
import trio

from haipvs.dataclass_lean import dataclass
from haipvs.drivers.netlink_thread import NetlinkThread
from haipvs.ipvs.backend import IpvsBackend, NetlinkTransport
from haipvs.ipvs.errors import IpvsError, IpvsExists, IpvsMissing, IpvsUnavailable
from haipvs.ipvs.flush import flush_ops
from haipvs.ipvs.model import IpvsTable, ServiceKey, SyncDaemonConfig, Timeouts
from haipvs.ipvs.netlink import BATCH_WINDOW, NetlinkIpvs
from haipvs.ipvs.ops import Op, SideOp, StartSyncDaemon, StopSyncDaemon
from haipvs.ipvs.ownership import OwnershipLedger
from haipvs.ipvs.planner import Plan, plan, plan_sync_daemons, plan_timeouts

log = structlog.get_logger("haipvs.ipvs")

__all__ = ["OpRecord", "Plan", "Reconciler", "plan"]

_dump = operator.methodcaller("dump")
_get_timeouts = operator.methodcaller("get_timeouts")
_get_sync_daemons = operator.methodcaller("get_sync_daemons")


def _apply(backend: IpvsBackend, ops: list[Op], window: int) -> list[IpvsError | None]:
    return backend.apply(ops, window)


def _apply_side(backend: IpvsBackend, op: SideOp) -> None:
    backend.apply_side(op)


@dataclass(frozen=True)
class OpRecord:
    at: float  # time.time()
    op: Op
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "op": str(self.op), "kind": str(self.op.kind),
                "error": self.error}


class Reconciler:
    """Keeps the kernel IPVS table equal to the desired table for the services it owns.

    States: "starting" (nothing tried yet), "ok" (last reconcile converged), "error" (some op
    was refused; the message says which), "unavailable" (no IPVS in the kernel; the desired
    table is kept and retried with back-off, or at once on `request()`).

    The backend (one NetlinkIpvs) is built inside the owner thread and opens its socket there.
    `transport_factory` opens its netlink transport (default: a NETLINK_GENERIC socket in
    `netns`); tests pass the fake kernel.
    """

    def __init__(
        self,
        *,
        netns: str | None = None,
        transport_factory: Callable[[], NetlinkTransport] | None = None,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        ops_log_size: int = 1000,
        batch_threshold: int = 200,
        recheck_interval: float | None = None,
        ownership: OwnershipLedger | None = None,
        flush_at_start: bool = False,
    ) -> None:
        self._backend_factory = lambda: NetlinkIpvs(transport_factory, netns)
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
        # global.lvs_flush: delete the owned services once, before the first pass that
        # reaches the kernel (haipvs/ipvs/flush.py); reloads reuse this object, so never again.
        self._flush_pending = flush_at_start
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
        self.released = False  # release() ran: the desired table is frozen

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
        if self.released:
            return  # the daemon is stopping: nothing may add back what release() removed
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

    async def release(self, *, keep_services: bool) -> None:
        """The graceful stop's IPVS half, as keepalived's checker does on stop
        (check/check_daemon.c `checker_terminate_phase1` -> ipwrapper.c `clear_services`,
        skipped under `-I`; `checker_terminate_phase2` stops the sync daemons either way):
        delete every service this director owns (never a foreign one) unless
        `keep_services`, and stop the sync daemons it runs. One pass, then the desired table
        is frozen; the ledger ends up naming what is left, so a later start adopts it."""
        self.released = True
        if not keep_services:
            self.desired = IpvsTable()
        self.timeouts = None  # kernel-wide timeouts stay as they are, as in keepalived
        if self.sync_daemons is not None:
            self.sync_daemons = ()
        elif keep_services:
            return  # nothing to change in the kernel
        try:
            await self.reconcile()
        except IpvsError as exc:  # unavailable included: the stop goes on regardless
            log.warning("ipvs_release_failed", error=str(exc))

    # -- netlink thread --------------------------------------------------------------

    def _ensure_thread(self) -> NetlinkThread:
        """The owner thread, started once and kept (also while IPVS is unavailable: its
        backend's one socket then serves the family probe, so retries allocate nothing)."""
        with self._thread_lock:
            if self._thread is None:
                thread = NetlinkThread(self._backend_factory, name="ipvs-netlink")
                thread.start()  # the factory only builds the object; no I/O yet
                self._thread = thread
            return self._thread

    def close(self) -> None:
        with self._thread_lock:
            if self._thread is not None:
                self._thread.close()  # closes the backend (and its socket) in its thread
                self._thread = None

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(backend, *args)` in the IPVS owner thread (status queries, tests)."""
        return await self._ensure_thread().call(fn, *args)

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

    async def _reconcile_locked(self) -> Plan:
        desired = self.desired
        if not self._ledger_loaded:
            assert self._ledger is not None
            self.owned |= await trio.to_thread.run_sync(self._ledger.load)
            self._ledger_loaded = True
        if self._flush_pending:
            await self._flush_owned()
        first_plan: Plan | None = None
        errors: list[IpvsError] = []
        for attempt in range(2):
            actual = await self.call(_dump)
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
            self.observed = await self.call(_dump)
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

    async def _flush_owned(self) -> None:
        """global.lvs_flush at start: every owned service out, so the pass below adds the
        configured ones afresh. A refused delete is logged; the pass then corrects the
        service in place instead, so nothing is left half-flushed without a report."""
        ops = flush_ops(await self.call(_dump), self.owned)
        errors = [e for e in await self._apply(ops) if not isinstance(e, IpvsMissing)]
        self._flush_pending = False
        log.info("ipvs_flushed_owned_at_start", services=len(ops), refused=len(errors))
        for error in errors:
            log.error("ipvs_flush_refused", error=str(error))

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
        # One request per op (each waits for its ACK) for ordinary changes; big ones (a
        # start with thousands of destinations) go BATCH_WINDOW messages per write.
        window = BATCH_WINDOW if len(ops) >= self._batch_threshold else 1
        results = await self.call(_apply, ops, window)
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
        op = plan_timeouts(want, await self.call(_get_timeouts))
        if op is not None:
            await self.call(_apply_side, op)
            log.info("ipvs_set_timeouts", tcp=want.tcp, tcpfin=want.tcpfin, udp=want.udp)
        return []

    async def _reconcile_sync(self, want: tuple[SyncDaemonConfig, ...]) -> list[str]:
        for op in plan_sync_daemons(want, await self.call(_get_sync_daemons)):
            await self.call(_apply_side, op)
            if isinstance(op, StopSyncDaemon):
                log.info("ipvs_sync_daemon_stopped", state=op.state.name.lower())
            elif isinstance(op, StartSyncDaemon):
                daemon = op.config
                log.info("ipvs_sync_daemon_started", state=daemon.state.name.lower(),
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
