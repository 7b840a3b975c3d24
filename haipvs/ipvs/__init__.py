"""IPVS: table model, pure planning, the kernel backend, the reconciler, status output.

Layers (a module imports only from layers below it):

    model, errors, protocol           data, errors and the uapi's numbers (pure)
    codec                             model objects <-> netlink attribute bytes (pure)
    ops, planner, backend             typed ops, plan(desired, kernel) -> ops, the
                                      IpvsBackend/NetlinkTransport protocols (pure)
    desired, quorum, status           desired table from config + health, status output (pure)
    netlink, ownership                I/O: the one backend (owner thread), the ledger file
    reconcile                         the trio driver: dump -> plan -> apply

The names below are re-exported lazily: importing `haipvs.ipvs` (or `haipvs.ipvs.model`)
must not load trio, pyroute2 or structlog, which only the reconciler needs.
"""

from __future__ import annotations

from haipvs.lazy_exports import lazy_exports

_EXPORTS = {
    "AllUp": "desired",
    "HealthView": "desired",
    "RealServerHealth": "desired",
    "StaticHealth": "desired",
    "desired_table": "desired",
    "IpvsError": "errors",
    "IpvsExists": "errors",
    "IpvsMissing": "errors",
    "IpvsUnavailable": "errors",
    "UnknownScheduler": "errors",
    "Destination": "model",
    "DestKey": "model",
    "ForwardMethod": "model",
    "IpvsInfo": "model",
    "IpvsTable": "model",
    "Service": "model",
    "ServiceKey": "model",
    "SyncDaemonConfig": "model",
    "SyncState": "model",
    "Timeouts": "model",
    "Plan": "planner",
    "plan": "planner",
    "Reconciler": "reconcile",
    "HealthNote": "status",
    "health_from_dump": "status",
    "render_status": "status",
    "status_json": "status",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
