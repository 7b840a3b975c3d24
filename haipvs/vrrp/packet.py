"""VRRP advertisement codec: RFC 3768 (v2) and RFC 5798/9568 (v3), IPv4 and IPv6.

Pure byte work. The encoder produces exactly what keepalived 2.2.7 sends (scapy is the test
oracle). `decode_advert` is strict about structure and raises `PacketError` naming the drop
reason; the receive ladder (`validate.py`) runs the finer checks.
"""

from __future__ import annotations

import ipaddress
import struct

from haipvs import limits
from haipvs.dataclass_lean import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

IPPROTO_VRRP = 112
VRRP_TTL = 255
ADVERTISEMENT = 1
AUTH_NONE = 0
AUTH_PASS = 1
AUTH_DATA_LEN = 8  # v2 only: the Authentication Data octets
HEADER_LEN = 8  # fixed part of both versions
MAX_V3_CENTISECONDS = limits.ADVERT_INT_V3_MAX_CENTISECONDS  # 12 bits on the wire
_V2_MAX_SECONDS = limits.ADVERT_INT_V2_MAX  # one octet on the wire

_HEADER = struct.Struct("!BBBBBBH")  # vers|type, vrid, prio, count, auth|rsvd+int, int, csum
_IPV4_MIN_HEADER = 20


class PacketError(ValueError):
    """A message that cannot be decoded; `reason` is a validate.DropReason value."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Advert:
    """One VRRP advertisement, either version.

    `advert_int` is in seconds (v2: whole seconds, v3: centisecond resolution).
    `auth_type`/`auth_data` exist only in v2 (`auth_data` is the 8 raw octets on the wire
    when decoded; on encode, a shorter value is zero-padded). `checksum` is the wire value
    of a decoded message; encoding ignores it and computes the right one.
    """

    version: int
    vrid: int
    priority: int
    advert_int: float
    addresses: tuple[IPAddress, ...]
    auth_type: int = AUTH_NONE
    auth_data: bytes = b""
    checksum: int = 0


@dataclass(frozen=True, slots=True)
class Datagram:
    """A received VRRP datagram, independent of how the socket delivered it.

    `ttl` is the IPv4 TTL or IPv6 Hop Limit, -1 when the driver could not learn it (then the
    TTL checks are skipped, as keepalived does). `ip_total_length` is the IPv4 Total Length
    field (None for IPv6, whose payload length the kernel already checked).
    `header_error` is set by `parse_ipv4_datagram` when the IP header itself is unusable;
    the ladder then drops the datagram with that reason.
    """

    family: int
    src: IPAddress
    dst: IPAddress
    ttl: int
    payload: bytes
    ip_total_length: int | None = None
    received_length: int | None = None  # whole datagram incl. IP header (IPv4)
    header_error: str | None = None


_UNSPECIFIED_V4 = ipaddress.IPv4Address(0)


def parse_ipv4_datagram(raw: bytes) -> Datagram:
    """Split what an IPv4 raw socket delivers (IP header + VRRP message). Never raises."""
    if len(raw) < _IPV4_MIN_HEADER:
        return Datagram(
            4,
            _UNSPECIFIED_V4,
            _UNSPECIFIED_V4,
            -1,
            b"",
            None,
            len(raw),
            header_error="short_packet",
        )
    version = raw[0] >> 4
    header_len = (raw[0] & 0x0F) * 4
    total_length = (raw[2] << 8) | raw[3]
    src = ipaddress.IPv4Address(raw[12:16])
    dst = ipaddress.IPv4Address(raw[16:20])
    ttl = raw[8]
    error = None
    if version != 4:
        error = "family"
    elif header_len < _IPV4_MIN_HEADER or header_len > len(raw):
        error = "short_packet"
    elif raw[9] != IPPROTO_VRRP:
        error = "type"
    payload = raw[header_len:] if error is None else b""
    return Datagram(4, src, dst, ttl, payload, total_length, len(raw), header_error=error)


# ---- checksums ------------------------------------------------------------------------


def internet_checksum(data: bytes) -> int:
    """RFC 1071 ones' complement checksum. Summing 16-bit words modulo 0xFFFF equals reducing
    the whole message as one big integer modulo 0xFFFF, since 2**16 ≡ 1 (mod 0xFFFF)."""
    if len(data) & 1:
        data += b"\x00"
    value = int.from_bytes(data, "big")
    folded = value % 0xFFFF
    if folded == 0 and value != 0:
        folded = 0xFFFF  # ones' complement "negative zero": every word sum wrapped exactly
    return ~folded & 0xFFFF


def pseudo_header(src: IPAddress, dst: IPAddress, length: int) -> bytes:
    """The IPv4 or IPv6 pseudo-header for protocol 112 and an upper-layer `length`."""
    if src.version == 4:
        return src.packed + dst.packed + bytes((0, IPPROTO_VRRP)) + length.to_bytes(2, "big")
    return src.packed + dst.packed + length.to_bytes(4, "big") + bytes((0, 0, 0, IPPROTO_VRRP))


def v2_checksum_ok(message: bytes) -> bool:
    return internet_checksum(message) == 0


VRRP_GROUP_V4 = ipaddress.IPv4Address("224.0.0.18")


def v3_checksum_ok(message: bytes, src: IPAddress, dst: IPAddress) -> bool:
    """v3 IPv6 needs the pseudo-header. v3 IPv4 accepts the pseudo-header form (RFC 5798 as
    keepalived and FRR send it), the message-only form RFC 9568 §5.2.8 mentions for old
    implementations, and, for unicast, a pseudo-header naming the multicast group (what
    keepalived before 2.0.x sent to unicast peers; it still accepts that form)."""
    if internet_checksum(pseudo_header(src, dst, len(message)) + message) == 0:
        return True
    if src.version != 4:
        return False
    if internet_checksum(message) == 0:
        return True
    return dst != VRRP_GROUP_V4 and (
        internet_checksum(pseudo_header(src, VRRP_GROUP_V4, len(message)) + message) == 0
    )


# ---- encode / decode ------------------------------------------------------------------


def address_length(family: int) -> int:
    return 4 if family == 4 else 16


def message_length(version: int, family: int, count: int) -> int:
    """Length of a VRRP message with `count` addresses (keepalived: v2 only on IPv4)."""
    auth = AUTH_DATA_LEN if version == 2 else 0
    return HEADER_LEN + count * address_length(family) + auth


def v3_centiseconds(seconds: float) -> int:
    return round(seconds * limits.CENTISECONDS_PER_SECOND)


def encode_advert(advert: Advert, src: IPAddress, dst: IPAddress) -> bytes:
    """The VRRP message (no IP header) with its checksum. v3 needs src/dst for the
    pseudo-header; v2 ignores them."""
    count = len(advert.addresses)
    if not 0 <= count <= limits.MAX_ADDRESSES_PER_ADVERT:
        raise ValueError(
            f"at most {limits.MAX_ADDRESSES_PER_ADVERT} addresses fit in one advertisement"
        )
    addresses = b"".join(address.packed for address in advert.addresses)
    if advert.version == 2:
        seconds = round(advert.advert_int)
        if seconds != advert.advert_int or not 0 <= seconds <= _V2_MAX_SECONDS:
            raise ValueError(
                f"v2 advert_int must be whole seconds 0..{_V2_MAX_SECONDS}: {advert.advert_int}"
            )
        if len(advert.auth_data) > AUTH_DATA_LEN:
            raise ValueError("v2 authentication data is at most 8 octets")
        auth = advert.auth_data.ljust(AUTH_DATA_LEN, b"\x00")
        header = _HEADER.pack(
            0x21, advert.vrid, advert.priority, count, advert.auth_type, seconds, 0
        )
        message = header + addresses + auth
        checksum = internet_checksum(message)
    elif advert.version == 3:
        centis = v3_centiseconds(advert.advert_int)
        if not 0 <= centis <= MAX_V3_CENTISECONDS:
            raise ValueError(
                f"v3 advert_int must be 0..{limits.ADVERT_INT_V3_MAX:g} s: {advert.advert_int}"
            )
        header = _HEADER.pack(
            0x31, advert.vrid, advert.priority, count, centis >> 8, centis & 0xFF, 0
        )
        message = header + addresses
        checksum = internet_checksum(pseudo_header(src, dst, len(message)) + message)
    else:
        raise ValueError(f"unsupported VRRP version {advert.version}")
    return message[:6] + checksum.to_bytes(2, "big") + message[8:]


def decode_advert(message: bytes, family: int) -> Advert:
    """Decode a VRRP message received over `family` (4 or 6). Checks structure only
    (length, version, type); checksum and semantics belong to the ladder."""
    if len(message) < HEADER_LEN:
        raise PacketError("short_packet", f"{len(message)} octets, need {HEADER_LEN}")
    vers_type, vrid, priority, count, byte4, byte5, checksum = _HEADER.unpack_from(message)
    version = vers_type >> 4
    if version not in (2, 3) or (version == 2 and family != 4):
        raise PacketError("version", f"version {version} over IPv{family}")
    if vers_type & 0x0F != ADVERTISEMENT:
        raise PacketError("type", f"type {vers_type & 0x0F}")
    expected = message_length(version, family, count)
    if len(message) < expected:
        raise PacketError("length", f"{len(message)} octets, {count} addresses need {expected}")
    size = address_length(family)
    end = HEADER_LEN + count * size
    factory = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    addresses = tuple(
        factory(message[offset : offset + size]) for offset in range(HEADER_LEN, end, size)
    )
    if version == 2:
        return Advert(
            version=2,
            vrid=vrid,
            priority=priority,
            advert_int=float(byte5),
            addresses=addresses,
            auth_type=byte4,
            auth_data=bytes(message[end : end + AUTH_DATA_LEN]),
            checksum=checksum,
        )
    centis = ((byte4 & 0x0F) << 8) | byte5
    return Advert(
        version=3,
        vrid=vrid,
        priority=priority,
        advert_int=centis / limits.CENTISECONDS_PER_SECOND,
        addresses=addresses,
        checksum=checksum,
    )
