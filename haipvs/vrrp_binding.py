"""Maps the YAML config to what the VRRP runtime runs: the core's InstanceParams plus the
I/O facts (interface, VIPs with device and label, unicast source and peers).

This is the only place that knows both the config model and the core, so neither has to
import the other.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from haipvs.config.model import Config, VrrpInstance
from haipvs.config.strict_mode import accept_mode, strict_mode
from haipvs.drivers.addresses import Vip
from haipvs.drivers.vrrp_instance import InstanceBinding
from haipvs.policy.route_entries import instance_entries
from haipvs.vrrp.params import ExtraIf, GarpParams, InstanceParams

if TYPE_CHECKING:  # issue 18: loaded by a config with use_vmac only (bindings_from_config)
    from haipvs.policy.vmac import VmacSpec


def instance_params(instance: VrrpInstance) -> InstanceParams:
    garp = instance.garp
    auth = instance.authentication
    if auth is not None:
        _load_hmac()
    return InstanceParams(
        name=instance.name,
        vrid=instance.virtual_router_id,
        vips=tuple(vip.address.ip for vip in instance.virtual_ipaddress),
        base_priority=instance.priority,
        advert_int=instance.advert_int,
        version=instance.version,
        family=instance.family,
        preempt=instance.preempt,
        preempt_delay=instance.preempt_delay,
        auth_pass=auth.password.encode() if auth is not None else None,
        unicast_peers=instance.unicast_peers,
        unicast_min_ttl=instance.unicast_min_ttl if instance.unicast_min_ttl is not None else 0,
        unicast_max_ttl=instance.unicast_max_ttl if instance.unicast_max_ttl is not None else 255,
        initial_state=instance.state,
        garp=GarpParams(
            master_delay=garp.master_delay,
            master_repeat=garp.master_repeat,
            master_refresh=garp.master_refresh,
            master_refresh_repeat=garp.master_refresh_repeat,
            lower_prio_repeat=garp.lower_prio_repeat,
            lower_prio_delay=garp.lower_prio_delay,
        ),
    )


def _load_hmac() -> None:
    """hmac loads on first use (haipvs/lazy_stdlib.py), and the VRRP thread checks a PASS
    password with hmac.compare_digest: load it here, in the thread that reads the config
    (start and reload), not on the VRRP thread's first advert (it imports _hashlib and maps
    libcrypto, milliseconds)."""
    import hmac

    hmac.compare_digest  # noqa: B018 - the read runs the module's body


def instance_binding(instance: VrrpInstance, sync_group: str | None = None,
                     vrrp_strict: bool = False, vmac: VmacSpec | None = None,
                     vmacs_ours: frozenset[str] = frozenset()) -> InstanceBinding:
    strict = strict_mode(instance.strict_mode, vrrp_strict)
    params = instance_params(instance)
    if strict:
        # keepalived vrrp.c vrrp_complete_instance(): strict mode forces no lower-priority
        # garp repeats ("Strict mode requires no repeat garps"), lower_prio_no_advert on and
        # higher_prio_send_advert off.
        params = replace(params, garp=replace(params.garp, lower_prio_repeat=0,
                                              lower_prio_delay=0),
                         lower_prio_no_advert=True, higher_prio_send_advert=False)
    # use_vmac: the instance runs on its macvlan, and VIPs without `dev` go there
    # (keepalived vrrp.c vrrp_complete_instance() makes the vmac the instance's ifp).
    ifname = vmac.name if vmac is not None else instance.interface
    vips = tuple(
        Vip(interface=vip.address, ifname=vip.dev or ifname, label=vip.label)
        for vip in instance.virtual_ipaddress
    )
    entries = instance_entries(instance)
    # keepalived vrrp.c vrrp_complete_instance(): off without another interface to send on
    # (the importer already gave an instance without its own the global_defs one)
    devices = [vip.ifname for vip in vips] + [a.dev for a in entries.addresses]
    extra_if = ExtraIf(instance.garp.extra_if, instance.garp.extra_if_all)
    if extra_if.delay:  # (off stays as set: the rules load with a delay only, issue 18)
        from haipvs.vrrp.garp_extra_if import effective

        extra_if = effective(extra_if, ExtraIf(0), ifname, devices, vmacs_ours)
    return InstanceBinding(
        params=params,
        ifname=ifname,
        vmac=vmac,
        vips=vips,
        unicast_src=instance.unicast_src_ip,
        unicast_peers=instance.unicast_peers,
        track_interfaces=tuple((t.name, t.weight) for t in instance.track_interface),
        sync_group=sync_group,
        entries=entries,
        accept=accept_mode(instance.accept, strict, instance.priority, instance.version),
        garp_interval=instance.garp.interval,
        gna_interval=instance.garp.gna_interval,
        track_reverse=frozenset(t.name for t in instance.track_interface if t.reverse),
        dont_track_primary=instance.dont_track_primary,
        unicast_ttl=instance.unicast_ttl,
        mcast_group=instance.mcast_dst_ip,
        extra_if=extra_if,
        vmacs_ours=vmacs_ours,
    )


def bindings_from_config(config: Config) -> list[InstanceBinding]:
    groups = {member: group.name for group in config.vrrp_sync_groups for member in group.group}
    strict = config.global_settings.vrrp_strict
    vmacs: dict[str, VmacSpec] = {}
    if any(i.use_vmac for i in config.vrrp_instances):
        from haipvs.policy.vmac import VmacRequest, resolve

        vmacs = {spec.instance: spec for spec in resolve(
            VmacRequest(i.name, i.virtual_router_id, i.family, i.interface, i.vmac_name,
                        # vrrp.c: "xmit_base is incompatible with strict mode - resetting"
                        i.vmac_xmit_base and not strict_mode(i.strict_mode, strict))
            for i in config.vrrp_instances if i.use_vmac)}
    ours = frozenset(spec.name for spec in vmacs.values())
    return [instance_binding(instance, groups.get(instance.name), strict,
                             vmacs.get(instance.name), ours)
            for instance in config.vrrp_instances]
