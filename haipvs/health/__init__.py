"""Health checkers: which real servers are up (keepalived TCP/HTTP/SSL/MISC/UDP/DNS checks).

Public API:
- `HealthEngine(plan, on_change)`: run in a trio nursery; `engine.health(service, dest)` is
  the IPVS HealthView; `update(plan)` on reload; `pause`/`resume`/`pause_services` for
  ha_suspend; `snapshot()` for the state dump.
- `specs_from_config(config)`: the plan for a config.
- `genhash(url)`: MD5 of a URL's body for http_get/ssl_get `digest`.
"""

from haipvs.health.config_map import check_spec, specs_from_config
from haipvs.health.engine import HealthEngine, HealthPlan, ServerKey
from haipvs.health.genhash import fetch_url, genhash, genhash_async
from haipvs.health.net import ProbeFailure
from haipvs.health.probes import run_probe
from haipvs.health.spec import (
    CheckSpec,
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
from haipvs.health.state import CheckResult, CheckState, ServerHealth, aggregate

__all__ = [
    "CheckResult",
    "CheckSpec",
    "CheckState",
    "DnsProbe",
    "Endpoint",
    "HealthEngine",
    "HealthPlan",
    "HttpProbe",
    "MiscProbe",
    "ProbeFailure",
    "ServerHealth",
    "ServerKey",
    "TcpProbe",
    "Timing",
    "TlsSpec",
    "UdpProbe",
    "UrlSpec",
    "aggregate",
    "check_spec",
    "fetch_url",
    "genhash",
    "genhash_async",
    "run_probe",
    "specs_from_config",
]
