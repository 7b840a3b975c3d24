"""Health checkers: which real servers are up (keepalived TCP/HTTP/SSL/MISC/UDP/DNS/SMTP
checks).

Layers (a module imports only from layers below it):

    spec, state                 check definitions and up/down bookkeeping (pure)
    net, tcp, http, ...         one probe attempt each, over the network (trio, sockets)
    url_digest                  genhash: the MD5 of a URL's body
    probes, tcpbatch            run_probe dispatch; the batched TCP scheduler
    engine, config_map          the trio engine; the plan for a config

Public API:
- `HealthEngine(plan, on_change)`: run in a trio nursery; `engine.health(service, dest)` is
  the IPVS HealthView; `update(plan)` on reload; `pause`/`resume`/`pause_services` for
  ha_suspend; `snapshot()` for the state dump.
- `specs_from_config(config)`: the plan for a config.
- `genhash(url)`: MD5 of a URL's body for http_get/ssl_get `digest`.

The names are re-exported lazily: importing `haipvs.health.state` or `haipvs.health.spec`
must not load trio or structlog, which only the probes and the engine need. (No submodule
shares a re-exported name: importing it would replace the name with the module.)
"""

from __future__ import annotations

from haipvs.lazy_exports import lazy_exports

_EXPORTS = {
    "check_spec": "config_map",
    "specs_from_config": "config_map",
    "HealthEngine": "engine",
    "HealthPlan": "engine",
    "ServerKey": "engine",
    "fetch_url": "url_digest",
    "genhash": "url_digest",
    "genhash_async": "url_digest",
    "ProbeFailure": "net",
    "run_probe": "probes",
    "CheckSpec": "spec",
    "DnsProbe": "spec",
    "Endpoint": "spec",
    "HttpProbe": "spec",
    "MiscProbe": "spec",
    "SmtpProbe": "spec",
    "TcpProbe": "spec",
    "Timing": "spec",
    "TlsSpec": "spec",
    "UdpProbe": "spec",
    "UrlSpec": "spec",
    "CheckResult": "state",
    "CheckState": "state",
    "ServerHealth": "state",
    "aggregate": "state",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
