"""When a bgp-mode VIP is announced (issue 17, "Health -> announce", "Drain and stop").

keepalived has no counterpart: this follows issue 17's design. A VIP is *fit* while every
virtual service on it has a live real server or its quorum (`ServiceHealth`), its IPVS
services are present and the uplink is up (`OwnChecks`). An *evaluation* of a VIP happens on
every change of its fitness and every `SCALE_OUT_EVALUATE_INTERVAL` seconds; `rise` fit
evaluations in a row announce it, `fall` unfit ones withdraw it. A withdrawn VIP is announced
again only once it has been fit for `hold_down` seconds without a break (every unfit
evaluation while held restarts the hold-down), so a flapping check gives at most one update per
hold_down. The first announce after start is not held down, and neither is an undrain (an
operator's decision).

Drain (`haipvs drain`, and every VIP on stop) withdraws at once, or with `graceful_shutdown`
first re-announces the route marked for RFC 8326's GRACEFUL_SHUTDOWN and withdraws once the
traffic is gone; then it waits for the VIP's active connections to reach 0 (`ActiveConns`)
or `drain_timeout`, and says `DrainDone`.

Driven as `AnnouncePolicy.handle(now, input) -> outputs`, time passed in, no I/O; the driver
is haipvs/daemon_scale_out.py. Like h11's _state.py each VIP is in one named `Phase`, and
every transition is one named entry of `TRANSITIONS` (what the dump and the logs show).
"""

from __future__ import annotations

import enum
import ipaddress
import math
from dataclasses import field

from haipvs import limits
from haipvs.dataclass_lean import dataclass

Vip = ipaddress.IPv4Address | ipaddress.IPv6Address


class Phase(enum.Enum):
    IDLE = "idle"  # not announced; announced after `rise` fit evaluations
    ANNOUNCED = "announced"
    HELD = "held"  # withdrawn for unfitness: hold-down before the next announce
    DRAINING = "draining"  # withdrawn (or marked) by drain/stop: waiting for connections
    DRAINED = "drained"  # drain done: withdrawn until undrain

    def __str__(self) -> str:
        return self.value


# Every transition: name -> (from, to, why). `Transition.name` in the outputs is one of these.
TRANSITIONS: dict[str, tuple[tuple[Phase, ...], Phase, str]] = {
    "rise_reached": ((Phase.IDLE,), Phase.ANNOUNCED, "rise fit evaluations in a row"),
    "adopted": ((Phase.IDLE,), Phase.ANNOUNCED,
                "its route was found in the table at start (a restart changes nothing)"),
    "fall_reached": ((Phase.ANNOUNCED,), Phase.HELD, "fall unfit evaluations in a row"),
    "hold_down_over": ((Phase.HELD,), Phase.ANNOUNCED,
                       "fit for hold_down without a break, and rise evaluations"),
    "drain": ((Phase.IDLE, Phase.ANNOUNCED, Phase.HELD), Phase.DRAINING,
              "haipvs drain, or stop: withdrawn at once (graceful_shutdown: marked first)"),
    "drain_done": ((Phase.DRAINING,), Phase.DRAINED,
                   "active connections reached 0, or drain_timeout passed"),
    "undrain": ((Phase.DRAINING, Phase.DRAINED), Phase.IDLE,
                "haipvs undrain: announced as soon as it is fit, no hold-down"),
}


@dataclass(frozen=True)
class Settings:
    rise: int = limits.SCALE_OUT_DEFAULT_RISE
    fall: int = limits.SCALE_OUT_DEFAULT_FALL
    hold_down: float = limits.SCALE_OUT_DEFAULT_HOLD_DOWN
    drain_timeout: float = limits.SCALE_OUT_DEFAULT_DRAIN_TIMEOUT
    graceful_shutdown: bool = False
    evaluate_interval: float = limits.SCALE_OUT_EVALUATE_INTERVAL


# ---- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceHealth:
    """Every virtual service on `vip` has a live real server (or meets its quorum)."""

    vip: Vip
    healthy: bool


@dataclass(frozen=True)
class OwnChecks:
    """This director's own checks for `vip`: its IPVS services present, the uplink up."""

    vip: Vip
    ipvs_present: bool
    uplink_up: bool


@dataclass(frozen=True)
class Adopted:
    """At start the VIP's route was already in the table (left by the last run)."""

    vip: Vip
    metric: int


@dataclass(frozen=True)
class ActiveConns:
    vip: Vip
    count: int


@dataclass(frozen=True)
class Drain:
    vip: Vip | None = None  # None: every VIP


@dataclass(frozen=True)
class Undrain:
    vip: Vip | None = None  # None: every VIP


@dataclass(frozen=True)
class Stop:
    """Drain every VIP; nothing is announced again."""


@dataclass(frozen=True)
class Tick:
    """Time passed (the driver wakes at the last TimerAt)."""


@dataclass(frozen=True)
class Reconfigure:
    """A reload: the VIPs (with their metrics) and settings now in force. A VIP no longer
    listed is withdrawn, a new one starts IDLE, a new metric is announced at once."""

    metrics: tuple[tuple[Vip, int], ...]
    settings: Settings


Input = (ServiceHealth | OwnChecks | Adopted | ActiveConns | Drain | Undrain | Stop | Tick
         | Reconfigure)


# ---- outputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Announce:
    vip: Vip
    metric: int
    graceful_shutdown: bool = False  # the route marked for the GRACEFUL_SHUTDOWN community


@dataclass(frozen=True)
class Withdraw:
    vip: Vip


@dataclass(frozen=True)
class DrainDone:
    vip: Vip


@dataclass(frozen=True)
class TimerAt:
    at: float


@dataclass(frozen=True)
class Transition:
    """For the logs and the dump: `vip` took TRANSITIONS[name]."""

    vip: Vip
    name: str
    before: Phase
    after: Phase


Output = Announce | Withdraw | DrainDone | TimerAt | Transition


@dataclass
class VipState:
    metric: int
    phase: Phase = Phase.IDLE
    healthy: bool | None = None  # None until the first input: no evaluation before
    ipvs_present: bool | None = None
    uplink_up: bool | None = None
    streak_fit: bool | None = None
    streak: int = 0  # evaluations in a row with fitness streak_fit
    last_evaluation: float | None = None
    held_until: float = 0.0
    drain_deadline: float = 0.0
    marked: bool = False  # announced with the GRACEFUL_SHUTDOWN mark
    conns: int | None = None  # active connections, last reported
    announced_metric: int | None = field(default=None)

    @property
    def fit(self) -> bool | None:
        parts = (self.healthy, self.ipvs_present, self.uplink_up)
        return None if None in parts else all(parts)

    @property
    def announced(self) -> bool:
        return self.announced_metric is not None


class AnnouncePolicy:
    def __init__(self, metrics: dict[Vip, int], settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.vips: dict[Vip, VipState] = {vip: VipState(metric) for vip, metric in
                                          metrics.items()}
        self.stopping = False

    @property
    def all_drained(self) -> bool:
        return all(state.phase is Phase.DRAINED for state in self.vips.values())

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Each VIP's announce state, for the state dump."""
        return {str(vip): {"phase": str(s.phase), "announced": s.announced, "metric": s.metric,
                           "fit": s.fit, "healthy": s.healthy, "ipvs_present": s.ipvs_present,
                           "uplink_up": s.uplink_up, "streak": s.streak,
                           "held_until": s.held_until if s.phase is Phase.HELD else None,
                           "active_conns": s.conns, "graceful_shutdown_marked": s.marked}
                for vip, s in self.vips.items()}

    def handle(self, now: float, item: Input) -> list[Output]:
        out: list[Output] = []
        match item:
            case ServiceHealth(vip, healthy):
                self._inputs(now, vip, out, healthy=healthy)
            case OwnChecks(vip, ipvs_present, uplink_up):
                self._inputs(now, vip, out, ipvs_present=ipvs_present, uplink_up=uplink_up)
            case Adopted(vip, metric):
                self._adopt(vip, metric, out)
            case ActiveConns(vip, count):
                state = self.vips.get(vip)
                if state is not None:
                    state.conns = count
                    if state.phase is Phase.DRAINING and count == 0:
                        self._drain_done(vip, state, out)
            case Drain(vip):
                for target in self._targets(vip):
                    self._drain(now, target, out)
            case Undrain(vip):
                if not self.stopping:
                    for target in self._targets(vip):
                        self._undrain(now, target, out)
            case Stop():
                self.stopping = True
                for target in list(self.vips):
                    self._drain(now, target, out)
            case Tick():
                self._tick(now, out)
            case Reconfigure(metrics, settings):
                self._reconfigure(now, dict(metrics), settings, out)
        out.append(TimerAt(self._next_deadline(now)))
        return out

    # ---- fitness and evaluations -------------------------------------------------------

    def _targets(self, vip: Vip | None) -> list[Vip]:
        if vip is None:
            return list(self.vips)
        return [vip] if vip in self.vips else []

    def _inputs(self, now: float, vip: Vip, out: list[Output], **values: bool) -> None:
        state = self.vips.get(vip)
        if state is None:
            return
        before = state.fit
        for name, value in values.items():
            setattr(state, name, value)
        if state.fit is not None and state.fit != before:
            self._evaluate(now, vip, state, out)

    def _tick(self, now: float, out: list[Output]) -> None:
        interval = self.settings.evaluate_interval
        for vip, state in self.vips.items():
            if state.phase is Phase.DRAINING and now >= state.drain_deadline:
                self._drain_done(vip, state, out)
            if state.fit is None:
                continue
            if state.last_evaluation is None or now >= state.last_evaluation + interval:
                self._evaluate(now, vip, state, out)
            elif state.phase is Phase.HELD:
                self._decide(now, vip, state, out)  # the hold-down may just have ended

    def _evaluate(self, now: float, vip: Vip, state: VipState, out: list[Output]) -> None:
        fit = state.fit
        if fit == state.streak_fit:
            state.streak += 1
        else:
            state.streak_fit, state.streak = fit, 1
        state.last_evaluation = now
        if not fit and state.phase is Phase.HELD:
            state.held_until = now + self.settings.hold_down  # a flap restarts the hold-down
        self._decide(now, vip, state, out)

    def _decide(self, now: float, vip: Vip, state: VipState, out: list[Output]) -> None:
        settings = self.settings
        if self.stopping:
            return
        fit_enough = state.streak_fit is True and state.streak >= settings.rise
        if state.phase is Phase.IDLE and fit_enough:
            self._announce(vip, state, out)
            self._move(vip, state, "rise_reached", out)
        elif state.phase is Phase.HELD and fit_enough and now >= state.held_until:
            self._announce(vip, state, out)
            self._move(vip, state, "hold_down_over", out)
        elif (state.phase is Phase.ANNOUNCED and state.streak_fit is False
              and state.streak >= settings.fall):
            self._withdraw(vip, state, out)
            state.held_until = now + settings.hold_down
            self._move(vip, state, "fall_reached", out)

    def _reconfigure(self, now: float, metrics: dict[Vip, int], settings: Settings,
                     out: list[Output]) -> None:
        self.settings = settings
        for vip in [vip for vip in self.vips if vip not in metrics]:
            state = self.vips.pop(vip)
            if state.announced:
                out.append(Withdraw(vip))
        for vip, metric in metrics.items():
            state = self.vips.setdefault(vip, VipState(metric))
            if state.metric != metric:
                state.metric = metric
                if state.phase is Phase.ANNOUNCED:
                    self._announce(vip, state, out)
            self._decide(now, vip, state, out)  # a lower rise may already be met

    # ---- drain -------------------------------------------------------------------------

    def _adopt(self, vip: Vip, metric: int, out: list[Output]) -> None:
        state = self.vips.get(vip)
        if state is None or state.phase is not Phase.IDLE:
            return
        state.announced_metric = metric
        if metric != state.metric:  # the config changed it since: say so to the routers
            self._announce(vip, state, out)
        self._move(vip, state, "adopted", out)

    def _drain(self, now: float, vip: Vip, out: list[Output]) -> None:
        state = self.vips[vip]
        if state.phase is Phase.DRAINED:
            out.append(DrainDone(vip))  # already drained: a stop need not wait for it
            return
        if state.phase is Phase.DRAINING:
            return
        if state.announced:
            if self.settings.graceful_shutdown:
                state.marked = True
                out.append(Announce(vip, state.announced_metric or state.metric, True))
            else:
                self._withdraw(vip, state, out)
        state.drain_deadline = now + self.settings.drain_timeout
        state.conns = None  # only a count taken after the withdraw ends the drain
        self._move(vip, state, "drain", out)

    def _drain_done(self, vip: Vip, state: VipState, out: list[Output]) -> None:
        if state.announced:  # graceful_shutdown: the traffic has gone, now the withdraw
            self._withdraw(vip, state, out)
        self._move(vip, state, "drain_done", out)
        out.append(DrainDone(vip))

    def _undrain(self, now: float, vip: Vip, out: list[Output]) -> None:
        state = self.vips[vip]
        if state.phase not in (Phase.DRAINING, Phase.DRAINED):
            return
        self._move(vip, state, "undrain", out)
        self._decide(now, vip, state, out)  # fit: announced plain (a marked route replaced)
        if state.phase is Phase.IDLE and state.announced:  # marked, and not fit: withdrawn
            self._withdraw(vip, state, out)

    # ---- effects -----------------------------------------------------------------------

    def _announce(self, vip: Vip, state: VipState, out: list[Output]) -> None:
        state.announced_metric = state.metric
        state.marked = False
        out.append(Announce(vip, state.metric))

    def _withdraw(self, vip: Vip, state: VipState, out: list[Output]) -> None:
        state.announced_metric = None
        state.marked = False
        out.append(Withdraw(vip))

    def _move(self, vip: Vip, state: VipState, name: str, out: list[Output]) -> None:
        sources, target, _why = TRANSITIONS[name]
        assert state.phase in sources, (name, state.phase)
        out.append(Transition(vip, name, state.phase, target))
        state.phase = target

    def _next_deadline(self, now: float) -> float:
        """The next moment a Tick can change something (a deadline already passed that did
        not, e.g. a hold-down over before rise is met, waits for the next evaluation)."""
        deadlines = [math.inf]
        for state in self.vips.values():
            if state.last_evaluation is not None:
                deadlines.append(state.last_evaluation + self.settings.evaluate_interval)
            if state.phase is Phase.HELD:
                deadlines.append(state.held_until)
            if state.phase is Phase.DRAINING:
                deadlines.append(state.drain_deadline)
        return min((d for d in deadlines if d > now), default=math.inf)
