"""The director's policy, pure: VRRP states and real-server health in; events, notify
scripts, ha_suspend and the desired IPVS table out.

Driven like the VRRP core: `Director.handle(now, input) -> list[Output]`, where `now` is the
wall-clock time (seconds) the events it creates are stamped with. The daemon
(haipvs/daemon.py) feeds it, in the main loop, one input at a time, and turns each output
into I/O in the order given: that order is the order operators see (the event stream, then
scripts, then the table).

The rules, each in its own pure module:
- sync-group state (keepalived/vrrp/vrrp_sync.c): haipvs.policy.sync_group.group_state;
- ha_suspend (keepalived/check/check_api.c): haipvs.policy.ha_suspend;
- quorum with hysteresis (keepalived/check/ipwrapper.c): haipvs.policy.quorum;
- the table itself (health, inhibit_on_failure, sorry server): haipvs.ipvs.desired.

IPVS entries are kept on MASTER and BACKUP alike, as keepalived does: a BACKUP that takes
over must not have to program its table first. Only the sync daemon's role follows VRRP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, replace

from haipvs.config.model import Config, SyncGroup, VirtualServer, VrrpInstance
from haipvs.dataclass_lean import dataclass
from haipvs.events import (
    NOTICE_DELETED,
    NOTICE_MASTER_RX_LOWER_PRI,
    Event,
    GroupTransition,
    InstanceNotice,
    QuorumEvent,
    RealServerChange,
    VirtualService,
    VrrpTransition,
)
from haipvs.ipvs import desired
from haipvs.ipvs.desired import UP, RealServerHealth
from haipvs.ipvs.model import (
    DestKey,
    IpvsTable,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    Timeouts,
)
from haipvs.policy.ha_suspend import ha_suspended_services
from haipvs.policy.notify_scripts import (
    RunNotify,
    group_notify,
    instance_notify,
    notice_notify,
    priority_changes_notified,
    quorum_notify,
)
from haipvs.policy.quorum import QuorumChange, QuorumInput, QuorumTracker
from haipvs.policy.rs_notify import RealServerNotifier
from haipvs.policy.sync_group import group_state
from haipvs.vrrp.messages import State

# ---- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """The daemon starts, before the health checkers: every instance is INIT, so the checks
    of ha_suspend services start suspended; every service gets its starting quorum from the
    start health of its servers (Health), as keepalived's init_services does at once."""


@dataclass(frozen=True)
class HealthChanged:
    """The checkers changed a real server's up/down state or dynamic weight (also when a
    reload re-created it with another health)."""

    service: ServiceKey
    dest: DestKey
    health: RealServerHealth


@dataclass(frozen=True)
class HealthBatch:
    """HealthChanged inputs that arrived together (the daemon collects those of one loop
    turn). Each is told, and counted toward its service's quorum, in order as if alone; the
    table is computed once, after the last. One table per change made a check round that
    flips many of 50,000 real servers quadratic."""

    changes: tuple[HealthChanged, ...]


@dataclass(frozen=True)
class HealthSettledDown:
    """An alpha checker's first evaluation failed: the server started down and stays down.
    Nothing changes in the table, but keepalived tells it once (ipwrapper.c
    update_svr_checker_state -> do_rs_notifies): the RS DOWN line and notify_down, no
    e-mail (the checkers mail only on a change)."""

    service: ServiceKey
    dest: DestKey
    health: RealServerHealth


@dataclass(frozen=True)
class RefreshIpvs:
    """Recompute quorum and the desired table (once the checkers have started)."""


@dataclass(frozen=True)
class ConfigChanged:
    """A reload: the new config is in force from now on. `removed` instances are forgotten,
    `added` ones start in INIT (an identity change is both). Outputs only an RS DOWN event for
    each live real server the reload removes (as keepalived's clear_diff_rs); the daemon
    updates the checkers next, whose changes arrive as HealthChanged, then sends
    ConfigApplied."""

    config: Config
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()


@dataclass(frozen=True)
class InstancesRemoving:
    """A reload is about to stop these instances (removed, or remove + add for an identity
    change). Their coming STOP is told as keepalived tells a deleted instance:
    keepalived/vrrp/vrrp.c clear_diff_vrrp sets it DELETED, which vrrp_notify.c
    send_instance_notifies turns into FAULT (without notify_deleted): the INSTANCE FAULT
    line and the instance's FAULT scripts, nothing if it already was in FAULT."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class ConfigApplied:
    """The drivers run the new config: re-apply ha_suspend, group states and the table."""


# A VrrpTransition (haipvs/events.py) is an input too: an instance changed state; and an
# InstanceNotice from the VRRP thread (MASTER_RX_LOWER_PRI, MASTER_/BACKUP_PRIORITY).
Input = (Start | VrrpTransition | HealthChanged | HealthBatch | HealthSettledDown | RefreshIpvs
         | InstancesRemoving
         | ConfigChanged | ConfigApplied | InstanceNotice)

# ---- outputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Emit:
    """Record the event: recent events in the dump, the notify FIFO, the JSON event log."""

    event: Event


@dataclass(frozen=True)
class SuspendChecks:
    """Stop the checks of these services (health keeps its last state)."""

    services: frozenset[ServiceKey]


@dataclass(frozen=True)
class ResumeChecks:
    services: frozenset[ServiceKey]


@dataclass(frozen=True)
class Log:
    """An info log line: `event` is the log event name, `fields` its key/values."""

    event: str
    fields: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusChanged:
    """The instance states changed: tell systemd (STATUS=)."""


@dataclass(frozen=True)
class DesiredIpvs:
    """Hand the reconciler this table. `timeouts` None leaves kernel timeouts alone;
    `sync_daemons` None leaves sync daemons alone; `owned` are the config's service keys."""

    table: IpvsTable
    timeouts: Timeouts | None
    sync_daemons: tuple[SyncDaemonConfig, ...] | None
    owned: frozenset[ServiceKey]


Output = Emit | RunNotify | SuspendChecks | ResumeChecks | Log | StatusChanged | DesiredIpvs


# A real server with an alpha checker before that check's first success.
ALPHA_DOWN = RealServerHealth(False, None, "alpha: not checked yet")

ServerKey = desired.ServerKey


def _servers(config: Config) -> dict[ServerKey, RealServerHealth]:
    """Every configured real server and its health before any check result: down with an
    alpha checker, up otherwise (keepalived/check/ipwrapper.c init_service_rs adds a server
    alive unless it has a failed checker, and an alpha checker starts failed). Keyed by the
    config's shared key objects (desired.server_keys)."""
    servers: dict[ServerKey, RealServerHealth] = {}
    for vs in config.virtual_servers:
        for rs, key in zip(vs.real_servers, desired.server_keys(vs), strict=True):
            servers[key] = ALPHA_DOWN if any(c.alpha for c in rs.checkers) else UP
    return servers


class Health:
    """Real-server health as the checkers last reported it (the IPVS HealthView the desired
    table reads). A server never reported has its start health from the config (above), so
    the first quorum and table already see every alpha server down, not one at a time as
    the engine reports them. Servers a reload removes the engine drops without a report, so
    ConfigChanged forgets them here. Keeping the copy makes the table a function of the
    director's inputs alone.

    One entry per configured server, its start health until a report replaces it: a report
    then stores no key of its own (the dict keeps the config's key object, issue 18).
    Reports for servers the config does not have (yet) are kept apart, in `_others`."""

    def __init__(self, config: Config | None = None) -> None:
        self._states: dict[ServerKey, RealServerHealth] = (
            {} if config is None else _servers(config))
        self._others: dict[tuple[ServiceKey, DestKey], RealServerHealth] = {}

    def health(self, service: ServiceKey, dest: DestKey) -> RealServerHealth:
        key = (service, dest)
        state = self._states.get(key)  # type: ignore[call-overload]
        if state is None:
            state = self._others.get(key, UP)
        return state

    def set(self, service: ServiceKey, dest: DestKey, health: RealServerHealth) -> None:
        key = (service, dest)
        if key in self._states:
            self._states[key] = health  # type: ignore[index]
        else:
            self._others[key] = health

    def keep_only(self, config: Config) -> list[ServerKey]:
        """Take the new config: forget servers it no longer has (the checkers drop them
        silently) and return those of them that were up; kept servers keep their health,
        added ones start with their start health (keepalived check_new_rs_state: an added
        server with an alpha checker starts down)."""
        start = _servers(config)
        gone = [key for key, state in self._states.items() if key not in start and state.up]
        for key, state in self._states.items():
            if key in start:
                start[key] = state  # the new config's key object stays
        for key, state in self._others.items():
            if key in start:
                start[key] = state
        self._states = start
        self._others = {}
        return gone


def virtual_service(key: ServiceKey) -> VirtualService:
    """The service as events carry it (a fwmark key has protocol 0, as keepalived's)."""
    return VirtualService(protocol=key.protocol, address=key.address, port=key.port,
                          fwmark=key.fwmark)


class Director:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.instance_states: dict[str, State] = {
            i.name: State.INIT for i in config.vrrp_instances}
        self.group_states: dict[str, State] = {}
        self.health = Health(config)
        self.quorum = QuorumTracker()
        self.ha_suspended: frozenset[ServiceKey] = frozenset()
        # InstancesRemoving: each one's config (its scripts), until its STOP arrives. The
        # STOP comes from the VRRP thread, before or after ConfigChanged.
        self.removing: dict[str, VrrpInstance] = {}
        self.rs_notify = RealServerNotifier(config)  # notify_up/notify_down
        self._index(config)

    def handle(self, now: float, event: Input) -> list[Output]:
        out: list[Output] = []
        match event:
            case Start():
                self._ha_suspend(out)
                self._initial_servers(now, out)
                self._quorum(now, out)
            case VrrpTransition(instance=name, new=State.STOP) if name in self.removing:
                self._removed(event, self.removing.pop(name), out)
            case VrrpTransition():
                self._transition(now, event, out)
            case InstanceNotice():
                self._notice(event, out)
            case InstancesRemoving(names):
                self.removing = {i.name: i for i in self.config.vrrp_instances
                                 if i.name in names}
            case HealthChanged():
                self._health_changed(now, event, out)
                self._ipvs(now, out, full=False)
            case HealthBatch(changes) if changes:
                for change in changes:
                    self._health_changed(now, change, out)
                self._ipvs(now, out, full=False)
            case HealthSettledDown(service, dest, health):
                out.append(Emit(RealServerChange(
                    service=str(service), real_server=str(dest), up=False,
                    weight=health.weight, reason=health.reason, at=now,
                    virtual=virtual_service(service), rs_address=dest.address,
                    rs_port=dest.port, up_changed=True, initial=True)))
            case RefreshIpvs():
                self._ipvs(now, out)
            case ConfigChanged(config, removed, added):
                self._reconfigure(now, config, removed, added, out)
                self._initial_servers(now, out)
            case ConfigApplied():
                self._ha_suspend(out)
                self._groups(now, out)
                self._ipvs(now, out)
        # each real server change's notify_up/notify_down right after it (a reload's
        # removals with the old config's scripts, its additions with the new one's)
        if isinstance(event, ConfigChanged):
            self.rs_notify.configure(event.config)
        return self.rs_notify.add_scripts(out)

    # ---- the rules, in the order their outputs go out ---------------------------------------

    def _transition(self, now: float, event: VrrpTransition, out: list[Output]) -> None:
        self._group_at_start(now, event, out)
        out.append(Emit(event))
        # Recorded whatever the name: a removed instance's last STOP still shows until the
        # next reload, as before.
        self.instance_states[event.instance] = event.new
        try:
            instance = self.config.instance(event.instance)
        except KeyError:
            instance = None  # removed by a reload meanwhile: its scripts are gone too
        if instance is not None and (run := instance_notify(instance, event)) is not None:
            out.append(run)
        self._groups(now, out)
        self._ha_suspend(out)
        out.append(StatusChanged())
        if self.config.global_settings.lvs_sync_daemon is not None:
            self._ipvs(now, out)

    def _notice(self, notice: InstanceNotice, out: list[Output]) -> None:
        """keepalived vrrp_notify.c send_event_notify (MASTER_RX_LOWER_PRI: always the FIFO
        line, the script if any) and send_instance_priority_notifies (only with
        notify_priority_changes)."""
        try:
            instance = self.config.instance(notice.instance)
        except KeyError:
            return  # removed by a reload meanwhile
        if notice.notice != NOTICE_MASTER_RX_LOWER_PRI:
            group = next((g.notify_priority_changes for g in self.config.vrrp_sync_groups
                          if instance.name in g.group), None)
            default = self.config.global_settings.vrrp_notify_priority_changes
            if not priority_changes_notified(instance.notify_priority_changes, group,
                                             default):
                return
        out.append(Emit(notice))
        if (run := notice_notify(instance, notice)) is not None:
            out.append(run)

    def _removed(self, event: VrrpTransition, instance: VrrpInstance,
                 out: list[Output]) -> None:
        """A removed instance stopped: told FAULT (see InstancesRemoving), or DELETED with
        notify_deleted (vrrp.c clear_diff_vrrp: "if (vrrp->notify_deleted || vrrp->state !=
        VRRP_STATE_FAULT)"). Its state, its groups and ha_suspend are the reload's business
        (ConfigChanged), not this event's: a member leaving must not pull its old group
        into FAULT."""
        if instance.notify_deleted:
            deleted = InstanceNotice(event.instance, NOTICE_DELETED, event.priority, event.at)
            out.append(Emit(deleted))
            if (run := notice_notify(instance, deleted)) is not None:
                out.append(run)
            out.append(StatusChanged())
            return
        if event.old == State.FAULT:
            return
        fault = replace(event, new=State.FAULT, reason="removed by reload")
        out.append(Emit(fault))
        if (run := instance_notify(instance, fault)) is not None:
            out.append(run)
        out.append(StatusChanged())

    def _groups(self, now: float, out: list[Output]) -> None:
        """A sync group is FAULT when any member is, MASTER/BACKUP/STOP once all members are
        (keepalived/vrrp/vrrp_sync.c); a change is an event and runs the group's scripts.
        FAULT is told once the members it pulls have left INIT/MASTER/BACKUP: keepalived's
        vrrp_sync_fault moves them all (INIT ones too) first, then notifies the group."""
        for group in self.config.vrrp_sync_groups:
            states = [self.instance_states.get(m, State.INIT) for m in group.group]
            state = group_state(states)
            previous = self.group_states.get(group.name, State.INIT)
            if state is None or state == previous:
                continue
            if state == State.FAULT and {State.INIT, State.MASTER, State.BACKUP} & set(states):
                continue  # the pulled members' transitions come next (sync-group follow)
            self._group_changed(now, group, previous, state, out)

    def _group_at_start(self, now: float, event: VrrpTransition, out: list[Output]) -> None:
        """A sync group starting BACKUP is notified before its first member
        (keepalived/vrrp/vrrp_sync.c vrrp_sync_set_group gives the group that state at start;
        vrrp_scheduler.c vrrp_init_state notifies groups first). One starting FAULT takes the
        usual way, after its members: keepalived 2.2.7 writes a track file's fault at start
        as INSTANCE, INSTANCE, GROUP (seen on its FIFO)."""
        if event.old != State.INIT or event.new != State.BACKUP:
            return
        for group in self.config.vrrp_sync_groups:
            previous = self.group_states.get(group.name, State.INIT)
            if event.instance in group.group and previous == State.INIT:
                self._group_changed(now, group, previous, event.new, out)

    def _group_changed(self, now: float, group: SyncGroup, previous: State, state: State,
                       out: list[Output]) -> None:
        self.group_states[group.name] = state
        change = GroupTransition(group=group.name, old=previous, new=state, at=now)
        out.append(Emit(change))
        if (run := group_notify(group, change)) is not None:
            out.append(run)

    def _ha_suspend(self, out: list[Output]) -> None:
        wanted = ha_suspended_services(self.config, self.instance_states)
        suspended = frozenset(key for key, paused in wanted.items() if paused)
        # Always both, not only on a change: a reload may add services or drop the flag.
        out.append(SuspendChecks(suspended))
        out.append(ResumeChecks(frozenset(key for key in wanted if key not in suspended)))
        for key in sorted(suspended ^ self.ha_suspended, key=str):
            out.append(Log("health_checks_suspended" if key in suspended
                           else "health_checks_resumed", {"service": str(key)}))
        self.ha_suspended = suspended

    def _health_changed(self, now: float, event: HealthChanged, out: list[Output]) -> None:
        """The RS line, then the quorum of that server's service alone: its live weight
        moves by the server's share (a full pass over every server was the quadratic part)."""
        service, dest, health = event.service, event.dest, event.health
        before = self.health.health(service, dest)
        self.health.set(service, dest, health)
        out.append(Emit(RealServerChange(
            service=str(service), real_server=str(dest), up=health.up,
            weight=health.weight, reason=health.reason, at=now,
            virtual=virtual_service(service), rs_address=dest.address,
            rs_port=dest.port, up_changed=health.up != before.up)))
        self._stale.add(service)
        vs = self._vs_of.get(service)
        configured = self._configured.get((service, dest))
        if not self._quorum_synced or vs is None or configured is None:
            self._quorum(now, out)  # a reload's services not counted yet: the full pass
            return
        self._live[service] += (desired.weight_counted(configured, health)
                                - desired.weight_counted(configured, before))
        change = self.quorum.update_one(QuorumInput(
            service, self._live[service], vs.quorum, vs.hysteresis,
            sorry_server=vs.sorry_server is not None))
        if change is not None:
            self._quorum_changed(now, vs, change, out)

    def _ipvs(self, now: float, out: list[Output], *, full: bool = True) -> None:
        """Quorum first (its events and scripts), then the table it shapes. `full`: every
        service's quorum again (start, reload, a transition); after health changes only
        their services' (done by _health_changed)."""
        if full:
            self._quorum(now, out)
        config = self.config
        out.append(DesiredIpvs(
            table=self._desired_table(),
            timeouts=desired.desired_timeouts(config),
            sync_daemons=desired.desired_sync_daemons(config, self.instance_states),
            owned=self._owned,
        ))

    def _desired_table(self) -> IpvsTable:
        """desired.desired_table, with each virtual server's services kept until its health
        or quorum changes (the cache is dropped by every full quorum pass)."""
        for key in self._stale:
            self._services.pop(key, None)
        self._stale.clear()
        states = self.quorum.states
        services: list[Service] = []
        for key, vs in self._vs_of.items():
            entry = self._services.get(key)
            if entry is None:
                entry = desired.services_of(vs, self.health, states.get(key), self._bgp)
                self._services[key] = entry
            services.extend(entry)
        return IpvsTable(tuple(services))

    def _index(self, config: Config) -> None:
        """What the incremental paths look up, per config (its virtual servers by service key,
        each real server's configured weight); every cache starts empty."""
        self._vs_of: dict[ServiceKey, VirtualServer] = {
            desired.service_key(vs): vs for vs in config.virtual_servers}
        self._configured: dict[ServerKey, int] = {  # the same key objects as self.health
            key: rs.weight for vs in self._vs_of.values()
            for rs, key in zip(vs.real_servers, desired.server_keys(vs), strict=True)}
        self._owned = frozenset(desired.owned_keys([config]))
        self._bgp = desired.bgp_addresses(config)
        self._live: dict[ServiceKey, int] = {}
        self._quorum_synced = False  # until a full pass counted every service of `config`
        self._services: dict[ServiceKey, tuple[Service, ...]] = {}
        self._stale: set[ServiceKey] = set()

    def _initial_servers(self, now: float, out: list[Output]) -> None:
        """global rs_init_notifies (haipvs.policy.rs_notify): servers that start up."""
        out.extend(Emit(e) for e in self.rs_notify.initial(now, self.config,
                                                           self.health.health))

    def _quorum(self, now: float, out: list[Output]) -> None:
        """Every service's quorum from the current health; a service seen for the first time
        (at Start, or added by a reload) gets its starting state (haipvs.policy.quorum)."""
        config = self.config
        inputs = [replace(desired.quorum_input(vs, self.health),
                          sorry_server=vs.sorry_server is not None)
                  for vs in config.virtual_servers]
        changes = self.quorum.update(inputs)
        self._live = {item.service: item.weight for item in inputs}
        self._quorum_synced = True
        self._services.clear()  # quorum states may have moved: every entry again
        if changes:
            by_key = {desired.service_key(vs): vs for vs in config.virtual_servers}
            for change in changes:
                self._quorum_changed(now, by_key[change.service], change, out)

    def _quorum_changed(self, now: float, vs: VirtualServer, change: QuorumChange,
                        out: list[Output]) -> None:
        service = str(change.service)
        event = QuorumEvent(service=service, up=change.up, weight=change.weight,
                            initial=change.initial, at=now,
                            virtual=virtual_service(desired.service_key(vs)))
        out.append(Emit(event))
        out.append(Log("quorum_gained" if change.up else "quorum_lost",
                       {"service": service, "weight": change.weight, "quorum": vs.quorum,
                        "hysteresis": vs.hysteresis}))
        script = vs.quorum_up if change.up else vs.quorum_down
        if (run := quorum_notify(script, vs.quorum, vs.hysteresis, event)) is not None:
            out.append(run)

    def _reconfigure(self, now: float, config: Config, removed: tuple[str, ...],
                     added: tuple[str, ...], out: list[Output]) -> None:
        self.config = config
        self._index(config)
        for name in removed:
            self.instance_states.pop(name, None)
        for name in added:
            self.instance_states.setdefault(name, State.INIT)
        groups = {g.name for g in config.vrrp_sync_groups}
        self.group_states = {k: v for k, v in self.group_states.items() if k in groups}
        # keepalived/check/ipwrapper.c clear_diff_services -> clear_diff_rs (a server gone
        # from a kept service) and clear_service_vs (a removed service) -> clear_service_rs:
        # each removed server that was alive is notified DOWN (RS line, its notify_down).
        for service, dest in self.health.keep_only(config):
            out.append(Emit(RealServerChange(
                service=str(service), real_server=str(dest), up=False, weight=None,
                reason="removed by reload", at=now, virtual=virtual_service(service),
                rs_address=dest.address, rs_port=dest.port, up_changed=True)))
