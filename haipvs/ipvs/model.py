"""IPVS table model shared by the desired table (from config + health) and the kernel dump.

Everything is frozen and normalised (canonical address text, flags without the kernel's
internal HASHED bit) so a desired table and a dumped table compare with `==`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import field
from enum import IntEnum
from functools import cached_property, lru_cache

from haipvs.dataclass_lean import dataclass

# Linux's numbers (<linux/socket.h>, <netinet/in.h>), spelled out so the model imports no
# socket module: it is pure data shared by config, policy and the kernel codec.
AF_INET = 2
AF_INET6 = 10


class Protocol(IntEnum):
    TCP = 6
    UDP = 17
    SCTP = 132

    @classmethod
    def parse(cls, value: str | int) -> Protocol:
        if isinstance(value, str):
            return cls[value.upper()]
        return cls(value)


class ForwardMethod(IntEnum):
    """IP_VS_CONN_F_* forwarding method values (the low 3 bits of conn_flags)."""

    NAT = 0  # IP_VS_CONN_F_MASQ
    LOCAL = 1  # IP_VS_CONN_F_LOCALNODE
    TUN = 2  # IP_VS_CONN_F_TUNNEL
    DR = 3  # IP_VS_CONN_F_DROUTE

    @classmethod
    def parse(cls, value: str | int) -> ForwardMethod:
        if isinstance(value, int):
            return cls(value)
        aliases = {"NAT": cls.NAT, "MASQ": cls.NAT, "DR": cls.DR, "ROUTE": cls.DR,
                   "TUN": cls.TUN, "TUNNEL": cls.TUN, "LOCAL": cls.LOCAL}
        return aliases[value.upper()]


class TunnelType(IntEnum):
    IPIP = 0
    GUE = 1
    GRE = 2

    @classmethod
    def parse(cls, value: str | int) -> TunnelType:
        return cls[value.upper()] if isinstance(value, str) else cls(value)


# Tunnel encapsulation flags (IP_VS_TUNNEL_ENCAP_FLAG_*).
TUN_FLAG_CSUM = 0x1
TUN_FLAG_REMCSUM = 0x2

# Service flags (IP_VS_SVC_F_*). HASHED is kernel-internal and never part of the model.
SVC_F_PERSISTENT = 0x0001
SVC_F_HASHED = 0x0002
SVC_F_ONEPACKET = 0x0004
SVC_F_SCHED1 = 0x0008
SVC_F_SCHED2 = 0x0010
SVC_F_SCHED3 = 0x0020
# Scheduler-specific meanings of SCHED1/2 (ipvsadm's names).
SVC_F_SH_FALLBACK = SVC_F_SCHED1
SVC_F_SH_PORT = SVC_F_SCHED2
SVC_F_MH_FALLBACK = SVC_F_SCHED1
SVC_F_MH_PORT = SVC_F_SCHED2
# Flags the model carries explicitly (PERSISTENT is derived from persistence_timeout).
SVC_MODEL_FLAGS = SVC_F_ONEPACKET | SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3

_SCHED_FLAG_NAMES = {
    "sh": {"sh-fallback": SVC_F_SCHED1, "sh-port": SVC_F_SCHED2},
    "mh": {"mh-fallback": SVC_F_SCHED1, "mh-port": SVC_F_SCHED2},
}
_GENERIC_FLAG_NAMES = {"flag-1": SVC_F_SCHED1, "flag-2": SVC_F_SCHED2, "flag-3": SVC_F_SCHED3}


def sched_flag_bits(scheduler: str, names: Iterable[str]) -> int:
    """Map scheduler flag names (`sh-port`, `mh-fallback`, `flag-1`...) to SCHED bits."""
    table = {**_GENERIC_FLAG_NAMES, **_SCHED_FLAG_NAMES.get(scheduler, {})}
    bits = 0
    for name in names:
        try:
            bits |= table[name]
        except KeyError:
            raise ValueError(
                f"unknown scheduler flag {name!r} for scheduler {scheduler!r}"
            ) from None
    return bits


def sched_flag_names(scheduler: str, flags: int) -> list[str]:
    """The ipvsadm spelling of the SCHED bits, in ipvsadm's order."""
    specific = _SCHED_FLAG_NAMES.get(scheduler, {})
    names = []
    for generic, bit in _GENERIC_FLAG_NAMES.items():
        if flags & bit:
            names.append(next((n for n, b in specific.items() if b == bit), generic))
    return names


@lru_cache(maxsize=65536)  # parsing addresses dominated big table dumps
def canonical_address(address: str) -> str:
    canonical = str(ipaddress.ip_address(address))
    # the given string when it is canonical already: callers pass interned ones, shared
    # with the keys (a new string per Destination otherwise)
    return address if canonical == address else canonical


@lru_cache(maxsize=65536)  # parsing addresses dominated big table dumps
def address_family(address: str) -> int:
    return AF_INET6 if ipaddress.ip_address(address).version == 6 else AF_INET


def _family_name(family: int) -> str:
    return "IPv6" if family == AF_INET6 else "IPv4"


@lru_cache(maxsize=65536)  # parsing addresses dominated big table dumps
def _address_number(address: str) -> int:
    return int(ipaddress.ip_address(address)) if address else 0


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """Identity of a virtual service: (protocol, address, port) or (fwmark, family)."""

    family: int
    protocol: int = 0  # 0 for fwmark services
    address: str = ""  # "" for fwmark services
    port: int = 0
    fwmark: int = 0

    @classmethod
    def inet(cls, protocol: Protocol | str | int, address: str, port: int) -> ServiceKey:
        return cls(
            family=address_family(address),
            protocol=int(Protocol.parse(protocol)),
            address=canonical_address(address),
            port=int(port),
        )

    @classmethod
    def mark(cls, fwmark: int, family: int = AF_INET) -> ServiceKey:
        if not 0 < fwmark <= 0xFFFFFFFF:
            raise ValueError(f"fwmark must be 1..2^32-1, got {fwmark}")
        return cls(family=family, fwmark=int(fwmark))

    @property
    def is_fwmark(self) -> bool:
        return self.fwmark != 0

    @property
    def sort_key(self) -> tuple[int, int, int, int, int]:
        """ipvsadm's listing order (libipvs ipvs_cmp_services)."""
        return (self.fwmark, self.family, self.protocol, _address_number(self.address),
                self.port)

    @property
    def protocol_name(self) -> str:
        return "FWM" if self.is_fwmark else Protocol(self.protocol).name

    def __str__(self) -> str:
        if self.is_fwmark:
            return f"FWM {self.fwmark} {_family_name(self.family)}"
        return f"{self.protocol_name} {format_endpoint(self.address, self.port)}"


def format_endpoint(address: str, port: int) -> str:
    if ":" in address:
        return f"[{address}]:{port}"
    return f"{address}:{port}"


@dataclass(frozen=True, slots=True)  # several per real server: no __dict__ each
class DestKey:
    address: str
    port: int

    @property
    def sort_key(self) -> tuple[int, int, int]:
        """ipvsadm's listing order (libipvs ipvs_cmp_dests)."""
        return (address_family(self.address), _address_number(self.address), self.port)

    def __str__(self) -> str:
        return format_endpoint(self.address, self.port)


@dataclass(frozen=True, slots=True)  # one per real server: no __dict__ each (issue 18)
class Destination:
    """A real server inside one service. Connection counters are observed-only."""

    address: str
    port: int
    fwd: ForwardMethod = ForwardMethod.NAT
    weight: int = 1
    u_threshold: int = 0
    l_threshold: int = 0
    tun_type: TunnelType = TunnelType.IPIP
    tun_port: int = 0
    tun_flags: int = 0
    active_conns: int = field(default=0, compare=False)
    inactive_conns: int = field(default=0, compare=False)
    persist_conns: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", canonical_address(self.address))
        object.__setattr__(self, "fwd", ForwardMethod(self.fwd))
        object.__setattr__(self, "tun_type", TunnelType(self.tun_type))
        if not 0 <= self.weight <= 0x7FFFFFFF:
            raise ValueError(f"weight out of range: {self.weight}")

    @property
    def key(self) -> DestKey:
        return DestKey(self.address, self.port)

    @property
    def family(self) -> int:
        return address_family(self.address)


@dataclass(frozen=True)
class Service:
    """A virtual service and its destinations.

    `persistence_timeout` None means not persistent. `netmask` is the persistence
    granularity as a prefix length (IPv4 32 == 255.255.255.255, IPv6 128).
    """

    key: ServiceKey
    scheduler: str = "wlc"
    flags: int = 0  # ONEPACKET and SCHED1..3 only
    persistence_timeout: int | None = None
    netmask: int | None = None  # None: the family's full length
    pe_name: str | None = None
    destinations: tuple[Destination, ...] = ()
    # The kernel's list order (head first) when read from a dump; `destinations` is sorted.
    # The mh scheduler's table depends on it (haipvs/ipvs/maglev.py).
    kernel_order: tuple[DestKey, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.flags & ~SVC_MODEL_FLAGS:
            raise ValueError(f"service flags {self.flags:#x} contain non-model bits")
        full = 128 if self.key.family == AF_INET6 else 32
        if self.netmask is None:
            object.__setattr__(self, "netmask", full)
        elif not 0 < self.netmask <= full:
            raise ValueError(f"netmask /{self.netmask} out of range for {self.key}")
        dests = tuple(sorted(self.destinations, key=lambda d: d.key.sort_key))
        if len({d.key for d in dests}) != len(dests):
            raise ValueError(f"duplicate destination in {self.key}")
        object.__setattr__(self, "destinations", dests)

    @property
    def settings(self) -> tuple:
        """What SET_SERVICE can change; two services with equal settings need no op."""
        return (self.scheduler, self.flags, self.persistence_timeout, self.netmask, self.pe_name)

    @property
    def kernel_flags(self) -> int:
        return self.flags | (SVC_F_PERSISTENT if self.persistence_timeout is not None else 0)

    @cached_property
    def dest_map(self) -> Mapping[DestKey, Destination]:
        return {d.key: d for d in self.destinations}

    def without_destinations(self) -> Service:
        return Service(self.key, self.scheduler, self.flags, self.persistence_timeout,
                       self.netmask, self.pe_name)


@dataclass(frozen=True)
class Timeouts:
    """Connection timeouts in seconds (ipvsadm --set tcp tcpfin udp). 0 = leave unchanged."""

    tcp: int = 0
    tcpfin: int = 0
    udp: int = 0


class SyncState(IntEnum):
    MASTER = 1  # IP_VS_STATE_MASTER
    BACKUP = 2  # IP_VS_STATE_BACKUP


@dataclass(frozen=True)
class SyncDaemonConfig:
    state: SyncState
    interface: str
    syncid: int = 0
    maxlen: int | None = None
    mcast_group: str | None = None
    mcast_port: int | None = None
    mcast_ttl: int | None = None


@dataclass(frozen=True)
class IpvsInfo:
    version: str  # "1.2.1"
    conn_table_size: int


@dataclass(frozen=True)
class IpvsTable:
    services: tuple[Service, ...] = ()

    def __post_init__(self) -> None:
        services = tuple(sorted(self.services, key=lambda s: s.key.sort_key))
        if len({s.key for s in services}) != len(services):
            raise ValueError("duplicate service key in table")
        object.__setattr__(self, "services", services)

    @cached_property
    def by_key(self) -> Mapping[ServiceKey, Service]:
        return {s.key: s for s in self.services}

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services)

    def __len__(self) -> int:
        return len(self.services)

    def get(self, key: ServiceKey) -> Service | None:
        return self.by_key.get(key)

    def keys(self) -> set[ServiceKey]:
        return set(self.by_key)

    def restricted_to(self, keys: Iterable[ServiceKey]) -> IpvsTable:
        wanted = set(keys)
        return IpvsTable(tuple(s for s in self.services if s.key in wanted))
