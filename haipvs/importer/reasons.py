"""Why a keepalived keyword is not translated, for the keywords a table does not handle.

A keyword that is neither in its block's table nor here is reported as "haipvs has no such
setting" (it may be a typo keepalived would also have ignored).
"""

from __future__ import annotations

NO_MAIL = "haipvs sends no e-mail; use notify scripts or global.notify_fifo"
NO_STATIC = "haipvs manages only VIPs; configure static addresses and routes in the system"
WHY = {
    # global_defs
    "notification_email": NO_MAIL, "notification_email_from": NO_MAIL,
    "smtp_server": NO_MAIL, "smtp_connect_timeout": NO_MAIL, "smtp_helo_name": NO_MAIL,
    "smtp_alert": NO_MAIL, "smtp_alert_vrrp": NO_MAIL, "smtp_alert_checker": NO_MAIL,
    "enable_script_security": "haipvs runs scripts directly (argv, never a shell) as root",
    "script_user": "haipvs runs scripts as root; set misc_check.user per checker",
    "lvs_flush": "haipvs never flushes the IPVS table: services it does not own are kept",
    "lvs_flush_onstop": "haipvs never flushes the IPVS table on stop",
    "vrrp_strict": "haipvs has no strict mode; it always applies RFC receive checks",
    "vrrp_skip_check_adv_addr": "haipvs always checks the address list of adverts",
    "vrrp_mcast_group4": "haipvs uses the standard VRRP multicast group 224.0.0.18",
    "vrrp_mcast_group6": "haipvs uses the standard VRRP multicast group ff02::12",
    "vrrp_garp_interval": "haipvs sends each burst back to back",
    "vrrp_gna_interval": "haipvs sends each burst back to back",
    "dynamic_interfaces": "haipvs needs the interfaces to exist at start",
    "vrrp_no_swap": "haipvs does not lock memory", "checker_no_swap": "haipvs does not lock memory",
    "vrrp_priority": "haipvs runs its VRRP thread at normal priority",
    "checker_priority": "haipvs runs checkers at normal priority",
    "vrrp_rt_priority": "haipvs runs its VRRP thread at normal priority",
    "checker_rt_priority": "haipvs runs checkers at normal priority",
    # vrrp_instance
    "virtual_ipaddress_excluded": "haipvs has no excluded VIPs yet: these addresses will NOT "
    "be added or removed on MASTER/BACKUP changes (moving them to virtual_ipaddress would "
    "put them in the adverts a keepalived peer checks); add them by other means",
    "virtual_routes": NO_STATIC, "virtual_rules": NO_STATIC,
    "static_ipaddress": NO_STATIC, "static_routes": NO_STATIC, "static_rules": NO_STATIC,
    "use_vmac": "haipvs has no VRRP virtual MAC (vmac) interfaces",
    "vmac_xmit_base": "haipvs has no VRRP virtual MAC (vmac) interfaces",
    "dont_track_primary": "haipvs always tracks the instance's interface",
    "strict_mode": "haipvs has no strict mode",
    "accept": "haipvs has no accept mode", "no_accept": "haipvs has no accept mode",
    "skip_check_adv_addr": "haipvs always checks the address list of adverts",
    "native_ipv6": "haipvs chooses the family from the VIPs",
    "debug": "use haipvs --log-level debug",
    "notify_master_rx_lower_pri": "haipvs has no such notify script",
    "unicast_ttl": "haipvs sends unicast adverts with TTL 255",
    "track_process": "haipvs has no process tracking; use a vrrp_script",
    "track_bfd": "haipvs has no BFD",
    "kernel_rx_buf_size": "haipvs sizes its receive buffer itself",
    # virtual_server / real_server
    "nat_mask": "keepalived ignores it too; IPVS services have no netmask except for "
    "persistence_granularity",
    "omega": "haipvs runs no quorum_down / notify_down scripts at shutdown",
    "sorry_server_inhibit": "keepalived then keeps the sorry server in the IPVS table with "
    "weight 0 while it is not needed; haipvs always removes it once the quorum is back",
    "hashed": "haipvs sets no IPVS hashed flag",
    "notify_up": "haipvs has no per-real-server notify scripts; read the state dump",
    "notify_down": "haipvs has no per-real-server notify scripts; read the state dump",
    "bind_port": "haipvs checkers use an ephemeral source port",
    "bind_if": "haipvs checkers bind by address (bindto), not interface",
    "BFD_CHECK": "haipvs has no BFD checker", "SMTP_CHECK": "haipvs has no SMTP checker",
    "FILE_CHECK": "haipvs has no file checker; use MISC_CHECK",
    "PING_CHECK": "haipvs has no ping checker; use MISC_CHECK",
    "min_length": "haipvs UDP checks do not check the reply length",
    "max_length": "haipvs UDP checks do not check the reply length",
    "regex_options": "haipvs regexes are "
    "Python `re` without options", "regex_stack": "haipvs needs no regex stack size",
    "regex_min_offset": "haipvs searches the whole body",
    "regex_max_offset": "haipvs searches the whole body",
    "fast_recovery": "haipvs has no fast recovery",
    "linkbeat_use_polling": "haipvs watches links over netlink",
    "net_namespace": "run haipvs itself in the namespace (ip netns exec)",
}
