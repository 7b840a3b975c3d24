"""Strict mode (keepalived's global `vrrp_strict` and per-instance `strict_mode`): what it
refuses in a config.

keepalived 2.2.7 vrrp/vrrp.c vrrp_complete_instance() checks these when an instance's strict
mode is on (its own `strict_mode`, else `vrrp_strict`); `keepalived -t` reports each as a
config error, and the daemon then refuses the instance (unicast) or clears the setting. haipvs
refuses the file instead, naming the instance and the key, so a strict config means what it
says:

- unicast peers ("Unicast peers are not supported in strict mode");
- authentication ("Strict mode does not support authentication");
- initial state MASTER without priority 255 ("State MASTER must match being address owner");
- preempt_delay ("preempt_delay is incompatible with strict mode");
- accept with VRRP version 2 for a non-owner ("accept mode for VRRP version 2 does not comply
  with RFC3768");
- an IPv6 instance whose first VIP is not link-local ("the first IPv6 VIP address must be
  link local").

What keepalived's strict mode forbids and haipvs refuses in every mode: no VIP, VRRP version
2 with IPv6. What it changes at run time (haipvs/vrrp_binding.py, haipvs/policy/accept_mode.py):
no lower-priority GARP repeats, and accept mode off by default for a non-owner.
keepalived's receive path (vrrp.c vrrp_check_packet()) has no strict-mode check, so neither
has haipvs/vrrp/validate.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from haipvs import limits
from haipvs.config.spec import Values

if TYPE_CHECKING:
    from collections.abc import Sequence

    from haipvs.config.virtual_server import VirtualServer
    from haipvs.config.vrrp_instance import VrrpInstance

WHY = "not allowed in strict mode (vrrp_strict / strict_mode; keepalived vrrp.c)"


def is_strict(instance: VrrpInstance, vrrp_strict: bool) -> bool:
    """keepalived: `if (strict_mode == PARAMETER_UNSET) strict_mode = vrrp_strict`."""
    return strict_mode(instance.strict_mode, vrrp_strict)


def strict_mode(instance_strict: bool | None, vrrp_strict: bool) -> bool:
    """keepalived vrrp.c: `if (strict_mode == PARAMETER_UNSET) strict_mode = vrrp_strict`."""
    return vrrp_strict if instance_strict is None else instance_strict


def accept_mode(accept: bool | None, strict: bool, priority: int, version: int) -> bool:
    """The effective accept mode (keepalived vrrp.c vrrp_complete_instance()): unset, it is
    on for the address owner and otherwise on unless strict mode; accept with VRRP version 2
    in strict mode is reset ("does not comply with RFC3768"; haipvs refuses that file)."""
    owner = priority == limits.OWNER_PRIORITY
    if accept is None:
        return True if owner else not strict
    if accept and not owner and strict and version == 2:
        return False
    return accept


def effective_accept(instance: VrrpInstance, vrrp_strict: bool) -> bool:
    return accept_mode(instance.accept, is_strict(instance, vrrp_strict), instance.priority,
                       instance.version)


def strict_problems(instance: VrrpInstance) -> list[tuple[tuple[str | int, ...], str]]:
    """(path inside the instance, message) for each strict-mode refusal."""
    owner = instance.priority == limits.OWNER_PRIORITY
    found: list[tuple[tuple[str | int, ...], str]] = []
    if instance.unicast_peers:
        found.append((("unicast_peers",), f"unicast peers are {WHY}; use multicast"))
    if instance.authentication is not None:
        found.append((("authentication",), f"authentication is {WHY}"))
    if instance.state == "MASTER" and not owner:
        found.append((("state",), f"state MASTER without priority {limits.OWNER_PRIORITY} is "
                      f"{WHY}: MASTER must match being the address owner"))
    if instance.preempt_delay > 0:
        found.append((("preempt_delay",), f"preempt_delay is {WHY}"))
    if instance.accept and not owner and instance.version == 2:
        found.append((("accept",), f"accept: true with VRRP version 2 is {WHY}: RFC 3768 has "
                      "no accept mode (use version: 3, or drop accept)"))
    first = instance.virtual_ipaddress[0].address if instance.virtual_ipaddress else None
    if first is not None and first.version == 6 and not first.ip.is_link_local:
        found.append((("virtual_ipaddress", 0), f"the first IPv6 VIP must be link-local "
                      f"(fe80::/10) in strict mode; {first.ip} is not"))
    return found


def no_accept_warnings(instances: Sequence[VrrpInstance],
                       virtual_servers: Sequence[VirtualServer],
                       vrrp_strict: bool) -> list[tuple[str, str]]:
    """(where, message) for each virtual server on a VIP of a no_accept instance: the drop
    rules (input hook, priority -1) run before IPVS (LOCAL_IN, priority 98), so while that
    instance is MASTER the service gets no packet, with keepalived as with haipvs."""
    found = []
    for instance in instances:
        if instance.priority == limits.OWNER_PRIORITY or effective_accept(instance, vrrp_strict):
            continue
        vips = {vip.address.ip for vip in (*instance.virtual_ipaddress,
                                           *instance.virtual_ipaddress_excluded)}
        for vs in virtual_servers:
            if vs.address is not None and vs.address in vips:
                found.append((
                    f"vrrp_instances[{instance.name}].accept",
                    f"accept mode is off (accept: false, or strict mode): while MASTER, "
                    f"packets to {vs.address} are dropped before IPVS sees them, so virtual "
                    f"server {vs.address} port {vs.port} gets no traffic (keepalived: the "
                    "same); set accept: true (with version: 3 in strict mode)"))
    return found


def check_strict(v: Values) -> None:
    """The config-level rule (called from sections.py): it needs global.vrrp_strict."""
    if not v.ok("global", "vrrp_instances"):
        return
    vrrp_strict = v["global"].vrrp_strict if v["global"] is not None else False
    for i, instance in v.items("vrrp_instances"):
        if is_strict(instance, vrrp_strict):
            for path, message in strict_problems(instance):
                v.error(("vrrp_instances", i, *path), f"({instance.name}) {message}")
