"""DNS_CHECK: one query over UDP, built and parsed with struct (RFC 1035).

Up when the reply is NOERROR and carries at least one answer record of the queried type.
"""

from __future__ import annotations

import random
import struct

import trio

from haipvs.health.net import os_error_reason, timeout_reason
from haipvs.health.spec import DnsProbe
from haipvs.health.state import CheckResult
from haipvs.health.udp import open_udp

QTYPES = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
    "SRV": 33, "NAPTR": 35, "DS": 43, "DNSKEY": 48, "CAA": 257,
}
RCODES = {1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_FLAG_QR = 0x8000
_FLAG_RD = 0x0100
_CLASS_IN = 1
_MAX_DATAGRAMS = 8  # stray replies (wrong id) tolerated per attempt


class MalformedReply(ValueError):
    pass


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.strip(".").split("."):
        if not label:
            continue
        raw = label.encode("idna") if not label.isascii() else label.encode()
        if len(raw) > 63:
            raise ValueError(f"DNS label too long: {label!r}")
        out += bytes([len(raw)]) + raw
    return bytes(out) + b"\x00"


def build_query(query_id: int, name: str, qtype: int) -> bytes:
    header = _HEADER.pack(query_id, _FLAG_RD, 1, 0, 0, 0)
    return header + encode_name(name) + struct.pack("!HH", qtype, _CLASS_IN)


def skip_name(message: bytes, offset: int) -> int:
    """Offset just past the (possibly compressed) name at `offset`."""
    for _ in range(128):  # a name has at most 127 labels
        if offset >= len(message):
            raise MalformedReply("name runs past the message")
        length = message[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2
        if length & 0xC0:
            raise MalformedReply("bad label type")
        offset += 1 + length
        if length == 0:
            return offset
    raise MalformedReply("name too long")


def parse_reply(message: bytes, query_id: int, qtype: int) -> str | None:
    """None when the reply answers `qtype` with NOERROR, else why not.
    Raises MalformedReply; returns "wrong id" for a reply to another query."""
    if len(message) < _HEADER.size:
        raise MalformedReply("short header")
    reply_id, flags, qdcount, ancount, _ns, _ar = _HEADER.unpack_from(message)
    if reply_id != query_id or not flags & _FLAG_QR:
        return "wrong id"
    rcode = flags & 0x000F
    if rcode:
        return f"DNS {RCODES.get(rcode, f'rcode {rcode}')}"
    if ancount == 0:
        return "DNS no answer"
    offset = _HEADER.size
    for _ in range(qdcount):
        offset = skip_name(message, offset) + 4
    for _ in range(ancount):
        offset = skip_name(message, offset)
        if offset + _RR_FIXED.size > len(message):
            raise MalformedReply("record runs past the message")
        rtype, _rclass, _ttl, rdlength = _RR_FIXED.unpack_from(message, offset)
        if rtype == qtype:
            return None
        offset += _RR_FIXED.size + rdlength
    return "DNS no answer of the queried type"


async def probe_dns(probe: DnsProbe) -> CheckResult:
    started = trio.current_time()
    qtype = QTYPES[probe.qtype.upper()]
    query_id = random.getrandbits(16)
    try:
        sock = open_udp(probe.endpoint)
    except OSError as exc:
        return CheckResult(False, os_error_reason(exc))
    with sock:
        ok = False
        reason = timeout_reason(probe.connect_timeout)
        with trio.move_on_after(probe.connect_timeout):
            try:
                sock.send(build_query(query_id, probe.name, qtype))
                for _ in range(_MAX_DATAGRAMS):
                    await trio.lowlevel.wait_readable(sock)
                    verdict = parse_reply(sock.recv(65535), query_id, qtype)
                    if verdict != "wrong id":
                        break
                else:
                    verdict = "DNS only replies to other queries"
            except ConnectionRefusedError:
                verdict = "port unreachable"
            except OSError as exc:
                verdict = os_error_reason(exc)
            except MalformedReply as exc:
                verdict = f"DNS malformed reply: {exc}"
            ok = verdict is None
            reason = verdict or f"DNS {probe.qtype.upper()} answer"
    return CheckResult(ok, reason, trio.current_time() - started)
