"""The typed, immutable configuration model.

Instances are only ever built by the loader (`haipvs.config.load_config`), after every value
has been validated, so code consuming them can trust the invariants documented here and in
docs/config.md. Everything is frozen and hashable; two loads of the same file compare equal.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import ClassVar

from haipvs import limits

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


@dataclass(frozen=True)
class LvsTimeouts:
    """Kernel IPVS connection timeouts in seconds, like `ipvsadm --set tcp tcpfin udp`.
    None leaves that timeout as the kernel has it."""

    tcp: int | None = None
    tcpfin: int | None = None
    udp: int | None = None


@dataclass(frozen=True)
class LvsSyncDaemon:
    """IPVS connection synchronisation daemon, run as master/backup following `vrrp_instance`."""

    interface: str
    vrrp_instance: str
    sync_id: int = 0


@dataclass(frozen=True)
class GlobalSettings:
    router_id: str
    state_dir: str = "/run/haipvs"
    pid_file: str = "/run/haipvs/haipvs.pid"
    lvs_timeouts: LvsTimeouts | None = None
    lvs_sync_daemon: LvsSyncDaemon | None = None
    notify_fifo: str | None = None  # keepalived-format event lines go to this FIFO
    event_log: str | None = None  # the same events as JSON lines, appended to this file
    notify_timeout: float = 10.0  # seconds before a notify script is killed
    metrics_listen: str | None = None  # "host:port" of the Prometheus endpoint; None = off


@dataclass(frozen=True)
class Authentication:
    """VRRPv2 simple-text authentication (RFC 2338). `password` is at most 8 octets (UTF-8);
    on the wire it is zero-padded to 8."""

    type: str  # only "PASS"
    password: str


@dataclass(frozen=True)
class VirtualAddress:
    """A VIP. `address` carries the prefix (bare addresses are /32 or /128). `dev` None means
    the instance's interface. `label` (IPv4 only) starts with the device name and ':'."""

    address: IPInterface
    dev: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class GarpSettings:
    """Gratuitous ARP / unsolicited NA timing, keepalived's garp_* settings (seconds, counts)."""

    master_delay: float = limits.GARP_MASTER_DELAY  # second burst this long after MASTER; 0 = none
    master_repeat: int = limits.GARP_MASTER_REPEAT  # announcements per burst
    master_refresh: float = limits.GARP_MASTER_REFRESH  # periodic refresh while MASTER; 0 = off
    # burst sent when a lower-priority advert is seen while MASTER
    lower_prio_repeat: int = limits.GARP_LOWER_PRIO_REPEAT
    lower_prio_delay: float = limits.GARP_LOWER_PRIO_DELAY


@dataclass(frozen=True)
class TrackInterface:
    """An interface an instance depends on. weight 0: down puts the instance into FAULT;
    negative: subtracted from the priority while down; positive: added while up."""

    name: str
    weight: int = 0


@dataclass(frozen=True)
class TrackRef:
    """An instance's use of a `vrrp_scripts` / `vrrp_track_files` entry; `weight` None means
    the entry's own weight."""

    name: str
    weight: int | None = None


@dataclass(frozen=True)
class VrrpScript:
    """A tracking script (argv, no shell), run every `interval` seconds on the main loop.
    Exit 0 is success. `fall` failures in a row make it failed, `rise` successes make it OK
    again. weight 0: failed puts the instance into FAULT; negative: subtracted while failed;
    positive: added while OK. `timeout` None means `interval`."""

    name: str
    script: tuple[str, ...]
    interval: float = 1.0
    timeout: float | None = None
    rise: int = 1
    fall: int = 1
    weight: int = 0


@dataclass(frozen=True)
class TrackFile:
    """A file holding an integer, keepalived's vrrp_track_file. value x weight is added to the
    priority; with weight 0 a non-zero value is a fault; a result <= -254 is a fault too."""

    name: str
    file: str
    weight: int = 1


@dataclass(frozen=True)
class SyncGroup:
    """Instances that change state together: one in FAULT pulls the group into FAULT; one
    becoming MASTER makes the others MASTER, one becoming BACKUP makes the others BACKUP."""

    name: str
    group: tuple[str, ...]
    notify_master: tuple[str, ...] | None = None
    notify_backup: tuple[str, ...] | None = None
    notify_fault: tuple[str, ...] | None = None
    notify_stop: tuple[str, ...] | None = None
    notify: tuple[str, ...] | None = None


@dataclass(frozen=True)
class VrrpInstance:
    name: str
    interface: str
    virtual_router_id: int  # 1..255
    virtual_ipaddress: tuple[VirtualAddress, ...]  # at least one, all of `family`
    state: str = "BACKUP"  # initial state: "BACKUP" or "MASTER"
    priority: int = limits.DEFAULT_PRIORITY  # 1..255
    advert_int: float = limits.DEFAULT_ADVERT_INT  # seconds; whole for v2, 0.01 steps for v3
    version: int = limits.DEFAULT_VRRP_VERSION  # 2 or 3; always 3 for IPv6
    family: int = 4  # 4 or 6, from the VIPs
    preempt: bool = True
    preempt_delay: float = 0.0
    authentication: Authentication | None = None  # v2 only
    unicast_src_ip: IPAddress | None = None  # set whenever unicast_peers is non-empty
    unicast_peers: tuple[IPAddress, ...] = ()
    unicast_min_ttl: int | None = None  # only with unicast_peers
    unicast_max_ttl: int | None = None
    garp: GarpSettings = field(default_factory=GarpSettings)
    track_interface: tuple[TrackInterface, ...] = ()
    track_script: tuple[TrackRef, ...] = ()
    track_file: tuple[TrackRef, ...] = ()
    # Notify scripts (argv, no shell). `notify` also gets: INSTANCE <name> <state> <priority>.
    notify_master: tuple[str, ...] | None = None
    notify_backup: tuple[str, ...] | None = None
    notify_fault: tuple[str, ...] | None = None
    notify_stop: tuple[str, ...] | None = None
    notify: tuple[str, ...] | None = None

    @property
    def unicast(self) -> bool:
        return bool(self.unicast_peers)


@dataclass(frozen=True)
class HttpUrl:
    path: str  # starts with "/"
    # Accepted status codes as inclusive (low, high) ranges; default 200..299.
    status_code: tuple[tuple[int, int], ...] = ((200, 299),)
    digest: str | None = None  # 32 lower-case hex digits: MD5 of the body
    regex: str | None = None  # Python `re` syntax, validated; searched in the body
    # When both digest and regex are set, both must match.

    def status_ok(self, code: int) -> bool:
        return any(low <= code <= high for low, high in self.status_code)


@dataclass(frozen=True)
class Checker:
    """Fields shared by every health checker. Times are seconds. `delay_loop` None means the
    virtual server's delay_loop. `retry` is the number of retries after a failure before the
    real server is declared down (keepalived `retry`, formerly `nb_get_retry`)."""

    kind: ClassVar[str] = ""

    retry: int = limits.DEFAULT_RETRY
    delay_before_retry: float = limits.DEFAULT_DELAY_BEFORE_RETRY
    delay_loop: float | None = None
    warmup: float | None = None  # random delay up to this before the first check
    alpha: bool = False  # start "down" until the first success


@dataclass(frozen=True)
class ConnectChecker(Checker):
    """A checker that opens a connection: to connect_ip (default the real server address)
    and connect_port (default the real server port), optionally from `bindto`."""

    connect_timeout: float = limits.DEFAULT_CONNECT_TIMEOUT
    connect_ip: IPAddress | None = None
    connect_port: int | None = None
    bindto: IPAddress | None = None


@dataclass(frozen=True)
class TcpCheck(ConnectChecker):
    kind: ClassVar[str] = "tcp_check"


@dataclass(frozen=True)
class HttpGet(ConnectChecker):
    kind: ClassVar[str] = "http_get"

    delay_before_retry: float = limits.DEFAULT_HTTP_DELAY_BEFORE_RETRY
    urls: tuple[HttpUrl, ...] = ()  # at least one
    virtualhost: str | None = None  # Host header; default the connect address
    http_protocol: str = "1.0"  # "1.0" or "1.1"


@dataclass(frozen=True)
class SslGet(HttpGet):
    kind: ClassVar[str] = "ssl_get"

    sni: bool = True  # send SNI (server_name, else virtualhost) when a name is known
    server_name: str | None = None
    verify: bool = False  # verify the certificate chain and name
    ca_file: str | None = None  # CA bundle for verify; default the system store


@dataclass(frozen=True)
class MiscCheck(Checker):
    """Runs `path` (argv, no shell). Exit 0 = up; with misc_dynamic, exit 2..255 = up with
    weight (code - 2), 1 = down. `timeout` None means the effective delay_loop."""

    kind: ClassVar[str] = "misc_check"

    path: tuple[str, ...] = ()
    timeout: float | None = None
    misc_dynamic: bool = False
    user: str | None = None


@dataclass(frozen=True)
class UdpCheck(ConnectChecker):
    kind: ClassVar[str] = "udp_check"

    payload: bytes = b""
    require_reply: bool = False


@dataclass(frozen=True)
class DnsCheck(ConnectChecker):
    kind: ClassVar[str] = "dns_check"

    type: str = "SOA"
    name: str = "."


@dataclass(frozen=True)
class RealServer:
    address: IPAddress
    # None only for fwmark / port-0 services: keep the client's destination port.
    port: int | None = None
    weight: int = 1
    lb_kind: str | None = None  # override of the virtual server's lb_kind
    u_threshold: int | None = None
    l_threshold: int | None = None
    tun_type: str | None = None  # "ipip" | "gue" | "gre"; only when the effective kind is TUN
    tun_port: int | None = None  # GUE destination port (required with gue)
    tun_flags: frozenset[str] = frozenset()  # subset of {"nocsum", "csum", "remcsum"}
    checkers: tuple[Checker, ...] = ()  # in file order
    inhibit_on_failure: bool | None = None  # None = the virtual server's setting


@dataclass(frozen=True)
class SorryServer:
    """Stands in while the virtual server has lost its quorum (by default: while no real
    server is usable)."""

    address: IPAddress
    port: int | None = None  # same rules as RealServer.port
    lb_kind: str | None = None  # None = the virtual server's
    weight: int = 1


@dataclass(frozen=True)
class VirtualServer:
    """A service: either address+port (port 0 = all ports, only with persistence) or fwmark."""

    protocol: str = limits.DEFAULT_PROTOCOL  # "TCP" | "UDP" | "SCTP"
    address: IPAddress | None = None
    port: int | None = None  # int whenever address is set
    fwmark: int | None = None
    ip_family: int = 4  # family of the service (from address, or given for fwmark)
    lb_algo: str = limits.DEFAULT_SCHEDULER
    sched_flags: frozenset[str] = frozenset()
    lb_kind: str = limits.DEFAULT_LB_KIND
    persistence_timeout: int | None = None  # seconds; None = no persistence
    persistence_granularity: int | None = None  # netmask as prefix length; only with persistence
    ops: bool = False  # one-packet scheduling (UDP only)
    delay_loop: float = limits.DEFAULT_DELAY_LOOP
    real_servers: tuple[RealServer, ...] = ()
    inhibit_on_failure: bool = False  # keep failed servers with weight 0 instead of removing
    sorry_server: SorryServer | None = None
    # Quorum: the total weight of the live real servers must reach `quorum`; with hysteresis
    # it is lost below quorum - hysteresis and regained at quorum + hysteresis (0 <= h < q).
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: tuple[str, ...] | None = None  # argv, run when the quorum is gained
    quorum_down: tuple[str, ...] | None = None  # argv, run when the quorum is lost
    ha_suspend: bool = False  # no health checks while the VIP's VRRP instance is not MASTER

    def effective_lb_kind(self, real_server: RealServer) -> str:
        return real_server.lb_kind or self.lb_kind

    @property
    def key(self) -> tuple:
        """Identity of the service in the IPVS table."""
        if self.fwmark is not None:
            return ("fwmark", self.ip_family, self.fwmark)
        return (self.protocol, self.address, self.port)


@dataclass(frozen=True)
class Config:
    source: str  # file name the config was read from
    global_settings: GlobalSettings
    vrrp_instances: tuple[VrrpInstance, ...] = ()
    virtual_servers: tuple[VirtualServer, ...] = ()
    vrrp_scripts: tuple[VrrpScript, ...] = ()
    vrrp_track_files: tuple[TrackFile, ...] = ()
    vrrp_sync_groups: tuple[SyncGroup, ...] = ()

    def instance(self, name: str) -> VrrpInstance:
        for instance in self.vrrp_instances:
            if instance.name == name:
                return instance
        raise KeyError(name)
