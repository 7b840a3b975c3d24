"""Deterministic mutations as data: an input is (corpus entry, [Op, ...]), so a failure found
by the seeded loop is replayed exactly, and hypothesis can shrink the op list.

An Op is (kind, position, argument) of plain ints; what they mean depends on the target
(bytes for VRRP, lines and tokens for YAML). Positions and arguments are taken modulo
whatever they index, so every op applies to every input.
"""

from __future__ import annotations

import random

Op = tuple[int, int, int]

INTERESTING_BYTES = (0x00, 0x01, 0x02, 0x03, 0x0F, 0x10, 0x20, 0x21, 0x31, 0x7F, 0x80, 0xFE,
                     0xFF)

# Byte ops (VRRP datagrams).
FLIP, SET, SET_INTERESTING, TRUNCATE, EXTEND, DELETE, DUPLICATE, SWAP = range(8)
BYTE_OPS = 8


def _filler(arg: int, size: int) -> bytes:
    return random.Random(arg).randbytes(size)


def apply_byte_op(data: bytes, op: Op) -> bytes:
    kind, pos, arg = op
    buf = bytearray(data)
    kind %= BYTE_OPS
    if kind == EXTEND:
        return bytes(buf + _filler(arg, 1 + arg % 40))
    if not buf:
        return b""
    at = pos % len(buf)
    if kind == FLIP:
        buf[at] ^= 1 << (arg % 8)
    elif kind == SET:
        buf[at] = arg % 256
    elif kind == SET_INTERESTING:
        buf[at] = INTERESTING_BYTES[arg % len(INTERESTING_BYTES)]
    elif kind == TRUNCATE:
        del buf[at:]
    elif kind == DELETE:
        del buf[at:at + 1 + arg % 8]
    elif kind == DUPLICATE:
        chunk = buf[at:at + 1 + arg % 8]
        buf[at:at] = chunk
    elif kind == SWAP:
        other = arg % len(buf)
        buf[at], buf[other] = buf[other], buf[at]
    return bytes(buf)


def random_ops(rng: random.Random, kinds: int, max_ops: int = 4) -> list[Op]:
    return [(rng.randrange(kinds), rng.randrange(1 << 16), rng.randrange(1 << 16))
            for _ in range(rng.randint(1, max_ops))]
