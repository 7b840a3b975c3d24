"""The receive-validation ladder (RFC 3768 §7.1, RFC 5798 §7.1; FRR/keepalived order).

`LADDER` is one ordered tuple of checks. Each check returns None (pass) or the DropReason
the datagram is dropped with; the first failure wins. Checks may also record a `Note`
(counted, not a drop). Instances of one interface and family share a socket, so the ladder
runs in a `Dispatcher` that finds the instance by VRID. A drop is charged to that instance
whenever the VRID octet is readable and configured, even for checks before the VRID lookup
(ttl, checksum, ...); otherwise to the interface.

Strict mode (keepalived `vrrp_strict` / `strict_mode`) adds no rung: keepalived 2.2.7's
receive checks (vrrp.c vrrp_check_packet()) never test strict_mode; what strict mode changes
is the config (no authentication, no unicast: haipvs/config/strict_mode.py), so the same
ladder applies.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable
from dataclasses import field

from haipvs.dataclass_lean import dataclass
from haipvs.vrrp.counters import InterfaceCounters
from haipvs.vrrp.messages import Action, AdvertReceived
from haipvs.vrrp.packet import (
    AUTH_NONE,
    AUTH_PASS,
    HEADER_LEN,
    VRRP_TTL,
    Advert,
    Datagram,
    decode_advert,
    message_length,
    v2_checksum_ok,
    v3_centiseconds,
    v3_checksum_ok,
)
from haipvs.vrrp.params import OWNER_PRIORITY, InstanceParams
from haipvs.vrrp.state import VrrpMachine


class DropReason(enum.StrEnum):
    SHORT_PACKET = "short_packet"  # not even a fixed VRRP header (or a broken IP header)
    TTL = "ttl"  # TTL/Hop Limit not 255 (multicast) or outside the unicast peer's range
    VERSION = "version"  # not the configured version (v2 over IPv6 included)
    TYPE = "type"  # not an ADVERTISEMENT (or not IP protocol 112)
    LENGTH = "length"  # IP total length vs received, or count vs message size
    CHECKSUM = "checksum"
    UNKNOWN_VRID = "unknown_vrid"
    FAMILY = "family"  # the VRID is configured, but for the other address family
    OWNER_IGNORES = "owner_ignores"  # we own the addresses (priority 255)
    AUTH_TYPE = "auth_type"  # v2 auth type unknown or not ours
    AUTH_MISMATCH = "auth_mismatch"  # v2 PASS data differs
    INTERVAL_MISMATCH = "interval_mismatch"  # v2 interval differs from ours
    ZERO_INTERVAL = "zero_interval"  # v3 Max Adver Int 0
    NO_ADDRESSES = "no_addresses"  # v3 count 0
    VIP_MISMATCH = "vip_mismatch"  # v2 address list differs and the sender is not owner
    UNKNOWN_PEER = "unknown_peer"  # unicast: the sender is not a configured peer


class Note(enum.StrEnum):
    INTERVAL_ADOPTED = "interval_adopted"  # v3 interval differs: log and follow the master
    VIP_MISMATCH_ACCEPTED = "vip_mismatch_accepted"  # v3 (or v2 from owner) list differs


@dataclass(slots=True)
class _Packet:
    """What the checks look at; filled in as the ladder goes."""

    datagram: Datagram
    message: bytes
    params: InstanceParams | None  # the instance the VRID octet names, when configured
    version: int = 0
    count: int = 0
    notes: list[Note] = field(default_factory=list)


Check = Callable[[_Packet], DropReason | None]


def _check_short(p: _Packet) -> DropReason | None:
    if p.datagram.header_error is not None:
        return DropReason(p.datagram.header_error)  # the IP header itself is unusable
    if len(p.message) < HEADER_LEN:
        return DropReason.SHORT_PACKET
    return None


def _check_ttl(p: _Packet) -> DropReason | None:
    ttl = p.datagram.ttl
    if ttl == -1:
        return None  # the driver could not learn it; keepalived skips the check too
    params = p.params
    if params is not None and params.unicast:
        # Unicast adverts may cross routers: only the peer's configured range applies,
        # and a sender that is no peer is dropped later as unknown_peer.
        if p.datagram.src in params.unicast_peers and not (
            params.unicast_min_ttl <= ttl <= params.unicast_max_ttl
        ):
            return DropReason.TTL
        return None
    return None if ttl == VRRP_TTL else DropReason.TTL


def _check_version(p: _Packet) -> DropReason | None:
    version = p.message[0] >> 4
    p.version = version
    if version not in (2, 3) or (version == 2 and p.datagram.family != 4):
        return DropReason.VERSION
    params = p.params
    if params is not None and params.family == p.datagram.family and version != params.version:
        return DropReason.VERSION
    return None


def _check_type(p: _Packet) -> DropReason | None:
    if p.message[0] & 0x0F != 1:
        return DropReason.TYPE
    return None


def _check_length(p: _Packet) -> DropReason | None:
    datagram = p.datagram
    if datagram.ip_total_length is not None and datagram.received_length is not None:
        total, received = datagram.ip_total_length, datagram.received_length
        header_len = received - len(p.message)
        if total > received or total < header_len + HEADER_LEN:
            return DropReason.LENGTH  # truncated, or a length that cannot hold the header
        if total < received:
            # keepalived tolerates only Ethernet minimum-frame padding (46 octet payload).
            if received > 46:
                return DropReason.LENGTH
            p.message = p.message[: total - header_len]
    p.count = p.message[3]
    if len(p.message) != message_length(p.version, datagram.family, p.count):
        return DropReason.LENGTH
    return None


def _check_checksum(p: _Packet) -> DropReason | None:
    if p.version == 2:
        ok = v2_checksum_ok(p.message)
    else:
        ok = v3_checksum_ok(p.message, p.datagram.src, p.datagram.dst)
    return None if ok else DropReason.CHECKSUM


def _check_vrid(p: _Packet) -> DropReason | None:
    return DropReason.UNKNOWN_VRID if p.params is None else None


def _check_family(p: _Packet) -> DropReason | None:
    assert p.params is not None
    return None if p.params.family == p.datagram.family else DropReason.FAMILY


def _check_owner(p: _Packet) -> DropReason | None:
    assert p.params is not None
    if p.params.owner and p.params.owner_ignore_adverts:
        return DropReason.OWNER_IGNORES
    return None


def _check_auth_type(p: _Packet) -> DropReason | None:
    assert p.params is not None
    if p.version != 2:
        return None
    auth_type = p.message[4]
    if auth_type not in (AUTH_NONE, AUTH_PASS) or auth_type != p.params.auth_type:
        return DropReason.AUTH_TYPE
    return None


def _check_auth_data(p: _Packet) -> DropReason | None:
    assert p.params is not None
    if p.version != 2 or p.params.auth_type != AUTH_PASS:
        return None
    received = p.message[-8:]
    if not hmac.compare_digest(received, p.params.auth_data):
        return DropReason.AUTH_MISMATCH
    return None


def _check_interval(p: _Packet) -> DropReason | None:
    assert p.params is not None
    if p.version == 2:
        return None if p.message[5] == p.params.advert_int else DropReason.INTERVAL_MISMATCH
    centis = ((p.message[4] & 0x0F) << 8) | p.message[5]
    if centis == 0:
        return DropReason.ZERO_INTERVAL
    if centis != v3_centiseconds(p.params.advert_int):
        p.notes.append(Note.INTERVAL_ADOPTED)
    return None


def _check_count(p: _Packet) -> DropReason | None:
    return DropReason.NO_ADDRESSES if p.version == 3 and p.count == 0 else None


def _check_vips(p: _Packet) -> DropReason | None:
    assert p.params is not None
    size = 4 if p.datagram.family == 4 else 16
    end = HEADER_LEN + p.count * size
    received = {p.message[i : i + size] for i in range(HEADER_LEN, end, size)}
    expected = {vip.packed for vip in p.params.vips}
    if p.count == len(p.params.vips) and received == expected:
        return None
    # RFC 3768 §7.1: v2 drops a mismatch unless the sender is the owner; RFC 5798 §7.1
    # only asks to log it.
    if p.version == 2 and p.message[2] != OWNER_PRIORITY:
        return DropReason.VIP_MISMATCH
    p.notes.append(Note.VIP_MISMATCH_ACCEPTED)
    return None


def _check_peer(p: _Packet) -> DropReason | None:
    assert p.params is not None
    if p.params.unicast and p.datagram.src not in p.params.unicast_peers:
        return DropReason.UNKNOWN_PEER
    return None


# The ladder, in order. Everything before `unknown_vrid` also runs for unknown VRIDs.
LADDER: tuple[tuple[DropReason, Check], ...] = (
    (DropReason.SHORT_PACKET, _check_short),
    (DropReason.TTL, _check_ttl),
    (DropReason.VERSION, _check_version),
    (DropReason.TYPE, _check_type),
    (DropReason.LENGTH, _check_length),
    (DropReason.CHECKSUM, _check_checksum),
    (DropReason.UNKNOWN_VRID, _check_vrid),
    (DropReason.FAMILY, _check_family),
    (DropReason.OWNER_IGNORES, _check_owner),
    (DropReason.AUTH_TYPE, _check_auth_type),
    (DropReason.AUTH_MISMATCH, _check_auth_data),
    (DropReason.INTERVAL_MISMATCH, _check_interval),  # also zero_interval, interval_adopted
    (DropReason.NO_ADDRESSES, _check_count),
    (DropReason.VIP_MISMATCH, _check_vips),  # also vip_mismatch_accepted
    (DropReason.UNKNOWN_PEER, _check_peer),
)


@dataclass(frozen=True, slots=True)
class LadderResult:
    advert: Advert | None  # set when accepted
    reason: DropReason | None  # set when dropped
    notes: tuple[Note, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.reason is None


def run_ladder(datagram: Datagram, params: InstanceParams | None) -> LadderResult:
    """Validate one datagram against the instance its VRID octet names (None: unknown)."""
    packet = _Packet(datagram, datagram.payload, params)
    for _, check in LADDER:
        reason = check(packet)
        if reason is not None:
            return LadderResult(None, reason, tuple(packet.notes))
    advert = decode_advert(packet.message, datagram.family)
    return LadderResult(advert, None, tuple(packet.notes))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the dispatcher did with one datagram. `machine` is the instance it was charged
    to (None: the interface); `actions` are that machine's reaction to an accepted advert."""

    reason: DropReason | None
    machine: VrrpMachine | None
    actions: list[Action] = field(default_factory=list)
    notes: tuple[Note, ...] = ()
    advert: Advert | None = None

    @property
    def accepted(self) -> bool:
        return self.reason is None


class Dispatcher:
    """The instances sharing one socket (interface + family), keyed by (family, VRID)."""

    def __init__(self) -> None:
        self.counters = InterfaceCounters()
        self._machines: dict[tuple[int, int], VrrpMachine] = {}

    def add(self, machine: VrrpMachine) -> None:
        key = (machine.params.family, machine.params.vrid)
        if key in self._machines:
            raise ValueError(f"VRID {key[1]} (IPv{key[0]}) is already on this interface")
        self._machines[key] = machine

    def remove(self, machine: VrrpMachine) -> None:
        self._machines.pop((machine.params.family, machine.params.vrid), None)

    @property
    def machines(self) -> list[VrrpMachine]:
        return list(self._machines.values())

    def _attribute(self, datagram: Datagram) -> VrrpMachine | None:
        if len(datagram.payload) < 2:
            return None
        vrid = datagram.payload[1]
        machine = self._machines.get((datagram.family, vrid))
        if machine is None:
            # Same VRID configured for the other family: charge it there (a `family` drop).
            other = 6 if datagram.family == 4 else 4
            machine = self._machines.get((other, vrid))
        return machine

    def receive(self, now: float, datagram: Datagram) -> Verdict:
        self.counters.received += 1
        machine = self._attribute(datagram)
        result = run_ladder(datagram, machine.params if machine is not None else None)
        if machine is None:
            if result.reason is not None:
                self.counters.drops[result.reason] += 1
            return Verdict(result.reason, None, [], result.notes)
        for note in result.notes:
            machine.counters.notes[note] += 1
        if result.reason is not None:
            machine.counters.drops[result.reason] += 1
            return Verdict(result.reason, machine, [], result.notes)
        assert result.advert is not None
        actions = machine.handle(now, AdvertReceived(result.advert, datagram.src))
        return Verdict(None, machine, actions, result.notes, result.advert)
