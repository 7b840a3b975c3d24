"""The config format: one field table per section, plus the rules that span several fields.

To add a setting: add one `Field(...)` line to the section's table and the attribute (same
name) to the dataclass in model.py. Parsing, defaults, `haipvs schema` and docs/config.md all
follow from the table (regenerate the doc with `python -m haipvs.config.docgen`).
"""

from __future__ import annotations

import platform
from typing import Any

from haipvs import limits
from haipvs.config import model
from haipvs.config.spec import (
    REQUIRED,
    Argv,
    Bool,
    Choice,
    Field,
    Float,
    HexBytes,
    Int,
    IPAddr,
    IPInterfaceKind,
    ListOf,
    Nested,
    Netmask,
    OneOrMany,
    Regex,
    ScalarOr,
    Section,
    StatusCodes,
    Text,
    Values,
)

LVS_MAX_TIMEOUT = limits.LVS_MAX_TIMEOUT
DEFAULT_PERSISTENCE_TIMEOUT = limits.DEFAULT_PERSISTENCE_TIMEOUT

IFNAME = Text(15, r"[^/:\s]+", "an interface name: no '/', ':' or spaces")
ABS_PATH = Text(4096, r"/.*", "an absolute path")
PORT = Int(1, limits.PORT_MAX)
SECONDS_LONG = Float(0, 86400)
QUORUM_MAX = limits.QUORUM_MAX
HOSTNAME = Text(253, r"[A-Za-z0-9_.:-]+", "a host name")


def _make(cls: type, *names: str, **extra: Any) -> Any:
    """A `make` for sections whose YAML keys are the dataclass field names."""

    def make(v: Values) -> Any:
        return cls(**v.kwargs(*names), **extra)

    return make


def _fields_of(section_fields: tuple[Field, ...]) -> tuple[str, ...]:
    return tuple(f.name for f in section_fields)


# --- global ---------------------------------------------------------------------------------

LVS_TIMEOUTS_FIELDS = (
    Field("tcp", Int(1, LVS_MAX_TIMEOUT), None, "established TCP connections, seconds"),
    Field("tcpfin", Int(1, LVS_MAX_TIMEOUT), None, "TCP connections after FIN, seconds"),
    Field("udp", Int(1, LVS_MAX_TIMEOUT), None, "UDP 'connections', seconds"),
)
LVS_TIMEOUTS = Section(
    "lvs_timeouts",
    "IPVS timeouts",
    "Kernel IPVS connection timeouts, like `ipvsadm --set`. Unset ones are left as they are.",
    LVS_TIMEOUTS_FIELDS,
    _make(model.LvsTimeouts, *_fields_of(LVS_TIMEOUTS_FIELDS)),
)

LVS_SYNC_FIELDS = (
    Field("interface", IFNAME, REQUIRED, "interface the sync daemon multicasts on"),
    Field("vrrp_instance", Text(64), REQUIRED,
          "the sync daemon is master while this instance is MASTER, backup otherwise"),
    Field("sync_id", Int(0, 255), 0, "sync id shared by the pair (ipvsadm --syncid)"),
)
LVS_SYNC_DAEMON = Section(
    "lvs_sync_daemon",
    "IPVS connection sync daemon",
    "Synchronises IPVS connection state to the backup director, following a VRRP instance.",
    LVS_SYNC_FIELDS,
    _make(model.LvsSyncDaemon, *_fields_of(LVS_SYNC_FIELDS)),
    rules=("`vrrp_instance` must name an instance in `vrrp_instances`.",),
)

GLOBAL_FIELDS = (
    Field("router_id", Text(64), None, "name of this director in logs and dumps",
          doc_default="the host name"),
    Field("state_dir", ABS_PATH, "/run/haipvs",
          "SIGUSR1 writes haipvs.json and haipvs.data here"),
    Field("pid_file", ABS_PATH, "/run/haipvs/haipvs.pid", "pid file of the daemon"),
    Field("lvs_timeouts", Nested(LVS_TIMEOUTS), None, "IPVS connection timeouts"),
    Field("lvs_sync_daemon", Nested(LVS_SYNC_DAEMON), None, "IPVS connection sync daemon"),
    Field("notify_fifo", ABS_PATH, None, "FIFO for keepalived-format event lines "
          "(`INSTANCE \"VI_1\" MASTER 150`); created if missing"),
    Field("event_log", ABS_PATH, None, "append every event as one JSON line to this file"),
    Field("notify_timeout", Float(0.1, 3600), 10.0, "seconds before a notify script is killed"),
    Field("metrics_listen", Text(300, r"(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):[0-9]{1,5}",
          "host:port or [v6]:port"), None, "Prometheus endpoint address; off if unset"),
)


def _make_global(v: Values) -> model.GlobalSettings:
    router_id = v["router_id"] if v["router_id"] is not None else platform.node() or "haipvs"
    return model.GlobalSettings(
        router_id=router_id,
        **v.kwargs(*(f.name for f in GLOBAL_FIELDS if f.name != "router_id")),
    )


GLOBAL = Section(
    "global",
    "Global settings",
    "Settings of the director as a whole (keepalived's `global_defs`).",
    GLOBAL_FIELDS,
    _make_global,
    renamed={"lvs_sync_daemon_interface": "use lvs_sync_daemon: {interface: ...}"},
)


# --- VRRP -----------------------------------------------------------------------------------

AUTH_FIELDS = (
    Field("type", Choice(("PASS",)), "PASS", "only simple-text `PASS` is supported"),
    Field("password", Text(limits.AUTH_PASS_MAX_OCTETS, octets=True), REQUIRED,
          "at most 8 octets (longer is an error, not silently truncated); quote it"),
)
AUTHENTICATION = Section(
    "authentication",
    "VRRPv2 authentication",
    "VRRPv2 simple-text authentication (RFC 2338). Not available with version 3.",
    AUTH_FIELDS,
    _make(model.Authentication, "type", "password"),
    renamed={"auth_type": "use type", "auth_pass": "use password"},
)

VIP_FIELDS = (
    Field("address", IPInterfaceKind(), REQUIRED, "the virtual address and prefix length"),
    Field("dev", IFNAME, None, "interface to add it to", doc_default="the instance's interface"),
    Field("label", Text(15), None,
          "IPv4 address label; must start with the device name and ':', e.g. `eth0:1`"),
)


def _check_vip(v: Values) -> None:
    if v.ok("address", "label") and v["label"] is not None and v["address"].version == 6:
        v.error("label", "labels exist only for IPv4 addresses")


VIRTUAL_ADDRESS = Section(
    "virtual_address",
    "Virtual IP address",
    "A VIP: `192.0.2.100/24`, bare `192.0.2.100` (= /32, /128 for IPv6), or the mapping form.",
    VIP_FIELDS,
    _make(model.VirtualAddress, "address", "dev", "label"),
    check=_check_vip,
    rules=("`label` only for IPv4.",),
)

GARP_FIELDS = (
    Field("master_delay", SECONDS_LONG, limits.GARP_MASTER_DELAY,
          "seconds after becoming MASTER before the second burst; 0 = no second burst"),
    Field("master_repeat", Int(1, limits.GARP_REPEAT_MAX), limits.GARP_MASTER_REPEAT,
          "gratuitous ARPs / NAs per burst"),
    Field("master_refresh", SECONDS_LONG, limits.GARP_MASTER_REFRESH,
          "repeat a burst this often while MASTER; 0 = off"),
    Field("lower_prio_repeat", Int(0, limits.GARP_REPEAT_MAX), limits.GARP_LOWER_PRIO_REPEAT,
          "burst size when a lower-priority advert is seen while MASTER"),
    Field("lower_prio_delay", SECONDS_LONG, limits.GARP_LOWER_PRIO_DELAY,
          "delay before that burst"),
)
GARP = Section(
    "garp",
    "Gratuitous ARP timing",
    "When the MASTER announces its VIPs (keepalived's `garp_*` settings).",
    GARP_FIELDS,
    _make(model.GarpSettings, *_fields_of(GARP_FIELDS)),
)

TRACKER_WEIGHT = Int(limits.TRACKER_WEIGHT_MIN, limits.TRACKER_WEIGHT_MAX)
SCRIPT_NAME = Text(64, r"[A-Za-z0-9_.:-]+", "letters, digits, '_', '.', ':', '-'")

TRACK_INTERFACE_FIELDS = (
    Field("name", IFNAME, REQUIRED, "the tracked interface"),
    Field("weight", TRACKER_WEIGHT, 0,
          "0: down = FAULT; negative: subtracted while down; positive: added while up"),
)
TRACK_INTERFACE = Section(
    "track_interface",
    "Tracked interface",
    "An interface the instance depends on (keepalived `track_interface`); `eth1` or the "
    "mapping form.",
    TRACK_INTERFACE_FIELDS,
    _make(model.TrackInterface, "name", "weight"),
)

TRACK_REF_FIELDS = (
    Field("name", SCRIPT_NAME, REQUIRED, "name of the `vrrp_scripts` / `vrrp_track_files` entry"),
    Field("weight", TRACKER_WEIGHT, None, "overrides the entry's weight",
          doc_default="the entry's weight"),
)
TRACK_REF = Section(
    "track_ref",
    "Tracker reference",
    "An instance's use of a tracking script or file, by name (keepalived `track_script` / "
    "`track_file`); `chk_web` or the mapping form.",
    TRACK_REF_FIELDS,
    _make(model.TrackRef, "name", "weight"),
)

# The advert_int rule, as the field doc and the section rule state it.
ADVERT_INT_RULE = (
    f"whole seconds {limits.ADVERT_INT_V2_MIN}..{limits.ADVERT_INT_V2_MAX} with version 2, "
    f"{limits.ADVERT_INT_V3_MIN:g}..{limits.ADVERT_INT_V3_MAX:g} in {limits.ADVERT_INT_V3_STEP:g}"
    " steps with version 3"
)

VRRP_FIELDS = (
    Field("name", Text(64, r"[A-Za-z0-9_.:-]+", "letters, digits, '_', '.', ':', '-'"), REQUIRED,
          "unique instance name"),
    Field("state", Choice(("BACKUP", "MASTER")), "BACKUP",
          "initial state; MASTER only takes effect at once with priority 255"),
    Field("interface", IFNAME, REQUIRED, "interface the adverts are sent and received on"),
    Field("virtual_router_id", Int(limits.VRID_MIN, limits.VRID_MAX), REQUIRED,
          "VRID, shared by the directors of a pair"),
    Field("priority", Int(limits.PRIORITY_MIN, limits.PRIORITY_MAX), limits.DEFAULT_PRIORITY,
          f"higher wins; {limits.OWNER_PRIORITY} = address owner"),
    Field("advert_int", Float(limits.ADVERT_INT_MIN, limits.ADVERT_INT_MAX),
          limits.DEFAULT_ADVERT_INT, f"seconds between adverts: {ADVERT_INT_RULE}"),
    Field("version", Int(min(limits.VRRP_VERSIONS), max(limits.VRRP_VERSIONS),
                         limits.VRRP_VERSIONS), None, "VRRP version",
          doc_default=f"{limits.DEFAULT_VRRP_VERSION} (3 for IPv6)"),
    Field("preempt", Bool(), True, "take over from a lower-priority MASTER"),
    Field("preempt_delay", Float(0, limits.PREEMPT_DELAY_MAX), 0.0,
          "seconds to wait before preempting"),
    Field("authentication", Nested(AUTHENTICATION), None, "VRRPv2 only"),
    Field("unicast_src_ip", IPAddr(), None,
          "source address of the adverts; required with unicast_peers"),
    Field("unicast_peers", ListOf(IPAddr()), (), "send adverts unicast to these peers"),
    Field("unicast_min_ttl", Int(0, limits.TTL_MAX), None,
          "drop unicast adverts with a lower TTL"),
    Field("unicast_max_ttl", Int(0, limits.TTL_MAX), None,
          "drop unicast adverts with a higher TTL"),
    Field("virtual_ipaddress", ListOf(ScalarOr(VIRTUAL_ADDRESS, "address"), 1), REQUIRED,
          "the VIPs (all of one family)"),
    Field("garp", Nested(GARP), model.GarpSettings(), "gratuitous ARP timing",
          doc_default="see [garp](#garp)"),
    Field("track_interface", ListOf(ScalarOr(TRACK_INTERFACE, "name")), (), "tracked interfaces"),
    Field("track_script", ListOf(ScalarOr(TRACK_REF, "name")), (), "tracking scripts, by name"),
    Field("track_file", ListOf(ScalarOr(TRACK_REF, "name")), (), "tracking files, by name"),
    Field("notify_master", Argv(), None, "run on becoming MASTER"),
    Field("notify_backup", Argv(), None, "run on becoming BACKUP"),
    Field("notify_fault", Argv(), None, "run on entering FAULT"),
    Field("notify_stop", Argv(), None, "run when the instance stops"),
    Field("notify", Argv(), None, "run on every transition with arguments "
          "`INSTANCE <name> <state> <priority>` appended"),
)

VRRP_RULES = (
    "All VIPs of an instance are of one family; IPv6 instances use version 3.",
    f"`advert_int`: {ADVERT_INT_RULE.replace(', ', '; ')}.",
    "`authentication` only with version 2.",
    "`unicast_src_ip` is required with `unicast_peers` (haipvs must know which local address "
    "the peers expect); peers are of its family, differ from it, and it is not a VIP.",
    "`unicast_min_ttl` / `unicast_max_ttl` only with `unicast_peers`; min <= max.",
    "A VIP `label` starts with its device name (`dev`, else `interface`) and ':'.",
    "A VIP appears once per instance and in one instance only.",
    "`virtual_router_id` is unique per interface and family.",
)


def _vip_families(v: Values) -> set[int]:
    return {vip.address.version for _, vip in v.items("virtual_ipaddress")}


def _vip_family(v: Values) -> int | None:
    families = _vip_families(v)
    return families.pop() if len(families) == 1 else None


def _vrrp_version(v: Values) -> int | None:
    if not v.ok("version"):
        return None
    if v["version"] is not None:
        return v["version"]
    return 3 if _vip_family(v) == 6 else 2


def _check_vrrp(v: Values) -> None:
    if len(_vip_families(v)) > 1:
        v.error("virtual_ipaddress", "mixes IPv4 and IPv6 addresses; use one instance per family")
    family = _vip_family(v)
    version = _vrrp_version(v)
    if family == 6 and v["version"] == 2:
        v.error("version", "IPv6 instances need VRRP version 3")
    if v.ok("advert_int") and version is not None:
        advert = v["advert_int"]
        v2_range = f"{limits.ADVERT_INT_V2_MIN}..{limits.ADVERT_INT_V2_MAX}"
        v3_range = f"{limits.ADVERT_INT_V3_MIN:g}..{limits.ADVERT_INT_V3_MAX:g}"
        centis = advert * limits.CENTISECONDS_PER_SECOND
        if version == 2 and not advert.is_integer():
            v.error("advert_int", f"{advert:g} is not whole seconds; version 2 needs {v2_range} "
                    "(sub-second adverts need version: 3)")
        if version == 3 and (advert > limits.ADVERT_INT_V3_MAX
                             or abs(centis - round(centis)) > 1e-6):
            v.error("advert_int", f"{advert:g} is not valid for version 3: {v3_range} "
                    f"in steps of {limits.ADVERT_INT_V3_STEP:g}")
    if version == 3 and v["authentication"] is not None:
        v.error("authentication", "authentication exists only in VRRP version 2")
    _check_unicast(v, family)
    seen: dict[Any, int] = {}
    for i, vip in v.items("virtual_ipaddress"):
        if v.ok("interface"):
            dev = vip.dev or v["interface"]
            if vip.label is not None and not vip.label.startswith(dev + ":"):
                v.error(("virtual_ipaddress", i, "label"),
                        f"label {vip.label!r} must start with the device name: '{dev}:...'")
        if vip.address.ip in seen:
            v.error(("virtual_ipaddress", i),
                    f"{vip.address.ip} is already listed at line "
                    f"{v.line('virtual_ipaddress', seen[vip.address.ip])}")
        seen.setdefault(vip.address.ip, i)


def _check_unicast(v: Values, family: int | None) -> None:
    if not v.ok("unicast_src_ip"):
        return
    src, peers = v["unicast_src_ip"], v.items("unicast_peers")
    if v["unicast_peers"] and src is None:
        v.error("unicast_peers", "unicast_src_ip is required with unicast_peers: "
                "haipvs must know which local address the peers expect")
    if src is not None:
        if family is not None and src.version != family:
            v.error("unicast_src_ip", f"IPv{src.version} source for an IPv{family} instance")
        if any(vip.address.ip == src for _, vip in v.items("virtual_ipaddress")):
            v.error("unicast_src_ip", f"{src} is one of this instance's VIPs; "
                    "use the director's own address")
        seen: set[Any] = set()
        for i, peer in peers:
            if peer.version != src.version:
                v.error(("unicast_peers", i), f"IPv{peer.version} peer with an "
                        f"IPv{src.version} unicast_src_ip")
            elif peer == src:
                v.error(("unicast_peers", i), f"{peer} is unicast_src_ip itself")
            elif peer in seen:
                v.error(("unicast_peers", i), f"{peer} is listed twice")
            seen.add(peer)
    if not v.ok("unicast_min_ttl", "unicast_max_ttl"):
        return
    for name in ("unicast_min_ttl", "unicast_max_ttl"):
        if v[name] is not None and not v["unicast_peers"]:
            v.error(name, f"{name} applies only with unicast_peers")
    low, high = v["unicast_min_ttl"], v["unicast_max_ttl"]
    if low is not None and high is not None and low > high:
        v.error("unicast_min_ttl", f"unicast_min_ttl {low} is above unicast_max_ttl {high}")


def _make_vrrp(v: Values) -> model.VrrpInstance:
    return model.VrrpInstance(
        version=_vrrp_version(v),
        family=_vip_family(v),
        **v.kwargs(*(f.name for f in VRRP_FIELDS if f.name != "version")),
    )


VRRP_INSTANCE = Section(
    "vrrp_instance",
    "VRRP instance",
    "One virtual router: the directors sharing its `virtual_router_id` elect a MASTER, which "
    "holds the VIPs.",
    VRRP_FIELDS,
    _make_vrrp,
    check=_check_vrrp,
    rules=VRRP_RULES,
    renamed={
        "nopreempt": "use preempt: false",
        "auth_type": "use authentication: {type: PASS, password: ...}",
        "auth_pass": "use authentication: {type: PASS, password: ...}",
        "unicast_peer": "use unicast_peers: [...]",
        "vrrp_version": "use version",
        **{old: f"use garp: {{{new}: ...}}" for old, new in limits.GARP_RENAMES.items()},
        "mcast_src_ip": "use unicast_src_ip (it also sets the source of multicast adverts)",
    },
)


# --- health checkers ------------------------------------------------------------------------

CHECKER_RENAMED = {
    "nb_get_retry": "nb_get_retry is keepalived's old name; use retry",
    "connect_timeout_ms": "use connect_timeout (seconds, fractions allowed)",
}


def _base_checker_fields(delay_before_retry: float) -> tuple[Field, ...]:
    return (
        Field("retry", Int(0, limits.RETRY_MAX), limits.DEFAULT_RETRY,
              "retries after a failed check before the server is declared down"),
        Field("delay_before_retry", Float(0, 86400), delay_before_retry,
              "seconds between retries"),
        Field("delay_loop", Float(limits.DELAY_LOOP_MIN, limits.DELAY_LOOP_MAX), None,
              "seconds between checks",
              doc_default="the virtual server's delay_loop"),
        Field("warmup", Float(0, 86400), None,
              "wait a random time up to this before the first check"),
        Field("alpha", Bool(), False, "start the server as down until its first success"),
    )


def _connect_checker_fields(delay_before_retry: float) -> tuple[Field, ...]:
    return (
        *_base_checker_fields(delay_before_retry),
        Field("connect_timeout", Float(0.001, 3600), limits.DEFAULT_CONNECT_TIMEOUT,
              "seconds to connect / get a reply"),
        Field("connect_ip", IPAddr(), None, "address to check",
              doc_default="the real server's address"),
        Field("connect_port", PORT, None, "port to check", doc_default="the real server's port"),
        Field("bindto", IPAddr(), None, "local source address"),
    )


def _checker_section(
    name: str,
    title: str,
    doc: str,
    fields: tuple[Field, ...],
    make: Any,
    renamed: dict[str, str] | None = None,
    **more: Any,
) -> Section:
    return Section(name, title, doc, fields, make, renamed={**CHECKER_RENAMED, **(renamed or {})},
                   **more)


TCP_CHECK_FIELDS = _connect_checker_fields(limits.DEFAULT_DELAY_BEFORE_RETRY)
TCP_CHECK = _checker_section(
    "tcp_check", "TCP check", "Up when a TCP connection opens.",
    TCP_CHECK_FIELDS, _make(model.TcpCheck, *_fields_of(TCP_CHECK_FIELDS)),
)

URL_FIELDS = (
    Field("path", Text(8192, r"/\S*", "starts with '/', no spaces"), REQUIRED, "path to GET"),
    Field("status_code", StatusCodes(), ((200, 299),), "accepted status codes",
          doc_default="200-299"),
    Field("digest", Text(32, r"[0-9a-fA-F]{32}", "32 hex digits"), None,
          "MD5 of the body (see `haipvs genhash`)"),
    Field("regex", Regex(), None, "the body must contain a match"),
)


def _make_url(v: Values) -> model.HttpUrl:
    digest = v["digest"].lower() if v["digest"] is not None else None
    return model.HttpUrl(digest=digest, **v.kwargs("path", "status_code", "regex"))


HTTP_URL = Section(
    "http_url",
    "URL to check",
    "One URL of an HTTP/SSL check. Every listed URL must pass.",
    URL_FIELDS,
    _make_url,
    rules=("With both `digest` and `regex`, both must match.",),
    renamed={"status": "use status_code"},
)

HTTP_FIELDS = (
    *_connect_checker_fields(limits.DEFAULT_HTTP_DELAY_BEFORE_RETRY),
    Field("url", ListOf(Nested(HTTP_URL), 1), REQUIRED, "URLs to GET"),
    Field("virtualhost", HOSTNAME, None, "Host header", doc_default="the connect address"),
    Field("http_protocol", Choice(("1.0", "1.1")), "1.0", "HTTP version of the request"),
)
HTTP_RENAMED = {"urls": "use url: [{path: ...}]"}


def _make_http(cls: type, fields: tuple[Field, ...]) -> Any:
    names = [f.name for f in fields if f.name != "url"]

    def make(v: Values) -> Any:
        return cls(urls=v["url"], **v.kwargs(*names))

    return make


HTTP_GET = _checker_section(
    "http_get", "HTTP check", "Up when every URL answers with an accepted status (and body).",
    HTTP_FIELDS, _make_http(model.HttpGet, HTTP_FIELDS), HTTP_RENAMED,
)

SSL_FIELDS = (
    *HTTP_FIELDS,
    Field("sni", Bool(), True, "send SNI (server_name, else virtualhost) when a name is known"),
    Field("server_name", HOSTNAME, None, "SNI and certificate name",
          doc_default="virtualhost"),
    Field("verify", Bool(), False, "verify the certificate chain and name"),
    Field("ca_file", ABS_PATH, None, "CA bundle for verify", doc_default="the system store"),
)


def _check_ssl(v: Values) -> None:
    if v.ok("ca_file", "verify") and v["ca_file"] is not None and not v["verify"]:
        v.error("ca_file", "ca_file is only used with verify: true")


SSL_GET = _checker_section(
    "ssl_get", "HTTPS check", "Like http_get, over TLS.",
    SSL_FIELDS, _make_http(model.SslGet, SSL_FIELDS), HTTP_RENAMED,
    check=_check_ssl, rules=("`ca_file` only with `verify: true`.",),
)

MISC_FIELDS = (
    *_base_checker_fields(limits.DEFAULT_DELAY_BEFORE_RETRY),
    Field("path", Argv(), REQUIRED, "program and arguments; run directly, never by a shell"),
    Field("timeout", Float(0.01, 86400), None, "kill the program after this many seconds",
          doc_default="the effective delay_loop"),
    Field("misc_dynamic", Bool(), False,
          "exit 0 = up, 1 = down, 2..255 = up with weight (code - 2)"),
    Field("user", Text(32, r"[A-Za-z_][A-Za-z0-9_.-]*(:[A-Za-z_][A-Za-z0-9_.-]*)?",
                       "user or user:group"), None, "run as this user", doc_default="root"),
)
MISC_CHECK = _checker_section(
    "misc_check", "Program check", "Up when a program exits 0.",
    MISC_FIELDS, _make(model.MiscCheck, *_fields_of(MISC_FIELDS)),
    {"misc_path": "use path", "misc_timeout": "use timeout"},
)

UDP_FIELDS = (
    *_connect_checker_fields(limits.DEFAULT_DELAY_BEFORE_RETRY),
    Field("payload", Text(1472), None, "datagram to send (text)", doc_default="empty"),
    Field("payload_hex", HexBytes(), None, "datagram to send (hex); instead of payload"),
    Field("require_reply", Bool(), False,
          "up only if a reply arrives (else: up unless ICMP port unreachable)"),
)


def _check_udp(v: Values) -> None:
    if v["payload"] is not None and v["payload_hex"] is not None:
        v.error("payload_hex", "give payload or payload_hex, not both")


def _make_udp(v: Values) -> model.UdpCheck:
    payload = v["payload_hex"] if v["payload_hex"] is not None else (v["payload"] or "").encode()
    names = [f.name for f in UDP_FIELDS if not f.name.startswith("payload")]
    return model.UdpCheck(payload=payload, **v.kwargs(*names))


UDP_CHECK = _checker_section(
    "udp_check", "UDP check", "Sends a datagram; see require_reply.",
    UDP_FIELDS, _make_udp, check=_check_udp,
    rules=("`payload` and `payload_hex` are exclusive.",),
)

DNS_FIELDS = (
    *_connect_checker_fields(limits.DEFAULT_DELAY_BEFORE_RETRY),
    Field("type", Choice(limits.DNS_TYPES), "SOA",
          "query type"),
    Field("name", HOSTNAME, ".", "query name"),
)
DNS_CHECK = _checker_section(
    "dns_check", "DNS check", "Up when the server answers the query.",
    DNS_FIELDS, _make(model.DnsCheck, *_fields_of(DNS_FIELDS)),
)

CHECKERS = (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, UDP_CHECK, DNS_CHECK)


# --- virtual servers ------------------------------------------------------------------------

LB_KINDS = limits.LB_KINDS
SCHEDULERS = limits.SCHEDULERS
SCHED_FLAGS = limits.SCHED_FLAGS

REAL_SERVER_FIELDS = (
    Field("address", IPAddr(), REQUIRED, "address of the real server"),
    Field("port", Int(0, 65535), None, "port of the real server",
          doc_default="required when the virtual server has a port"),
    Field("weight", Int(0, 65535), 1, "scheduling weight; 0 = no new connections"),
    Field("lb_kind", Choice(LB_KINDS), None, "forwarding method for this server",
          doc_default="the virtual server's"),
    Field("u_threshold", Int(0, 65535), None, "upper connection limit"),
    Field("l_threshold", Int(0, 65535), None, "lower connection limit (resume below it)"),
    Field("tun_type", Choice(limits.TUN_TYPES), None, "tunnel type (TUN only)",
          doc_default="ipip"),
    Field("tun_port", PORT, None, "GUE destination port (gue only, required)"),
    Field("tun_flags", ListOf(Choice(limits.TUN_FLAGS)), (),
          "GUE/GRE checksum flags"),
    *(Field(c.name, OneOrMany(Nested(c)), (), f"{c.title}; one or a list") for c in CHECKERS),
    Field("inhibit_on_failure", Bool(), None, "when down, keep it with weight 0",
          doc_default="the virtual server's"),
)


def _check_real_server(v: Values) -> None:
    if v.ok("u_threshold", "l_threshold"):
        low, high = v["l_threshold"], v["u_threshold"]
        if low is not None and high is not None and low > high:
            v.error("l_threshold", f"l_threshold {low} is above u_threshold {high}")
    if v.ok("tun_type", "tun_port", "tun_flags"):
        if v["tun_type"] == "gue" and v["tun_port"] is None:
            v.error("tun_port", "tun_type gue needs tun_port")
        if v["tun_port"] is not None and v["tun_type"] != "gue":
            v.error("tun_port", "tun_port applies only to tun_type gue")
        if v["tun_flags"] and v["tun_type"] not in ("gue", "gre"):
            v.error("tun_flags", "tun_flags apply only to tun_type gue or gre")


def _make_real_server(v: Values) -> model.RealServer:
    checkers = tuple(c for key in v.order if key in CHECKER_NAMES for c in v[key])
    return model.RealServer(
        checkers=checkers,
        tun_flags=frozenset(v["tun_flags"]),
        **v.kwargs("address", "port", "weight", "lb_kind", "u_threshold", "l_threshold",
                   "tun_type", "tun_port", "inhibit_on_failure"),
    )


CHECKER_NAMES = frozenset(c.name for c in CHECKERS)

REAL_SERVER = Section(
    "real_server",
    "Real server",
    "A backend of a virtual server. Several checkers may be given; all must pass.",
    REAL_SERVER_FIELDS,
    _make_real_server,
    check=_check_real_server,
    rules=(
        "`l_threshold` <= `u_threshold`.",
        "`tun_type`/`tun_port`/`tun_flags` only when the effective lb_kind is TUN; "
        "gue needs `tun_port`.",
    ),
    renamed={
        "HTTP_GET": "use http_get", "SSL_GET": "use ssl_get", "TCP_CHECK": "use tcp_check",
        "MISC_CHECK": "use misc_check", "UDP_CHECK": "use udp_check", "DNS_CHECK": "use dns_check",
        "ip": "use address",
    },
)

SORRY_FIELDS = (
    Field("address", IPAddr(), REQUIRED, "address of the sorry server"),
    Field("port", Int(0, 65535), None, "its port",
          doc_default="required when the virtual server has a port"),
    Field("lb_kind", Choice(LB_KINDS), None, "forwarding method",
          doc_default="the virtual server's"),
    Field("weight", Int(1, 65535), 1, "its weight"),
)
SORRY_SERVER = Section(
    "sorry_server",
    "Sorry server",
    "Put in the service while it has lost its quorum, by default while none of its real "
    "servers is usable (keepalived `sorry_server`).",
    SORRY_FIELDS,
    _make(model.SorryServer, *_fields_of(SORRY_FIELDS)),
)

VS_FIELDS = (
    Field("address", IPAddr(), None, "virtual address (give this or fwmark)"),
    Field("port", Int(0, 65535), None, "virtual port; 0 = all ports (persistent services only)",
          doc_default="required with address unless persistent"),
    Field("fwmark", Int(1, limits.FWMARK_MAX), None, "firewall mark service (instead of address)"),
    Field("ip_family", Int(4, 6, (4, 6)), None, "family of a fwmark service",
          doc_default="4, or the address's"),
    Field("protocol", Choice(limits.PROTOCOLS), limits.DEFAULT_PROTOCOL, "transport protocol"),
    Field("lb_algo", Choice(SCHEDULERS, fold_case=True), limits.DEFAULT_SCHEDULER,
          "IPVS scheduler"),
    Field("sched_flags", ListOf(Choice(SCHED_FLAGS)), (), "scheduler flags (sh-* / mh-*)"),
    Field("lb_kind", Choice(LB_KINDS), limits.DEFAULT_LB_KIND, "forwarding method"),
    Field("persistence", Bool(), None,
          f"true = persistent with the default timeout ({DEFAULT_PERSISTENCE_TIMEOUT} s)",
          doc_default="on when persistence_timeout is set"),
    Field("persistence_timeout", Int(1, LVS_MAX_TIMEOUT), None,
          "seconds a client sticks to its real server"),
    Field("persistence_granularity", Netmask(), None,
          "clients in one such network share a real server"),
    Field("ops", Bool(), False, "one-packet scheduling (UDP only)"),
    Field("delay_loop", Float(limits.DELAY_LOOP_MIN, limits.DELAY_LOOP_MAX),
          limits.DEFAULT_DELAY_LOOP, "seconds between health checks"),
    Field("real_servers", ListOf(Nested(REAL_SERVER)), (), "the backends"),
    Field("inhibit_on_failure", Bool(), False,
          "keep failed real servers with weight 0 instead of removing them"),
    Field("sorry_server", Nested(SORRY_SERVER), None,
          "stand-in while the quorum is lost (by default: while no real server is usable)"),
    Field("quorum", Int(1, QUORUM_MAX), 1,
          "minimum total weight of the live real servers for the service to be up"),
    Field("hysteresis", Int(0, QUORUM_MAX - 1), 0,
          "quorum is lost below quorum - hysteresis, regained at quorum + hysteresis"),
    Field("quorum_up", Argv(), None, "run when the quorum is gained"),
    Field("quorum_down", Argv(), None, "run when the quorum is lost (and at start if it is "
          "down then)"),
    Field("ha_suspend", Bool(), False, "suspend health checks while the VRRP instance holding "
          "`address` as a VIP is not MASTER"),
)


def _vs_family(v: Values) -> int | None:
    if not v.ok("address", "ip_family"):
        return None
    if v["address"] is not None:
        return v["address"].version
    return v["ip_family"] or 4


def _persistence_timeout(v: Values) -> int | None:
    if v["persistence_timeout"] is not None:
        return v["persistence_timeout"]
    return DEFAULT_PERSISTENCE_TIMEOUT if v["persistence"] else None


def _check_virtual_server(v: Values) -> None:
    address, port, fwmark = v["address"], v["port"], v["fwmark"]
    if v.ok("address", "fwmark"):
        if address is None and fwmark is None:
            v.section_error("a virtual server needs address (with port) or fwmark")
        if address is not None and fwmark is not None:
            v.error("fwmark", "give address or fwmark, not both")
    if v.ok("address", "port", "fwmark") and fwmark is not None and port is not None \
            and address is None:
        v.error("port", "a fwmark service has no port (give the port on the real servers)")
    family = _vs_family(v)
    if v.ok("address", "ip_family") and address is not None and v["ip_family"] not in (
        None, address.version,
    ):
        v.error("ip_family", f"ip_family {v['ip_family']} does not match {address}")
    if v.ok("quorum", "hysteresis") and v["hysteresis"] >= v["quorum"]:
        v.error("hysteresis", f"hysteresis {v['hysteresis']} must be below quorum "
                f"{v['quorum']}")
    if not v.ok("persistence", "persistence_timeout", "persistence_granularity"):
        return
    persistent = _persistence_timeout(v) is not None
    if v["persistence"] is False and v["persistence_timeout"] is not None:
        v.error("persistence", "false contradicts persistence_timeout")
    if v.ok("address", "port") and address is not None and not port and not persistent:
        v.error("port", "port is required unless the service is persistent "
                "(a missing port or 0 means all ports, which needs persistence)")
    granularity = v["persistence_granularity"]
    if granularity is not None:
        if not persistent:
            v.error("persistence_granularity", "persistence_granularity needs persistence")
        elif family == 4 and granularity > 32:
            v.error("persistence_granularity", f"/{granularity} is not an IPv4 netmask")
    if v.ok("lb_algo", "sched_flags"):
        for i, flag in enumerate(v["sched_flags"]):
            scheduler = flag.split("-")[0]
            if v["lb_algo"] != scheduler:
                v.error(("sched_flags", i),
                        f"{flag} applies to lb_algo {scheduler}, not {v['lb_algo']}")
    if v.ok("ops", "protocol") and v["ops"] and v["protocol"] != "UDP":
        v.error("ops", "one-packet scheduling (ops) is for UDP services only")
    if v.ok("lb_kind", "port", "fwmark") and family is not None:
        _check_real_servers(v, family)


def _check_backend(v: Values, where: tuple[str | int, ...], rs: Any, family: int) -> None:
    """Rules shared by real servers and the sorry server."""
    kind = rs.lb_kind or v["lb_kind"]
    if rs.address.version != family and kind != "TUN":
        v.error((*where, "address"), f"IPv{rs.address.version} server in an IPv{family} "
                "service (only TUN can mix families)")
    if v["port"] and rs.port is None:
        v.error((*where, "port"), f"port is required: the virtual server has port {v['port']}")
    if v["fwmark"] is not None and kind == "NAT" and rs.port is None:
        v.error((*where, "port"), "NAT needs a real-server port for a fwmark service")
    if kind in ("DR", "TUN") and v["port"] and rs.port is not None and rs.port != v["port"]:
        v.error((*where, "port"), f"{kind} cannot change the destination port: use "
                f"{v['port']} (the virtual server's) or lb_kind NAT")


def _check_real_servers(v: Values, family: int) -> None:
    if v.ok("sorry_server") and v["sorry_server"] is not None:
        _check_backend(v, ("sorry_server",), v["sorry_server"], family)
    seen: dict[tuple[Any, Any], int] = {}
    for i, rs in v.items("real_servers"):
        _check_backend(v, ("real_servers", i), rs, family)
        for checker in rs.checkers:
            if isinstance(checker, model.ConnectChecker) and checker.connect_port is None \
                    and not rs.port:
                v.error(("real_servers", i, checker.kind),
                        f"{checker.kind} needs connect_port: the real server has no port")
        if (rs.lb_kind or v["lb_kind"]) != "TUN":
            for name in ("tun_type", "tun_port", "tun_flags"):
                if getattr(rs, name):
                    v.error(("real_servers", i, name), f"{name} applies only to lb_kind TUN")
        key = (rs.address, rs.port)
        if key in seen:
            shown = f"{rs.address}:{rs.port}" if rs.port is not None else str(rs.address)
            v.error(("real_servers", i),
                    f"real server {shown} is already listed at line "
                    f"{v.line('real_servers', seen[key])}")
        seen.setdefault(key, i)


def _make_virtual_server(v: Values) -> model.VirtualServer:
    port = v["port"]
    if v["address"] is not None and port is None:
        port = 0  # all ports (persistent service), as ipvsadm writes it
    return model.VirtualServer(
        port=port,
        ip_family=_vs_family(v),
        sched_flags=frozenset(v["sched_flags"]),
        persistence_timeout=_persistence_timeout(v),
        **v.kwargs("protocol", "address", "fwmark", "lb_algo", "lb_kind",
                   "persistence_granularity", "ops", "delay_loop", "real_servers",
                   "inhibit_on_failure", "sorry_server", "quorum", "hysteresis",
                   "quorum_up", "quorum_down", "ha_suspend"),
    )


VIRTUAL_SERVER = Section(
    "virtual_server",
    "Virtual server",
    "An IPVS service: `address` + `port`, or `fwmark`, and its real servers.",
    VS_FIELDS,
    _make_virtual_server,
    check=_check_virtual_server,
    rules=(
        "Exactly one of `address` or `fwmark`; a fwmark service has no `port`.",
        "`port` is required with `address`, except for persistent services, where a missing "
        "port or 0 means all ports (like ipvsadm).",
        "`persistence: true` without `persistence_timeout` means "
        f"{DEFAULT_PERSISTENCE_TIMEOUT} s; `persistence_granularity` needs persistence.",
        "`sched_flags`: `sh-*` only with `sh`, `mh-*` only with `mh`. `ops` only with UDP.",
        "A real (or sorry) server needs a `port` when the virtual server has a non-zero "
        "port; with a fwmark service, NAT real servers need a port.",
        "With DR or TUN a real server's port equals the virtual server's (packets are not "
        "rewritten).",
        "Real servers are of the service's family, except with TUN.",
        "A checker that connects needs `connect_port` when its real server has no port.",
        "A real server (address, port) is listed once per virtual server.",
        "A virtual server (protocol, address, port) or (fwmark, family) is listed once.",
        "`hysteresis` < `quorum`.",
        "`ha_suspend` applies when `address` is a VIP of a VRRP instance; a fwmark service, "
        "or one whose address no instance holds, is never suspended.",
    ),
    renamed={
        "lvs_sched": "use lb_algo",
        "lvs_method": "use lb_kind",
        "real_server": "use real_servers: [...]",
        "virtualhost": "set virtualhost in the http_get/ssl_get checker",
    },
)


# --- tracking scripts, files, sync groups --------------------------------------------------

VRRP_SCRIPT_FIELDS = (
    Field("name", SCRIPT_NAME, REQUIRED, "unique script name, used in `track_script`"),
    Field("script", Argv(), REQUIRED, "program and arguments; run directly, never by a shell"),
    Field("interval", Float(0.1, 86400), 1.0, "seconds between runs"),
    Field("timeout", Float(0.1, 86400), None, "kill the script after this many seconds",
          doc_default="interval"),
    Field("rise", Int(1, 1000), 1, "successes in a row before a failed script is OK again"),
    Field("fall", Int(1, 1000), 1, "failures in a row before an OK script is failed"),
    Field("weight", TRACKER_WEIGHT, 0,
          "0: failed = FAULT; negative: subtracted while failed; positive: added while OK"),
)
VRRP_SCRIPT = Section(
    "vrrp_script",
    "Tracking script",
    "keepalived's `vrrp_script`: run on the main loop; exit 0 is success.",
    VRRP_SCRIPT_FIELDS,
    _make(model.VrrpScript, *_fields_of(VRRP_SCRIPT_FIELDS)),
)

TRACK_FILE_FIELDS = (
    Field("name", SCRIPT_NAME, REQUIRED, "unique name, used in `track_file`"),
    Field("file", ABS_PATH, REQUIRED, "file holding an integer (missing or unreadable = 0)"),
    Field("weight", TRACKER_WEIGHT, 1,
          "value x weight is added to the priority; 0: a non-zero value is a fault"),
)
TRACK_FILE = Section(
    "vrrp_track_file",
    "Tracking file",
    "keepalived's `vrrp_track_file`: read every 0.5 s; value x weight <= -254 is a fault.",
    TRACK_FILE_FIELDS,
    _make(model.TrackFile, *_fields_of(TRACK_FILE_FIELDS)),
)

SYNC_GROUP_FIELDS = (
    Field("name", SCRIPT_NAME, REQUIRED, "unique group name"),
    Field("group", ListOf(Text(64), 1), REQUIRED, "member instance names"),
    Field("notify_master", Argv(), None, "run when the group becomes MASTER"),
    Field("notify_backup", Argv(), None, "run when the group becomes BACKUP"),
    Field("notify_fault", Argv(), None, "run when the group enters FAULT"),
    Field("notify_stop", Argv(), None, "run when the group stops"),
    Field("notify", Argv(), None,
          "run on every group transition with `GROUP <name> <state> 0` appended"),
)
SYNC_GROUP = Section(
    "vrrp_sync_group",
    "VRRP sync group",
    "Instances that change state together (keepalived `vrrp_sync_group`).",
    SYNC_GROUP_FIELDS,
    _make(model.SyncGroup, *_fields_of(SYNC_GROUP_FIELDS)),
)


# --- the file -------------------------------------------------------------------------------

CONFIG_FIELDS = (
    Field("global", Nested(GLOBAL), None, "director-wide settings",
          doc_default="all defaults"),
    Field("vrrp_instances", ListOf(Nested(VRRP_INSTANCE)), (), "VRRP instances"),
    Field("virtual_servers", ListOf(Nested(VIRTUAL_SERVER)), (), "IPVS services"),
    Field("vrrp_scripts", ListOf(Nested(VRRP_SCRIPT)), (), "tracking scripts"),
    Field("vrrp_track_files", ListOf(Nested(TRACK_FILE)), (), "tracking files"),
    Field("vrrp_sync_groups", ListOf(Nested(SYNC_GROUP)), (), "VRRP sync groups"),
)


def _check_config(v: Values) -> None:
    _check_instances(v, v.items("vrrp_instances"))
    seen: dict[tuple, int] = {}
    for i, vs in v.items("virtual_servers"):
        if vs.key in seen:
            v.error(("virtual_servers", i), "this virtual server is already defined at line "
                    f"{v.line('virtual_servers', seen[vs.key])}")
        seen.setdefault(vs.key, i)
    if v.ok("global", "vrrp_instances") and v["global"] is not None:
        sync = v["global"].lvs_sync_daemon
        if sync is not None and sync.vrrp_instance not in {i.name for i in v["vrrp_instances"]}:
            v.error(("global", "lvs_sync_daemon", "vrrp_instance"),
                    f"no vrrp instance named {sync.vrrp_instance!r}")
    _check_trackers(v)


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
    _check_unique_names(v, "vrrp_sync_groups")
    instances = {inst.name for _, inst in v.items("vrrp_instances")}
    for i, inst in v.items("vrrp_instances"):
        for kind, known, section in (("track_script", scripts, "vrrp_scripts"),
                                     ("track_file", files, "vrrp_track_files")):
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


def _check_instances(v: Values, instances: list[tuple[int, model.VrrpInstance]]) -> None:
    by_index = dict(instances)
    names: dict[str, int] = {}
    vrids: dict[tuple[str, int, int], int] = {}
    vips: dict[Any, tuple[int, int]] = {}
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


def _make_config(v: Values) -> model.Config:
    settings = v["global"] if v["global"] is not None else _make_global_defaults()
    return model.Config(
        source=v.ctx.filename,
        global_settings=settings,
        vrrp_instances=v["vrrp_instances"],
        virtual_servers=v["virtual_servers"],
        vrrp_scripts=v["vrrp_scripts"],
        vrrp_track_files=v["vrrp_track_files"],
        vrrp_sync_groups=v["vrrp_sync_groups"],
    )


def _make_global_defaults() -> model.GlobalSettings:
    defaults = {f.name: f.default for f in GLOBAL_FIELDS}
    return model.GlobalSettings(
        router_id=platform.node() or "haipvs",
        **{k: val for k, val in defaults.items() if k != "router_id"},
    )


CONFIG = Section(
    "config",
    "The file",
    "The top level of an haipvs YAML file.",
    CONFIG_FIELDS,
    make=_make_config,
    check=_check_config,
    rules=(
        "Instance names are unique; `virtual_router_id` is unique per interface and family.",
        "A VIP belongs to one instance; no instance's `unicast_src_ip` is another's VIP.",
        "`global.lvs_sync_daemon.vrrp_instance` names an instance.",
        "`track_script` / `track_file` entries name a `vrrp_scripts` / `vrrp_track_files` "
        "entry; names of scripts, files and sync groups are unique; sync group members are "
        "instances, each in at most one group.",
    ),
    renamed={
        "global_defs": "use global",
        "vrrp_instance": "use vrrp_instances: [...]",
        "virtual_server": "use virtual_servers: [...]",
        "vrrp_script": "use vrrp_scripts: [...]",
        "vrrp_track_file": "use vrrp_track_files: [...]",
        "vrrp_sync_group": "use vrrp_sync_groups: [...]",
    },
)

__all__ = ["CONFIG"]
