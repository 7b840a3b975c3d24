"""Desired state vs the kernel's: the smallest list of ops that makes them equal. Pure.

keepalived's check/ipwrapper.c does the same job service by service (ADD/EDIT/DEL of
virtual and real servers, SET_CONFIG for timeouts, sync daemons started per
lvs_sync_daemon); here it is one function of two tables, so the reconciler (the driver)
only dumps, calls `plan` and applies what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import field

from haipvs.dataclass_lean import dataclass
from haipvs.ipvs.maglev import canonical_adds, is_maglev, out_of_order
from haipvs.ipvs.model import IpvsTable, ServiceKey, SyncDaemonConfig, SyncState, Timeouts
from haipvs.ipvs.ops import Op, OpKind, SetTimeouts, StartSyncDaemon, StopSyncDaemon

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
    recreate: list[Op] = []
    for want in desired:
        have = actual.get(want.key)
        bare = want.without_destinations()
        # mh: adds in the canonical order, so every director builds the same Maglev table
        # (haipvs/ipvs/maglev.py). Service already sorts; this says it is required for mh.
        adds = canonical_adds(want.destinations) if is_maglev(want) else want.destinations
        if have is None:
            ops.append(Op(OpKind.ADD_SERVICE, bare))
            ops.extend(Op(OpKind.ADD_DEST, bare, d) for d in adds)
            continue
        if is_maglev(want) and out_of_order(have, want):
            # The kernel's list (adopted after a restart, an earlier scheduler, or an add
            # that would land mid-list) gives this director a Maglev table unlike the other
            # directors': ECMP would then send a flow's packets to directors that pick
            # different real servers. Re-creating the service moves this director's own
            # new-flow choices once but makes it agree with the others; established flows
            # keep their connection entries (ip_vs_conn_in_get runs before scheduling).
            recreate.append(Op(OpKind.DEL_SERVICE, have.without_destinations()))
            recreate.append(Op(OpKind.ADD_SERVICE, bare))
            recreate.extend(Op(OpKind.ADD_DEST, bare, d) for d in adds)
            continue
        if have.settings != want.settings:
            ops.append(Op(OpKind.SET_SERVICE, bare))
        for dest in adds:
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
    # a re-created service's delete must precede its add, so it goes after the sort
    return Plan(ops + recreate, foreign)


def plan_timeouts(want: Timeouts, have: Timeouts) -> SetTimeouts | None:
    """SET_CONFIG only when a configured (non-zero) timeout differs from the kernel's; zero
    means "leave the kernel's value", as in ipvsadm --set."""
    differs = any(
        getattr(want, name) and getattr(want, name) != getattr(have, name)
        for name in ("tcp", "tcpfin", "udp")
    )
    return SetTimeouts(want) if differs else None


# The kernel's values for options a daemon was started without (ip_vs_sync.c
# start_sync_thread(): IP_VS_SYNC_GROUP, IP_VS_SYNC_PORT, ttl 1); the backup's default maxlen
# comes from the interface's MTU, so an unset maxlen matches any.
_KERNEL_SYNC_DEFAULTS = (("mcast_group", "224.0.0.81"), ("mcast_port", 8848), ("mcast_ttl", 1))


def kernel_sync_maxlen(daemon: SyncDaemonConfig) -> int | None:
    """The maxlen the kernel keeps for `daemon`'s: start_sync_thread() clamps it to
    [1024 for a backup / 1 for a master, 65535 - IP/UDP header length]."""
    if daemon.maxlen is None:
        return None
    header = 48 if daemon.mcast_group is not None and ":" in daemon.mcast_group else 28
    low = 1024 if daemon.state == SyncState.BACKUP else 1
    return min(max(daemon.maxlen, low), 65535 - header)


def sync_daemon_matches(want: SyncDaemonConfig, have: SyncDaemonConfig) -> bool:
    """True when the running daemon `have` is what starting `want` would give. keepalived
    restarts the daemon when any option differs (ipvswrapper.c ipvs_syncd_changed); the
    kernel changes none in place."""
    if (want.interface, want.syncid) != (have.interface, have.syncid):
        return False
    if want.maxlen is not None and kernel_sync_maxlen(want) != have.maxlen:
        return False
    for name, default in _KERNEL_SYNC_DEFAULTS:
        wanted = getattr(want, name)
        running = getattr(have, name)
        if (default if wanted is None else wanted) != (default if running is None else running):
            return False
    return True


def plan_sync_daemons(
    want: Iterable[SyncDaemonConfig], have: Iterable[SyncDaemonConfig]
) -> list[StopSyncDaemon | StartSyncDaemon]:
    """Stops first, then starts. A running daemon that differs from the wanted one
    (sync_daemon_matches) is restarted; one of an unwanted state is stopped."""
    wanted = {d.state: d for d in want}
    running = {d.state: d for d in have}
    ops: list[StopSyncDaemon | StartSyncDaemon] = []
    for state, daemon in running.items():
        target = wanted.get(state)
        if target is None or not sync_daemon_matches(target, daemon):
            ops.append(StopSyncDaemon(state))
    for state, daemon in wanted.items():
        current = running.get(state)
        if current is not None and sync_daemon_matches(daemon, current):
            continue
        ops.append(StartSyncDaemon(daemon))
    return ops
