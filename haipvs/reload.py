"""SIGHUP reload: what changes between two valid configurations, decided without I/O.

An instance keeps its state (a MASTER stays MASTER: no VIP delete/add, no GARP burst) when
its identity is unchanged: name, VRID, interface, family, version, owner-ness and VIPs
(`InstanceBinding.same_identity` is the one place that decides it). Other parameter
changes (priority, advert_int, preempt, authentication, GARP timing, unicast peers, tracked
interfaces, sync group) are applied to the running machine. A changed identity is a remove
plus an add; added instances start as BACKUP; removed ones resign (priority 0) and release
their VIPs.
"""

from __future__ import annotations

from dataclasses import field

from haipvs.config.model import Config
from haipvs.dataclass_lean import dataclass
from haipvs.drivers.vrrp_instance import InstanceBinding
from haipvs.vrrp_binding import bindings_from_config


@dataclass(frozen=True)
class VrrpPlan:
    keep: tuple[InstanceBinding, ...] = ()  # same identity, possibly new parameters
    add: tuple[InstanceBinding, ...] = ()
    remove: tuple[str, ...] = ()  # instance names (an identity change is remove + add)
    retuned: tuple[str, ...] = field(default=())  # kept instances whose parameters changed

    def describe(self) -> dict[str, list[str]]:
        return {
            "kept": [b.name for b in self.keep if b.name not in self.retuned],
            "retuned": list(self.retuned),
            "added": [b.name for b in self.add],
            "removed": list(self.remove),
        }


def plan_vrrp(old: list[InstanceBinding], new: list[InstanceBinding]) -> VrrpPlan:
    before = {b.name: b for b in old}
    keep, add, remove, retuned = [], [], [], []
    for binding in new:
        previous = before.get(binding.name)
        if previous is not None and previous.same_identity(binding):
            keep.append(binding)
            if previous != binding:
                retuned.append(binding.name)
        else:
            add.append(binding)
            if previous is not None:
                remove.append(binding.name)
    names = {b.name for b in new}
    remove += [name for name in before if name not in names]
    return VrrpPlan(tuple(keep), tuple(add), tuple(remove), tuple(retuned))


def plan_reload(old: Config, new: Config) -> VrrpPlan:
    return plan_vrrp(bindings_from_config(old), bindings_from_config(new))
