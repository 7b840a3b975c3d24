"""`specs_from_config`: the config model's checkers → the engine's plan."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from haipvs.config.model import (
    Checker,
    Config,
    ConnectChecker,
    DnsCheck,
    FileCheck,
    HttpGet,
    MiscCheck,
    PingCheck,
    RealServer,
    SmtpCheck,
    SslClient,
    SslGet,
    TcpCheck,
    UdpCheck,
    VirtualServer,
)
from haipvs.health.engine import HealthPlan, ServerKey
from haipvs.health.spec import (
    CheckSpec,
    DnsProbe,
    Endpoint,
    HttpProbe,
    MiscProbe,
    SmtpProbe,
    TcpProbe,
    Timing,
    TlsSpec,
    UdpProbe,
    UrlSpec,
)
from haipvs.ipvs.desired import server_keys

if TYPE_CHECKING:
    from haipvs.health.spec import Probe


def specs_from_config(config: Config) -> HealthPlan:
    """Every real server of every virtual server, keyed like the IPVS desired table reads
    health (ServiceKey, DestKey), with its check specs. Equal specs under several virtual
    servers are one check in the engine."""
    plan: dict[ServerKey, tuple[CheckSpec, ...]] = {}
    shared: dict[Timing, Timing] = {}
    probes: dict[Probe, Probe] = {}
    for vs in config.virtual_servers:
        # the config's key objects, shared with the director (desired.server_keys)
        for rs, key in zip(vs.real_servers, server_keys(vs), strict=True):
            specs = tuple(check_spec(checker, vs, rs, config.ssl, shared=shared,
                                     probes=probes)
                          for checker in rs.checkers)
            plan[key] = specs
    return plan


def check_spec(checker: Checker, vs: VirtualServer, rs: RealServer,
               client: SslClient | None = None, *,
               shared: dict[Timing, Timing] | None = None,
               probes: dict[Probe, Probe] | None = None) -> CheckSpec:
    """`shared`: equal Timings are one object (the checkers of a virtual server usually have
    the same; 88 bytes per real server otherwise, issue 18). `probes`: so are equal probes
    (checks that all connect to one `connect_ip` and `connect_port`: ~120 bytes each)."""
    delay_loop = checker.delay_loop if checker.delay_loop is not None else vs.delay_loop
    timing = Timing(
        delay_loop=delay_loop,
        retry=checker.retry,
        # None (DNS_CHECK): keepalived check_data.c uses the delay_loop
        delay_before_retry=(checker.delay_before_retry
                            if checker.delay_before_retry is not None else delay_loop),
        warmup=checker.warmup,
        alpha=checker.alpha,
        retry_while_down=isinstance(checker, SmtpCheck),
        tells_first_failure=(isinstance(checker, HttpGet | SmtpCheck)
                             or checker.retry == 0),
    )
    if shared is not None:
        timing = shared.setdefault(timing, timing)
    probe = _probe(checker, rs, delay_loop, client)
    if probes is not None:
        probe = probes.setdefault(probe, probe)
    # interned: the same string as the IPVS table's DestKey (ipvs/desired.py dest_key)
    return CheckSpec((sys.intern(str(rs.address)), rs.port or 0), probe, timing)


def _endpoint(checker: ConnectChecker, rs: RealServer) -> Endpoint:
    port = checker.connect_port if checker.connect_port is not None else rs.port
    if not port:
        raise ValueError(f"{checker.kind} on {rs.address} needs connect_port (no service port)")
    address = checker.connect_ip if checker.connect_ip is not None else rs.address
    bindto = str(checker.bindto) if checker.bindto is not None else None
    return Endpoint(sys.intern(str(address)), port, bindto, checker.bind_port or 0,
                    checker.bind_if)


def _probe(checker: Checker, rs: RealServer, delay_loop: float,
           client: SslClient | None = None) -> Probe:
    if isinstance(checker, MiscCheck):
        env = (("HAIPVS_RS_ADDRESS", str(rs.address)), ("HAIPVS_RS_PORT", str(rs.port or 0)))
        return MiscProbe(
            argv=checker.path,
            timeout=checker.timeout if checker.timeout is not None else delay_loop,
            dynamic=checker.misc_dynamic,
            user=checker.user,
            env=env,
        )
    # issue 18: the file, ping and TLS modules load with the first checker that needs them
    # (config time, never a check's path)
    if isinstance(checker, FileCheck):  # check_file.c: added to the configured weight
        from haipvs.policy.file_check import FileProbe

        return FileProbe(checker.file, checker.weight, checker.reverse, rs.weight)
    if isinstance(checker, PingCheck):  # no port: keepalived's PING_CHECK uses only co->dst
        address = checker.connect_ip if checker.connect_ip is not None else rs.address
        bindto = str(checker.bindto) if checker.bindto is not None else None
        from haipvs.policy.ping_echo import PingProbe

        return PingProbe(str(address), bindto, checker.connect_timeout)
    assert isinstance(checker, ConnectChecker)
    endpoint = _endpoint(checker, rs)
    timeout = checker.connect_timeout
    if isinstance(checker, TcpCheck):
        return TcpProbe(endpoint, timeout)
    if isinstance(checker, HttpGet):  # SslGet is an HttpGet
        tls = None
        if isinstance(checker, SslGet):
            from haipvs.health.tls_client import client_fields

            name = checker.server_name or checker.virtualhost
            tls = TlsSpec(name if checker.sni else None, checker.verify, checker.ca_file,
                          **client_fields(client))
        # check_ssl.c ssl_connect: SNI names the url's virtualhost, else the checker's
        sni_by_url = isinstance(checker, SslGet) and checker.sni and not checker.server_name
        urls = tuple(UrlSpec(u.path, u.status_code, u.digest, u.regex, u.regex_no_match,
                             u.regex_options, u.regex_min_offset, u.regex_max_offset,
                             u.virtualhost, u.virtualhost if sni_by_url else None)
                     for u in checker.urls)
        return HttpProbe(endpoint, urls, timeout, checker.virtualhost, checker.http_protocol, tls)
    if isinstance(checker, UdpCheck):
        return UdpProbe(endpoint, checker.payload, checker.require_reply, timeout,
                        checker.reply_pattern, checker.min_reply_length,
                        checker.max_reply_length)
    if isinstance(checker, DnsCheck):
        return DnsProbe(endpoint, checker.type, checker.name, timeout)
    if isinstance(checker, SmtpCheck):
        return SmtpProbe(endpoint, checker.helo_name, timeout)
    raise TypeError(f"unknown checker {type(checker).__name__}")
