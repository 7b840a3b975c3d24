"""What one VRRP instance is built from. The daemon maps its YAML config to these; the core
never imports the config package."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

OWNER_PRIORITY = 255


@dataclass(frozen=True, slots=True)
class GarpParams:
    """keepalived's garp_* settings. Seconds and packet counts; 0 seconds disables."""

    master_delay: float = 5.0  # second burst this long after becoming MASTER
    master_repeat: int = 5  # announcements per burst on becoming MASTER
    master_refresh: float = 0.0  # periodic refresh interval while MASTER
    master_refresh_repeat: int = 1  # announcements per refresh
    lower_prio_repeat: int = 1  # burst when MASTER sees a lower-priority advert (0 = none)
    lower_prio_delay: float = 0.0  # second lower-priority burst after this long


@dataclass(frozen=True, slots=True)
class InstanceParams:
    name: str
    vrid: int
    vips: tuple[IPAddress, ...]
    base_priority: int = 100
    advert_int: float = 1.0
    version: int = 2
    family: int = 4
    preempt: bool = True
    preempt_delay: float = 0.0
    auth_pass: bytes | None = None  # v2 PASS authentication, at most 8 octets
    unicast_peers: tuple[IPAddress, ...] = ()
    unicast_min_ttl: int = 0
    unicast_max_ttl: int = 255
    initial_state: str = "BACKUP"  # "BACKUP" or "MASTER" (a hint unless owner)
    # RFC 3768/5798 §7.1: the address owner discards adverts. keepalived only does so in
    # strict mode, so this can be turned off for a keepalived-like owner.
    owner_ignore_adverts: bool = True
    garp: GarpParams = field(default_factory=GarpParams)

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.vrid <= 255:
            problems.append(f"vrid {self.vrid} not in 1..255")
        if not 1 <= self.base_priority <= 255:
            problems.append(f"priority {self.base_priority} not in 1..255")
        if self.family not in (4, 6):
            problems.append(f"family {self.family} is neither 4 nor 6")
        if self.version not in (2, 3):
            problems.append(f"version {self.version} is neither 2 nor 3")
        if self.version == 2 and self.family == 6:
            problems.append("IPv6 needs VRRP version 3")
        if self.version == 2:
            if self.advert_int != int(self.advert_int) or not 1 <= self.advert_int <= 255:
                problems.append(f"v2 advert_int {self.advert_int} must be whole seconds 1..255")
        elif not 1 <= round(self.advert_int * 100) <= 0x0FFF:
            problems.append(f"v3 advert_int {self.advert_int} must be 0.01..40.95 s")
        if self.auth_pass is not None and (self.version != 2 or len(self.auth_pass) > 8):
            problems.append("auth_pass is v2 only and at most 8 octets")
        if len(self.vips) > 255:
            problems.append("at most 255 VIPs fit in an advertisement")
        for address in (*self.vips, *self.unicast_peers):
            if address.version != self.family:
                problems.append(f"{address} is not IPv{self.family}")
        if not 0 <= self.unicast_min_ttl <= self.unicast_max_ttl <= 255:
            problems.append("unicast TTL range must satisfy 0 <= min <= max <= 255")
        if self.initial_state not in ("BACKUP", "MASTER"):
            problems.append(f"initial_state {self.initial_state!r} is neither BACKUP nor MASTER")
        if self.preempt_delay < 0:
            problems.append("preempt_delay is negative")
        if problems:
            raise ValueError(f"instance {self.name}: " + "; ".join(problems))

    @property
    def owner(self) -> bool:
        return self.base_priority == OWNER_PRIORITY

    @property
    def unicast(self) -> bool:
        return bool(self.unicast_peers)

    @property
    def auth_type(self) -> int:
        return 1 if self.auth_pass is not None else 0

    @property
    def auth_data(self) -> bytes:
        """The 8 Authentication Data octets of a v2 advert."""
        return (self.auth_pass or b"").ljust(8, b"\x00")
