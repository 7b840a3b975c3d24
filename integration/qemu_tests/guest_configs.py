"""Configs shared by the real-IPVS tests (built with the config model)."""

from __future__ import annotations

import ipaddress

from haipvs.config.model import Config, GlobalSettings, LvsTimeouts, RealServer, VirtualServer

ip = ipaddress.ip_address


def rs(address: str, port: int | None, weight: int = 1) -> RealServer:
    return RealServer(address=ip(address), port=port, weight=weight)


def three_services(web_weights=(1, 2, 3)) -> Config:
    """TCP wrr NAT, UDP rr DR with persistence 50, fwmark lc TUN; timeouts 100/20/30."""
    web = VirtualServer(
        protocol="TCP", address=ip("192.0.2.100"), port=80, lb_algo="wrr", lb_kind="NAT",
        real_servers=tuple(rs(f"198.51.100.{10 + i}", 8080, w)
                           for i, w in enumerate(web_weights)),
    )
    dns = VirtualServer(
        protocol="UDP", address=ip("192.0.2.100"), port=53, lb_algo="rr", lb_kind="DR",
        persistence_timeout=50,
        real_servers=(rs("198.51.100.20", 53), rs("198.51.100.21", 53)),
    )
    mark = VirtualServer(
        fwmark=7, lb_algo="lc", lb_kind="TUN",
        real_servers=tuple(rs(f"203.0.113.{40 + i}", None, 1 + i) for i in range(4)),
    )
    return Config(
        source="three_services",
        global_settings=GlobalSettings(router_id="guest",
                                       lvs_timeouts=LvsTimeouts(tcp=100, tcpfin=20, udp=30)),
        virtual_servers=(web, dns, mark),
    )


def many_services(count: int, per_service: int, weight: int = 1) -> Config:
    """`count` TCP NAT services on 192.0.2.x / 203.0.113.x ports, `per_service` real servers
    each in 198.51.100.0/24 (ports distinguish them)."""
    services = []
    for i in range(count):
        vip = f"192.0.2.{1 + i % 250}" if i < 5000 else f"203.0.113.{1 + i % 250}"
        services.append(VirtualServer(
            protocol="TCP", address=ip(vip), port=1000 + i // 250, lb_algo="wrr",
            real_servers=tuple(rs(f"198.51.100.{10 + j}", 2000 + i % 1000, weight)
                               for j in range(per_service)),
        ))
    return Config(source="many", global_settings=GlobalSettings(router_id="guest"),
                  virtual_servers=tuple(services))
