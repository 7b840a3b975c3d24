"""Shared builders for the VRRP core tests: parameters, adverts and received datagrams."""

from __future__ import annotations

import dataclasses
import ipaddress

from scapy.layers.inet import IP
from scapy.packet import Raw

from haipvs.vrrp.core import (
    Advert,
    Datagram,
    Dispatcher,
    InstanceParams,
    VrrpMachine,
    encode_advert,
    parse_ipv4_datagram,
)

ip = ipaddress.ip_address

OUR_V4 = ip("192.0.2.10")
PEER_V4 = ip("192.0.2.20")  # higher than OUR_V4
LOW_PEER_V4 = ip("192.0.2.5")  # lower than OUR_V4
GROUP_V4 = ip("224.0.0.18")
VIP_V4 = ip("192.0.2.100")
OUR_V6 = ip("fe80::10")
PEER_V6 = ip("fe80::20")
GROUP_V6 = ip("ff02::12")
VIP_V6 = ip("2001:db8::100")


def params(**overrides) -> InstanceParams:
    """A v2 IPv4 instance, VRID 51, priority 100, 1 s, one VIP, no auth, unless overridden."""
    base = InstanceParams(name="vi_test", vrid=51, vips=(VIP_V4,))
    return dataclasses.replace(base, **overrides)


def params_v6(**overrides) -> InstanceParams:
    base = InstanceParams(name="vi_test6", vrid=51, vips=(VIP_V6,), version=3, family=6)
    return dataclasses.replace(base, **overrides)


def advert_for(p: InstanceParams, **overrides) -> Advert:
    """The advert a correctly configured peer of `p` would send."""
    base = Advert(
        version=p.version,
        vrid=p.vrid,
        priority=100,
        advert_int=p.advert_int,
        addresses=p.vips,
        auth_type=p.auth_type if p.version == 2 else 0,
        auth_data=p.auth_data if p.version == 2 else b"",
    )
    return dataclasses.replace(base, **overrides)


def v4_datagram(message: bytes, src=PEER_V4, dst=GROUP_V4, ttl: int = 255) -> Datagram:
    """What an IPv4 raw socket delivers for `message`, parsed."""
    raw = bytes(IP(src=str(src), dst=str(dst), ttl=ttl, proto=112) / Raw(message))
    return parse_ipv4_datagram(raw)


def v6_datagram(message: bytes, src=PEER_V6, dst=GROUP_V6, hop_limit: int = 255) -> Datagram:
    return Datagram(family=6, src=src, dst=dst, ttl=hop_limit, payload=message)


def datagram_for(
    p: InstanceParams, advert: Advert | None = None, *, src=None, dst=None, ttl: int = 255
) -> Datagram:
    """Encode `advert` (default: a valid one for `p`) and wrap it as received."""
    advert = advert if advert is not None else advert_for(p)
    if p.family == 4:
        src = src or PEER_V4
        dst = dst or GROUP_V4
        return v4_datagram(encode_advert(advert, src, dst), src, dst, ttl)
    src = src or PEER_V6
    dst = dst or GROUP_V6
    return v6_datagram(encode_advert(advert, src, dst), src, dst, ttl)


def dispatcher_with(*instances: InstanceParams) -> tuple[Dispatcher, list[VrrpMachine]]:
    dispatcher = Dispatcher()
    machines = []
    for p in instances:
        machine = VrrpMachine(p)
        dispatcher.add(machine)
        machines.append(machine)
    return dispatcher, machines


def with_checksum(message: bytes, src=None, dst=None) -> bytes:
    """`message` with a correct checksum for its version (v3 uses the pseudo-header)."""
    from haipvs.vrrp.packet import internet_checksum, pseudo_header

    zeroed = message[:6] + b"\x00\x00" + message[8:]
    covered = zeroed if message[0] >> 4 == 2 else pseudo_header(src, dst, len(zeroed)) + zeroed
    return zeroed[:6] + internet_checksum(covered).to_bytes(2, "big") + zeroed[8:]


def patched(message: bytes, offset: int, value: int, src=PEER_V4, dst=GROUP_V4) -> bytes:
    """Set one octet and repair the checksum, so only the patched field is wrong."""
    changed = message[:offset] + bytes([value]) + message[offset + 1 :]
    return with_checksum(changed, src, dst)


def started(p: InstanceParams, now: float = 0.0, primary=None) -> VrrpMachine:
    from haipvs.vrrp.core import Startup

    machine = VrrpMachine(p)
    default = OUR_V4 if p.family == 4 else OUR_V6
    machine.handle(now, Startup(primary_address=primary or default))
    return machine


def to_master(p: InstanceParams) -> tuple[VrrpMachine, float]:
    """A machine that became MASTER by its master-down timer; returns it and the time."""
    from haipvs.vrrp.core import TIMER_MASTER_DOWN, TimerExpired

    machine = started(p)
    deadline = machine.timers.get(TIMER_MASTER_DOWN)
    if deadline is None:  # the owner is MASTER already
        return machine, 0.0
    machine.handle(deadline, TimerExpired(TIMER_MASTER_DOWN))
    return machine, deadline


def received(p: InstanceParams, src=PEER_V4, **overrides):
    from haipvs.vrrp.core import AdvertReceived

    return AdvertReceived(advert_for(p, **overrides), src)
