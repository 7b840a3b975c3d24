"""The layering rules, in one place: which modules are pure, which may do I/O, and which
must import light. Entries are fnmatch patterns over dotted module names, so a module split
into a package (`haipvs.daemon` -> `haipvs.daemon.*`) or a new probe module needs one line
here, not a new test.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

# Pure modules (sans-I/O, time passed in): they import none of FORBIDDEN_IN_PURE, anywhere
# in the file (function-level imports count too). tests/vrrp/test_purity.py enforces it.
PURE: dict[str, str] = {
    "haipvs.vrrp": "the VRRP package marker",
    "haipvs.vrrp.*": "the sans-I/O VRRP core: codec, receive ladder, state machine",
    "haipvs.policy": "the policy package marker",
    "haipvs.policy.*": "every rule outside the core: priority, sync groups, quorum, ...",
    "haipvs.events": "typed events between the threads, notify, metrics and the dump",
    "haipvs.limits": "the one home of VRRP/IPVS ranges and names",
    "haipvs.dataclass_lean": "dataclasses.dataclass with shared methods (class building only)",
    "haipvs.ipvs.model": "the IPVS table as data",
    "haipvs.ipvs.errors": "IPVS error types",
    "haipvs.ipvs.protocol": "the IPVS uapi's numbers",
    "haipvs.ipvs.codec": "model objects <-> netlink attribute bytes",
    "haipvs.ipvs.ops": "typed IPVS ops",
    "haipvs.ipvs.planner": "plan(desired, kernel) -> ops",
    "haipvs.ipvs.maglev": "mh services: canonical destination order, one table per director",
    "haipvs.ipvs.backend": "the IpvsBackend/NetlinkTransport protocols",
    "haipvs.ipvs.desired": "the desired IPVS table from config + health",
    "haipvs.ipvs.vs_group": "virtual_server_group members -> IPVS service keys",
    "haipvs.ipvs.quorum": "the quorum rule's IPVS side",
    "haipvs.ipvs.status": "`status` output from a dump",
    "haipvs.health.spec": "check definitions",
    "haipvs.health.state": "keepalived's retry rules and per-server aggregation",
}

FORBIDDEN_IN_PURE = frozenset({
    "trio", "socket", "pyroute2", "structlog", "time", "random", "asyncio", "threading",
    "select", "selectors", "os", "subprocess", "secrets", "datetime", "__import__",
})

# The only modules that may import these (directly, at any level). Everything else gets
# events, data and callbacks from them.
IO_PACKAGES = frozenset({"trio", "socket", "pyroute2"})

IO_ALLOWED: dict[str, str] = {
    "haipvs.drivers.*": "drivers: translate core/policy outputs into sockets and netlink",
    "haipvs.daemon": "daemon wiring: the main trio loop, signals, the threads",
    "haipvs.daemon.*": "daemon wiring, if split into a package",
    "haipvs.daemon_*": "daemon wiring, if split into modules",
    "haipvs.cli": "the command line runs trio for `haipvs status`/`genhash`",
    "haipvs.ipvs.netlink": "the IPVS backend: the generic-netlink socket in its owner thread",
    "haipvs.ipvs.reconcile*": "the IPVS reconciler: the trio driver dump -> plan -> apply",
    "haipvs.health.engine": "the trio health engine: one task per check",
    "haipvs.health.net": "probe helpers: sockets, connect with bindto",
    "haipvs.health.tcp": "TCP_CHECK probe",
    "haipvs.health.batch": "what the batched checkers share: due buckets, epoll, fd budget",
    "haipvs.health.tcpbatch": "the batched non-blocking TCP connect scheduler",
    "haipvs.health.httpbatch": "the batched non-blocking HTTP_GET scheduler",
    "haipvs.health.udp": "UDP_CHECK probe",
    "haipvs.health.dns": "DNS_CHECK probe",
    "haipvs.health.smtp": "SMTP_CHECK probe (the dialogue is haipvs.policy.smtp_check)",
    "haipvs.health.http": "HTTP_GET/SSL_GET probe",
    "haipvs.health.ping": "PING_CHECK probe (the echo rules are haipvs.policy.ping_echo)",
    "haipvs.health.file": "FILE_CHECK probe (the rule is haipvs.policy.file_check)",
    "haipvs.health.misc": "MISC_CHECK: runs the script under trio",
    "haipvs.health.url_digest": "genhash: fetches a URL",
    "haipvs.lab.*": "the netns lab: test and demo harness, not the daemon",
    "haipvs.realserver": "real-server setup: addresses and sysctls via pyroute2",
    "haipvs.notify": "notify scripts and the FIFO, run from the main loop",
    "haipvs.trackers": "track_script/track_file/track_process pollers (trio tasks)",
    "haipvs.resources": "fd/thread/RSS sampling for metrics, a trio task",
    "haipvs.sdnotify": "systemd notify socket",
}

# Importing these loads none of HEAVY (checked in a subprocess, transitively).
LIGHT: tuple[str, ...] = (
    "haipvs.config",
    "haipvs.vrrp",
    "haipvs.vrrp.core",
    "haipvs.policy.*",  # every module in the package, found on disk
    "haipvs.events",
    "haipvs.limits",
    "haipvs.ipvs.model",
    "haipvs.ipvs.desired",
    "haipvs.health.state",
    "haipvs.health.spec",
)
HEAVY = ("trio", "pyroute2", "structlog")


def matches(name: str, patterns: dict[str, str] | tuple[str, ...]) -> str | None:
    """The first pattern `name` matches, or None."""
    return next((pattern for pattern in patterns if fnmatchcase(name, pattern)), None)
