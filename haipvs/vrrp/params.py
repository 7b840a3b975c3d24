"""What one VRRP instance is built from. The daemon maps its YAML config to these; the core
never imports the config package."""

from __future__ import annotations

import ipaddress
from dataclasses import field

from haipvs import limits
from haipvs.dataclass_lean import dataclass
from haipvs.limits import OWNER_PRIORITY

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class ExtraIf:
    """keepalived's garp_extra_if <delay> [all] (the rules: haipvs/vrrp/garp_extra_if.py)."""

    delay: int  # seconds, 0 = off; keepalived reads 0..86400
    all_if: bool = False


@dataclass(frozen=True, slots=True)
class GarpParams:
    """keepalived's garp_* settings. Seconds and packet counts; 0 seconds disables."""

    master_delay: float = limits.GARP_MASTER_DELAY  # second burst this long after MASTER
    master_repeat: int = limits.GARP_MASTER_REPEAT  # announcements per burst on becoming MASTER
    master_refresh: float = limits.GARP_MASTER_REFRESH  # periodic refresh interval while MASTER
    master_refresh_repeat: int = limits.GARP_MASTER_REFRESH_REPEAT  # announcements per refresh
    # burst when MASTER sees a lower-priority advert (0 = none)
    lower_prio_repeat: int = limits.GARP_LOWER_PRIO_REPEAT
    lower_prio_delay: float = limits.GARP_LOWER_PRIO_DELAY  # second such burst after this long


@dataclass(frozen=True, slots=True)
class InstanceParams:
    name: str
    vrid: int
    vips: tuple[IPAddress, ...]
    base_priority: int = limits.DEFAULT_PRIORITY
    advert_int: float = limits.DEFAULT_ADVERT_INT
    version: int = limits.DEFAULT_VRRP_VERSION
    family: int = 4
    preempt: bool = True
    preempt_delay: float = 0.0
    auth_pass: bytes | None = None  # v2 PASS authentication, at most 8 octets
    unicast_peers: tuple[IPAddress, ...] = ()
    unicast_min_ttl: int = 0
    unicast_max_ttl: int = limits.TTL_MAX
    initial_state: str = "BACKUP"  # "BACKUP" or "MASTER" (a hint unless owner)
    # RFC 3768/5798 §7.1: the address owner discards adverts. keepalived only does so in
    # strict mode, so this can be turned off for a keepalived-like owner.
    owner_ignore_adverts: bool = True
    # keepalived vrrp_lower_prio_no_advert / vrrp_higher_prio_send_advert, which strict mode
    # forces to true / false (vrrp.c vrrp_complete_instance(), process_higher_prio_advert...).
    # haipvs' defaults: answer a lower-priority advert (keepalived's default) and send one
    # parting advert before stepping down (haipvs/vrrp/transitions.py _master_advert()).
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = True
    garp: GarpParams = field(default_factory=GarpParams)

    def __post_init__(self) -> None:
        problems = []
        low, high = limits.VRID_MIN, limits.VRID_MAX
        if not low <= self.vrid <= high:
            problems.append(f"vrid {self.vrid} not in {low}..{high}")
        low, high = limits.PRIORITY_MIN, limits.PRIORITY_MAX
        if not low <= self.base_priority <= high:
            problems.append(f"priority {self.base_priority} not in {low}..{high}")
        if self.family not in (4, 6):
            problems.append(f"family {self.family} is neither 4 nor 6")
        if self.version not in limits.VRRP_VERSIONS:
            problems.append(f"version {self.version} is neither 2 nor 3")
        if self.version == 2 and self.family == 6:
            problems.append("IPv6 needs VRRP version 3")
        if self.version == 2:
            low, high = limits.ADVERT_INT_V2_MIN, limits.ADVERT_INT_V2_MAX
            if self.advert_int != int(self.advert_int) or not low <= self.advert_int <= high:
                problems.append(
                    f"v2 advert_int {self.advert_int} must be whole seconds {low}..{high}"
                )
        elif not (
            1
            <= round(self.advert_int * limits.CENTISECONDS_PER_SECOND)
            <= limits.ADVERT_INT_V3_MAX_CENTISECONDS
        ):
            problems.append(
                f"v3 advert_int {self.advert_int} must be "
                f"{limits.ADVERT_INT_V3_MIN:g}..{limits.ADVERT_INT_V3_MAX:g} s"
            )
        max_octets = limits.AUTH_PASS_MAX_OCTETS
        if self.auth_pass is not None and (self.version != 2 or len(self.auth_pass) > max_octets):
            problems.append(f"auth_pass is v2 only and at most {max_octets} octets")
        if len(self.vips) > limits.MAX_ADDRESSES_PER_ADVERT:
            problems.append(
                f"at most {limits.MAX_ADDRESSES_PER_ADVERT} VIPs fit in an advertisement"
            )
        for address in (*self.vips, *self.unicast_peers):
            if address.version != self.family:
                problems.append(f"{address} is not IPv{self.family}")
        if not 0 <= self.unicast_min_ttl <= self.unicast_max_ttl <= limits.TTL_MAX:
            problems.append(f"unicast TTL range must satisfy 0 <= min <= max <= {limits.TTL_MAX}")
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
