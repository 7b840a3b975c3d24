"""specs_from_config: the config model's checkers become engine specs keyed like the IPVS
desired table reads health."""

from __future__ import annotations

import ipaddress

import trio

from haipvs.config.model import (
    Config,
    DnsCheck,
    GlobalSettings,
    HttpGet,
    HttpUrl,
    MiscCheck,
    RealServer,
    SslGet,
    TcpCheck,
    UdpCheck,
    VirtualServer,
)
from haipvs.health import HealthEngine, specs_from_config
from haipvs.health.spec import (
    DnsProbe,
    Endpoint,
    HttpProbe,
    MiscProbe,
    TcpProbe,
    Timing,
    TlsSpec,
    UdpProbe,
    UrlSpec,
)
from haipvs.ipvs.desired import desired_table, dest_key, service_key
from tests.health.fakes import FakeProbes

ip = ipaddress.ip_address


def config(*virtual_servers: VirtualServer) -> Config:
    return Config("test.yaml", GlobalSettings(router_id="lb1"), (), virtual_servers)


def vs(address: str, *real_servers: RealServer, delay_loop: float = 6.0) -> VirtualServer:
    return VirtualServer(address=ip(address), port=80, delay_loop=delay_loop,
                         real_servers=real_servers)


def test_timing_and_endpoint_defaults_come_from_the_servers():
    rs = RealServer(ip("198.51.100.1"), 8080, checkers=(TcpCheck(retry=2, connect_timeout=3.0),))
    virtual = vs("192.0.2.10", rs, delay_loop=6.0)
    plan = specs_from_config(config(virtual))
    (key,) = plan
    assert key == (service_key(virtual), dest_key(rs))
    (spec,) = plan[key]
    assert spec.server == ("198.51.100.1", 8080)
    assert spec.probe == TcpProbe(Endpoint("198.51.100.1", 8080), 3.0)
    assert spec.timing == Timing(delay_loop=6.0, retry=2, delay_before_retry=1.0)


def test_checker_overrides():
    check = TcpCheck(delay_loop=2.0, warmup=4.0, alpha=True, connect_ip=ip("203.0.113.5"),
                     connect_port=9000, bindto=ip("192.0.2.1"))
    plan = specs_from_config(config(vs("192.0.2.10", RealServer(ip("198.51.100.1"), 80,
                                                                 checkers=(check,)))))
    (spec,) = next(iter(plan.values()))
    assert spec.probe.endpoint == Endpoint("203.0.113.5", 9000, "192.0.2.1")
    assert spec.timing == Timing(delay_loop=2.0, retry=1, delay_before_retry=1.0, warmup=4.0,
                                 alpha=True)


def test_the_same_real_server_under_several_virtual_servers_is_one_check():
    def rs():
        return RealServer(ip("198.51.100.1"), 80, checkers=(TcpCheck(),))

    plan = specs_from_config(config(vs("192.0.2.10", rs()), vs("192.0.2.11", rs()),
                                    vs("192.0.2.12", rs())))
    assert len(plan) == 3
    assert len({spec for specs in plan.values() for spec in specs}) == 1


def test_every_checker_kind_maps():
    checkers = (
        HttpGet(urls=(HttpUrl("/health", ((200, 204),), "a" * 32, "up"),),
                virtualhost="www.example.test", http_protocol="1.1"),
        SslGet(urls=(HttpUrl("/"),), verify=True, ca_file="/etc/ca.pem",
               server_name="api.example.test"),
        SslGet(urls=(HttpUrl("/"),), sni=False, virtualhost="www.example.test"),
        MiscCheck(path=("/usr/local/bin/check", "--fast"), misc_dynamic=True, user="nobody"),
        UdpCheck(payload=b"ping", require_reply=True, connect_port=53),
        DnsCheck(type="A", name="www.example.test", connect_port=53),
    )
    rs = RealServer(ip("198.51.100.7"), 443, checkers=checkers)
    (specs,) = specs_from_config(config(vs("192.0.2.10", rs, delay_loop=9.0))).values()
    endpoint = Endpoint("198.51.100.7", 443)
    http, ssl_verified, ssl_no_sni, misc, udp, dns = (spec.probe for spec in specs)
    assert http == HttpProbe(endpoint, (UrlSpec("/health", ((200, 204),), "a" * 32, "up"),),
                             5.0, "www.example.test", "1.1", None)
    assert ssl_verified.tls == TlsSpec("api.example.test", True, "/etc/ca.pem")
    assert ssl_no_sni.tls == TlsSpec(None, False, None)
    assert misc == MiscProbe(("/usr/local/bin/check", "--fast"), 9.0, True, "nobody",
                             (("HAIPVS_RS_ADDRESS", "198.51.100.7"), ("HAIPVS_RS_PORT", "443")))
    assert udp == UdpProbe(Endpoint("198.51.100.7", 53), b"ping", True, 5.0)
    assert dns == DnsProbe(Endpoint("198.51.100.7", 53), "A", "www.example.test", 5.0)
    assert specs[0].timing.delay_before_retry == 3.0  # http_get's keepalived default


async def test_the_engine_is_the_desired_tables_health_view(nursery, autojump_clock):
    down = RealServer(ip("198.51.100.1"), 80, checkers=(TcpCheck(retry=0),))
    up = RealServer(ip("198.51.100.2"), 80, checkers=(TcpCheck(retry=0),))
    unchecked = RealServer(ip("198.51.100.3"), 80)
    cfg = config(vs("192.0.2.10", down, up, unchecked))
    probes = FakeProbes()
    probes.failing.add(TcpProbe(Endpoint("198.51.100.1", 80), 5.0))
    engine = HealthEngine(specs_from_config(cfg), probe_runner=probes)
    await nursery.start(engine.run)
    with trio.fail_after(100):
        while engine.health(service_key(cfg.virtual_servers[0]), dest_key(down)).up:
            await trio.sleep(0.5)
    (service,) = desired_table(cfg, engine).services
    assert sorted(d.address for d in service.destinations) == ["198.51.100.2", "198.51.100.3"]



def test_alpha_first_failure_is_told_where_keepalived_keeps_has_run_false():
    """ipwrapper.c update_svr_checker_state tells an alpha checker's first failure only while
    !has_run: check_http.c / check_smtp.c keep it false through their retries, check_tcp.c
    tcp_epilog (and check_udp.c, check_dns.c, check_misc.c, check_ping.c) set it after the
    first attempt, so with a retry left the first failure is never told there."""
    checkers = (HttpGet(urls=(HttpUrl("/"),), retry=3), SslGet(urls=(HttpUrl("/"),)),
                TcpCheck(retry=1), TcpCheck(retry=0, connect_port=81),
                MiscCheck(path=("/bin/true",)), UdpCheck(retry=2))
    rs = RealServer(ip("198.51.100.7"), 80, checkers=checkers)
    (specs,) = specs_from_config(config(vs("192.0.2.10", rs))).values()
    assert [s.timing.tells_first_failure for s in specs] == [True, True, False, True, True,
                                                             False]


def test_equal_timings_and_addresses_are_one_object_each():
    # issue 18: one Timing per virtual server's checkers, not one per real server
    from haipvs.config import load_config_text

    servers = "".join(f"""
      - address: 198.51.100.{n}
        port: 80
        tcp_check: {{connect_timeout: 3}}""" for n in range(1, 5))
    config = load_config_text(f"""
virtual_servers:
  - address: 192.0.2.100
    port: 80
    real_servers:{servers}
""")
    plan = specs_from_config(config)
    specs = [spec for checks in plan.values() for spec in checks]
    assert len(specs) == 4
    assert len({id(spec.timing) for spec in specs}) == 1
    # the check's address is the IPVS DestKey's string, not an equal copy
    assert all(checks[0].server[0] is key.dest.address for key, checks in plan.items())
