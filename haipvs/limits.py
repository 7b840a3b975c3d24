"""One home for the limits, names and defaults that several layers must agree on.

The config (`haipvs/config/`), the VRRP core (`haipvs/vrrp/params.py`, `haipvs/vrrp/packet.py`)
and the keepalived importer (`haipvs/importer/`) all read these constants instead of holding
their own copies, so a limit cannot be changed in one place and forgotten in another.

Pure data: this module imports nothing but `typing`, so anything may import it (the sans-I/O
core included) without pulling in I/O or a cycle.

What is here, by topic:

- VRRP: VRID and priority ranges, the address owner's priority, the versions, and the
  advertisement interval for each version (whole seconds for v2; centiseconds for v3).
- Gratuitous ARP / NA timing: haipvs' defaults, and keepalived's `garp_*` (vrrp_instance) and
  `vrrp_garp_*` (global_defs) keywords with the haipvs `garp:` key each becomes.
- IPVS: scheduler names and their flags, forwarding methods (`lb_kind`) and keepalived's
  keyword spellings for both, tunnel types and flags, protocols.
- Virtual-server and checker defaults and ranges that the config and the importer share.

Numbers keep the exact type (int or float) the config has always used: the JSON Schema prints
`255`, not `255.0`, so changing a type here changes `haipvs schema` output.

How the layers use the advert_int limits (each keeps its own error wording):

- config: any version `ADVERT_INT_MIN..ADVERT_INT_MAX`; v2 whole seconds; v3 at most
  `ADVERT_INT_V3_MAX` in `ADVERT_INT_V3_STEP` steps.
- vrrp/params.py: v2 whole seconds `ADVERT_INT_V2_MIN..ADVERT_INT_V2_MAX`; v3 rounds to
  1..`ADVERT_INT_V3_MAX_CENTISECONDS` centiseconds.
- vrrp/packet.py: what fits the wire field (v2 one octet 0..`ADVERT_INT_V2_MAX`, v3 12 bits
  0..`ADVERT_INT_V3_MAX_CENTISECONDS`); 0 is encodable, the config never produces it.
- importer: reads a keepalived value in `ADVERT_INT_MIN..ADVERT_INT_MAX` and rounds a v2
  fraction to whole seconds, at least `ADVERT_INT_V2_MIN`.
"""

from __future__ import annotations

from typing import Final, NamedTuple

# ---- VRRP (RFC 3768 §5.3, RFC 5798 §5.2; keepalived/vrrp/vrrp_parser.c, include/vrrp.h) ---------

VRID_MIN: Final = 1
VRID_MAX: Final = 255
PRIORITY_MIN: Final = 1
PRIORITY_MAX: Final = 255
# The router that owns the VIPs advertises 255 (RFC 5798 §5.2.4, keepalived VRRP_PRIO_OWNER).
OWNER_PRIORITY: Final = 255
DEFAULT_PRIORITY: Final = 100  # keepalived VRRP_PRIO_DFL
VRRP_VERSIONS: Final = (2, 3)
DEFAULT_VRRP_VERSION: Final = 2  # IPv6 instances always use 3

# Advertisement interval, seconds.
# v2: an octet of whole seconds (RFC 3768 §5.3.7); 0 would never advertise, so 1 is the least.
ADVERT_INT_V2_MIN: Final = 1
ADVERT_INT_V2_MAX: Final = 255
# v3: 12 bits of centiseconds (RFC 5798 §5.2.7): 0.01 .. 40.95 s.
ADVERT_INT_V3_MAX_CENTISECONDS: Final = 0x0FFF
CENTISECONDS_PER_SECOND: Final = 100
ADVERT_INT_V3_STEP: Final = 0.01
ADVERT_INT_V3_MIN: Final = 0.01
ADVERT_INT_V3_MAX: Final = 40.95  # ADVERT_INT_V3_MAX_CENTISECONDS / 100 (a test checks it)
# Whatever the version: the widest range a value may take before the version is known.
ADVERT_INT_MIN: Final = ADVERT_INT_V3_MIN
ADVERT_INT_MAX: Final = ADVERT_INT_V2_MAX
DEFAULT_ADVERT_INT: Final = 1.0

PREEMPT_DELAY_MAX: Final = 1000  # seconds
TTL_MAX: Final = 255  # unicast_min_ttl / unicast_max_ttl
AUTH_PASS_MAX_OCTETS: Final = 8  # v2 Authentication Data (RFC 2338 §5.3.10)
MAX_ADDRESSES_PER_ADVERT: Final = 255  # the Count IPvX Addr octet

# Tracker weights (track_interface, vrrp_script, vrrp_track_file), keepalived's range.
TRACKER_WEIGHT_MIN: Final = -253
TRACKER_WEIGHT_MAX: Final = 253

# ---- Gratuitous ARP / unsolicited NA (keepalived's garp_* settings) ---------------------------

GARP_MASTER_DELAY: Final = 5.0  # second burst this long after becoming MASTER; 0 = none
GARP_MASTER_REPEAT: Final = 5  # announcements per burst
GARP_MASTER_REFRESH: Final = 0.0  # periodic refresh interval while MASTER; 0 = off
GARP_MASTER_REFRESH_REPEAT: Final = 1  # announcements per refresh (vrrp.h VRRP_GARP_REFRESH_REP)
# keepalived 2.2.7 vrrp.c vrrp_complete_init(): unset lower_prio repeat/delay take the garp
# master repeat/delay (so 5 announcements, and a second burst 5 s later); the config follows
# the instance's master_repeat/master_delay when these are not given.
GARP_LOWER_PRIO_REPEAT: Final = GARP_MASTER_REPEAT  # burst on a lower-priority advert (0 = none)
GARP_LOWER_PRIO_DELAY: Final = GARP_MASTER_DELAY  # second lower-priority burst after this long
GARP_DELAY_MAX: Final = 86400  # seconds, for the *_delay and *_refresh settings
GARP_REPEAT_MAX: Final = 255

# keepalived vrrp_instance keyword -> the key under haipvs' `garp:` mapping.
GARP_RENAMES: Final[dict[str, str]] = {
    "garp_master_delay": "master_delay",
    "garp_master_repeat": "master_repeat",
    "garp_master_refresh": "master_refresh",
    "garp_master_refresh_repeat": "master_refresh_repeat",
    "garp_lower_prio_repeat": "lower_prio_repeat",
    "garp_lower_prio_delay": "lower_prio_delay",
}
# keepalived's global_defs spells the same settings with this prefix (vrrp_garp_master_delay).
GLOBAL_GARP_PREFIX: Final = "vrrp_"
# Which garp keys are counts (integers); the others are seconds (numbers).
GARP_COUNT_KEYS: Final = frozenset({"master_repeat", "master_refresh_repeat",
                                     "lower_prio_repeat"})

# ---- IPVS services (keepalived/check/check_parser.c; ipvsadm(8)) ------------------------------

SCHEDULERS: Final = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh",
                     "fo", "ovf", "twos")
DEFAULT_SCHEDULER: Final = "wlc"
SCHED_FLAGS: Final = ("sh-port", "sh-fallback", "mh-port", "mh-fallback")
LB_KINDS: Final = ("NAT", "DR", "TUN")  # forwarding methods, as haipvs and keepalived spell them
DEFAULT_LB_KIND: Final = "NAT"
PROTOCOLS: Final = ("TCP", "UDP", "SCTP")
DEFAULT_PROTOCOL: Final = "TCP"
TUN_TYPES: Final = ("ipip", "gue", "gre")
TUN_FLAGS: Final = ("nocsum", "csum", "remcsum")

# keepalived's keyword spellings (the old `lvs_*` names are still accepted by keepalived).
KEEPALIVED_SCHEDULER_KEYWORDS: Final = ("lb_algo", "lvs_sched")
KEEPALIVED_LB_KIND_KEYWORDS: Final = ("lb_kind", "lvs_method")

# 31 days: keepalived's and ipvsadm's ceiling for IPVS timeouts (persistence, --set).
LVS_MAX_TIMEOUT: Final = 31 * 24 * 3600
# `persistence` without a timeout; keepalived's IPVS_SVC_PERSISTENT_TIMEOUT.
DEFAULT_PERSISTENCE_TIMEOUT: Final = 360
PERSISTENCE_ENGINES: Final = ("sip",)  # IPVS persistence engines Linux has (ip_vs_pe_sip)
DEFAULT_DELAY_LOOP: Final = 60.0  # keepalived KEEPALIVED_DEFAULT_DELAY
DELAY_LOOP_MIN: Final = 0.01
DELAY_LOOP_MAX: Final = 86400
FWMARK_MAX: Final = 2**32 - 1
QUORUM_MAX: Final = 2**31 - 1
PORT_MAX: Final = 65535
WEIGHT_MAX: Final = 65535

# ---- health checkers ---------------------------------------------------------------------------

DNS_TYPES: Final = ("A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA")
DEFAULT_RETRY: Final = 1  # keepalived check_api.c alloc_checker(): default_retry = 1
MISC_DEFAULT_RETRY: Final = 0  # check_misc.c misc_check_handler(): default_retry = 0
DNS_DEFAULT_RETRY: Final = 3  # check_dns.h DNS_DEFAULT_RETRY; delay_before_retry = delay_loop
RETRY_MAX: Final = 10000
DEFAULT_DELAY_BEFORE_RETRY: Final = 1.0
DEFAULT_HTTP_DELAY_BEFORE_RETRY: Final = 3.0  # http_get / ssl_get, as keepalived
DEFAULT_CONNECT_TIMEOUT: Final = 5.0

# ---- Defaults that differ from keepalived 2.2.7 on purpose ------------------------------------
# The one list: docs/migration.md shows it as a table (a test compares them), and `haipvs
# check` prints the rows that apply to the file at hand (haipvs/config/warnings.py).


class KeepalivedDifference(NamedTuple):
    setting: str  # haipvs YAML path, [] for every element
    keepalived: str  # keepalived 2.2.7's default, and where it comes from
    haipvs: str
    why: str


KEEPALIVED_DIFFERENCES: Final = (
    KeepalivedDifference(
        "virtual_servers[].protocol",
        "UDP (check_data.c validate_check_config(): \"no protocol set - defaulting to UDP\")",
        DEFAULT_PROTOCOL,
        "a service without a protocol is almost always meant as TCP; the importer writes "
        "keepalived's UDP out when the keepalived.conf has no protocol",
    ),
    KeepalivedDifference(
        "virtual_servers[].real_servers[].<checker>.warmup",
        "the checker's delay_loop: the first check runs at a random time up to delay_loop "
        "(check_data.c, check_api.c register_checkers_thread())",
        "none: the first check runs at once",
        "a starting director learns its real servers' health in one check, not up to "
        "delay_loop later; set warmup to spread the first checks as keepalived does",
    ),
    KeepalivedDifference(
        "virtual_servers[].real_servers[].ssl_get.sni",
        "off: SNI only with enable_sni (check_ssl.c ssl_connect())",
        "true: SNI sent when server_name or virtualhost names a host",
        "a real server behind a name-based TLS front end needs the name to pick its "
        "certificate; the importer writes sni: false unless the keepalived.conf has "
        "enable_sni",
    ),
)

# ---- routes and rules that move with the VIP (keepalived/vrrp/vrrp_iproute.c, vrrp_iprule.c) --

# rtm_protocol / FRA_PROTOCOL of every route and rule haipvs adds: the same number as the
# IFA_PROTO mark of its addresses (haipvs/drivers/addresses.py). Not keepalived's
# RTPROT_KEEPALIVED (18): while both run on one host (a migration), neither must take the
# other's routes for its own. The kernel matches it on delete, so haipvs cannot remove a
# route or rule it did not add.
HAIPVS_RT_PROTO: Final = 0x4B
ROUTE_TABLE_MAIN: Final = 254  # RT_TABLE_MAIN, keepalived's default table
ROUTE_TABLE_MAX: Final = 0xFFFFFFFF

# ---- VRRP authentication: why IPsec-AH is refused ------------------------------------------
# keepalived 2.2.7's `auth_type AH` (vrrp.c vrrp_build_ipsecah(), vrrp_in_chk_ipsecah()) puts
# an AH header (protocol 51, HMAC-MD5-96 over the IP header, SPI = source address, a sequence
# number the receiver requires to grow) between the IP header and VRRP. The ICV covers the IP
# identification field, so the sender must build its own IP header (IP_HDRINCL); haipvs sends
# adverts through a protocol-112 socket whose IP header the kernel builds.
AH_REFUSED: Final = (
    "haipvs speaks VRRP with simple-text PASS or no authentication; keepalived's IPsec-AH "
    "(protocol 51, HMAC-MD5-96) is not implemented, and RFC 3768 removed VRRP "
    "authentication: use type PASS on both peers (keepalived accepts it), or none"
)

# ---- accept / no_accept and strict mode (keepalived/vrrp/vrrp.c, vrrp_nftables.c) ----------
# haipvs' own nftables table (family inet): not keepalived's "keepalived", so both can run on
# one host during a migration. keepalived's DEFAULT_NFTABLES_TABLE / vrrp_nf_chain_priority.
NFT_TABLE_DEFAULT: Final = "haipvs"
NFT_CHAIN_PRIORITY_DEFAULT: Final = -1
NFT_TABLE_COMMENT: Final = "haipvs-owned: no_accept drop rules"

# ---- thread priorities: keepalived global_defs vrrp_priority / checker_priority ----------
# nice values (setpriority(2)).
# keepalived's VRRP child is a process of its own, so its checkers never delay an advert;
# haipvs' VRRP thread shares the process (and the GIL) with the checkers, and outranks them
# by default instead: at nice 0 it waited behind 10,000 checks/s (advert p99 5.3 ms, max
# 22 ms), at -10 p99 0.25-1.26 ms over ten runs (docs/benchmarks.md). Needs CAP_SYS_NICE.
NICE_MIN: Final = -20
NICE_MAX: Final = 19
VRRP_PRIORITY_DEFAULT: Final = -10
CHECKER_PRIORITY_DEFAULT: Final = 0

# ---- process options: startup_script / shutdown_script (haipvs/config/process.py) ----------
# keepalived global_parser.c startup_shutdown_script_timeout_handler(): [1, 1000] seconds;
# 10 s when not given (keepalived.conf(5): "default 10 seconds").
SCRIPT_TIMEOUT_MIN: Final = 1
SCRIPT_TIMEOUT_MAX: Final = 1000
SCRIPT_TIMEOUT_DEFAULT: Final = 10

# ---- e-mail alerts (keepalived/core/smtp.c; haipvs/config/smtp.py) -------------------------
# keepalived/include/smtp.h SMTP_PORT_STR, global_data.h DEFAULT_SMTP_CONNECTION_TIMEOUT. The
# queue bound is haipvs' own (haipvs/drivers/smtp_alert.py): keepalived opens one connection
# per alert, unbounded.
SMTP_PORT_DEFAULT: Final = 25
SMTP_CONNECT_TIMEOUT_DEFAULT: Final = 30
SMTP_QUEUE_MAX: Final = 64
# The alerter's counters (metrics haipvs_<name>): 0 until a config has an smtp section.
SMTP_ALERT_COUNTERS: Final = ("smtp_alerts_sent_total", "smtp_alerts_failed_total",
                              "smtp_alerts_dropped_total")

# ---- GARP pacing and advert knobs (engineer G; haipvs/vrrp/garp_pacing.py) ---------------
# keepalived global_parser.c vrrp_garp_interval_handler() / vrrp_gna_interval_handler(): the
# least gap between two GARPs (NAs) on one interface, in seconds with microsecond resolution
# (TIMER_HZ_DIGITS 6); 0 (the default, global_data.c) = back to back. keepalived logs "very
# large" from 1 s on and accepts more; haipvs caps it at the other garp delays' maximum.
GARP_INTERVAL_DEFAULT: Final = 0.0
# garp.* keys set from those globals / garp_group, not from vrrp_instance garp_* keywords
GARP_PACING_KEYS: Final = ("interval", "gna_interval")
# keepalived vrrp.c vrrp_complete_init(): an IPv4 advert's TTL without unicast_ttl
# (VRRP_IP_TTL); unicast_ttl is read in 0..255 (vrrp_parser.c vrrp_ttl_handler()).
UNICAST_TTL_DEFAULT: Final = 255
# keepalived's defaults for vrrp_mcast_group4 / vrrp_mcast_group6 (global_data.c,
# INADDR_VRRP_GROUP / the RFC 5798 group).
VRRP_MCAST_GROUP4: Final = "224.0.0.18"
VRRP_MCAST_GROUP6: Final = "ff02::12"
# keepalived SMTP_CHECK (check_smtp.h SMTP_DEFAULT_HELO; the HELO line must fit its
# SMTP_BUFF_MAX 512 buffer with "HELO " and CRLF).
SMTP_DEFAULT_HELO: Final = "smtpchecker.keepalived.org"
SMTP_HELO_NAME_MAX: Final = 504
# keepalived UDP_CHECK (check_udp.c udp_check_handler, layer4.c udp_bind_connect): reply
# lengths accepted by default, and the datagram sent when no payload is configured
# (UDP_BUFSIZE 32 bytes filled by set_buf()).
UDP_MIN_REPLY_LENGTH: Final = 0
UDP_MAX_REPLY_LENGTH: Final = 255
UDP_REPLY_LENGTH_MAX: Final = 65535
UDP_DEFAULT_PAYLOAD: Final = b"keepalived check - keepalived ch"
# garp.* keys of keepalived's garp_extra_if <delay> [all] (vrrp_parser.c; the global
# vrrp_garp_extra_if is the default, copied by the importer), not core GARP parameters
GARP_EXTRA_IF_KEYS: Final = ("extra_if", "extra_if_all")
# keepalived BFD_CHECK (check_bfd.c): refused, with this reason, by the config (a bfd_check /
# BFD_CHECK key in a real server) and by the importer; BFD is to come from the routing daemon.
BFD_CHECK_REFUSED: Final = ("BFD comes from the routing daemon in scale-out mode (issue 17); "
                            "not supported yet")
# FILE_CHECK (keepalived check_file.c, inotify there): haipvs reads the file this often by
# default, as its vrrp_track_file
FILE_CHECK_INTERVAL: Final = 0.5
# ---- scale-out: VIPs announced by a route in a kernel table (issue 17; no keepalived side) ---
# `scale_out.table`: any table but unspec (0) and the kernel's own (253 default, 254 main,
# 255 local): the routing daemon learns this table alone, and haipvs deletes only its routes.
SCALE_OUT_TABLE_RESERVED: Final = (0, 253, 254, 255)
SCALE_OUT_TABLE_MAX: Final = 2**32 - 1
SCALE_OUT_DEFAULT_TABLE: Final = 201
# rise/fall count evaluations of a VIP's fitness (haipvs/policy/announce.py): one on every
# change of its inputs and one every SCALE_OUT_EVALUATE_INTERVAL seconds.
SCALE_OUT_DEFAULT_RISE: Final = 2
SCALE_OUT_DEFAULT_FALL: Final = 1
SCALE_OUT_COUNT_MAX: Final = 100
SCALE_OUT_EVALUATE_INTERVAL: Final = 0.5
SCALE_OUT_DEFAULT_HOLD_DOWN: Final = 5.0
SCALE_OUT_DEFAULT_DRAIN_TIMEOUT: Final = 30.0
# RFC 8326 GRACEFUL_SHUTDOWN well-known community (65535:0). haipvs cannot set a BGP
# community on a kernel route, so with `graceful_shutdown` it first re-announces the route
# with this realm (RTA_FLOW; BIRD's krt_realm) and the documented bird.conf export filter
# adds the community for it.
GRACEFUL_SHUTDOWN_COMMUNITY: Final = (65535, 0)
GRACEFUL_SHUTDOWN_REALM: Final = 65535
# The kernel route's priority (metric) with no `metric` given; BIRD reads it as krt_metric.
SCALE_OUT_DEFAULT_METRIC: Final = 0
# The control socket `haipvs drain` / `haipvs undrain` talk to, in global.state_dir.
SCALE_OUT_CONTROL_SOCKET: Final = "scale-out.sock"
# ---- BFD from the routing daemon (issue 17; keepalived runs its own BFD, keepalived/bfd/) ---
# `bfd.control_socket`: BIRD 2's default control socket (bird -s).
BFD_DEFAULT_CONTROL_SOCKET: Final = "/run/bird/bird.ctl"
# `bfd.poll_interval`: BIRD has no push for BFD state, so `show bfd sessions` is polled.
BFD_DEFAULT_POLL_INTERVAL: Final = 0.1
BFD_POLL_INTERVAL_MIN: Final = 0.01
BFD_POLL_INTERVAL_MAX: Final = 60.0
# keepalived bfd_parser.c: BFD_INAME_MAX (31 characters and the NUL)
BFD_NAME_MAX: Final = 31
# ---- health-check resources (issue 18) -------------------------------------------------------
# File descriptors the batched TCP checks leave for everything else in the daemon (netlink,
# logs, HTTP/SMTP/DNS checks, scripts' pipes): they keep at most RLIMIT_NOFILE minus this many
# connects in flight; the rest wait for a slot instead of failing for want of a socket.
TCP_CHECK_FD_RESERVE: Final = 512
# With no socket to be had and none of ours in flight to free one: look again this often.
TCP_CHECK_NO_FD_RETRY: Final = 0.1
