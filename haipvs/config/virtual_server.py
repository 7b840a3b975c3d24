"""Virtual servers (IPVS services, keepalived's `virtual_server`), their real servers and
sorry server."""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.

from __future__ import annotations

from typing import Any

from haipvs import limits
from haipvs.config.checkers import CHECKER_NAMES, CHECKERS, Checker, ConnectChecker
from haipvs.config.common import PORT, IPAddress
from haipvs.config.compound import ListOf, Nested, OneOrMany
from haipvs.config.kinds import Bool, Choice, Float, Int, IPAddr, Netmask
from haipvs.config.notify_script import NotifyScript, ScriptCommand
from haipvs.config.settings import inputs, model_section, setting
from haipvs.config.spec import Field, Values
from haipvs.config.vs_group import VS_GROUP, VsGroup, group_identity
from haipvs.dataclass_lean import dataclass

LB_KINDS = limits.LB_KINDS
SCHEDULERS = limits.SCHEDULERS
SCHED_FLAGS = limits.SCHED_FLAGS
DEFAULT_PERSISTENCE_TIMEOUT = limits.DEFAULT_PERSISTENCE_TIMEOUT
QUORUM_MAX = limits.QUORUM_MAX
PORT_OR_ZERO = Int(0, limits.PORT_MAX)


# slots: one per real server, its checkers too (checkers.py): no __dict__ each (issue 18)
@dataclass(frozen=True, slots=True)
class RealServer:
    address: IPAddress = setting(IPAddr(), doc="address of the real server")
    # None only for fwmark / port-0 services: keep the client's destination port.
    port: int | None = setting(PORT_OR_ZERO, None, "port of the real server",
                               doc_default="required when the virtual server has a port")
    weight: int = setting(Int(0, limits.WEIGHT_MAX), 1,
                          "scheduling weight; 0 = no new connections")
    lb_kind: str | None = setting(Choice(LB_KINDS), None, "forwarding method for this server",
                                  doc_default="the virtual server's")
    u_threshold: int | None = setting(Int(0, 65535), None, "upper connection limit")
    l_threshold: int | None = setting(Int(0, 65535), None,
                                      "lower connection limit (resume below it)")
    tun_type: str | None = setting(Choice(limits.TUN_TYPES), None, "tunnel type (TUN only)",
                                   doc_default="ipip")
    tun_port: int | None = setting(PORT, None, "GUE destination port (gue only, required)")
    tun_flags: frozenset[str] = setting(ListOf(Choice(limits.TUN_FLAGS)), (),
                                        "GUE/GRE checksum flags", model_default=frozenset())
    # One key per checker kind, each one checker or a list; kept in file order.
    checkers: tuple[Checker, ...] = inputs(
        *(Field(c.name, OneOrMany(Nested(c)), (), f"{c.title}; one or a list")
          for c in CHECKERS),
        default=(),
    )
    # None = the virtual server's setting
    inhibit_on_failure: bool | None = setting(Bool(), None, "when down, keep it with weight 0",
                                              doc_default="the virtual server's")
    # keepalived real_server smtp_alert (check_parser.c; default check_data.c)
    smtp_alert: bool | None = setting(Bool(), None, "send an e-mail when it goes up or down "
                                      "(global.smtp)", doc_default="global.smtp.alert_checker,"
                                      " else global.smtp.alert, else on")
    # keepalived real_server notify_up / notify_down (check_parser.c notify_up_handler; run
    # by ipwrapper.c do_rs_notifies; haipvs/policy/rs_notify.py)
    notify_up: ScriptCommand | None = setting(
        NotifyScript(), None, "run when the server goes up (its checkers all succeed)")
    notify_down: ScriptCommand | None = setting(
        NotifyScript(), None, "run when the server goes down, or a reload removes it while up")


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


_NO_FLAGS: frozenset[str] = frozenset()  # shared: an empty frozenset is 216 bytes each


def _derive_real_server(v: Values) -> dict[str, Any]:
    return {
        # shared: equal checkers (checkers.py) make equal lists, one tuple for all
        "checkers": v.ctx.share(tuple(c for key in v.order if key in CHECKER_NAMES
                                      for c in v[key])),
        "tun_flags": frozenset(v["tun_flags"]) if v["tun_flags"] else _NO_FLAGS,
    }


REAL_SERVER = model_section(
    RealServer,
    "real_server",
    "Real server",
    "A backend of a virtual server. Several checkers may be given; all must pass.",
    derive=_derive_real_server,
    check=_check_real_server,
    rules=(
        "`l_threshold` <= `u_threshold`.",
        "`tun_type`/`tun_port`/`tun_flags` only when the effective lb_kind is TUN; "
        "gue needs `tun_port`.",
    ),
    renamed={
        "HTTP_GET": "use http_get", "SSL_GET": "use ssl_get", "TCP_CHECK": "use tcp_check",
        "MISC_CHECK": "use misc_check", "UDP_CHECK": "use udp_check", "DNS_CHECK": "use dns_check",
        "SMTP_CHECK": "use smtp_check", "PING_CHECK": "use ping_check",
        "FILE_CHECK": "use file_check", "ip": "use address",
        # keepalived BFD_CHECK (check_bfd.c): issue 16 refuses it, naming where it will come from
        "BFD_CHECK": limits.BFD_CHECK_REFUSED, "bfd_check": limits.BFD_CHECK_REFUSED,
    },
)


@dataclass(frozen=True)
class SorryServer:
    """Stands in while the virtual server has lost its quorum (by default: while no real
    server is usable)."""

    address: IPAddress = setting(IPAddr(), doc="address of the sorry server")
    # same rules as RealServer.port
    port: int | None = setting(PORT_OR_ZERO, None, "its port",
                               doc_default="required when the virtual server has a port")
    lb_kind: str | None = setting(Choice(LB_KINDS), None, "forwarding method",
                                  doc_default="the virtual server's")
    weight: int = setting(Int(1, limits.WEIGHT_MAX), 1, "its weight")
    # keepalived sorry_server_inhibit (check_parser.c ssvri_handler): policy/sorry_inhibit.py
    inhibit: bool = setting(Bool(), False, "keep it in the service at weight 0 while the "
                            "quorum is up, instead of removing it")


SORRY_SERVER = model_section(
    SorryServer,
    "sorry_server",
    "Sorry server",
    "Put in the service while it has lost its quorum, by default while none of its real "
    "servers is usable (keepalived `sorry_server`).",
)


@dataclass(frozen=True, kw_only=True)
class VirtualServer:
    """A service: either address+port (port 0 = all ports, only with persistence) or fwmark.
    Keyword-only: the attributes are in file order, not in an order fit for positional
    arguments."""

    address: IPAddress | None = setting(IPAddr(), None,
                                        "virtual address (give this or fwmark)")
    # int whenever address is set
    port: int | None = setting(PORT_OR_ZERO, None,
                               "virtual port; 0 = all ports (persistent services only)",
                               doc_default="required with address unless persistent")
    fwmark: int | None = setting(Int(1, limits.FWMARK_MAX), None,
                                 "firewall mark service (instead of address)")
    # family of the service (from address, or given for fwmark)
    ip_family: int = setting(Int(4, 6, (4, 6)), None, "family of a fwmark service",
                             doc_default="4, or the address's", model_default=4)
    # keepalived `virtual_server group NAME` (haipvs/config/vs_group.py): address, port,
    # fwmark and ip_family are then its first member's, every member gets the real servers
    group: VsGroup | None = setting(Nested(VS_GROUP), None, "a virtual_server_group: its "
                                    "members instead of address/fwmark")
    protocol: str = setting(Choice(limits.PROTOCOLS), limits.DEFAULT_PROTOCOL,
                            "transport protocol")
    lb_algo: str = setting(Choice(SCHEDULERS, fold_case=True), limits.DEFAULT_SCHEDULER,
                           "IPVS scheduler")
    sched_flags: frozenset[str] = setting(ListOf(Choice(SCHED_FLAGS)), (),
                                          "scheduler flags (sh-* / mh-*)",
                                          model_default=frozenset())
    lb_kind: str = setting(Choice(LB_KINDS), limits.DEFAULT_LB_KIND, "forwarding method")
    # seconds; None = no persistence
    persistence_timeout: int | None = inputs(
        Field("persistence", Bool(), None,
              f"true = persistent with the default timeout ({DEFAULT_PERSISTENCE_TIMEOUT} s)",
              doc_default="on when persistence_timeout is set"),
        Field("persistence_timeout", Int(1, limits.LVS_MAX_TIMEOUT), None,
              "seconds a client sticks to its real server"),
        default=None,
    )
    # netmask as prefix length; only with persistence
    persistence_granularity: int | None = setting(
        Netmask(), None, "clients in one such network share a real server"
    )
    # IPVS persistence engine (the kernel's ip_vs_pe_NAME module).
    persistence_engine: str | None = setting(
        Choice(limits.PERSISTENCE_ENGINES), None,
        "IPVS persistence engine (keepalived `persistence_engine`); needs persistence")
    ops: bool = setting(Bool(), False, "one-packet scheduling (UDP only)")
    delay_loop: float = setting(Float(limits.DELAY_LOOP_MIN, limits.DELAY_LOOP_MAX),
                                limits.DEFAULT_DELAY_LOOP, "seconds between health checks")
    real_servers: tuple[RealServer, ...] = setting(ListOf(Nested(REAL_SERVER)), (),
                                                   "the backends")
    inhibit_on_failure: bool = setting(
        Bool(), False, "keep failed real servers with weight 0 instead of removing them"
    )
    sorry_server: SorryServer | None = setting(
        Nested(SORRY_SERVER), None,
        "stand-in while the quorum is lost (by default: while no real server is usable)",
    )
    # Quorum: the total weight of the live real servers must reach `quorum`; with hysteresis
    # it is lost below quorum - hysteresis and regained at quorum + hysteresis (0 <= h < q).
    quorum: int = setting(Int(1, QUORUM_MAX), 1,
                          "minimum total weight of the live real servers for the service to be up")
    hysteresis: int = setting(
        Int(0, QUORUM_MAX - 1), 0,
        "quorum is lost below quorum - hysteresis, regained at quorum + hysteresis",
    )
    quorum_up: ScriptCommand | None = setting(NotifyScript(), None, "run when the quorum is gained")
    quorum_down: ScriptCommand | None = setting(
        NotifyScript(), None, "run when the quorum is lost (and at start if it is down then)"
    )
    # keepalived virtual_server omega (check_parser.c omega_handler; ipwrapper.c
    # clear_service_rs / do_vs_notifies): the down scripts also run at stop (policy/omega.py)
    omega: bool = setting(Bool(), False, "at stop, run notify_down of each live real server "
                          "and quorum_down, as when they go down")
    ha_suspend: bool = setting(Bool(), False, "suspend health checks while the VRRP instance "
                               "holding `address` as a VIP is not MASTER")
    # keepalived virtual_server smtp_alert (check_parser.c; default check_data.c)
    smtp_alert: bool | None = setting(Bool(), None, "send an e-mail when the quorum is gained "
                                      "or lost (global.smtp)", doc_default="global.smtp."
                                      "alert_checker, else global.smtp.alert, else off")

    def effective_lb_kind(self, real_server: RealServer) -> str:
        return real_server.lb_kind or self.lb_kind

    @property
    def key(self) -> tuple:
        """Identity of the service in the IPVS table."""
        if self.fwmark is not None:
            return ("fwmark", self.ip_family, self.fwmark)
        return (self.protocol, self.address, self.port)


def _vs_family(v: Values) -> int | None:
    if not v.ok("address", "ip_family", "group"):
        return None
    if v["group"] is not None:
        return group_identity(v["group"], v["ip_family"])["ip_family"]
    if v["address"] is not None:
        return v["address"].version
    return v["ip_family"] or 4


def _persistence_timeout(v: Values) -> int | None:
    if v["persistence_timeout"] is not None:
        return v["persistence_timeout"]
    return DEFAULT_PERSISTENCE_TIMEOUT if v["persistence"] else None


def _check_virtual_server(v: Values) -> None:
    address, port, fwmark = v["address"], v["port"], v["fwmark"]
    if v.ok("group") and v["group"] is not None:
        for name in ("address", "port", "fwmark"):
            if v.given(name):
                v.error(name, f"give group or {name}, not both (the members have them)")
    elif v.ok("address", "fwmark"):
        if address is None and fwmark is None:
            v.section_error("a virtual server needs address (with port) or fwmark, or a group")
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
    if v.ok("quorum", "real_servers"):
        # A quorum above the total weight could never be reached: the service would start
        # with quorum lost for good. keepalived lowers it with a warning (check_data.c
        # validate_check_config()); haipvs' config is strict and says so instead.
        total = sum(rs.weight for rs in v["real_servers"])
        if v["quorum"] > max(total, 1):
            v.error("quorum", f"quorum {v['quorum']} exceeds the total weight of the real "
                    f"servers ({total}): it could never be reached (keepalived would lower "
                    f"it to {total})")
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
    if v.ok("persistence_engine") and v["persistence_engine"] is not None and not persistent:
        v.error("persistence_engine", "persistence_engine needs persistence")
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
            if isinstance(checker, ConnectChecker) and checker.connect_port is None \
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


def _derive_virtual_server(v: Values) -> dict[str, Any]:
    port = v["port"]
    if v["address"] is not None and port is None:
        port = 0  # all ports (persistent service), as ipvsadm writes it
    out = {
        "port": port,
        "ip_family": _vs_family(v),
        "sched_flags": frozenset(v["sched_flags"]),
        "persistence_timeout": _persistence_timeout(v),
    }
    if v["group"] is not None:
        out.update(group_identity(v["group"], v["ip_family"]))
    return out


VIRTUAL_SERVER = model_section(
    VirtualServer,
    "virtual_server",
    "Virtual server",
    "An IPVS service: `address` + `port`, or `fwmark`, and its real servers.",
    derive=_derive_virtual_server,
    check=_check_virtual_server,
    rules=(
        "Exactly one of `address`, `fwmark` or `group`; a fwmark service has no `port`.",
        "`port` is required with `address`, except for persistent services, where a missing "
        "port or 0 means all ports (like ipvsadm).",
        "`persistence: true` without `persistence_timeout` means "
        f"{DEFAULT_PERSISTENCE_TIMEOUT} s; `persistence_granularity` and "
        "`persistence_engine` need persistence.",
        "`sched_flags`: `sh-*` only with `sh`, `mh-*` only with `mh`. `ops` only with UDP.",
        "A real (or sorry) server needs a `port` when the virtual server has a non-zero "
        "port; with a fwmark service, NAT real servers need a port.",
        "With DR or TUN a real server's port equals the virtual server's (packets are not "
        "rewritten).",
        "Real servers are of the service's family, except with TUN.",
        "A checker that connects needs `connect_port` when its real server has no port.",
        "A real server (address, port) is listed once per virtual server.",
        "A virtual server (protocol, address, port) or (fwmark, family) is listed once.",
        "`hysteresis` < `quorum`; `quorum` at most the total weight of the real servers "
        "(or 1).",
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
