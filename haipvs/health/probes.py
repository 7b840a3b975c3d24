"""Dispatch a probe definition to the function that runs it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from haipvs.health.dns import probe_dns
from haipvs.health.file import probe_file
from haipvs.health.http import probe_http
from haipvs.health.misc import probe_misc
from haipvs.health.ping import probe_ping
from haipvs.health.smtp import probe_smtp
from haipvs.health.spec import (
    DnsProbe,
    HttpProbe,
    MiscProbe,
    Probe,
    SmtpProbe,
    TcpProbe,
    UdpProbe,
)
from haipvs.health.state import CheckResult
from haipvs.health.tcp import probe_tcp
from haipvs.health.udp import probe_udp
from haipvs.policy.file_check import FileProbe
from haipvs.policy.ping_echo import PingProbe

ProbeRunner = Callable[[Probe], Awaitable[CheckResult]]

_RUNNERS: dict[type, Callable] = {
    TcpProbe: probe_tcp,
    HttpProbe: probe_http,
    MiscProbe: probe_misc,
    UdpProbe: probe_udp,
    DnsProbe: probe_dns,
    SmtpProbe: probe_smtp,
    PingProbe: probe_ping,
    FileProbe: probe_file,
}


def run_probe(probe: Probe) -> Awaitable[CheckResult]:
    """One attempt of `probe`. Every probe bounds its own time (connect_timeout or timeout)."""
    return _RUNNERS[type(probe)](probe)
