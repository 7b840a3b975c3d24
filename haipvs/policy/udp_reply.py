"""UDP_CHECK's hex strings and reply test, as keepalived 2.2.7 reads and applies them.

- `read_hex_str` follows lib/parser.c read_hex_str(): hex digits, blanks between octets; a
  digit standing alone (followed by a blank or the end) is one octet (`1 2` is 01 02); in a
  reply pattern `x`/`X` is a wildcard nibble. Used for `payload` and `require_reply HEX`.
- `reply_ok` follows check/check_udp.c check_udp_reply(), which udp_check_thread() calls only
  when a pattern is set: the reply length must be within [min_reply_length,
  max_reply_length] (the receive buffer is max_reply_length + 1 bytes, so a longer datagram
  arrives truncated to max + 1 and fails), and the first min(len(reply), len(pattern))
  octets must match the pattern outside its wildcard nibbles. A reply shorter than the
  pattern passes when its octets match.
"""

from __future__ import annotations

from haipvs.dataclass_lean import dataclass
from haipvs.limits import UDP_MAX_REPLY_LENGTH, UDP_MIN_REPLY_LENGTH


class HexError(ValueError):
    """Not a hex string keepalived accepts (it says "Invalid hex string")."""


@dataclass(frozen=True, slots=True)
class HexPattern:
    data: bytes
    mask: bytes | None = None  # 1 bits = wildcard (keepalived's reply_mask); None = exact


def _nibble(char: str, wildcard: bool) -> int | None:
    """hex_val(): the nibble, -1 for a wildcard, None when invalid."""
    if char in "0123456789abcdefABCDEF":
        return int(char, 16)
    if wildcard and char in "xX":
        return -1
    return None


def read_hex_str(text: str, *, wildcard: bool = False) -> HexPattern:
    octets, masks = bytearray(), bytearray()
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i == n:
            break
        nibbles = [_nibble(text[i], wildcard)]
        i += 1
        if i < n and text[i] != " ":  # keepalived tests only ' ' here, not '\t'
            nibbles.append(_nibble(text[i], wildcard))
            i += 1
        if None in nibbles:
            raise HexError(f"{text!r} is not a hex string (hex digits"
                           + (", x for any nibble" if wildcard else "") + ", blanks)")
        value = mask = 0
        for nibble in nibbles:
            value, mask = value << 4, mask << 4
            if nibble == -1:
                mask |= 0x0F
            else:
                value |= nibble  # type: ignore[operator]
        octets.append(value)
        masks.append(mask)
    if not octets:
        raise HexError("an empty hex string")
    return HexPattern(bytes(octets), bytes(masks) if any(masks) else None)


def reply_ok(reply: bytes, pattern: HexPattern, min_length: int = UDP_MIN_REPLY_LENGTH,
             max_length: int = UDP_MAX_REPLY_LENGTH) -> bool:
    """check_udp_reply() inverted: True when the reply passes."""
    if not min_length <= len(reply) <= max_length:
        return False
    for index in range(min(len(reply), len(pattern.data))):
        ignore = pattern.mask[index] if pattern.mask is not None else 0
        if (reply[index] ^ pattern.data[index]) & ~ignore & 0xFF:
            return False
    return True


# keepalived layer4.c udp_socket_error(): with IP(V6)_RECVERR set, an error on the socket is
# read from its error queue, and only an ICMP destination unreachable (any code) fails the
# check; any other error (time exceeded, ...) leaves it a success.
SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6 = 2, 3
ICMP_DEST_UNREACH, ICMPV6_DEST_UNREACH = 3, 1
_PORT_UNREACH = {SO_EE_ORIGIN_ICMP: 3, SO_EE_ORIGIN_ICMP6: 4}


def icmp_down_reason(origin: int, icmp_type: int, code: int) -> str | None:
    """Why the queued socket error takes the server down, or None when keepalived would
    count the attempt as a success."""
    unreachable = ((origin == SO_EE_ORIGIN_ICMP and icmp_type == ICMP_DEST_UNREACH)
                   or (origin == SO_EE_ORIGIN_ICMP6 and icmp_type == ICMPV6_DEST_UNREACH))
    if not unreachable:
        return None
    if _PORT_UNREACH[origin] == code:
        return "port unreachable"
    return f"ICMP destination unreachable (code {code})"
