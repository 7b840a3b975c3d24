"""Process options of the daemon, keepalived 2.2.7 style (keepalived/core/main.c,
global_parser.c): the instance name and network namespace that keep several haipvs apart on
one host, and the startup/shutdown scripts. The settings live on `global`
(haipvs/config/global_defs.py); the kinds, defaults and the one path rule live here.

Where each file of a running haipvs is (the ONE place that derives it): `runtime_paths`.
keepalived 2.2.7 puts the instance name in its pid file names (main.c make_pidfile_name():
/run/keepalived/keepalived_NAME.pid) and, with `net_namespace`, unshares a private
/run/keepalived mount for each namespace. haipvs does not unshare mounts; it puts the
namespace and the instance in the directory instead:

    /run/haipvs                        neither
    /run/haipvs/NAME                   instance NAME
    /run/haipvs/netns/NS               net_namespace NS
    /run/haipvs/netns/NS/NAME          both

The state dir holds the pid file (unless `pid_file` says otherwise), the state dump and stats
files, and the IPVS ownership ledger (ipvs-owned.json), so two haipvs with different
instance names (or namespaces) never share one. An explicit `state_dir` / `pid_file` wins.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from haipvs import limits
from haipvs.config.kinds import Int, Text

DEFAULT_STATE_DIR = "/run/haipvs"
PID_FILE_NAME = "haipvs.pid"
NETNS_DIR = "netns"  # /run/haipvs/netns/NS: a directory, so no instance may be called that
NETNS_RUN_DIR = "/run/netns"  # where `ip netns add NAME` binds the namespace (iproute2)

# keepalived's range and default (haipvs/limits.py, shared with the importer).
SCRIPT_TIMEOUT_DEFAULT = limits.SCRIPT_TIMEOUT_DEFAULT
SCRIPT_TIMEOUT = Int(limits.SCRIPT_TIMEOUT_MIN, limits.SCRIPT_TIMEOUT_MAX)

# A file-name component: no "/", not "." or "..", as `ip netns` accepts.
_NAME_PATTERN = r"(?!\.\.?$)[A-Za-z0-9_.:-]+"
INSTANCE_NAME = Text(64, _NAME_PATTERN, "letters, digits, '_', '.', ':', '-'")
NETNS_NAME = Text(255, _NAME_PATTERN, "a name under /run/netns, as `ip netns add` makes")


def runtime_paths(instance: str | None, net_namespace: str | None,
                  state_dir: str | None = None, pid_file: str | None = None) -> tuple[str, str]:
    """(state_dir, pid_file) of one haipvs: the given ones, else derived as above."""
    if state_dir is None:
        state_dir = DEFAULT_STATE_DIR
        if net_namespace is not None:
            state_dir += f"/{NETNS_DIR}/{net_namespace}"
        if instance is not None:
            state_dir += f"/{instance}"
    if pid_file is None:
        pid_file = f"{state_dir}/{PID_FILE_NAME}"
    return state_dir, pid_file


def namespace_override(settings: Any, name: str) -> dict[str, str]:
    """keepalived's `-s/--namespace NAME` (main.c: "Overriding config net_namespace ... with
    command line namespace"): the namespace, and the state_dir / pid_file derived from it
    where the file did not name them (`settings` is the file's `global`)."""
    out = {"net_namespace": name}
    if settings.state_dir == runtime_paths(settings.instance, settings.net_namespace)[0]:
        out["state_dir"] = runtime_paths(settings.instance, name)[0]
    if "state_dir" in out and settings.pid_file == f"{settings.state_dir}/{PID_FILE_NAME}":
        out["pid_file"] = f"{out['state_dir']}/{PID_FILE_NAME}"
    return out


def nft_table(instance: str | None) -> str:
    """The default `global.nftables` table: `haipvs`, or `haipvs_INSTANCE` so two haipvs in
    one namespace never share their no_accept table (keepalived has one table per host;
    nftables table names take letters, digits and '_')."""
    if instance is None:
        return limits.NFT_TABLE_DEFAULT
    return f"{limits.NFT_TABLE_DEFAULT}_{re.sub(r'[^A-Za-z0-9_]', '_', instance)}"[:64]


def netns_path(name: str) -> str:
    return f"{NETNS_RUN_DIR}/{name}"


# keepalived main.c reload_config(): "Cannot change network namespace at a reload - please
# restart", and the same for the instance name; they keep the running values. So do the
# paths derived from them: the pid file and the ledger of the running daemon stay put.
FIXED_AT_START = ("instance", "net_namespace", "state_dir", "pid_file", "nftables")


def keep_fixed_at_start(old: Any, new: Any) -> tuple[Any, list[str]]:
    """`new` global settings with the FIXED_AT_START values of `old`, and the names of the
    ones a reload tried to change (to log)."""
    changed = [name for name in FIXED_AT_START if getattr(old, name) != getattr(new, name)]
    if not changed:
        return new, []
    return dataclasses.replace(new, **{name: getattr(old, name) for name in changed}), changed
