"""Fuzz the VRRP receive path: parse + validation ladder + state machine.

Feeds random and mutated datagrams (mutations of valid v2/v3, IPv4/IPv6 adverts) to a
dispatcher holding several instances. Nothing may raise; every datagram must be accepted or
dropped with a named reason. Prints the count per outcome.

    .venv/bin/python bench/fuzz_vrrp.py --count 1000000 --seed 1
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import time
from collections import Counter

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

ip = ipaddress.ip_address
OUR_V4, PEER_V4, GROUP_V4 = ip("192.0.2.10"), ip("192.0.2.20"), ip("224.0.0.18")
OUR_V6, PEER_V6, GROUP_V6 = ip("fe80::10"), ip("fe80::20"), ip("ff02::12")
OUTCOMES = {"accepted", *(reason.value for reason in DropReason)}


def instances() -> list[InstanceParams]:
    vips4 = (ip("192.0.2.100"), ip("192.0.2.101"))
    return [
        InstanceParams("v2_auth", 51, vips4[:1], version=2, auth_pass=b"1111"),
        InstanceParams("v3_v4", 52, vips4, version=3, advert_int=0.5),
        InstanceParams(
            "v3_unicast", 53, vips4[:1], version=3, unicast_peers=(PEER_V4,), unicast_min_ttl=200
        ),
        InstanceParams("v2_owner", 54, vips4[1:], version=2, base_priority=255),
        InstanceParams("v3_v6", 51, (ip("2001:db8::100"),), version=3, family=6),
        InstanceParams(
            "v3_v6_b",
            60,
            (ip("2001:db8::1"), ip("2001:db8::2")),
            version=3,
            family=6,
            base_priority=200,
        ),
    ]


def _ipv4_header(payload: bytes, src, dst, ttl: int) -> bytes:
    total = 20 + len(payload)
    header = bytearray(20)
    header[0] = 0x45
    header[1] = 0xC0
    header[2:4] = total.to_bytes(2, "big")
    header[8] = ttl
    header[9] = 112
    header[12:16] = src.packed
    header[16:20] = dst.packed
    return bytes(header)


def seeds(params: list[InstanceParams]) -> list[tuple[int, bytes, object, object]]:
    """Valid datagrams for every instance: (family, bytes, src, dst); IPv4 bytes carry the
    IP header, IPv6 bytes are the VRRP message."""
    out = []
    for p in params:
        for priority in (0, 50, 100, 200, 255):
            advert = Advert(
                version=p.version,
                vrid=p.vrid,
                priority=priority,
                advert_int=p.advert_int,
                addresses=p.vips,
                auth_type=p.auth_type if p.version == 2 else 0,
                auth_data=p.auth_data if p.version == 2 else b"",
            )
            if p.family == 4:
                dst = OUR_V4 if p.unicast else GROUP_V4
                message = encode_advert(advert, PEER_V4, dst)
                out.append((4, _ipv4_header(message, PEER_V4, dst, 255) + message, PEER_V4, dst))
            else:
                message = encode_advert(advert, PEER_V6, GROUP_V6)
                out.append((6, message, PEER_V6, GROUP_V6))
    return out


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    choice = rng.randrange(9)
    if choice == 0 and buf:  # flip bits
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif choice == 1 and buf:  # overwrite an octet
        buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif choice == 2:  # truncate
        del buf[rng.randrange(len(buf) + 1) :]
    elif choice == 3:  # extend
        buf += rng.randbytes(rng.randint(1, 40))
    elif choice == 4:  # random bytes of a plausible size
        return rng.randbytes(rng.randint(0, 96))
    elif choice == 5 and len(buf) > 8:  # splice a chunk of itself elsewhere
        start = rng.randrange(len(buf))
        chunk = buf[start : start + rng.randint(1, 8)]
        at = rng.randrange(len(buf))
        buf[at : at + len(chunk)] = chunk
    elif choice == 6 and len(buf) > 2:  # swap two octets
        i, j = rng.randrange(len(buf)), rng.randrange(len(buf))
        buf[i], buf[j] = buf[j], buf[i]
    # 7, 8: leave it valid (exercises the accepted path and the state machine)
    return bytes(buf)


def mutate_semantics(rng: random.Random, family: int, data: bytes, src, dst) -> bytes:
    """Change one VRRP header field (vrid, priority, count, auth, interval, addresses) and
    repair the checksum, so the datagram gets past the checksum to the deeper checks."""
    offset = 20 if family == 4 else 0
    buf = bytearray(data)
    field = rng.randrange(7)
    if field == 0:
        buf[offset + 1] = rng.choice([51, 52, 53, 54, 60, rng.randrange(256)])
    elif field == 1:
        buf[offset + 2] = rng.randrange(256)
    elif field == 2:  # count 0 and no addresses
        size = 4 if family == 4 else 16
        count = buf[offset + 3]
        del buf[offset + 8 : offset + 8 + count * size]
        buf[offset + 3] = 0
    elif field == 3:
        buf[offset + 4] = rng.randrange(256)
    elif field == 4:
        buf[offset + 5] = rng.choice([0, 1, 2, 50, 100, rng.randrange(256)])
    elif field == 5 and len(buf) > offset + 8:
        buf[rng.randrange(offset + 8, len(buf))] = rng.randrange(256)
    elif field == 6:  # an address list of another length
        buf += rng.randbytes(4 if family == 4 else 16)
        buf[offset + 3] = (buf[offset + 3] + 1) % 256
    if family == 4:
        buf[2:4] = len(buf).to_bytes(2, "big")
    message = bytes(buf[offset:])
    if len(message) < 8:
        return bytes(buf)
    zeroed = message[:6] + b"\x00\x00" + message[8:]
    covered = zeroed if message[0] >> 4 == 2 else pseudo_header(src, dst, len(zeroed)) + zeroed
    fixed = zeroed[:6] + internet_checksum(covered).to_bytes(2, "big") + zeroed[8:]
    return bytes(buf[:offset]) + fixed


def run(count: int, seed: int = 1) -> Counter[str]:
    rng = random.Random(seed)
    params = instances()
    dispatchers = {4: Dispatcher(), 6: Dispatcher()}
    machines = []
    for p in params:
        machine = VrrpMachine(p)
        dispatchers[p.family].add(machine)
        machine.handle(0.0, Startup(primary_address=OUR_V4 if p.family == 4 else OUR_V6))
        machines.append(machine)
    corpus = seeds(params)
    outcomes: Counter[str] = Counter()
    now = 0.0
    for i in range(count):
        now += 0.001
        family, data, src, dst = corpus[rng.randrange(len(corpus))]
        if rng.random() < 0.3:
            data = mutate_semantics(rng, family, data, src, dst)
        else:
            data = mutate(rng, data)
        if family == 4:
            datagram = parse_ipv4_datagram(data)
        else:
            hop_limit = 255 if rng.random() < 0.9 else rng.randrange(-1, 256)
            datagram = Datagram(6, src, dst, hop_limit, data)
        verdict = dispatchers[family].receive(now, datagram)
        outcome = "accepted" if verdict.reason is None else verdict.reason.value
        if outcome not in OUTCOMES:
            raise AssertionError(f"unnamed outcome {outcome!r} for {data.hex()}")
        outcomes[outcome] += 1
        if i % 64 == 0:  # let due timers fire, as the driver would
            for machine in machines:
                for name, deadline in sorted(machine.timers.items(), key=lambda t: t[1]):
                    if deadline <= now:
                        machine.handle(now, TimerExpired(name))
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    outcomes = run(args.count, args.seed)
    elapsed = time.perf_counter() - started
    print(
        f"{args.count} datagrams in {elapsed:.1f} s ({args.count / elapsed:,.0f}/s), "
        f"seed {args.seed}; nothing raised"
    )
    for outcome, n in sorted(outcomes.items(), key=lambda item: -item[1]):
        print(f"  {outcome:24} {n:9d}")
    assert sum(outcomes.values()) == args.count


if __name__ == "__main__":
    main()
