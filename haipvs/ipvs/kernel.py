"""Kernel IPVS access over generic netlink, built on pyroute2's genetlink message classes.

Every function taking `sock` runs inside the IPVS owner thread (`NetlinkThread`); `sock` is
an `IpvsSocket`. pyroute2's own IPVS helpers are not used: they report the wrong forwarding
method, map "update" to DEL, and lack timeouts, sync daemons, flush and info. The message
classes here describe the full uapi (`include/uapi/linux/ip_vs.h`) and encode addresses and
netmasks as raw bytes, exactly as the kernel reads them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pyroute2.netlink import (
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    genlmsg,
    nla,
)
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import AsyncGenericNetlinkSocket, GenericNetlinkSocket

from haipvs.ipvs.errors import (
    IpvsError,
    IpvsExists,
    IpvsMissing,
    IpvsUnavailable,
    UnknownScheduler,
)
from haipvs.ipvs.model import (
    AF_INET,
    AF_INET6,
    SVC_F_PERSISTENT,
    SVC_MODEL_FLAGS,
    Destination,
    ForwardMethod,
    IpvsInfo,
    IpvsTable,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    SyncState,
    Timeouts,
    TunnelType,
)

GENL_NAME = "IPVS"
GENL_VERSION = 1

# Commands (enum in ip_vs.h).
CMD_NEW_SERVICE = 1
CMD_SET_SERVICE = 2
CMD_DEL_SERVICE = 3
CMD_GET_SERVICE = 4
CMD_NEW_DEST = 5
CMD_SET_DEST = 6
CMD_DEL_DEST = 7
CMD_GET_DEST = 8
CMD_NEW_DAEMON = 9
CMD_DEL_DAEMON = 10
CMD_GET_DAEMON = 11
CMD_SET_CONFIG = 12
CMD_GET_CONFIG = 13
CMD_SET_INFO = 14
CMD_GET_INFO = 15
CMD_ZERO = 16
CMD_FLUSH = 17

FLAGS_REQUEST = NLM_F_REQUEST | NLM_F_ACK
# For requests that have a reply. pyroute2 0.9 stops reading at the reply, so an ACK asked
# for here would stay in its unread queue forever (a leak per request); errors still come.
FLAGS_GET = NLM_F_REQUEST
FLAGS_CREATE = FLAGS_REQUEST | NLM_F_CREATE | NLM_F_EXCL
FLAGS_DUMP = NLM_F_REQUEST | NLM_F_DUMP


class _ipvsstats:
    class stats(nla):
        nla_map = (
            ("IPVS_STATS_ATTR_UNSPEC", "none"),
            ("IPVS_STATS_ATTR_CONNS", "uint32"),
            ("IPVS_STATS_ATTR_INPKTS", "uint32"),
            ("IPVS_STATS_ATTR_OUTPKTS", "uint32"),
            ("IPVS_STATS_ATTR_INBYTES", "uint64"),
            ("IPVS_STATS_ATTR_OUTBYTES", "uint64"),
            ("IPVS_STATS_ATTR_CPS", "uint32"),
            ("IPVS_STATS_ATTR_INPPS", "uint32"),
            ("IPVS_STATS_ATTR_OUTPPS", "uint32"),
            ("IPVS_STATS_ATTR_INBPS", "uint32"),
            ("IPVS_STATS_ATTR_OUTBPS", "uint32"),
        )

    class stats64(nla):
        nla_map = (
            ("IPVS_STATS_ATTR_UNSPEC", "none"),
            ("IPVS_STATS_ATTR_CONNS", "uint64"),
            ("IPVS_STATS_ATTR_INPKTS", "uint64"),
            ("IPVS_STATS_ATTR_OUTPKTS", "uint64"),
            ("IPVS_STATS_ATTR_INBYTES", "uint64"),
            ("IPVS_STATS_ATTR_OUTBYTES", "uint64"),
            ("IPVS_STATS_ATTR_CPS", "uint64"),
            ("IPVS_STATS_ATTR_INPPS", "uint64"),
            ("IPVS_STATS_ATTR_OUTPPS", "uint64"),
            ("IPVS_STATS_ATTR_INBPS", "uint64"),
            ("IPVS_STATS_ATTR_OUTBPS", "uint64"),
        )


class IpvsMessage(genlmsg):
    """IPVS generic netlink message (commands and their replies, except GET_INFO)."""

    prefix = "IPVS_CMD_ATTR_"
    nla_map = (
        ("IPVS_CMD_ATTR_UNSPEC", "none"),
        ("IPVS_CMD_ATTR_SERVICE", "service"),
        ("IPVS_CMD_ATTR_DEST", "dest"),
        ("IPVS_CMD_ATTR_DAEMON", "daemon"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_UDP", "uint32"),
    )

    class service(nla, _ipvsstats):
        prefix = "IPVS_SVC_ATTR_"
        nla_map = (
            ("IPVS_SVC_ATTR_UNSPEC", "none"),
            ("IPVS_SVC_ATTR_AF", "uint16"),
            ("IPVS_SVC_ATTR_PROTOCOL", "uint16"),
            # union nf_inet_addr: raw bytes, 4 (IPv4) or 16 (IPv6) significant
            ("IPVS_SVC_ATTR_ADDR", "cdata"),
            ("IPVS_SVC_ATTR_PORT", "be16"),
            ("IPVS_SVC_ATTR_FWMARK", "uint32"),
            ("IPVS_SVC_ATTR_SCHED_NAME", "asciiz"),
            ("IPVS_SVC_ATTR_FLAGS", "flags"),
            ("IPVS_SVC_ATTR_TIMEOUT", "uint32"),
            # IPv4: the mask's bytes; IPv6: the prefix length as a host-order u32
            ("IPVS_SVC_ATTR_NETMASK", "cdata"),
            ("IPVS_SVC_ATTR_STATS", "stats"),
            ("IPVS_SVC_ATTR_PE_NAME", "asciiz"),
            ("IPVS_SVC_ATTR_STATS64", "stats64"),
        )

        class flags(nla):
            fields = (("flags", "I"), ("mask", "I"))

    class dest(nla, _ipvsstats):
        prefix = "IPVS_DEST_ATTR_"
        nla_map = (
            ("IPVS_DEST_ATTR_UNSPEC", "none"),
            ("IPVS_DEST_ATTR_ADDR", "cdata"),
            ("IPVS_DEST_ATTR_PORT", "be16"),
            ("IPVS_DEST_ATTR_FWD_METHOD", "uint32"),
            ("IPVS_DEST_ATTR_WEIGHT", "uint32"),
            ("IPVS_DEST_ATTR_U_THRESH", "uint32"),
            ("IPVS_DEST_ATTR_L_THRESH", "uint32"),
            ("IPVS_DEST_ATTR_ACTIVE_CONNS", "uint32"),
            ("IPVS_DEST_ATTR_INACT_CONNS", "uint32"),
            ("IPVS_DEST_ATTR_PERSIST_CONNS", "uint32"),
            ("IPVS_DEST_ATTR_STATS", "stats"),
            ("IPVS_DEST_ATTR_ADDR_FAMILY", "uint16"),
            ("IPVS_DEST_ATTR_STATS64", "stats64"),
            ("IPVS_DEST_ATTR_TUN_TYPE", "uint8"),
            ("IPVS_DEST_ATTR_TUN_PORT", "be16"),
            ("IPVS_DEST_ATTR_TUN_FLAGS", "uint16"),
        )

    class daemon(nla):
        prefix = "IPVS_DAEMON_ATTR_"
        nla_map = (
            ("IPVS_DAEMON_ATTR_UNSPEC", "none"),
            ("IPVS_DAEMON_ATTR_STATE", "uint32"),
            ("IPVS_DAEMON_ATTR_MCAST_IFN", "asciiz"),
            ("IPVS_DAEMON_ATTR_SYNC_ID", "uint32"),
            ("IPVS_DAEMON_ATTR_SYNC_MAXLEN", "uint16"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP", "ip4addr"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP6", "ip6addr"),
            ("IPVS_DAEMON_ATTR_MCAST_PORT", "uint16"),
            ("IPVS_DAEMON_ATTR_MCAST_TTL", "uint8"),
        )


class IpvsInfoMessage(genlmsg):
    """The GET_INFO reply reuses attribute numbers 1 and 2 at the top level for the info
    attributes, so it needs its own class."""

    prefix = "IPVS_INFO_ATTR_"
    nla_map = (
        ("IPVS_INFO_ATTR_UNSPEC", "none"),
        ("IPVS_INFO_ATTR_VERSION", "uint32"),
        ("IPVS_INFO_ATTR_CONN_TAB_SIZE", "uint32"),
    )


class _AsyncIpvsSocket(AsyncGenericNetlinkSocket):
    async def setup_endpoint(self) -> None:
        if getattr(self.local, "transport", None) is not None:
            return
        await super().setup_endpoint()
        await self.bind(GENL_NAME, IpvsMessage)

    async def request(self, msg: genlmsg, flags: int) -> list:
        return [m async for m in await self._do_dump(msg, flags)]


class IpvsSocket(GenericNetlinkSocket):
    """A blocking IPVS generic netlink socket. Create and use it in one thread only.

    Construction raises `IpvsUnavailable` when the kernel has no IPVS family.
    `netns` (a name under /var/run/netns) opens the socket in that namespace.
    """

    async_class = _AsyncIpvsSocket

    def __init__(self, netns: str | None = None, **kwargs: Any) -> None:
        self._netns = netns
        self._raw: socket.socket | None = None
        try:
            super().__init__(netns=netns, **kwargs)
        except NetlinkError as exc:
            # pyroute2 has opened its sockets by now and does not close them on failure:
            # without this, each retry on a kernel without IPVS leaked two fds.
            with contextlib.suppress(Exception):
                super().close()
            if exc.code == errno.ENOENT:
                raise IpvsUnavailable() from exc
            raise

    def raw_socket(self) -> socket.socket:
        """A plain netlink socket in the same namespace, for `wire`'s batched writes."""
        if self._raw is None:
            from haipvs.ipvs.wire import open_socket

            self._raw = open_socket(self._netns)
        return self._raw

    def close(self, *args: Any, **kwargs: Any) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        super().close(*args, **kwargs)

    def request(self, msg: genlmsg, flags: int = FLAGS_REQUEST) -> list:
        msg["version"] = GENL_VERSION
        return self._run_with_cleanup(self.asyncore.request, msg, flags)

    @contextmanager
    def reply_class(self, msg_class: type) -> Iterator[None]:
        """Decode replies with another class for one request (GET_INFO's attribute space
        differs). Safe because the socket is used by one thread only."""
        msg_map = self.asyncore.marshal.msg_map
        saved = msg_map[self.prid]
        msg_map[self.prid] = msg_class
        try:
            yield
        finally:
            msg_map[self.prid] = saved


# ---------------------------------------------------------------------------
# Encoding

def _addr_bytes(address: str, family: int) -> bytes:
    return socket.inet_pton(family, address)


def netmask_bytes(prefix: int, family: int) -> bytes:
    if family == AF_INET6:
        return struct.pack("=I", prefix)
    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return struct.pack("!I", mask)


def service_key_attrs(key: ServiceKey) -> list[tuple[str, Any]]:
    attrs: list[tuple[str, Any]] = [("IPVS_SVC_ATTR_AF", key.family)]
    if key.is_fwmark:
        attrs.append(("IPVS_SVC_ATTR_FWMARK", key.fwmark))
    else:
        attrs += [
            ("IPVS_SVC_ATTR_PROTOCOL", key.protocol),
            ("IPVS_SVC_ATTR_ADDR", _addr_bytes(key.address, key.family)),
            ("IPVS_SVC_ATTR_PORT", key.port),
        ]
    return attrs


def service_attrs(svc: Service) -> list[tuple[str, Any]]:
    """Full service description (NEW/SET need scheduler, flags, timeout and netmask)."""
    attrs = service_key_attrs(svc.key)
    attrs += [
        ("IPVS_SVC_ATTR_SCHED_NAME", svc.scheduler),
        # mask all bits: the kernel keeps HASHED itself
        ("IPVS_SVC_ATTR_FLAGS", {"flags": svc.kernel_flags, "mask": 0xFFFFFFFF}),
        ("IPVS_SVC_ATTR_TIMEOUT", svc.persistence_timeout or 0),
        ("IPVS_SVC_ATTR_NETMASK", netmask_bytes(svc.netmask, svc.key.family)),
    ]
    if svc.pe_name:
        attrs.append(("IPVS_SVC_ATTR_PE_NAME", svc.pe_name))
    return attrs


def dest_attrs(dest: Destination) -> list[tuple[str, Any]]:
    family = dest.family
    return [
        ("IPVS_DEST_ATTR_ADDR", _addr_bytes(dest.address, family)),
        ("IPVS_DEST_ATTR_PORT", dest.port),
        ("IPVS_DEST_ATTR_FWD_METHOD", int(dest.fwd)),
        ("IPVS_DEST_ATTR_WEIGHT", dest.weight),
        ("IPVS_DEST_ATTR_U_THRESH", dest.u_threshold),
        ("IPVS_DEST_ATTR_L_THRESH", dest.l_threshold),
        ("IPVS_DEST_ATTR_ADDR_FAMILY", family),
        ("IPVS_DEST_ATTR_TUN_TYPE", int(dest.tun_type)),
        ("IPVS_DEST_ATTR_TUN_PORT", dest.tun_port),
        ("IPVS_DEST_ATTR_TUN_FLAGS", dest.tun_flags),
    ]


def dest_key_attrs(dest: Destination) -> list[tuple[str, Any]]:
    family = dest.family
    return [
        ("IPVS_DEST_ATTR_ADDR", _addr_bytes(dest.address, family)),
        ("IPVS_DEST_ATTR_PORT", dest.port),
        ("IPVS_DEST_ATTR_ADDR_FAMILY", family),
    ]


def build_message(cmd: int, attrs: list[tuple[str, Any]]) -> IpvsMessage:
    msg = IpvsMessage()
    msg["cmd"] = cmd
    msg["version"] = GENL_VERSION
    msg["attrs"] = attrs
    return msg


class OpKind(StrEnum):
    ADD_SERVICE = "add_service"
    SET_SERVICE = "set_service"
    DEL_SERVICE = "del_service"
    ADD_DEST = "add_dest"
    SET_DEST = "set_dest"
    DEL_DEST = "del_dest"


@dataclass(frozen=True)
class Op:
    """One kernel change. Service ops carry the service (without destinations); dest ops
    carry the service key and the destination."""

    kind: OpKind
    service: Service
    dest: Destination | None = None

    def __str__(self) -> str:
        if self.dest is None:
            return f"{self.kind} {self.service.key}"
        return f"{self.kind} {self.service.key} -> {self.dest.key}"


OP_COMMANDS = {
    OpKind.ADD_SERVICE: (CMD_NEW_SERVICE, FLAGS_CREATE),
    OpKind.SET_SERVICE: (CMD_SET_SERVICE, FLAGS_REQUEST),
    OpKind.DEL_SERVICE: (CMD_DEL_SERVICE, FLAGS_REQUEST),
    OpKind.ADD_DEST: (CMD_NEW_DEST, FLAGS_CREATE),
    OpKind.SET_DEST: (CMD_SET_DEST, FLAGS_REQUEST),
    OpKind.DEL_DEST: (CMD_DEL_DEST, FLAGS_REQUEST),
}


def op_message(op: Op) -> tuple[IpvsMessage, int]:
    """The netlink message and request flags for one op."""
    cmd, flags = OP_COMMANDS[op.kind]
    if op.kind in (OpKind.ADD_SERVICE, OpKind.SET_SERVICE):
        attrs = [("IPVS_CMD_ATTR_SERVICE", {"attrs": service_attrs(op.service)})]
    else:
        attrs = [("IPVS_CMD_ATTR_SERVICE", {"attrs": service_key_attrs(op.service.key)})]
    if op.dest is not None:
        dattrs = dest_key_attrs(op.dest) if op.kind == OpKind.DEL_DEST else dest_attrs(op.dest)
        attrs.append(("IPVS_CMD_ATTR_DEST", {"attrs": dattrs}))
    return build_message(cmd, attrs), flags


# ---------------------------------------------------------------------------
# Decoding

def _attrs(msg_or_nla: Any) -> dict[str, Any]:
    return dict(msg_or_nla["attrs"])


def _decode_addr(raw: bytes, family: int) -> str:
    size = 16 if family == AF_INET6 else 4
    return socket.inet_ntop(family, bytes(raw[:size]))


def _decode_netmask(raw: bytes, family: int) -> int:
    if family == AF_INET6:
        return struct.unpack("=I", bytes(raw[:4]))[0]
    mask = struct.unpack("!I", bytes(raw[:4]))[0]
    # a non-contiguous mask (possible via ipvsadm) is reported by its leading ones
    prefix = 0
    while prefix < 32 and mask & (0x80000000 >> prefix):
        prefix += 1
    return prefix


def decode_service_key(svc_nla: Any) -> ServiceKey:
    a = _attrs(svc_nla)
    family = a["IPVS_SVC_ATTR_AF"]
    if a.get("IPVS_SVC_ATTR_FWMARK"):
        return ServiceKey(family=family, fwmark=a["IPVS_SVC_ATTR_FWMARK"])
    return ServiceKey(
        family=family,
        protocol=a["IPVS_SVC_ATTR_PROTOCOL"],
        address=_decode_addr(a["IPVS_SVC_ATTR_ADDR"], family),
        port=a["IPVS_SVC_ATTR_PORT"],
    )


def decode_service(svc_nla: Any) -> Service:
    a = _attrs(svc_nla)
    family = a["IPVS_SVC_ATTR_AF"]
    key = decode_service_key(svc_nla)
    flags = a["IPVS_SVC_ATTR_FLAGS"]["flags"]
    persistent = bool(flags & SVC_F_PERSISTENT)
    return Service(
        key=key,
        scheduler=a["IPVS_SVC_ATTR_SCHED_NAME"],
        flags=flags & SVC_MODEL_FLAGS,
        persistence_timeout=a.get("IPVS_SVC_ATTR_TIMEOUT", 0) if persistent else None,
        netmask=_decode_netmask(a["IPVS_SVC_ATTR_NETMASK"], family),
        pe_name=a.get("IPVS_SVC_ATTR_PE_NAME") or None,
    )


def decode_dest(dest_nla: Any, service_family: int) -> Destination:
    a = _attrs(dest_nla)
    family = a.get("IPVS_DEST_ATTR_ADDR_FAMILY", service_family)
    return Destination(
        address=_decode_addr(a["IPVS_DEST_ATTR_ADDR"], family),
        port=a["IPVS_DEST_ATTR_PORT"],
        # the raw attribute: the low 3 bits of the connection flags
        fwd=ForwardMethod(a["IPVS_DEST_ATTR_FWD_METHOD"] & 0x7),
        weight=a["IPVS_DEST_ATTR_WEIGHT"],
        u_threshold=a.get("IPVS_DEST_ATTR_U_THRESH", 0),
        l_threshold=a.get("IPVS_DEST_ATTR_L_THRESH", 0),
        tun_type=TunnelType(a.get("IPVS_DEST_ATTR_TUN_TYPE", 0)),
        tun_port=a.get("IPVS_DEST_ATTR_TUN_PORT", 0),
        tun_flags=a.get("IPVS_DEST_ATTR_TUN_FLAGS", 0),
        active_conns=a.get("IPVS_DEST_ATTR_ACTIVE_CONNS", 0),
        inactive_conns=a.get("IPVS_DEST_ATTR_INACT_CONNS", 0),
        persist_conns=a.get("IPVS_DEST_ATTR_PERSIST_CONNS", 0),
    )


# ---------------------------------------------------------------------------
# Error mapping

def map_error(exc: NetlinkError, op: Op | None = None, what: str | None = None) -> IpvsError:
    code = exc.code
    subject = str(op) if op is not None else (what or "IPVS request")
    if (
        op is not None
        and op.kind in (OpKind.ADD_SERVICE, OpKind.SET_SERVICE)
        and code == errno.ENOENT
    ):
        # NEW/SET_SERVICE return ENOENT only when the scheduler (or the persistence
        # engine) module cannot be found; a missing service is ESRCH.
        return UnknownScheduler(op.service.scheduler, op.service.pe_name, op=op)
    if code == errno.EEXIST:
        return IpvsExists(f"{subject}: already exists", op=op, code=code)
    if code in (errno.ENOENT, errno.ESRCH):
        return IpvsMissing(f"{subject}: no such object in the kernel table", op=op, code=code)
    reason = exc.args[1] if len(exc.args) > 1 and exc.args[1] else errno.errorcode.get(code, "")
    return IpvsError(f"{subject}: kernel refused ({reason or 'error'} [{code}]"
                     f" {_strerror(code)})", op=op, code=code)


def _strerror(code: int) -> str:
    return os.strerror(code)


# ---------------------------------------------------------------------------
# Operations (run in the owner thread)

def dump_services(sock: IpvsSocket) -> list[Service]:
    msg = build_message(CMD_GET_SERVICE, [])
    try:
        replies = sock.request(msg, FLAGS_DUMP)
    except NetlinkError as exc:
        raise map_error(exc, what="dump services") from exc
    return [decode_service(m.get_attr("IPVS_CMD_ATTR_SERVICE")) for m in replies
            if m.get_attr("IPVS_CMD_ATTR_SERVICE") is not None]


def dump_dests(sock: IpvsSocket, key: ServiceKey) -> list[Destination]:
    msg = build_message(
        CMD_GET_DEST, [("IPVS_CMD_ATTR_SERVICE", {"attrs": service_key_attrs(key)})]
    )
    try:
        replies = sock.request(msg, FLAGS_DUMP)
    except NetlinkError as exc:
        raise map_error(exc, what=f"dump destinations of {key}") from exc
    return [decode_dest(m.get_attr("IPVS_CMD_ATTR_DEST"), key.family) for m in replies
            if m.get_attr("IPVS_CMD_ATTR_DEST") is not None]


def dump_table(sock: IpvsSocket) -> IpvsTable:
    """The whole kernel table. Real sockets use `wire`'s struct decoder (pyroute2's costs
    milliseconds per destination); sockets without a raw side (test fakes) use pyroute2."""
    if hasattr(sock, "raw_socket"):
        from haipvs.ipvs.wire import dump_table as fast_dump_table

        return fast_dump_table(sock)
    return dump_table_pyroute2(sock)


def dump_table_pyroute2(sock: IpvsSocket) -> IpvsTable:
    services = []
    for svc in dump_services(sock):
        try:
            dests = dump_dests(sock, svc.key)
        except IpvsMissing:
            continue  # deleted between the two dumps
        services.append(Service(svc.key, svc.scheduler, svc.flags, svc.persistence_timeout,
                                svc.netmask, svc.pe_name, tuple(dests)))
    return IpvsTable(tuple(services))


def apply(sock: IpvsSocket, op: Op) -> None:
    msg, flags = op_message(op)
    try:
        sock.request(msg, flags)
    except NetlinkError as exc:
        raise map_error(exc, op) from exc


def apply_batch(sock: IpvsSocket, ops: Iterable[Op]) -> list[IpvsError | None]:
    """Apply many ops over the fast path (`wire`): several messages per write, one result
    (None or the mapped error) per op, in order."""
    from haipvs.ipvs.wire import apply_ops

    return apply_ops(sock, list(ops))


def get_timeouts(sock: IpvsSocket) -> Timeouts:
    try:
        (reply,) = sock.request(build_message(CMD_GET_CONFIG, []), FLAGS_GET)
    except NetlinkError as exc:
        raise map_error(exc, what="get timeouts") from exc
    return Timeouts(
        tcp=reply.get_attr("IPVS_CMD_ATTR_TIMEOUT_TCP") or 0,
        tcpfin=reply.get_attr("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN") or 0,
        udp=reply.get_attr("IPVS_CMD_ATTR_TIMEOUT_UDP") or 0,
    )


def set_timeouts(sock: IpvsSocket, timeouts: Timeouts) -> None:
    """Zero fields are left unchanged by the kernel."""
    attrs = [
        ("IPVS_CMD_ATTR_TIMEOUT_TCP", timeouts.tcp),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", timeouts.tcpfin),
        ("IPVS_CMD_ATTR_TIMEOUT_UDP", timeouts.udp),
    ]
    try:
        sock.request(build_message(CMD_SET_CONFIG, attrs))
    except NetlinkError as exc:
        raise map_error(exc, what="set timeouts") from exc


def _daemon_attrs(cfg: SyncDaemonConfig) -> list[tuple[str, Any]]:
    attrs: list[tuple[str, Any]] = [
        ("IPVS_DAEMON_ATTR_STATE", int(cfg.state)),
        ("IPVS_DAEMON_ATTR_MCAST_IFN", cfg.interface),
        ("IPVS_DAEMON_ATTR_SYNC_ID", cfg.syncid),
    ]
    if cfg.maxlen is not None:
        attrs.append(("IPVS_DAEMON_ATTR_SYNC_MAXLEN", cfg.maxlen))
    if cfg.mcast_group is not None:
        name = "IPVS_DAEMON_ATTR_MCAST_GROUP6" if ":" in cfg.mcast_group else \
            "IPVS_DAEMON_ATTR_MCAST_GROUP"
        attrs.append((name, cfg.mcast_group))
    if cfg.mcast_port is not None:
        attrs.append(("IPVS_DAEMON_ATTR_MCAST_PORT", cfg.mcast_port))
    if cfg.mcast_ttl is not None:
        attrs.append(("IPVS_DAEMON_ATTR_MCAST_TTL", cfg.mcast_ttl))
    return attrs


def start_sync_daemon(sock: IpvsSocket, cfg: SyncDaemonConfig) -> None:
    msg = build_message(CMD_NEW_DAEMON, [("IPVS_CMD_ATTR_DAEMON", {"attrs": _daemon_attrs(cfg)})])
    try:
        sock.request(msg)
    except NetlinkError as exc:
        raise map_error(exc, what=f"start sync daemon {cfg.state.name.lower()}"
                        f" on {cfg.interface}") from exc


def stop_sync_daemon(sock: IpvsSocket, state: SyncState) -> None:
    attrs = [("IPVS_DAEMON_ATTR_STATE", int(state))]
    msg = build_message(CMD_DEL_DAEMON, [("IPVS_CMD_ATTR_DAEMON", {"attrs": attrs})])
    try:
        sock.request(msg)
    except NetlinkError as exc:
        raise map_error(exc, what=f"stop sync daemon {state.name.lower()}") from exc


def get_sync_daemons(sock: IpvsSocket) -> list[SyncDaemonConfig]:
    try:
        replies = sock.request(build_message(CMD_GET_DAEMON, []), FLAGS_DUMP)
    except NetlinkError as exc:
        raise map_error(exc, what="get sync daemons") from exc
    daemons = []
    for reply in replies:
        d = reply.get_attr("IPVS_CMD_ATTR_DAEMON")
        if d is None:
            continue
        a = _attrs(d)
        group = a.get("IPVS_DAEMON_ATTR_MCAST_GROUP6") or a.get("IPVS_DAEMON_ATTR_MCAST_GROUP")
        daemons.append(SyncDaemonConfig(
            state=SyncState(a["IPVS_DAEMON_ATTR_STATE"]),
            interface=a["IPVS_DAEMON_ATTR_MCAST_IFN"],
            syncid=a.get("IPVS_DAEMON_ATTR_SYNC_ID", 0),
            maxlen=a.get("IPVS_DAEMON_ATTR_SYNC_MAXLEN"),
            mcast_group=group if group not in (None, "0.0.0.0", "::") else None,
            mcast_port=a.get("IPVS_DAEMON_ATTR_MCAST_PORT"),
            mcast_ttl=a.get("IPVS_DAEMON_ATTR_MCAST_TTL"),
        ))
    return sorted(daemons, key=lambda d: d.state)


def flush(sock: IpvsSocket) -> None:
    """Remove every service. Never used by the reconciler (foreign services survive);
    for tests and explicit operator commands."""
    try:
        sock.request(build_message(CMD_FLUSH, []))
    except NetlinkError as exc:
        raise map_error(exc, what="flush") from exc


def get_info(sock: IpvsSocket) -> IpvsInfo:
    try:
        with sock.reply_class(IpvsInfoMessage):
            (reply,) = sock.request(build_message(CMD_GET_INFO, []), FLAGS_GET)
    except NetlinkError as exc:
        raise map_error(exc, what="get info") from exc
    version = reply.get_attr("IPVS_INFO_ATTR_VERSION") or 0
    return IpvsInfo(
        version=f"{(version >> 16) & 0xFF}.{(version >> 8) & 0xFF}.{version & 0xFF}",
        conn_table_size=reply.get_attr("IPVS_INFO_ATTR_CONN_TAB_SIZE") or 0,
    )


__all__ = [
    "AF_INET",
    "AF_INET6",
    "IpvsMessage",
    "IpvsSocket",
    "Op",
    "OpKind",
    "apply",
    "apply_batch",
    "dump_table",
    "flush",
    "get_info",
    "get_sync_daemons",
    "get_timeouts",
    "set_timeouts",
    "start_sync_daemon",
    "stop_sync_daemon",
]
