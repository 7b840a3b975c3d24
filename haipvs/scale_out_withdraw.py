"""`haipvs withdraw-routes` and `haipvs stop-post`: withdraw every scale-out VIP from outside
the daemon, for systemd (systemd/haipvs.service ExecStopPost, systemd/haipvs-withdraw.service
OnFailure). haipvs.policy.stop_post says when.

Only haipvs's own routes go: those with rtm_protocol HAIPVS_RT_PROTO in `scale_out.table`
(haipvs/drivers/route_table.py owns them; its delete names the protocol, so the kernel never
removes another's route). The VIP addresses on `lo` stay: the director keeps accepting the
flows still on their way to it while the routers move them.
"""

from __future__ import annotations

import os
import sys

from haipvs.config.model import Config
from haipvs.policy.stop_post import withdraw_on_stop


def lenient_config(path: str) -> Config | None:
    """Just `scale_out.table` and `global.net_namespace` of a file that no longer validates
    (None when it names no table): enough to withdraw."""
    from dataclasses import replace

    import yaml

    from haipvs.config.model import GlobalSettings, ScaleOut

    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        return None
    section = raw.get("scale_out") if isinstance(raw, dict) else None
    table = section.get("table", ScaleOut.table) if isinstance(section, dict) else None
    if not isinstance(table, int) or isinstance(table, bool):
        return None
    settings = raw.get("global") if isinstance(raw.get("global"), dict) else {}
    netns = settings.get("net_namespace")
    global_settings = GlobalSettings(router_id="withdraw-routes",
                                     net_namespace=netns if isinstance(netns, str) else None)
    return Config(path, global_settings, scale_out=replace(ScaleOut(), table=table))


def withdraw_routes(config: Config) -> list[str]:
    """Delete every route of ours in scale_out.table (in global.net_namespace when set);
    returns the VIPs withdrawn. Raises OSError / NetlinkError on a netlink failure."""
    from haipvs.drivers import route_table
    from haipvs.drivers.process_options import enter_net_namespace

    settings = config.scale_out
    if settings is None:
        return []
    if config.global_settings.net_namespace:
        enter_net_namespace(config.global_settings.net_namespace)
    return [str(vip) for vip in route_table.withdraw_all(settings.table)]


def run_withdraw(config: Config, *, reason: str) -> int:
    try:
        withdrawn = withdraw_routes(config)
    except Exception as exc:  # systemd shows the one line; the exit status says it failed
        print(f"haipvs {reason}: withdrawing the scale-out routes failed: {exc}",
              file=sys.stderr)
        return 1
    table = config.scale_out.table if config.scale_out else "-"
    print(f"haipvs {reason}: withdrew {', '.join(withdrawn) or 'nothing'} "
          f"(table {table})")
    return 0


def run_stop_post(config: Config) -> int:
    """ExecStopPost: withdraw only when SERVICE_RESULT says haipvs hung (stop_post.py)."""
    result = os.environ.get("SERVICE_RESULT")
    if not withdraw_on_stop(result):
        print(f"haipvs stop-post: SERVICE_RESULT={result or 'unset'}: routes kept")
        return 0
    return run_withdraw(config, reason=f"stop-post (SERVICE_RESULT={result})")
