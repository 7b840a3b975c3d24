"""The whole file: the `Config` model, its top-level keys and the rules between sections.

The config format is split by topic, each module holding the model dataclasses of its part of
the file and their sections (see haipvs/config/settings.py for how one attribute declares one
setting):

- global_defs.py: `global`
- vrrp_instance.py: `vrrp_instances` (VIPs, authentication, garp, tracker references)
- tracking.py: `vrrp_scripts`, `vrrp_track_files`, `vrrp_sync_groups`
- virtual_server.py: `virtual_servers`, real servers, sorry servers
- checkers.py: the health checkers of a real server

To add a setting: add one attribute with `setting(...)` to the model dataclass. Parsing,
defaults, `haipvs schema` and docs/config.md all follow from it (regenerate the doc with
`python -m haipvs.config.docgen > docs/config.md`). Rules between several fields go in the
section's `check`.
"""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.

from __future__ import annotations

from typing import Any

from haipvs.config.bfd import BFD, Bfd
from haipvs.config.bfd import check_config as check_bfd
from haipvs.config.compound import ListOf, Nested
from haipvs.config.global_defs import GLOBAL, GlobalSettings, global_defaults
from haipvs.config.include import INCLUDE_PATTERNS
from haipvs.config.routes import (
    ROUTES,
    RULES,
    STATIC_ADDRESSES,
    RouteEntry,
    RuleEntry,
    StaticAddress,
)
from haipvs.config.scale_out import SCALE_OUT, ScaleOut
from haipvs.config.scale_out import check_config as check_scale_out
from haipvs.config.settings import derived, model_section, setting
from haipvs.config.spec import REQUIRED, Values
from haipvs.config.ssl_client import SSL_CLIENT, SslClient
from haipvs.config.strict_mode import check_strict
from haipvs.config.track_process import TRACK_PROCESS, TrackProcess
from haipvs.config.tracking import (
    SYNC_GROUP,
    TRACK_FILE,
    VRRP_SCRIPT,
    SyncGroup,
    TrackFile,
    VrrpScript,
)
from haipvs.config.virtual_server import VIRTUAL_SERVER, VirtualServer
from haipvs.config.vrrp_instance import VRRP_INSTANCE, VrrpInstance
from haipvs.config.vs_group import service_identities
from haipvs.dataclass_lean import dataclass


@dataclass(frozen=True)
class Config:
    source: str = derived()  # file name the config was read from
    global_settings: GlobalSettings = setting(Nested(GLOBAL), None, "director-wide settings",
                                              doc_default="all defaults", key="global",
                                              model_default=REQUIRED)
    vrrp_instances: tuple[VrrpInstance, ...] = setting(ListOf(Nested(VRRP_INSTANCE)), (),
                                                       "VRRP instances")
    virtual_servers: tuple[VirtualServer, ...] = setting(ListOf(Nested(VIRTUAL_SERVER)), (),
                                                         "IPVS services")
    vrrp_scripts: tuple[VrrpScript, ...] = setting(ListOf(Nested(VRRP_SCRIPT)), (),
                                                   "tracking scripts")
    vrrp_track_files: tuple[TrackFile, ...] = setting(ListOf(Nested(TRACK_FILE)), (),
                                                      "tracking files")
    vrrp_track_processes: tuple[TrackProcess, ...] = setting(
        ListOf(Nested(TRACK_PROCESS)), (), "tracked processes (keepalived vrrp_track_process)")
    vrrp_sync_groups: tuple[SyncGroup, ...] = setting(ListOf(Nested(SYNC_GROUP)), (),
                                                      "VRRP sync groups")
    # Held whatever the VRRP states (haipvs/config/routes.py).
    static_ipaddress: tuple[StaticAddress, ...] = setting(STATIC_ADDRESSES, (),
                                                          "addresses held from start to stop")
    static_routes: tuple[RouteEntry, ...] = setting(ROUTES, (), "routes held from start to stop")
    static_rules: tuple[RuleEntry, ...] = setting(RULES, (), "rules held from start to stop")
    # keepalived's top-level SSL block: one client context for every ssl_get
    ssl: SslClient | None = setting(Nested(SSL_CLIENT), None, "client certificate, key and CA "
                                    "of every ssl_get checker (keepalived SSL)")
    # bgp-mode VIPs, announced by a route the routing daemon exports (issue 17, scale_out.py)
    scale_out: ScaleOut | None = setting(Nested(SCALE_OUT), None, "N active directors: VIPs "
                                         "announced over BGP (docs/scale-out.md)",
                                         doc_default="none: every VIP is VRRP's")
    # BFD sessions read from BIRD (issue 17, haipvs/config/bfd.py)
    bfd: Bfd | None = setting(Nested(BFD), None, "BFD sessions read from the routing daemon "
                              "(docs/scale-out.md)", doc_default="none: no BFD")
    # Read by the loader before the rest (haipvs/config/include.py): kept for the record.
    include: tuple[str, ...] = setting(
        INCLUDE_PATTERNS, (), "files whose top-level keys are merged into this one (globs, "
        "relative to the including file; lists are concatenated; see docs/operations.md)")

    def instance(self, name: str) -> VrrpInstance:
        for instance in self.vrrp_instances:
            if instance.name == name:
                return instance
        raise KeyError(name)


def _service_name(identity: tuple) -> str:
    if identity[0] == "fwmark":
        return f"fwmark {identity[2]} (IPv{identity[1]})"
    protocol, address, port = identity
    return f"{protocol} {address} port {port}"


def _check_config(v: Values) -> None:
    _check_instances(v, v.items("vrrp_instances"))
    # every IPVS service (group members too) -> (index, key) of the virtual server having it
    seen: dict[tuple, tuple[int, tuple]] = {}
    for i, vs in v.items("virtual_servers"):
        mine = list(service_identities(vs))
        clash = next((identity for identity in mine if identity in seen), None)
        if clash is not None:
            other, other_key = seen[clash]
            line = v.line("virtual_servers", other)
            v.error(("virtual_servers", i), "this virtual server is already defined at line "
                    f"{line}" if clash == vs.key == other_key else f"{_service_name(clash)} "
                    f"is already programmed by the virtual server at line {line} "
                    "(a group member)")
        for identity in mine:
            seen.setdefault(identity, (i, vs.key))
    if v.ok("global", "vrrp_instances") and v["global"] is not None:
        sync = v["global"].lvs_sync_daemon
        if (sync is not None and sync.vrrp_instance is not None
                and sync.vrrp_instance not in {i.name for i in v["vrrp_instances"]}):
            v.error(("global", "lvs_sync_daemon", "vrrp_instance"),
                    f"no vrrp instance named {sync.vrrp_instance!r}")
    _check_trackers(v)
    check_strict(v)  # keepalived vrrp_strict / strict_mode (haipvs/config/strict_mode.py)
    check_scale_out(v)  # bgp VIPs against VRRP VIPs and NAT (haipvs/config/scale_out.py)
    check_bfd(v)  # track_bfd / bfd_check name bfd.sessions (haipvs/config/bfd.py)


def _check_unique_names(v: Values, section: str) -> set[str]:
    names: dict[str, int] = {}
    for i, item in v.items(section):
        if item.name in names:
            v.error((section, i, "name"), f"name {item.name!r} is already used at line "
                    f"{v.line(section, names[item.name])}")
        names.setdefault(item.name, i)
    return set(names)


def _check_trackers(v: Values) -> None:
    scripts = _check_unique_names(v, "vrrp_scripts")
    files = _check_unique_names(v, "vrrp_track_files")
    processes = _check_unique_names(v, "vrrp_track_processes")
    _check_unique_names(v, "vrrp_sync_groups")
    instances = {inst.name for _, inst in v.items("vrrp_instances")}
    for i, inst in v.items("vrrp_instances"):
        for kind, known, section in (("track_script", scripts, "vrrp_scripts"),
                                     ("track_file", files, "vrrp_track_files"),
                                     ("track_process", processes, "vrrp_track_processes")):
            if not v.ok(section):
                continue
            for j, ref in enumerate(getattr(inst, kind)):
                if ref.name not in known:
                    v.error(("vrrp_instances", i, kind, j),
                            f"no {section} entry named {ref.name!r}")
    grouped: dict[str, str] = {}
    for i, group in v.items("vrrp_sync_groups"):
        for j, member in enumerate(group.group):
            if v.ok("vrrp_instances") and member not in instances:
                v.error(("vrrp_sync_groups", i, "group", j), f"no vrrp instance named {member!r}")
            elif member in grouped:
                v.error(("vrrp_sync_groups", i, "group", j),
                        f"{member!r} is already in sync group {grouped[member]!r}")
            grouped.setdefault(member, group.name)


def _check_instances(v: Values, instances: list[tuple[int, VrrpInstance]]) -> None:
    by_index = dict(instances)
    names: dict[str, int] = {}
    vrids: dict[tuple[str, int, int], int] = {}
    vips: dict[Any, tuple[int, int]] = {}
    vmac_names: dict[str, int] = {}
    for i, instance in instances:
        if instance.name in names:
            v.error(("vrrp_instances", i, "name"), f"instance name {instance.name!r} is already "
                    f"used at line {v.line('vrrp_instances', names[instance.name])}")
        names.setdefault(instance.name, i)
        vrid = (instance.interface, instance.family, instance.virtual_router_id)
        if vrid in vrids:
            other = by_index[vrids[vrid]]
            v.error(("vrrp_instances", i, "virtual_router_id"),
                    f"virtual_router_id {instance.virtual_router_id} is already used by "
                    f"{other.name!r} on {instance.interface} (IPv{instance.family}) at line "
                    f"{v.line('vrrp_instances', vrids[vrid], 'virtual_router_id')}")
        vrids.setdefault(vrid, i)
        if instance.use_vmac and instance.vmac_name is not None:
            # keepalived vrrp_vmac_handler(): "VRRP instance %s is already using %s"
            first = vmac_names.setdefault(instance.vmac_name, i)
            if first != i:
                v.error(("vrrp_instances", i, "vmac_name"), f"vmac_name {instance.vmac_name} "
                        f"is already used by {by_index[first].name!r} at line "
                        f"{v.line('vrrp_instances', first, 'vmac_name')}")
        for j, vip in enumerate(instance.virtual_ipaddress):
            owner, owner_vip = vips.setdefault(vip.address.ip, (i, j))
            if owner != i:
                line = v.line("vrrp_instances", owner, "virtual_ipaddress", owner_vip)
                v.error(("vrrp_instances", i, "virtual_ipaddress", j),
                        f"{vip.address.ip} is already a VIP of {by_index[owner].name!r} "
                        f"at line {line}")
    for i, instance in instances:
        src = instance.unicast_src_ip
        if src is not None and src in vips and vips[src][0] != i:
            v.error(("vrrp_instances", i, "unicast_src_ip"),
                    f"{src} is a VIP of {by_index[vips[src][0]].name!r}; "
                    "use the director's own address")


def _derive_config(v: Values) -> dict[str, Any]:
    settings = v["global"] if v["global"] is not None else global_defaults()
    return {"source": v.ctx.filename, "global_settings": settings}


CONFIG = model_section(
    Config,
    "config",
    "The file",
    "The top level of an haipvs YAML file.",
    derive=_derive_config,
    check=_check_config,
    rules=(
        "Instance names are unique; `virtual_router_id` is unique per interface and family; "
        "a `vmac_name` names one instance's vmac.",
        "A VIP belongs to one instance; no instance's `unicast_src_ip` is another's VIP.",
        "`global.lvs_sync_daemon.vrrp_instance` names an instance.",
        "`track_script` / `track_file` / `track_process` entries name a `vrrp_scripts` / "
        "`vrrp_track_files` / `vrrp_track_processes` entry; names of scripts, files, "
        "processes and sync groups are unique; sync group members are "
        "instances, each in at most one group.",
    ),
    renamed={
        "global_defs": "use global",
        "vrrp_instance": "use vrrp_instances: [...]",
        "virtual_server": "use virtual_servers: [...]",
        "vrrp_script": "use vrrp_scripts: [...]",
        "vrrp_track_file": "use vrrp_track_files: [...]",
        "vrrp_track_process": "use vrrp_track_processes: [...]",
        "vrrp_sync_group": "use vrrp_sync_groups: [...]",
    },
)

__all__ = ["CONFIG", "Config"]
