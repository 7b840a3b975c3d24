"""Warnings about a valid config: settings that are accepted but overridden at run time.

keepalived reports these at load and carries on (keepalived/vrrp/vrrp.c
vrrp_complete_instance(): "Warning - nopreempt will not work with initial state MASTER -
clearing" and its neighbours). haipvs' core applies the same overrides
(haipvs/vrrp/transitions.py preempt_settings()), so the config says so out loud: the daemon
logs each warning at start and on reload, `haipvs check` prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from haipvs import limits
from haipvs.config.checkers import CHECKER_NAMES
from haipvs.config.model import Config, SslGet, VrrpInstance
from haipvs.config.strict_mode import no_accept_warnings
from haipvs.dataclass_lean import dataclass


@dataclass(frozen=True)
class ConfigWarning:
    where: str  # config path, e.g. "vrrp_instances[VI_1].preempt"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _instance_warnings(instance: VrrpInstance) -> list[ConfigWarning]:
    at = f"vrrp_instances[{instance.name}]"
    found: list[ConfigWarning] = []
    owner = instance.priority == limits.OWNER_PRIORITY
    master = instance.state == "MASTER"
    if not instance.preempt and owner:
        found.append(ConfigWarning(
            f"{at}.preempt",
            f"preempt: false is ignored with priority {limits.OWNER_PRIORITY} (address owner)"
            " (keepalived: nopreempt is incompatible with priority 255)",
        ))
    elif not instance.preempt and master:
        found.append(ConfigWarning(
            f"{at}.state",
            "preempt: false does not work with initial state MASTER; the instance preempts"
            " (keepalived: nopreempt will not work with initial state MASTER - clearing)",
        ))
    if instance.preempt_delay > 0:
        if master:
            found.append(ConfigWarning(
                f"{at}.state",
                "preempt_delay does not work with initial state MASTER; it is ignored"
                " (keepalived: preempt delay will not work with initial state MASTER)",
            ))
        elif not instance.preempt and not owner:
            found.append(ConfigWarning(
                f"{at}.preempt_delay",
                "preempt_delay is ignored with preempt: false"
                " (keepalived: preempt_delay is incompatible with nopreempt mode)",
            ))
    return found


def config_warnings(config: Config) -> list[ConfigWarning]:
    """Every warning for `config`, in file order. Pure: no I/O."""
    found: list[ConfigWarning] = []
    for instance in config.vrrp_instances:
        found.extend(_instance_warnings(instance))
        strict = instance.strict_mode
        if instance.vmac_xmit_base and (config.global_settings.vrrp_strict if strict is None
                                        else strict):
            # vrrp.c vrrp_complete_instance(); haipvs.vrrp_binding applies the same reset
            found.append(ConfigWarning(
                f"vrrp_instances[{instance.name}].vmac_xmit_base",
                "vmac_xmit_base is ignored in strict mode (global.vrrp_strict); adverts leave "
                "from the vmac (keepalived: xmit_base is incompatible with strict mode - "
                "resetting)"))
    found.extend(_scale_out_warnings(config))
    # keepalived no_accept / strict mode on an LVS director (haipvs/config/strict_mode.py)
    found.extend(ConfigWarning(where, message) for where, message in no_accept_warnings(
        config.vrrp_instances, config.virtual_servers, config.global_settings.vrrp_strict))
    return found


# What N active directors need from IPVS (issue 17, docs/scale-out.md): the same real server
# for a flow on every director, and a dead server's flows sent on rather than dropped.
SCALE_OUT_SCHEDULER = "mh"
SCALE_OUT_FLAGS = ("mh-fallback", "mh-port")


def _scale_out_warnings(config: Config) -> list[ConfigWarning]:
    if config.scale_out is None:
        return []
    vips = {vip.address for vip in config.scale_out.vips}
    found: list[ConfigWarning] = []
    for vs in config.virtual_servers:
        if vs.address not in vips:
            continue
        at = f"virtual_servers[{vs.address}:{vs.port}]"
        if vs.lb_algo != SCALE_OUT_SCHEDULER:
            found.append(ConfigWarning(
                f"{at}.lb_algo",
                f"{vs.lb_algo} on a bgp VIP: each director picks real servers on its own, so a "
                "flow that a routing change moves to another director lands on another real "
                "server and breaks; use lb_algo: mh (the same Maglev table on every director) "
                "with sched_flags [mh-fallback, mh-port]"))
            continue
        missing = [flag for flag in SCALE_OUT_FLAGS if flag not in vs.sched_flags]
        if missing:
            found.append(ConfigWarning(
                f"{at}.sched_flags",
                f"mh on a bgp VIP without {', '.join(missing)}: mh-fallback sends a dead (weight "
                "0) real server's flows to the next one instead of dropping them, mh-port "
                "spreads one client's connections by source port"))
    return found


def _written_checkers(written: Mapping[str, Any], kind: str | None = None) -> list[Any]:
    """The checker mappings of the file as written (kind None: every kind)."""
    found: list[Any] = []
    for vs in _items(written.get("virtual_servers")):
        for rs in _items(vs.get("real_servers") if isinstance(vs, Mapping) else None):
            if not isinstance(rs, Mapping):
                continue
            for name, value in rs.items():
                if name in CHECKER_NAMES and (kind is None or name == kind):
                    found.extend(_items(value))
    return found


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [] if value is None else [value]


def _unset(mappings: list[Any], key: str) -> bool:
    return any(isinstance(m, Mapping) and key not in m for m in mappings)


def _applies(setting: str, config: Config, written: Mapping[str, Any] | None) -> bool:
    """Whether `config` relies on haipvs' default for `setting` somewhere. With the file as
    written (`written`), a value given explicitly does not count, even if it equals the
    default: the operator chose it."""
    servers = [(vs, rs) for vs in config.virtual_servers for rs in vs.real_servers]
    if setting == "virtual_servers[].protocol":
        if written is not None:
            return any(isinstance(vs, Mapping) and "fwmark" not in vs and "protocol" not in vs
                       for vs in _items(written.get("virtual_servers")))
        return any(vs.protocol == limits.DEFAULT_PROTOCOL and vs.fwmark is None
                   for vs in config.virtual_servers)
    if setting == "virtual_servers[].real_servers[].<checker>.warmup":
        if written is not None:
            return _unset(_written_checkers(written), "warmup")
        return any(checker.warmup is None for _, rs in servers for checker in rs.checkers)
    if setting == "virtual_servers[].real_servers[].ssl_get.sni":
        # only where a name would be sent: without one neither sends SNI
        if written is not None:
            return any(isinstance(c, Mapping) and "sni" not in c
                       and ("virtualhost" in c or "server_name" in c)
                       for c in _written_checkers(written, "ssl_get"))
        return any(isinstance(c, SslGet) and c.sni and (c.virtualhost or c.server_name)
                   for _, rs in servers for c in rs.checkers)
    raise ValueError(f"no rule for the keepalived difference {setting!r}")


def differences_for(config: Config,
                    written: Mapping[str, Any] | None = None) -> list[ConfigWarning]:
    """The rows of limits.KEEPALIVED_DIFFERENCES that `config` relies on: where it uses
    haipvs' default and keepalived's default would differ. `written` is the file's plain
    YAML data (`haipvs check` passes it) so that explicitly given values are left out."""
    return [
        ConfigWarning(row.setting, f"haipvs default {row.haipvs}; keepalived's is {row.keepalived}")
        for row in limits.KEEPALIVED_DIFFERENCES
        if _applies(row.setting, config, written)
    ]
