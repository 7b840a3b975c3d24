"""`global.lvs_flush`: the ops that empty haipvs's own part of the IPVS table at start. Pure.

keepalived's `lvs_flush` (check/check_daemon.c start_check: `if (!reload &&
global_data->lvs_flush) ipvs_flush_cmd();`) flushes the whole table once at start, before
its services are added, so every service it programs is built afresh (new counters, real
servers in config order). haipvs keeps the "once at start, never on reload" and the "built
afresh", but only for the services of its ownership ledger: another owner's services (a
second daemon, an operator's `ipvsadm -A`) are never touched. The reconciler then adds the
configured services back as on an empty table.
"""

from __future__ import annotations

from collections.abc import Iterable

from haipvs.ipvs.model import IpvsTable, ServiceKey
from haipvs.ipvs.ops import Op, OpKind


def flush_ops(actual: IpvsTable, owned: Iterable[ServiceKey]) -> list[Op]:
    """One DEL_SERVICE per owned service in the kernel (the kernel drops its destinations
    with it); foreign services get none."""
    owned_keys = set(owned)
    return [Op(OpKind.DEL_SERVICE, have.without_destinations())
            for have in actual if have.key in owned_keys]
