"""Maps the YAML config to what the VRRP runtime runs: the core's InstanceParams plus the
I/O facts (interface, VIPs with device and label, unicast source and peers).

This is the only place that knows both the config model and the core, so neither has to
import the other.
"""

from __future__ import annotations

from haipvs.config.model import Config, VrrpInstance
from haipvs.drivers.addresses import Vip
from haipvs.drivers.vrrp_instance import InstanceBinding
from haipvs.vrrp.params import GarpParams, InstanceParams


def instance_params(instance: VrrpInstance) -> InstanceParams:
    garp = instance.garp
    auth = instance.authentication
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


def instance_binding(instance: VrrpInstance, sync_group: str | None = None) -> InstanceBinding:
    vips = tuple(
        Vip(interface=vip.address, ifname=vip.dev or instance.interface, label=vip.label)
        for vip in instance.virtual_ipaddress
    )
    return InstanceBinding(
        params=instance_params(instance),
        ifname=instance.interface,
        vips=vips,
        unicast_src=instance.unicast_src_ip,
        unicast_peers=instance.unicast_peers,
        track_interfaces=tuple((t.name, t.weight) for t in instance.track_interface),
        sync_group=sync_group,
    )


def bindings_from_config(config: Config) -> list[InstanceBinding]:
    groups = {member: group.name for group in config.vrrp_sync_groups for member in group.group}
    return [instance_binding(instance, groups.get(instance.name))
            for instance in config.vrrp_instances]
