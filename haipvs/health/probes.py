"""Dispatch a probe definition to the function that runs it.

Each kind's module is imported on its first probe (issue 18: import only what a config
uses): an idle director with TCP checks (run by tcpbatch.py) never loads the HTTP, SSL,
SMTP, DNS, UDP, MISC, ping or file probes.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

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
from haipvs.policy.file_check import FileProbe
from haipvs.policy.ping_echo import PingProbe

ProbeRunner = Callable[[Probe], Awaitable[CheckResult]]

# probe type -> (module, function) that runs it
_WHERE: dict[type, tuple[str, str]] = {
    TcpProbe: ("haipvs.health.tcp", "probe_tcp"),
    HttpProbe: ("haipvs.health.http", "probe_http"),
    MiscProbe: ("haipvs.health.misc", "probe_misc"),
    UdpProbe: ("haipvs.health.udp", "probe_udp"),
    DnsProbe: ("haipvs.health.dns", "probe_dns"),
    SmtpProbe: ("haipvs.health.smtp", "probe_smtp"),
    PingProbe: ("haipvs.health.ping", "probe_ping"),
    FileProbe: ("haipvs.health.file", "probe_file"),
}
_RUNNERS: dict[type, ProbeRunner] = {}


def runner_for(kind: type) -> ProbeRunner:
    """The function running probes of this type, its module imported on first use."""
    runner = _RUNNERS.get(kind)
    if runner is None:
        module, name = _WHERE[kind]
        runner = _RUNNERS[kind] = getattr(importlib.import_module(module), name)
    return runner


def run_probe(probe: Probe) -> Awaitable[CheckResult]:
    """One attempt of `probe`. Every probe bounds its own time (connect_timeout or timeout)."""
    return runner_for(type(probe))(probe)
