"""docs/migration.md section 7 lists every keepalived 2.2.7 VRRP-side keyword (issue 15,
acceptance 5): "same", "different: why" or "not supported: why", and the haipvs key.

The keyword list below is keepalived 2.2.7's, block by block:
- "(top level)" and "global_defs": keepalived/core/global_parser.c init_global_keywords()
  (`install_keyword_root` = top level, `install_keyword` after "global_defs" = inside it),
  plus `include` (lib/parser.c read_line(): "include" is handled by the reader itself);
- the VRRP blocks: keepalived/vrrp/vrrp_parser.c init_vrrp_keywords();
- `track_file` / `vrrp_track_file`: keepalived/trackers/track_file.c add_track_file_keywords().
Every keyword behind an `#ifdef` that Debian's 2.2.7 build enables (VMAC, LVS, BFD, SNMP,
D-Bus, nftables, track_process, linkbeat) is listed: an imported file may use any of them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from haipvs.config.schema import json_schema
from tests.importer.keyword_rows import (
    KEEPALIVED_MIRROR,
    assert_keys_in_schema,
    assert_one_row_per_keyword,
    assert_statuses,
    schema_has,
)

SECTION = "## 7. keepalived VRRP keywords"

KEYWORDS: dict[str, tuple[str, ...]] = {
    "(top level)": (
        "include",  # lib/parser.c
        # global_parser.c install_keyword_root()
        "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets", "use_pid_dir",
        "instance", "child_wait_time", "linkbeat_use_polling", "global_defs",
        # vrrp_parser.c / track_file.c install_keyword_root()
        "track_group", "static_ipaddress", "static_routes", "static_rules", "vrrp_sync_group",
        "garp_group", "linkbeat_interfaces", "vrrp_instance", "vrrp_script",
        "vrrp_track_process", "interface_up_down_delays", "track_file", "vrrp_track_file",
    ),
    "global_defs": (
        "process_names", "process_name", "vrrp_process_name", "checker_process_name",
        "lvs_process_name", "bfd_process_name", "router_id", "notification_email_from",
        "smtp_server", "smtp_helo_name", "smtp_connect_timeout", "notification_email",
        "smtp_alert", "startup_script", "startup_script_timeout", "shutdown_script",
        "shutdown_script_timeout", "max_auto_priority", "min_auto_priority_delay",
        "smtp_alert_vrrp", "smtp_alert_checker", "checker_log_all_failures",
        "dynamic_interfaces", "no_email_faults", "default_interface", "disable_local_igmp",
        "lvs_timeouts", "lvs_flush", "lvs_flush_on_stop", "lvs_flush_onstop", "lvs_sync_daemon",
        "vrrp_mcast_group4", "vrrp_mcast_group6", "vrrp_garp_master_delay",
        "vrrp_garp_master_repeat", "vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat",
        "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_down_timer_adverts",
        "vrrp_garp_interval", "vrrp_gna_interval", "vrrp_min_garp", "vrrp_garp_extra_if",
        "vrrp_vmac_garp_intvl", "vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert",
        "vrrp_version", "vrrp_iptables", "vrrp_ipsets", "nftables", "nftables_priority",
        "nftables_ifindex", "nftables_ipvs", "nftables_ipvs_priority",
        "nftables_ipvs_start_fwmark", "nftables_counters", "vrrp_check_unicast_src",
        "vrrp_skip_check_adv_addr", "vrrp_strict", "vrrp_priority", "vrrp_no_swap",
        "vrrp_rt_priority", "vrrp_cpu_affinity", "vrrp_rlimit_rttime", "vrrp_rlimit_rtime",
        "notify_fifo", "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script",
        "vrrp_notify_priority_changes", "fifo_write_vrrp_states_on_reload", "lvs_notify_fifo",
        "lvs_notify_fifo_script", "checker_priority", "checker_no_swap", "checker_rt_priority",
        "checker_cpu_affinity", "checker_rlimit_rttime", "checker_rlimit_rtime", "bfd_priority",
        "bfd_no_swap", "bfd_rt_priority", "bfd_cpu_affinity", "bfd_rlimit_rttime",
        "bfd_rlimit_rtime", "snmp_socket", "enable_traps", "enable_snmp_vrrp",
        "enable_snmp_keepalived", "enable_snmp_rfc", "enable_snmp_rfcv2", "enable_snmp_rfcv3",
        "enable_snmp_checker", "enable_dbus", "dbus_service_name", "script_user",
        "enable_script_security", "vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force",
        "vrrp_netlink_monitor_rcv_bufs", "vrrp_netlink_monitor_rcv_bufs_force",
        "process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs",
        "lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs",
        "lvs_netlink_monitor_rcv_bufs_force", "rs_init_notifies", "no_checker_emails",
        "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "vrrp_startup_delay",
        "log_unknown_vrids", "vmac_prefix", "vmac_addr_prefix", "umask", "random_seed",
        "reload_check_config", "reload_time_file", "reload_repeat", "reload_file",
        "include_check", "config_save_dir", "tmp_config_directory", "data_use_instance",
    ),
    "track_group": ("group",),
    "vrrp_sync_group": (
        "group", "track_interface", "track_script", "track_file", "track_process", "track_bfd",
        "notify_backup", "notify_master", "notify_fault", "notify_stop", "notify", "smtp_alert",
        "global_tracking", "sync_group_tracking_weight", "notify_priority_changes",
    ),
    "garp_group": ("garp_interval", "gna_interval", "interface", "interfaces"),
    "vrrp_instance": (
        "use_vmac", "use_vmac_addr", "vmac_xmit_base", "use_ipvlan", "unicast_peer",
        "unicast_fault_no_peer", "check_unicast_src", "old_unicast_checksum", "native_ipv6",
        "state", "interface", "vrf", "dont_track_primary", "track_interface", "track_script",
        "track_file", "track_process", "track_bfd", "mcast_src_ip", "unicast_src_ip",
        "mcast_dst_ip", "track_src_ip", "virtual_router_id", "unicast_ttl", "version",
        "priority", "advert_int", "virtual_ipaddress", "virtual_ipaddress_excluded",
        "promote_secondaries", "linkbeat_use_polling", "virtual_routes", "virtual_rules",
        "accept", "no_accept", "skip_check_adv_addr", "strict_mode", "preempt", "nopreempt",
        "preempt_delay", "debug", "notify_backup", "notify_master", "notify_fault",
        "notify_stop", "notify_deleted", "notify", "notify_master_rx_lower_pri", "smtp_alert",
        "notify_priority_changes", "lvs_sync_daemon_interface", "garp_master_delay",
        "garp_master_refresh", "garp_master_repeat", "garp_master_refresh_repeat",
        "garp_lower_prio_delay", "garp_lower_prio_repeat", "down_timer_adverts",
        "garp_extra_if", "vmac_garp_intvl", "lower_prio_no_advert", "higher_prio_send_advert",
        "kernel_rx_buf_size", "authentication",
    ),
    "authentication": ("auth_type", "auth_pass"),
    "vrrp_script": ("script", "interval", "timeout", "weight", "rise", "fall", "user",
                    "init_fail"),
    "vrrp_track_process": ("process", "param_match", "weight", "quorum", "quorum_max", "delay",
                           "terminate_delay", "fork_delay", "full_command"),
    "track_file": ("file", "weight", "init_file"),
    "vrrp_track_file": ("file", "weight", "init_file"),
}

def test_every_keepalived_vrrp_keyword_has_one_row() -> None:
    assert_one_row_per_keyword(SECTION, KEYWORDS)


def test_every_row_says_same_different_or_not_supported() -> None:
    assert_statuses(SECTION)


def test_every_named_haipvs_key_exists_in_the_schema() -> None:
    assert_keys_in_schema(SECTION, "vrrp_instances[].garp.interval")


def test_schema_lookup_finds_nested_keys_and_rejects_unknown_ones() -> None:
    schema = json_schema()
    assert schema_has(schema, "vrrp_instances[].garp.master_delay")
    assert schema_has(schema, "global.router_id")
    assert not schema_has(schema, "vrrp_instances[].no_such_key")
    assert not schema_has(schema, "global.router_id.deeper")


def _keepalived_keywords() -> set[str]:
    found: set[str] = set()
    for path in ("keepalived/core/global_parser.c", "keepalived/vrrp/vrrp_parser.c",
                 "keepalived/trackers/track_file.c"):
        source = subprocess.run(
            ["git", "-C", str(KEEPALIVED_MIRROR), "show", f"v2.2.7:{path}"],
            capture_output=True, text=True, check=True, timeout=30).stdout
        found.update(re.findall(r'install_keyword(?:_root)?\("([^"]+)"', source))
    return found


@pytest.mark.skipif(not KEEPALIVED_MIRROR.is_dir(), reason="no keepalived source mirror")
def test_keyword_list_is_keepalived_2_2_7s() -> None:
    """The list above is every `install_keyword[_root]` of the three parsers (plus include)."""
    ours = {kw for keywords in KEYWORDS.values() for kw in keywords} - {"include"}
    assert ours == _keepalived_keywords()


def test_track_file_block_is_the_current_name_of_vrrp_track_file(tmp_path: Path) -> None:
    """track_file.c add_track_file_keywords(): `track_file` and its deprecated synonym
    `vrrp_track_file` fill the same list."""
    from haipvs.importer import import_keepalived

    conf = tmp_path / "keepalived.conf"
    conf.write_text("track_file maint {\n  file /run/maint\n  weight -10\n}\n"
                    "vrrp_track_file old {\n  file /run/old\n}\n")
    result = import_keepalived(conf)
    assert result.document["vrrp_track_files"] == [
        {"name": "maint", "file": "/run/maint", "weight": -10},
        {"name": "old", "file": "/run/old"}]
    assert not result.dropped
