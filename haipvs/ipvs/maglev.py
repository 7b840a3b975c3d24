"""Destination order for Maglev (`mh`) services: one table on every director. Pure.

The mh scheduler (ip_vs_mh.c ip_vs_mh_populate) fills its lookup table by walking the
service's destination list from the head, and IPVS inserts each new destination at the HEAD
of that list (ip_vs_ctl.c __ip_vs_update_dest: list_add_rcu). So the table depends on the
order of the adds, not only on the set of real servers: N directors behind ECMP pick the same
real server for a flow only if their lists are in the same order. haipvs therefore adds an mh
service's destinations in one canonical order (family, address, port: DestKey.sort_key),
whatever the order in the config, and the kernel's list is then that order reversed.

A dead real server of an mh service on a bgp VIP (scale_out) is kept at weight 0 instead of
being deleted (haipvs/ipvs/desired.py): setting weight 0 keeps dest->last_weight at its last
non-zero value (ip_vs_ctl.c __ip_vs_update_dest) and ip_vs_mh_permutate() counts turns from
last_weight, so the lookup table does not change: only the dead server's own flows move, to
the next server by mh-fallback (ip_vs_mh_schedule: is_unavailable). Deleting it would
rebuild the table without it and move a share of every other server's flows. Elsewhere
(VRRP-mode services, keepalived configs) the dead server is deleted as keepalived does,
unless inhibit_on_failure: without mh-fallback, a weight-0 server's flows would be dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

from haipvs.ipvs.model import Destination, DestKey, Service

MH = "mh"


def is_maglev(service: Service) -> bool:
    return service.scheduler == MH


def canonical_adds(dests: Iterable[Destination]) -> list[Destination]:
    """The order in which to add an mh service's destinations."""
    return sorted(dests, key=lambda d: d.key.sort_key)


def kernel_list(keys: Iterable[DestKey]) -> list[DestKey]:
    """The kernel's list (what a dump returns) after adding `keys` in canonical order: each
    add lands at the head, so it is the canonical order reversed."""
    return sorted(keys, key=lambda k: k.sort_key, reverse=True)


def out_of_order(have: Service, want: Service) -> bool:
    """True when the kernel's list for an mh service is not the canonical one for the
    destinations it will keep, or when a destination the plan must add would not land where
    the canonical list has it (only a destination sorting after all kept ones lands right:
    an add goes to the head). Either way this director's Maglev table would differ from that
    of a director that built the service fresh."""
    wanted = {d.key for d in want.destinations}
    listed = have.kernel_order  # None: not from a dump, taken as built by haipvs
    if listed is None:
        listed = tuple(kernel_list(d.key for d in have.destinations))
    kept = [k for k in listed if k in wanted]
    if kept != kernel_list(kept):
        return True
    new = [k for k in wanted if k not in set(kept)]
    if not new or not kept:
        return False
    return min(k.sort_key for k in new) < max(k.sort_key for k in kept)
