"""VRRP timing formulas (RFC 3768 / RFC 5798) and scapy builders for hand-made adverts."""

from __future__ import annotations

from typing import Any

VRRP_MCAST_MAC = "01:00:5e:00:00:12"
VRRP_MCAST_V4 = "224.0.0.18"


def skew_time(priority: int, advert_int: float = 1.0, version: int = 2) -> float:
    """Skew_Time: (256 - prio) / 256 s in v2; scaled by the advert interval in v3."""
    if version == 3:
        return (256 - priority) * advert_int / 256.0
    return (256 - priority) / 256.0


def master_down_interval(priority: int, advert_int: float = 1.0, version: int = 2) -> float:
    return 3 * advert_int + skew_time(priority, advert_int, version)


def password_auth(password: str) -> tuple[int, int]:
    """A v2 PASS password as scapy's (auth1, auth2) pair: 8 bytes, NUL padded."""
    raw = password.encode()[:8].ljust(8, b"\0")
    return int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:], "big")


def advert_v2(src_mac: str, src_ip: str, vrid: int, priority: int, addresses: list[str],
              *, password: str | None = None, advert_int: int = 1, ttl: int = 255,
              dst_ip: str = VRRP_MCAST_V4, dst_mac: str | None = None, **vrrp_fields: Any):
    """Ether/IP/VRRPv2 as a conforming sender would build it; override fields to break it."""
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether
    from scapy.layers.vrrp import VRRP

    auth1, auth2 = password_auth(password) if password is not None else (0, 0)
    fields: dict[str, Any] = {
        "vrid": vrid, "priority": priority, "addrlist": [a.split("/")[0] for a in addresses],
        "authtype": 1 if password is not None else 0, "adv": advert_int,
        "auth1": auth1, "auth2": auth2,
    }
    fields.update(vrrp_fields)
    return (Ether(src=src_mac, dst=dst_mac or VRRP_MCAST_MAC)
            / IP(src=src_ip, dst=dst_ip, ttl=ttl, proto=112)
            / VRRP(**fields))


def advert_v3(src_mac: str, src_ip: str, vrid: int, priority: int, addresses: list[str],
              *, advert_int: float = 1.0, ttl: int = 255, dst_ip: str = VRRP_MCAST_V4,
              dst_mac: str | None = None, **vrrp_fields: Any):
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether
    from scapy.layers.vrrp import VRRPv3

    fields: dict[str, Any] = {
        "vrid": vrid, "priority": priority, "addrlist": [a.split("/")[0] for a in addresses],
        "adv": round(advert_int * 100),
    }
    fields.update(vrrp_fields)
    return (Ether(src=src_mac, dst=dst_mac or VRRP_MCAST_MAC)
            / IP(src=src_ip, dst=dst_ip, ttl=ttl, proto=112)
            / VRRPv3(**fields))
