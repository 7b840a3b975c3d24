"""The desired IPVS table: the config's virtual servers, filtered by real-server health.

A real server that is down is left out of its service, or kept with weight 0 when the
virtual server asks for `inhibit_on_failure`. While a service has lost its quorum (the total
weight of its live real servers is too low: `quorum`, `hysteresis`, haipvs/policy/quorum.py;
by default: no real server is usable), its `sorry_server` (if configured) takes the place of
the live real servers. These options are read from the config model when it has them
(`VirtualServer.inhibit_on_failure` / `RealServer.inhibit_on_failure`, `sorry_server`,
`quorum`, `hysteresis`); without them the behaviour is keepalived's default: remove.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Container, Iterable, Mapping
from typing import Any, NamedTuple, Protocol

from haipvs.config.model import Config, RealServer, VirtualServer
from haipvs.dataclass_lean import dataclass
from haipvs.ipvs.maglev import MH
from haipvs.ipvs.model import (
    AF_INET,
    AF_INET6,
    SVC_F_ONEPACKET,
    TUN_FLAG_CSUM,
    TUN_FLAG_REMCSUM,
    Destination,
    DestKey,
    ForwardMethod,
    IpvsTable,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    Timeouts,
    TunnelType,
    sched_flag_bits,
)
from haipvs.ipvs.vs_group import vs_services
from haipvs.policy.quorum import QuorumInput, initial_quorum
from haipvs.policy.sorry_inhibit import with_inhibited_sorry
from haipvs.policy.sync_daemon import wanted_sync_daemons
from haipvs.vrrp.messages import State

_TUN_FLAG_BITS = {"nocsum": 0, "csum": TUN_FLAG_CSUM, "remcsum": TUN_FLAG_REMCSUM}


@dataclass(frozen=True)
class RealServerHealth:
    up: bool
    weight: int | None = None  # dynamic weight (e.g. misc_dynamic); None = configured weight
    reason: str = ""


UP = RealServerHealth(True)
# Equal healths are one object (shared_health): a report per real server was one more
# RealServerHealth each in the director and, while down, in the engine (issue 18).
_HEALTHS: dict[RealServerHealth, RealServerHealth] = {UP: UP}
_HEALTHS_KEPT = 4096  # reasons are a handful of interned strings; a stray one is not kept


def shared_health(up: bool, weight: int | None = None, reason: str = "") -> RealServerHealth:
    """RealServerHealth(up, weight, reason), the same object for equal values."""
    health = RealServerHealth(up, weight, reason)
    found = _HEALTHS.get(health)
    if found is not None:
        return found
    if len(_HEALTHS) < _HEALTHS_KEPT:
        _HEALTHS[health] = health
    return health


class ServerKey(NamedTuple):
    """One real server inside one virtual service: how the health engine, the director's
    health copy and weights, and rs_notify name it (server_keys)."""

    service: ServiceKey
    dest: DestKey


class HealthView(Protocol):
    """What the health checkers know about one real server of one service."""

    def health(self, service: ServiceKey, dest: DestKey) -> RealServerHealth: ...


class AllUp:
    """Health before any checker has run (or when none is configured): every server is up."""

    def health(self, service: ServiceKey, dest: DestKey) -> RealServerHealth:
        return UP


class StaticHealth:
    """Health from a mapping; servers not in it are up. Used by tests and tools."""

    def __init__(self, states: Mapping[tuple[ServiceKey, DestKey], RealServerHealth]) -> None:
        self._states = dict(states)

    def health(self, service: ServiceKey, dest: DestKey) -> RealServerHealth:
        return self._states.get((service, dest), UP)


def service_key(vs: VirtualServer) -> ServiceKey:
    if vs.fwmark is not None:
        return ServiceKey.mark(vs.fwmark, AF_INET6 if vs.ip_family == 6 else AF_INET)
    assert vs.address is not None and vs.port is not None
    return ServiceKey.inet(vs.protocol, str(vs.address), vs.port)


def dest_key(rs: RealServer) -> DestKey:
    # interned: the director, its health copy and the table all key on it (one string each)
    return DestKey(sys.intern(str(rs.address)), rs.port or 0)


# server_keys' cache, by VirtualServer object: an entry lives as long as its object (a
# finalizer drops it), so a reload's old config takes its keys with it.
_KEYS: dict[int, tuple[ServerKey, ...]] = {}


def server_keys(vs: VirtualServer) -> tuple[ServerKey, ...]:
    """The key of each of `vs`'s real servers, in order. One tuple per VirtualServer object:
    every layer that keys on real servers (the health plan and engine, the director's
    health copy and configured weights, rs_notify) holds these same key objects, where each
    built its own key and DestKey before (~300 bytes per real server, issue 18)."""
    keys = _KEYS.get(id(vs))
    if keys is not None:
        return keys
    service = service_key(vs)  # one per service, not per server
    keys = tuple(ServerKey(service, dest_key(rs)) for rs in vs.real_servers)
    try:
        weakref.finalize(vs, _KEYS.pop, id(vs), None)
    except TypeError:  # a stand-in without weak references (tests): built each time
        return keys
    _KEYS[id(vs)] = keys
    return keys


def _service(vs: VirtualServer) -> Service:
    flags = sched_flag_bits(vs.lb_algo, sorted(vs.sched_flags))
    if vs.ops:
        flags |= SVC_F_ONEPACKET
    return Service(
        key=service_key(vs),
        scheduler=vs.lb_algo,
        flags=flags,
        persistence_timeout=vs.persistence_timeout,
        netmask=vs.persistence_granularity if vs.persistence_timeout is not None else None,
        pe_name=vs.persistence_engine,
    )


def _destination(vs: VirtualServer, rs: Any, weight: int) -> Destination:
    kind = ForwardMethod.parse(getattr(rs, "lb_kind", None) or vs.lb_kind)
    tun_type = getattr(rs, "tun_type", None)
    return Destination(
        address=sys.intern(str(rs.address)),  # the DestKey's string (dest_key)
        port=rs.port or 0,
        fwd=kind,
        weight=weight,
        u_threshold=getattr(rs, "u_threshold", None) or 0,
        l_threshold=getattr(rs, "l_threshold", None) or 0,
        tun_type=TunnelType.parse(tun_type) if tun_type else TunnelType.IPIP,
        tun_port=getattr(rs, "tun_port", None) or 0,
        tun_flags=sum(_TUN_FLAG_BITS[f] for f in getattr(rs, "tun_flags", ()) or ()),
    )


def _inhibit(vs: VirtualServer, rs: RealServer) -> bool:
    own = getattr(rs, "inhibit_on_failure", None)
    return bool(own if own is not None else getattr(vs, "inhibit_on_failure", False))


def live_weight(vs: VirtualServer, health: HealthView) -> int:
    """Total weight of the real servers that are up (dynamic weight where a checker set one):
    what the quorum is measured against."""
    return sum(weight_counted(rs.weight, health.health(*key))
               for rs, key in zip(vs.real_servers, server_keys(vs), strict=True))


def weight_counted(configured: int, state: RealServerHealth) -> int:
    """What one real server adds to its service's live weight."""
    if not state.up:
        return 0
    return configured if state.weight is None else state.weight


def quorum_input(vs: VirtualServer, health: HealthView) -> QuorumInput:
    return QuorumInput(service_key(vs), live_weight(vs, health), getattr(vs, "quorum", 1),
                       getattr(vs, "hysteresis", 0))


def virtual_service(vs: VirtualServer, health: HealthView,
                    quorum_up: bool | None = None, scale_out: bool = False) -> Service:
    """One virtual server's desired service with the destinations health allows.
    `quorum_up` None: the state a freshly started daemon would have (quorum.initial_quorum).
    `scale_out`: the service is on a bgp VIP (its mh table must stay the same on every
    director, haipvs/ipvs/maglev.py)."""
    base = _service(vs)
    dests: list[Destination] = []
    live = 0
    for rs, key in zip(vs.real_servers, server_keys(vs), strict=True):
        state = health.health(base.key, key.dest)
        if state.up:
            weight = rs.weight if state.weight is None else state.weight
            dests.append(_destination(vs, rs, weight))
            live += weight
        elif _inhibit(vs, rs) or (scale_out and vs.lb_algo == MH):
            # mh on a bgp VIP: weight 0, never delete, so no other server's flows move
            # (ipvs/maglev.py). Elsewhere keepalived's delete stays: without mh-fallback a
            # weight-0 mh server's flows would be dropped, not sent on.
            dests.append(_destination(vs, rs, 0))
    if quorum_up is None:
        quorum_up = initial_quorum(live, getattr(vs, "quorum", 1), getattr(vs, "hysteresis", 0))
    sorry = getattr(vs, "sorry_server", None)
    if sorry is not None and not quorum_up:
        # Keepalived semantics: without quorum the sorry server replaces the live real
        # servers. Entries at weight 0 (inhibited, or dynamic weight 0) take no traffic and
        # stay as they are.
        sorry_dest = _destination(vs, sorry, getattr(sorry, "weight", None) or 1)
        dests = [d for d in dests if d.weight == 0 and d.key != sorry_dest.key] + [sorry_dest]
    elif sorry is not None and getattr(sorry, "inhibit", False):  # policy/sorry_inhibit.py
        dests = list(with_inhibited_sorry(dests, _destination(vs, sorry, 0),
                                          [dest_key(rs) for rs in vs.real_servers]))
    return Service(base.key, base.scheduler, base.flags, base.persistence_timeout,
                   base.netmask, base.pe_name, tuple(dests))


def desired_table(config: Config, health: HealthView | None = None,
                  quorum: Mapping[ServiceKey, bool] | None = None) -> IpvsTable:
    """The IPVS table haipvs wants in the kernel for `config`, given `health` and the quorum
    state of each service (services missing from `quorum` get their starting state)."""
    view = health if health is not None else AllUp()
    states = quorum or {}
    bgp = bgp_addresses(config)
    return IpvsTable(tuple(svc for vs in config.virtual_servers
                           for svc in services_of(vs, view, states.get(service_key(vs)), bgp)))


def bgp_addresses(config: Config) -> set[Any]:
    """The scale-out (bgp) VIPs: their mh services keep down servers at weight 0."""
    return {vip.address for vip in config.scale_out.vips} if config.scale_out else set()


def services_of(vs: VirtualServer, health: HealthView, quorum_up: bool | None,
                bgp: Container[Any]) -> tuple[Service, ...]:
    """One config virtual server's share of the desired table: its service, or one per
    member of its virtual_server_group (ipvs/vs_group.py), same destinations."""
    return vs_services(vs, virtual_service(vs, health, quorum_up, vs.address in bgp))


def owned_keys(configs: Iterable[Config]) -> set[ServiceKey]:
    """Service keys named by any of `configs` (e.g. the old and new config on reload)."""
    return {svc.key for config in configs for vs in config.virtual_servers
            for svc in vs_services(vs, _service(vs))}


def desired_timeouts(config: Config) -> Timeouts | None:
    t = config.global_settings.lvs_timeouts
    if t is None:
        return None
    return Timeouts(tcp=t.tcp or 0, tcpfin=t.tcpfin or 0, udp=t.udp or 0)


def desired_sync_daemons(
    config: Config, instance_states: Mapping[str, State]
) -> tuple[SyncDaemonConfig, ...] | None:
    """The sync daemons keepalived would run now (haipvs/policy/sync_daemon.py). None when
    not configured."""
    sync = config.global_settings.lvs_sync_daemon
    if sync is None:
        return None
    vrid = next((i.virtual_router_id for i in config.vrrp_instances
                 if i.name == sync.vrrp_instance), None)
    return wanted_sync_daemons(sync, instance_states.get(sync.vrrp_instance or ""), vrid)
