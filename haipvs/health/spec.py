"""Check definitions: pure, frozen, hashable data.

A `CheckSpec` is the unit of deduplication: two virtual servers that list the same real
server with an equal check definition share one checker (one probe per delay_loop).
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING

from haipvs import limits
from haipvs.dataclass_lean import dataclass

if TYPE_CHECKING:  # issue 18: their modules load with a config that has such checks
    from haipvs.policy.file_check import FileProbe
    from haipvs.policy.ping_echo import PingProbe
    from haipvs.policy.udp_reply import HexPattern


@dataclass(frozen=True, slots=True)
class Timing:
    """When to probe and how to turn probe results into up/down (keepalived semantics).

    After a failure the probe is retried `retry` times, `delay_before_retry` apart; if all
    of them fail too the check goes down. One success brings it up. `warmup` delays the first
    probe by a random time up to it. With `alpha` the check starts down."""

    delay_loop: float
    retry: int = 1
    delay_before_retry: float = 1.0
    warmup: float | None = None
    alpha: bool = False
    # keepalived check_smtp.c: smtp_start_check_thread() resets retry_it every delay_loop and
    # smtp_final() retries whether the checker is up or down, so a down SMTP_CHECK also makes
    # `retry` more attempts, delay_before_retry apart, in each delay_loop.
    retry_while_down: bool = False
    # An alpha checker's first evaluation failing is told (the RS DOWN line, notify_down:
    # ipwrapper.c update_svr_checker_state while !has_run). HTTP_GET / SSL_GET / SMTP_CHECK
    # keep has_run false through their retries (check_http.c, check_smtp.c smtp_final), so
    # they always tell it; the others (check_tcp.c tcp_epilog, check_udp.c, check_dns.c,
    # check_misc.c, check_ping.c) set has_run after the first attempt, so only with retry 0.
    # Out of the repr, which the engine hashes for the first probe's spread.
    tells_first_failure: bool = field(default=False, repr=False)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a network probe connects, optionally from a local `bindto` address."""

    address: str
    port: int
    bindto: str | None = None
    # keepalived bind_port / bind_if (core/layer4.c socket_bind_connect). Out of the repr,
    # which the engine hashes for the first probe's spread: existing checks keep theirs.
    bind_port: int = field(default=0, repr=False)
    bind_if: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else (
            f"{self.address}:{self.port}"
        )


@dataclass(frozen=True, slots=True)
class TcpProbe:
    endpoint: Endpoint
    connect_timeout: float = 5.0

    kind = "tcp_check"

    @property
    def timeout(self) -> float:
        return self.connect_timeout


@dataclass(frozen=True, slots=True)
class UrlSpec:
    path: str
    status_codes: tuple[tuple[int, int], ...] = ((200, 299),)  # inclusive ranges
    digest: str | None = None  # MD5 hex of the body
    regex: str | None = None  # searched in the body (bytes, Python `re`)
    # keepalived's regex_no_match / regex_options / regex_{min,max}_offset
    # (haipvs/policy/http_regex.py)
    regex_no_match: bool = False
    regex_options: tuple[str, ...] = ()
    regex_min_offset: int = 0
    regex_max_offset: int | None = None
    # keepalived's url-level virtualhost: Host header, and SNI name when sni picks the name
    virtualhost: str | None = None
    server_name: str | None = None

    def status_ok(self, code: int) -> bool:
        return any(low <= code <= high for low, high in self.status_codes)


@dataclass(frozen=True, slots=True)
class TlsSpec:
    server_name: str | None = None  # SNI and the name verified; None = no SNI
    verify: bool = False
    ca_file: str | None = None  # None with verify = the system store
    # The global `ssl` client context (keepalived SSL block, check_ssl.c build_ssl_ctx).
    certificate: str | None = None
    key: str | None = None
    password: str | None = field(default=None, repr=False)
    ca: str | None = None  # loaded like SSL_CTX_load_verify_locations; verify uses it


@dataclass(frozen=True, slots=True)
class HttpProbe:
    """HTTP GET of every url in turn (all must pass), over TLS when `tls` is set."""

    endpoint: Endpoint
    urls: tuple[UrlSpec, ...]
    connect_timeout: float = 5.0
    virtualhost: str | None = None  # Host header; None = the endpoint address
    http_protocol: str = "1.0"  # "1.0" | "1.1"
    tls: TlsSpec | None = None

    @property
    def kind(self) -> str:
        return "ssl_get" if self.tls is not None else "http_get"

    @property
    def timeout(self) -> float:
        # connect_timeout bounds each url's request (connect + response).
        return self.connect_timeout * max(1, len(self.urls))


@dataclass(frozen=True, slots=True)
class MiscProbe:
    """Runs argv (no shell) in a clean environment; exit 0 = up, 1 = down, and with
    `dynamic` 2..255 = up with weight (code - 2)."""

    argv: tuple[str, ...]
    timeout: float
    dynamic: bool = False
    user: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # extra variables (HAIPVS_*)

    kind = "misc_check"


@dataclass(frozen=True, slots=True)
class UdpProbe:
    """Sends `payload`. With `require_reply` a reply within connect_timeout means up (one
    that passes `reply_pattern` when set: haipvs/policy/udp_reply.py); without, only an
    ICMP destination unreachable means down."""

    endpoint: Endpoint
    payload: bytes = limits.UDP_DEFAULT_PAYLOAD
    require_reply: bool = False
    connect_timeout: float = 5.0
    reply_pattern: HexPattern | None = None
    min_reply_length: int = limits.UDP_MIN_REPLY_LENGTH
    max_reply_length: int = limits.UDP_MAX_REPLY_LENGTH

    kind = "udp_check"

    @property
    def timeout(self) -> float:
        return self.connect_timeout


@dataclass(frozen=True, slots=True)
class DnsProbe:
    """A DNS query over UDP; up on NOERROR with at least one answer of `qtype`."""

    endpoint: Endpoint
    qtype: str = "SOA"
    name: str = "."
    connect_timeout: float = 5.0

    kind = "dns_check"

    @property
    def timeout(self) -> float:
        return self.connect_timeout


@dataclass(frozen=True, slots=True)
class SmtpProbe:
    """keepalived SMTP_CHECK: banner 220, HELO helo_name -> 250, QUIT -> any line
    (haipvs/policy/smtp_check.py). connect_timeout bounds each step (connect, read, write)."""

    endpoint: Endpoint
    helo_name: str = limits.SMTP_DEFAULT_HELO
    connect_timeout: float = 5.0

    kind = "smtp_check"

    @property
    def timeout(self) -> float:
        # connect, banner, HELO write + reply, QUIT write + reply: each gets connect_timeout
        return self.connect_timeout * 6


if TYPE_CHECKING:  # for annotations only: FileProbe and PingProbe are not loaded at idle
    Probe = (TcpProbe | HttpProbe | MiscProbe | UdpProbe | DnsProbe | SmtpProbe | PingProbe
             | FileProbe)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One check of one real server (`server` = (address, port)); the dedup key."""

    server: tuple[str, int]
    probe: Probe
    timing: Timing

    def describe(self) -> str:
        address, port = self.server
        host = f"[{address}]" if ":" in address else address
        return f"{self.probe.kind} {host}:{port}"
