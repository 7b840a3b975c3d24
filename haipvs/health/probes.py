"""Dispatch a probe definition to the function that runs it.

Each kind's module is imported on its first probe (issue 18: import only what a config
uses): an idle director with TCP checks (run by tcpbatch.py) never loads the HTTP, SSL,
SMTP, DNS, UDP, MISC, ping or file probes.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from haipvs.health.spec import Probe
    from haipvs.health.state import CheckResult

ProbeRunner = Callable[["Probe"], Awaitable["CheckResult"]]

# probe type name -> (module, function) that runs it; by name, so that the FileProbe and
# PingProbe types (haipvs/policy/) load only with a config that has such checks
_WHERE: dict[str, tuple[str, str]] = {
    "TcpProbe": ("haipvs.health.tcp", "probe_tcp"),
    "HttpProbe": ("haipvs.health.http", "probe_http"),
    "MiscProbe": ("haipvs.health.misc", "probe_misc"),
    "UdpProbe": ("haipvs.health.udp", "probe_udp"),
    "DnsProbe": ("haipvs.health.dns", "probe_dns"),
    "SmtpProbe": ("haipvs.health.smtp", "probe_smtp"),
    "PingProbe": ("haipvs.health.ping", "probe_ping"),
    "FileProbe": ("haipvs.health.file", "probe_file"),
}
_RUNNERS: dict[type, ProbeRunner] = {}


def runner_for(kind: type) -> ProbeRunner:
    """The function running probes of this type, its module imported on first use."""
    runner = _RUNNERS.get(kind)
    if runner is None:
        module, name = _WHERE[kind.__name__]
        runner = _RUNNERS[kind] = getattr(importlib.import_module(module), name)
    return runner


def run_probe(probe: Probe) -> Awaitable[CheckResult]:
    """One attempt of `probe`. Every probe bounds its own time (connect_timeout or timeout)."""
    return runner_for(type(probe))(probe)
