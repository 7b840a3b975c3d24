"""The health engine: one trio task per distinct check, shared by every real server entry
(virtual server × real server) that lists it.

The plan maps a server key, `ServerKey(service, dest)`, to the checks of that real server in
that service. Equal `CheckSpec`s are probed once per delay_loop whatever the number of
virtual servers listing them. First probes are spread over the delay_loop (a hash of the
spec, so the spread is stable across restarts and reloads) or, with `warmup`, delayed by a
random time up to it. `on_change(key, ServerHealth)` is called when a server's up/down or
dynamic weight changes; `health(service, dest)` is the view the IPVS desired table reads.
"""

from __future__ import annotations

import math
import random
import time
import zlib
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING

import structlog
import trio

from haipvs.health.probes import ProbeRunner, run_probe
from haipvs.health.spec import CheckSpec, HttpProbe, TcpProbe
from haipvs.health.state import CheckResult, CheckState, ServerHealth, aggregate
from haipvs.health.tcpbatch import TcpBatchScheduler, TcpJob
from haipvs.ipvs.desired import UP, RealServerHealth, ServerKey, shared_health

if TYPE_CHECKING:  # imported with the first plain HTTP_GET check (_http_batch)
    from haipvs.health.httpbatch import HttpBatchScheduler, HttpJob
    from haipvs.health.spec import Probe  # annotations only (spec.py)

log = structlog.get_logger("haipvs.health")

# Probes bound their own time; this is the safety net above it.
HARD_TIMEOUT_GRACE = 1.0
# Wake-ups are rounded up to this grid so that checkers due at about the same time run in the
# same pass of the trio loop: at 10k checks/s the per-wake-up loop cost dominates otherwise.
TICK = 0.01


HealthPlan = Mapping[ServerKey, Sequence[CheckSpec]]
ChangeCallback = Callable[[ServerKey, ServerHealth], None]


def _httpbatch() -> ModuleType:
    """haipvs/health/httpbatch.py, imported with the first HTTP_GET or SSL_GET check (issue
    18: a config without one never loads it)."""
    from haipvs.health import httpbatch

    return httpbatch


class _Checker:
    # One per check, often one per real server: what only some checkers need is created
    # when needed (issue 18: a CancelScope and an Event were ~400 bytes per real server).
    __slots__ = ("job", "paused", "resumed", "scope", "servers", "spec", "state")

    def __init__(self, spec: CheckSpec, now: float) -> None:
        self.spec = spec
        self.state = CheckState(spec.timing, now)
        # iterated only (keys_of): the one server's key itself, the common case, or a tuple
        # of several; a tuple of one is 48 bytes, a frozenset 216
        self.servers: ServerKey | tuple[ServerKey, ...] = ()
        self.scope: trio.CancelScope | None = None  # set when a check loop task runs it
        self.paused = False
        self.resumed: trio.Event | None = None  # set when a check loop's checker pauses
        self.job: TcpJob | HttpJob | None = None  # set when a batch scheduler runs it


def keys_of(checker: _Checker) -> tuple[ServerKey, ...]:
    servers = checker.servers
    return (servers,) if type(servers) is ServerKey else servers  # type: ignore[return-value]


class _Server:
    __slots__ = ("checkers", "health", "key", "view")

    # `checkers`: the one checker itself, the common case, or a tuple of several (checkers_of)
    def __init__(self, key: ServerKey, checkers: _Checker | tuple[_Checker, ...],
                 health: ServerHealth):
        self.key = key
        self.checkers = checkers
        self.health = health
        self.view = _view(health)


def _view(health: ServerHealth) -> RealServerHealth:
    if health.up and health.weight is None:
        return UP
    return shared_health(health.up, health.weight, health.reason)


def checkers_of(server: _Server) -> tuple[_Checker, ...]:
    checkers = server.checkers
    return (checkers,) if type(checkers) is _Checker else checkers  # type: ignore[return-value]


def _checker_states(checkers: Iterable[_Checker]) -> Iterable[tuple[str, CheckState]]:
    return ((checker.spec.probe.kind, checker.state) for checker in checkers)


class HealthEngine:
    """Run with `await nursery.start(engine.run)`; then `health()` answers for every server
    in the plan (servers not in the plan, or without checks, are up).

    `probe_runner(probe) -> CheckResult` runs one attempt of any probe; leave it out to probe
    the network (run_probe, TCP batched)."""

    def __init__(
        self,
        plan: HealthPlan,
        on_change: ChangeCallback | None = None,
        *,
        on_first_down: ChangeCallback | None = None,
        probe_runner: ProbeRunner | None = None,
        rng: random.Random | None = None,
        max_spread: float | None = None,
    ) -> None:
        # The plan until _apply has taken it; then the servers' checkers are the plan (a
        # second dict and tuple per real server otherwise, issue 18).
        self._plan: dict[ServerKey, tuple[CheckSpec, ...]] | None = _normalize(plan)
        self._on_change = on_change
        self._on_first_down = on_first_down  # see _settled_down
        # Probing is an explicit dependency. Without a runner the engine probes the network
        # itself: TCP and plain HTTP checks through the batch schedulers (tcpbatch.py,
        # httpbatch.py: many non-blocking sockets in one task each, what 10k checks/s
        # needs), every other kind through run_probe. A given runner (fakes in tests) runs
        # every probe, TCP and HTTP ones included.
        self._run_probe: ProbeRunner = run_probe if probe_runner is None else probe_runner
        self._batched = probe_runner is None
        self._rng = rng if rng is not None else random.Random()
        self._max_spread = max_spread
        self._checkers: dict[CheckSpec, _Checker] = {}
        self._servers: dict[ServerKey, _Server] = {}
        self._paused: set[ServerKey] = set()
        self._nursery: trio.Nursery | None = None
        self._tcp: TcpBatchScheduler | None = None
        self._http: HttpBatchScheduler | None = None  # plain HTTP_GET (httpbatch.py)

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self._batched:
                self._tcp = TcpBatchScheduler(self._batch_finished)
                nursery.start_soon(self._tcp.run)
            try:
                self._apply(trio.current_time())
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._nursery = None
                self._tcp = None
                self._http = None

    def update(self, plan: HealthPlan) -> None:
        """Replace the plan (reload). Checks whose spec is unchanged keep their state and
        timers; removed ones are cancelled; new ones start with a spread first delay."""
        self._plan = _normalize(plan)
        if self._nursery is not None:
            self._apply(trio.current_time())

    def _keys(self) -> Mapping[ServerKey, object]:
        """The servers of the plan: the one not applied yet, else the running one."""
        return self._plan if self._plan is not None else self._servers

    # -- ha_suspend ------------------------------------------------------------------------

    def pause(self, keys: Iterable[ServerKey]) -> None:
        """Stop probing for these servers. A check shared with a server that is not paused
        keeps running. Health stays at its last value while paused."""
        planned = self._keys()
        self._paused.update(key for key in keys if key in planned)
        self._refresh_pauses()

    def resume(self, keys: Iterable[ServerKey]) -> None:
        self._paused.difference_update(keys)
        self._refresh_pauses()

    def pause_services(self, services: Iterable[Hashable], paused: bool = True) -> None:
        """Pause (or resume) every server of the given services."""
        wanted = set(services)
        keys = [key for key in self._keys() if key.service in wanted]
        if paused:
            self.pause(keys)
        else:
            self.resume(keys)

    # -- views -----------------------------------------------------------------------------

    def health(self, service: Hashable, dest: Hashable) -> RealServerHealth:
        """The IPVS HealthView: up/down and dynamic weight of `dest` in `service`."""
        server = self._servers.get((service, dest))  # type: ignore[call-overload]
        return UP if server is None else server.view

    def server_health(self, key: ServerKey) -> ServerHealth | None:
        server = self._servers.get(key)
        return None if server is None else server.health

    @property
    def checker_count(self) -> int:
        return len(self._checkers)

    def snapshot(self) -> list[dict]:
        """JSON-ready state of every server and its checks (for the state dump). Times are
        wall-clock (Unix) seconds: they are read by people and other programs."""
        to_wall = _wall_clock_converter()
        return [self._describe(key, server, to_wall) for key, server in self._servers.items()]

    def snapshot_of(self, key: ServerKey) -> dict | None:
        server = self._servers.get(key)
        return None if server is None else self._describe(key, server, _wall_clock_converter())

    def _describe(
        self, key: ServerKey, server: _Server, to_wall: Callable[[float | None], float | None]
    ) -> dict:
        # Transitions alone update server.health; the reason shown is the live one (the
        # last result of each check), so an up server does not say "not checked yet".
        live = aggregate(_checker_states(checkers_of(server)), server.health,
                         server.health.since)
        checks = []
        for checker in checkers_of(server):
            state = checker.state.as_dict()
            state["last_checked"] = to_wall(state["last_checked"])
            state["last_transition"] = to_wall(state["last_transition"])
            checks.append({"check": checker.spec.describe(), "paused": checker.paused, **state})
        return {
            "service": str(key.service),
            "real_server": str(key.dest),
            "up": server.health.up,
            "weight": server.health.weight,
            "reason": live.reason if live.up == server.health.up else server.health.reason,
            "since": to_wall(server.health.since),
            "paused": key in self._paused,
            "checks": checks,
        }

    # -- internals -------------------------------------------------------------------------

    def _apply(self, now: float) -> None:
        plan, self._plan = self._plan, None
        if plan is None:  # applied already
            return
        wanted: dict[CheckSpec, set[ServerKey]] = {}
        for key, specs in plan.items():
            for spec in specs:
                wanted.setdefault(spec, set()).add(key)
        for spec in [spec for spec in self._checkers if spec not in wanted]:
            gone = self._checkers.pop(spec)
            if gone.scope is not None:
                gone.scope.cancel()
            if gone.job is not None:
                gone.job.active = False
        assert self._nursery is not None
        for spec, keys in wanted.items():
            checker = self._checkers.get(spec)
            if checker is None:
                checker = self._checkers[spec] = _Checker(spec, now)
                self._start(checker, now)
            checker.servers = next(iter(keys)) if len(keys) == 1 else tuple(keys)
        previous_servers = self._servers
        self._servers = {}
        # Servers added in one pass share their equal start healths (one object each, issue 18)
        started: dict[ServerHealth, ServerHealth] = {}
        for key, specs in plan.items():
            checkers = tuple(self._checkers[spec] for spec in specs)
            previous = previous_servers.get(key)
            health = aggregate(_checker_states(checkers),
                               previous.health if previous else None, now)
            health = started.setdefault(health, health)
            self._servers[key] = _Server(key, checkers[0] if len(checkers) == 1 else checkers,
                                         health)
            before = previous.view if previous is not None else UP
            if (before.up, before.weight) != (health.up, health.weight):
                self._notify(key, health, before.up)
        self._paused.intersection_update(plan)
        self._refresh_pauses()

    def _start(self, checker: _Checker, now: float) -> None:
        first = _on_tick(now + self._first_delay(checker.spec))
        probe = checker.spec.probe
        if self._tcp is not None and type(probe) is TcpProbe:
            checker.job = TcpJob(probe, checker)
            self._tcp.schedule(checker.job, first)
        elif self._batched and isinstance(probe, HttpProbe) and _httpbatch().batchable(probe):
            checker.job = _httpbatch().HttpJob(probe, checker)
            self._http_batch().schedule(checker.job, first)
        else:
            assert self._nursery is not None
            checker.scope = trio.CancelScope()
            self._nursery.start_soon(self._check_loop, checker, first)

    def _http_batch(self) -> HttpBatchScheduler:
        """The plain HTTP_GET scheduler, started with the first such check."""
        if self._http is None:
            assert self._nursery is not None
            self._http = _httpbatch().HttpBatchScheduler(self._batch_finished)
            self._nursery.start_soon(self._http.run)
        return self._http

    def _batch_finished(self, job: TcpJob | HttpJob, result: CheckResult, now: float) -> float:
        checker: _Checker = job.owner
        changed, delay = checker.state.record(now, result)
        self._recorded(checker, now, changed)
        return _next_run(job.planned, now, result.ok, delay)

    def _first_delay(self, spec: CheckSpec) -> float:
        timing = spec.timing
        if timing.warmup is not None:
            # keepalived check_api.c register_checkers_thread(): warmup * random() / RAND_MAX;
            # `warmup 0` means the first check at once, not the spread below.
            return self._rng.uniform(0.0, timing.warmup)
        window = timing.delay_loop
        if self._max_spread is not None:
            window = min(window, self._max_spread)
        # Stable per spec: the same check lands at the same offset after a restart.
        return window * (zlib.crc32(repr(spec).encode()) / 0x1_0000_0000)

    def _refresh_pauses(self) -> None:
        paused = self._paused
        resumed_jobs = False
        for checker in self._checkers.values():
            now_paused = bool(paused) and all(key in paused for key in keys_of(checker))
            if now_paused == checker.paused:
                continue
            checker.paused = now_paused
            if checker.job is not None:
                checker.job.paused = now_paused
                resumed_jobs |= not now_paused
            elif now_paused:
                checker.resumed = trio.Event()
            elif checker.resumed is not None:
                checker.resumed.set()
        if resumed_jobs:
            for batch in (self._tcp, self._http):
                if batch is not None:
                    batch.unpark(trio.current_time())

    async def _check_loop(self, checker: _Checker, first_run: float) -> None:
        assert checker.scope is not None
        with checker.scope:
            await trio.sleep_until(first_run)
            planned = first_run
            state = checker.state
            probe = checker.spec.probe
            while True:
                while checker.paused:
                    assert checker.resumed is not None  # _refresh_pauses made it
                    await checker.resumed.wait()
                try:
                    result = await self._attempt(probe)
                except Exception as exc:  # a probe bug must not stop the engine
                    result = _probe_error(probe, exc)
                now = trio.current_time()
                changed, delay = state.record(now, result)
                self._recorded(checker, now, changed)
                planned = _next_run(planned, now, result.ok, delay)
                await trio.sleep_until(planned)

    async def _attempt(self, probe: Probe) -> CheckResult:
        limit = probe.timeout + HARD_TIMEOUT_GRACE
        with trio.move_on_after(limit):
            return await self._run_probe(probe)
        return CheckResult(False, f"hard timeout after {limit:g}s", limit)

    def _recorded(self, checker: _Checker, now: float, changed: bool) -> None:
        if changed:
            self._checker_changed(checker, now)
        elif (checker.state.just_settled and not checker.state.up
              and checker.spec.timing.tells_first_failure):
            self._settled_down(checker, now)

    def _settled_down(self, checker: _Checker, now: float) -> None:
        """An alpha checker's first evaluation failed: it started down and stays down, so
        nothing changed, yet keepalived tells it (ipwrapper.c update_svr_checker_state:
        `checker->is_up == alive && !checker->has_run && (alpha || !alive)` ->
        do_rs_notifies: the RS line and notify_down), where the checker kind does
        (Timing.tells_first_failure). Told for each of its servers that is down."""
        if self._on_first_down is None:
            return
        for key in keys_of(checker):
            server = self._servers.get(key)
            if server is None or server.health.up:
                continue
            # still down; the reason is now the check's, no longer "not checked yet"
            server.health = aggregate(_checker_states(checkers_of(server)), server.health, now)
            server.view = _view(server.health)
            try:
                self._on_first_down(key, server.health)
            except Exception:
                log.exception("health on_first_down callback failed", real_server=str(key.dest))

    def _checker_changed(self, checker: _Checker, now: float) -> None:
        state = checker.state
        log.debug("check " + ("up" if state.up else "down"), check=checker.spec.describe(),
                  reason=state.last_reason, weight=state.weight)
        for key in keys_of(checker):
            server = self._servers.get(key)
            if server is None:
                continue
            before = server.health
            health = aggregate(_checker_states(checkers_of(server)), before, now)
            if (before.up, before.weight) == (health.up, health.weight):
                continue
            server.health = health
            server.view = _view(health)
            self._notify(key, health, before.up)

    def _notify(self, key: ServerKey, health: ServerHealth, was_up: bool) -> None:
        if health.up != was_up:
            log.info("real server " + ("up" if health.up else "down"), service=str(key.service),
                     real_server=str(key.dest), reason=health.reason)
        else:
            log.info("real server weight", service=str(key.service), real_server=str(key.dest),
                     weight=health.weight, reason=health.reason)
        if self._on_change is None:
            return
        try:
            self._on_change(key, health)
        except Exception:
            log.exception("health on_change callback failed", real_server=str(key.dest))


def _wall_clock_converter() -> Callable[[float | None], float | None]:
    """Maps trio clock readings to Unix time (identity outside a trio run)."""
    try:
        offset = time.time() - trio.current_time()
    except RuntimeError:
        offset = 0.0

    def convert(value: float | None) -> float | None:
        return None if value is None else round(value + offset, 6)

    return convert


def _on_tick(deadline: float) -> float:
    return math.ceil(deadline / TICK) * TICK


def _next_run(planned: float, now: float, ok: bool, delay: float) -> float:
    """When to probe again, given when this probe was planned to start.

    A passing check keeps its own phase: the next period after `planned` that is still
    ahead (missed periods are skipped). "Finish + delay" would merge every check that a
    stall (a dump, a reload, a busy CPU) made finish together, for good: at 5,000 checks/s
    the probes ended up in two bursts per delay_loop and each round took delay_loop plus the
    burst's own time. A failing check waits `delay` (delay_before_retry or delay_loop) from
    now, as keepalived does.
    """
    if not ok or delay <= 0:
        return _on_tick(now + delay)
    periods = math.floor((now - planned) / delay) + 1
    # `planned` is on the grid; round (not ceil) so float error cannot shift the phase.
    return round((planned + max(periods, 1) * delay) / TICK) * TICK


def _probe_error(probe: Probe, exc: Exception) -> CheckResult:
    log.debug("probe error", probe=repr(probe), error=repr(exc))
    return CheckResult(False, f"probe error: {type(exc).__name__}: {exc}")


def _normalize(plan: HealthPlan) -> dict[ServerKey, tuple[CheckSpec, ...]]:
    # A spec listed twice on one server is one check. The plan's own keys are kept when they
    # are ServerKeys already (specs_from_config's are the config's shared ones).
    return {key if type(key) is ServerKey else ServerKey(*key): _unique(specs)
            for key, specs in plan.items()}


def _unique(specs: Sequence[CheckSpec]) -> tuple[CheckSpec, ...]:
    if type(specs) is tuple and len(specs) == 1:
        return specs
    return tuple(dict.fromkeys(specs))
