"""Why a keepalived keyword is not translated, for the keywords a table does not handle.

A keyword that is neither in its block's table nor here is reported as "haipvs has no such
setting" (it may be a typo keepalived would also have ignored).
"""

from __future__ import annotations

from haipvs import limits

WHY = {
    # global_defs
    "lvs_flush_onstop": "haipvs never flushes the IPVS table on stop: it removes the services "
    "it owns (keepalived's default), never others",
    "lvs_flush_on_stop": "haipvs never flushes the IPVS table on stop: it removes the services "
    "it owns (keepalived's default), never others",
    "vrrp_skip_check_adv_addr": "haipvs always checks the address list of adverts",
    "dynamic_interfaces": "haipvs needs the interfaces to exist at start",
    "vrrp_no_swap": "haipvs does not lock memory", "checker_no_swap": "haipvs does not lock memory",
    "vrrp_rt_priority": "haipvs schedules no thread in real time; global.vrrp_priority (a "
    "nice value, -10 by default) keeps the VRRP thread ahead of the checkers",
    "checker_rt_priority": "haipvs schedules no thread in real time (see checker_priority)",
    # vrrp_instance
    "skip_check_adv_addr": "haipvs always checks the address list of adverts",
    "native_ipv6": "haipvs chooses the family from the VIPs",
    "debug": "use haipvs --log-level debug",
    "kernel_rx_buf_size": "haipvs sizes its receive buffer itself",
    # virtual_server / real_server
    "nat_mask": "keepalived ignores it too; IPVS services have no netmask except for "
    "persistence_granularity",
    "hashed": "haipvs sets no IPVS hashed flag",
    # The checkers that have them translate them (checker_bind.py, fast_recovery.py); these
    # reasons are for a block without them, where keepalived 2.2.7 does not know them either
    # (install_checker_common_keywords(false) for MISC_CHECK, HTTP-only fast_recovery).
    "bind_port": "keepalived 2.2.7 has no bind_port in this block (an unknown keyword it "
    "ignores)",
    "bind_if": "keepalived 2.2.7 has no bind_if in this block (an unknown keyword it ignores)",
    "BFD_CHECK": limits.BFD_CHECK_REFUSED,
    # check_udp.c install_udp_check_keyword(): only min_reply_length / max_reply_length
    "min_length": "keepalived 2.2.7 ignores it too (unknown keyword); use min_reply_length",
    "max_length": "keepalived 2.2.7 ignores it too (unknown keyword); use max_reply_length",
    "regex_options": "haipvs regexes are "
    "Python `re` without options", "regex_stack": "haipvs needs no regex stack size",
    "regex_min_offset": "haipvs searches the whole body",
    "regex_max_offset": "haipvs searches the whole body",
    "fast_recovery": "keepalived 2.2.7 has fast_recovery only in HTTP_GET / SSL_GET (an "
    "unknown keyword it ignores here)",
    "linkbeat_use_polling": "haipvs watches links over netlink",
}
