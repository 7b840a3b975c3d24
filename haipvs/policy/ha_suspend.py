"""keepalived's `ha_suspend`, pure (keepalived/check/check_api.c update_checker_activity, which
keepalived calls when a VIP appears on or leaves the host).

The checks of a virtual server with `ha_suspend` run only while its address is held here:
while at least one VRRP instance carrying that address as a VIP is MASTER. While none is
(INIT, BACKUP, FAULT, STOP), the checks stop and health keeps its last state. A service
without ha_suspend, a fwmark service and one whose address no instance carries are never
suspended (nothing here would ever hold the address, so suspending would stop them for good).

A virtual server with a `group:` answers on every address of its members' ranges: its checks
run while an instance holding any of them is MASTER. keepalived 2.2.7 never matches a group
(check_api.c addr_matches: `if (vs->vsg) return false;`), so there its checks stay suspended
for good; haipvs does what the setting means instead (docs/migration.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from haipvs.config.model import Config
from haipvs.ipvs.desired import service_key
from haipvs.ipvs.model import ServiceKey
from haipvs.ipvs.vs_group import AddressRange
from haipvs.vrrp.messages import State


def ha_suspended_services(
    config: Config, instance_states: Mapping[str, State]
) -> dict[ServiceKey, bool]:
    """For every virtual server: should its health checks be suspended? Instances missing
    from `instance_states` count as INIT (not started)."""
    holders: dict[object, list[str]] = {}
    for instance in config.vrrp_instances:
        for vip in instance.virtual_ipaddress:
            holders.setdefault(vip.address.ip, []).append(instance.name)
    result: dict[ServiceKey, bool] = {}
    for vs in config.virtual_servers:
        group = getattr(vs, "group", None)
        if group is not None:
            ranges = [m for m in group.members if isinstance(m, AddressRange)]
            names = [name for address, held_by in holders.items() for name in held_by
                     if any(m.first.version == address.version
                            and int(m.first) <= int(address) <= int(m.last) for m in ranges)]
        elif vs.address is not None:
            names = holders.get(vs.address, [])
        else:
            names = []
        result[service_key(vs)] = bool(
            getattr(vs, "ha_suspend", False) and names
            and all(instance_states.get(name, State.INIT) != State.MASTER for name in names))
    return result
