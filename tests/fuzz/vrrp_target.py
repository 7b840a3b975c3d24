"""Fuzz target: VRRP decode + receive-validation ladder + state machine.

Inputs are the committed corpus (`corpus/vrrp/*.v4.bin`: IPv4 header + VRRP message as a
raw socket delivers it; `*.v6.bin`: the VRRP message, from fe80::20 to ff02::12) mutated by
op lists (tests/fuzz/mutate.py plus VRRP field ops that repair the checksum so mutants
reach the deeper rungs). Oracle: nothing raises and every datagram is accepted or dropped
with a named DropReason.

    .venv/bin/python -m tests.fuzz.vrrp_target --count 1000000 --seed 7
    .venv/bin/python -m tests.fuzz.vrrp_target --write-corpus     # regenerate the seeds
    .venv/bin/python -m tests.fuzz.vrrp_target --atheris          # coverage-guided, if installed
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from haipvs.vrrp.core import (
    Advert,
    Datagram,
    Dispatcher,
    DropReason,
    InstanceParams,
    Startup,
    TimerExpired,
    VrrpMachine,
    encode_advert,
    parse_ipv4_datagram,
)
from haipvs.vrrp.packet import internet_checksum, pseudo_header
from tests.fuzz.mutate import BYTE_OPS, Op, apply_byte_op, random_ops

CORPUS = Path(__file__).parent / "corpus" / "vrrp"
ip = ipaddress.ip_address
OUR_V4, PEER_V4, GROUP_V4 = ip("192.0.2.10"), ip("192.0.2.20"), ip("224.0.0.18")
OUR_V6, PEER_V6, GROUP_V6 = ip("fe80::10"), ip("fe80::20"), ip("ff02::12")
OUTCOMES = frozenset({"accepted", *(reason.value for reason in DropReason)})

# VRRP-aware ops, after the generic byte ops.
SET_FIELD = BYTE_OPS  # one header octet (or an address octet) to a value, checksum repaired
REPAIR = BYTE_OPS + 1  # recompute checksum and IPv4 total length after earlier damage
SET_TTL = BYTE_OPS + 2  # IPv4 TTL / IPv6 hop limit (-1: unknown to the driver)
RESIZE_ADDRESSES = BYTE_OPS + 3  # a consistent count + address list of another length
OP_KINDS = BYTE_OPS + 4


@dataclass(frozen=True)
class Entry:
    name: str
    family: int
    data: bytes
    hop_limit: int = 255  # IPv6 only; IPv4 carries its TTL in the header


def instances() -> list[InstanceParams]:
    vips4 = (ip("192.0.2.100"), ip("192.0.2.101"))
    return [
        InstanceParams("v2_auth", 51, vips4[:1], version=2, auth_pass=b"1111"),
        InstanceParams("v3_v4", 52, vips4, version=3, advert_int=0.5),
        InstanceParams("v3_unicast", 53, vips4[:1], version=3, unicast_peers=(PEER_V4,),
                       unicast_min_ttl=200),
        InstanceParams("v2_owner", 54, vips4[1:], version=2, base_priority=255),
        InstanceParams("v3_v6", 51, (ip("2001:db8::100"),), version=3, family=6),
        InstanceParams("v3_v6_b", 60, (ip("2001:db8::1"), ip("2001:db8::2")), version=3,
                       family=6, base_priority=200),
    ]


def _ipv4_packet(message: bytes, src, dst, ttl: int = 255) -> bytes:
    header = bytearray(20)
    header[0], header[1] = 0x45, 0xC0
    header[2:4] = (20 + len(message)).to_bytes(2, "big")
    header[8], header[9] = ttl, 112
    header[12:16], header[16:20] = src.packed, dst.packed
    return bytes(header) + message


def seed_entries() -> list[Entry]:
    """Valid adverts for every instance at priorities 0, 100 and 255 (the corpus)."""
    out = []
    for p in instances():
        for priority in (0, 100, 255):
            advert = Advert(version=p.version, vrid=p.vrid, priority=priority,
                            advert_int=p.advert_int, addresses=p.vips,
                            auth_type=p.auth_type if p.version == 2 else 0,
                            auth_data=p.auth_data if p.version == 2 else b"")
            name = f"{p.name}-prio{priority}"
            if p.family == 4:
                dst = OUR_V4 if p.unicast_peers else GROUP_V4
                out.append(Entry(name, 4, _ipv4_packet(encode_advert(advert, PEER_V4, dst),
                                                       PEER_V4, dst)))
            else:
                out.append(Entry(name, 6, encode_advert(advert, PEER_V6, GROUP_V6)))
    return out


def write_corpus(directory: Path = CORPUS) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for entry in seed_entries():
        (directory / f"{entry.name}.v{entry.family}.bin").write_bytes(entry.data)


def load_corpus(directory: Path = CORPUS) -> list[Entry]:
    entries = []
    for path in sorted(directory.glob("*.bin")):
        stem, family = path.name.removesuffix(".bin").rsplit(".v", 1)
        entries.append(Entry(stem, int(family), path.read_bytes()))
    if not entries:
        raise FileNotFoundError(f"no VRRP corpus in {directory}")
    return entries


def _repair(family: int, buf: bytearray, dst) -> bytearray:
    offset = (buf[0] & 0x0F) * 4 if family == 4 and buf else 0
    if family == 4:
        if len(buf) < 20 or offset < 20 or len(buf) < offset:
            return buf
        buf[2:4] = len(buf).to_bytes(2, "big")
    message = bytes(buf[offset:])
    if len(message) < 8:
        return buf
    zeroed = message[:6] + b"\x00\x00" + message[8:]
    src = PEER_V4 if family == 4 else PEER_V6
    if family == 4 and len(buf) >= 20:
        src, dst = ipaddress.IPv4Address(bytes(buf[12:16])), ipaddress.IPv4Address(
            bytes(buf[16:20]))
    covered = zeroed if message[0] >> 4 == 2 else pseudo_header(src, dst, len(zeroed)) + zeroed
    fixed = zeroed[:6] + internet_checksum(covered).to_bytes(2, "big") + zeroed[8:]
    return bytearray(bytes(buf[:offset]) + fixed)


def mutate(entry: Entry, ops: list[Op]) -> Entry:
    data, hop_limit = entry.data, entry.hop_limit
    for op in ops:
        kind, pos, arg = op
        kind %= OP_KINDS
        if kind < BYTE_OPS:
            data = apply_byte_op(data, op)
        elif kind == SET_TTL:
            value = (-1, 0, 1, 64, 199, 200, 254, 255)[arg % 8]
            if entry.family == 6:
                hop_limit = value
            elif len(data) > 8:
                data = data[:8] + bytes([value % 256]) + data[9:]
        else:
            buf = bytearray(data)
            offset = (buf[0] & 0x0F) * 4 if entry.family == 4 and buf else 0
            if kind == RESIZE_ADDRESSES and len(buf) >= offset + 8:
                size = 4 if entry.family == 4 else 16
                count = arg % 4
                auth = buf[-8:] if buf[offset] >> 4 == 2 and len(buf) >= offset + 16 else b""
                addresses = (bytes(buf[offset + 8:len(buf) - len(auth)]) * 4)[:count * size]
                addresses = addresses.ljust(count * size, b"\x01")
                buf[offset + 3] = count
                buf[offset + 8:] = addresses + auth
            if kind == SET_FIELD and len(buf) > offset + 8:
                where = offset + pos % (len(buf) - offset)
                if pos % 3 == 0:  # bias towards the 8-octet header
                    where = offset + pos % 8
                buf[where] = arg % 256
            dst = GROUP_V4 if entry.family == 4 else GROUP_V6
            data = bytes(_repair(entry.family, buf, dst))
    return Entry(entry.name, entry.family, data, hop_limit)


class Harness:
    """Dispatchers holding all instances; state carries from one input to the next, and due
    timers fire as the driver would fire them, so the state machine is exercised too."""

    def __init__(self) -> None:
        self.dispatchers = {4: Dispatcher(), 6: Dispatcher()}
        self.machines = []
        for p in instances():
            machine = VrrpMachine(p)
            self.dispatchers[p.family].add(machine)
            machine.handle(0.0, Startup(primary_address=OUR_V4 if p.family == 4 else OUR_V6))
            self.machines.append(machine)
        self.now = 0.0
        self.fed = 0

    def feed(self, entry: Entry) -> str:
        self.now += 0.001
        self.fed += 1
        if entry.family == 4:
            datagram = parse_ipv4_datagram(entry.data)
        else:
            datagram = Datagram(6, PEER_V6, GROUP_V6, entry.hop_limit, entry.data)
        verdict = self.dispatchers[entry.family].receive(self.now, datagram)
        outcome = "accepted" if verdict.reason is None else str(verdict.reason.value)
        if outcome not in OUTCOMES:
            raise AssertionError(f"unnamed outcome {outcome!r} for {entry.data.hex()}")
        if self.fed % 64 == 0:
            self.fire_due_timers()
        return outcome

    def fire_due_timers(self) -> None:
        for machine in self.machines:
            for name, deadline in sorted(machine.timers.items(), key=lambda t: t[1]):
                if deadline <= self.now:
                    machine.handle(self.now, TimerExpired(name))


def run(count: int, seed: int, corpus: list[Entry] | None = None) -> Counter[str]:
    """`count` mutated inputs; raises with the corpus entry and op list on any failure."""
    corpus = corpus or load_corpus()
    rng = random.Random(seed)
    harness = Harness()
    outcomes: Counter[str] = Counter()
    for _ in range(count):
        entry = corpus[rng.randrange(len(corpus))]
        ops = random_ops(rng, OP_KINDS) if rng.random() < 0.9 else []
        try:
            outcomes[harness.feed(mutate(entry, ops))] += 1
        except Exception as exc:
            raise AssertionError(f"VRRP fuzz input {entry.name} ops={ops!r}: {exc!r}") from exc
    return outcomes


def atheris_main(argv: list[str]) -> None:  # pragma: no cover - by hand, needs atheris
    import atheris

    corpus = load_corpus()
    harness = Harness()

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        entry = corpus[fdp.ConsumeIntInRange(0, len(corpus) - 1)]
        if fdp.ConsumeBool():
            harness.feed(Entry("raw", entry.family, fdp.ConsumeBytes(fdp.remaining_bytes())))
            return
        ops = [(fdp.ConsumeIntInRange(0, OP_KINDS - 1), fdp.ConsumeUInt(2), fdp.ConsumeUInt(2))
               for _ in range(fdp.ConsumeIntInRange(0, 6))]
        harness.feed(mutate(entry, ops))

    atheris.instrument_all()  # haipvs and PyYAML are imported already
    atheris.Setup(argv, one)
    atheris.Fuzz()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-corpus", action="store_true")
    parser.add_argument("--atheris", action="store_true",
                        help="coverage-guided with atheris; remaining args go to libFuzzer")
    args, rest = parser.parse_known_args()
    if args.write_corpus:
        write_corpus()
        print(f"wrote {len(list(CORPUS.glob('*.bin')))} files to {CORPUS}")
        return
    if args.atheris:
        atheris_main([sys.argv[0], *rest])
        return
    started = time.perf_counter()
    outcomes = run(args.count, args.seed)
    elapsed = time.perf_counter() - started
    print(f"{args.count} inputs in {elapsed:.1f} s ({args.count / elapsed:,.0f}/s), seed "
          f"{args.seed}; nothing raised")
    for outcome, n in outcomes.most_common():
        print(f"  {outcome:20} {n:9d}")


if __name__ == "__main__":
    main()
