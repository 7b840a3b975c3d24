"""IPVS: table model, kernel access over generic netlink, reconciler, status output.

Public API (see each module):
    Reconciler, plan, Plan                    haipvs.ipvs.reconcile
    desired_table, HealthView, AllUp, ...     haipvs.ipvs.desired
    render_status, status_json, HealthNote    haipvs.ipvs.status
    IpvsError and subclasses                  haipvs.ipvs.errors
Kernel functions (owner thread only) live in haipvs.ipvs.kernel.
"""

from haipvs.ipvs.desired import (
    AllUp,
    HealthView,
    RealServerHealth,
    StaticHealth,
    desired_table,
)
from haipvs.ipvs.errors import (
    IpvsError,
    IpvsExists,
    IpvsMissing,
    IpvsUnavailable,
    UnknownScheduler,
)
from haipvs.ipvs.model import (
    Destination,
    DestKey,
    ForwardMethod,
    IpvsInfo,
    IpvsTable,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    SyncState,
    Timeouts,
)
from haipvs.ipvs.reconcile import Plan, Reconciler, plan
from haipvs.ipvs.status import HealthNote, health_from_dump, render_status, status_json

__all__ = [
    "AllUp",
    "DestKey",
    "Destination",
    "ForwardMethod",
    "HealthNote",
    "HealthView",
    "IpvsError",
    "IpvsExists",
    "IpvsInfo",
    "IpvsMissing",
    "IpvsTable",
    "IpvsUnavailable",
    "Plan",
    "RealServerHealth",
    "Reconciler",
    "Service",
    "ServiceKey",
    "StaticHealth",
    "SyncDaemonConfig",
    "SyncState",
    "Timeouts",
    "UnknownScheduler",
    "desired_table",
    "health_from_dump",
    "plan",
    "render_status",
    "status_json",
]
